"""Maintaining the catalogs, with the actor's rights checked on every change and each change audited.

The hospital catalog is maintained by medical affairs (`catalog.manage`, R2.1/R2.3); a department's
catalog by its managers (`catalog.department` within their scope, R2.6) — who remove items and keep
notes, but add items only through an approved application (R2.2, `applications.py`).
"""
from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.core import audit
from app.core.models import utcnow
from app.core.scopes import can, reach
from app.extensions import db
from app.modules.catalog.labels import KIND_PREFIX
from app.modules.catalog.models import (INDICATOR_MEASURES, KINDS, CatalogItem, CatalogItemCode,
                                        DepartmentCatalogItem, RestrictedIndicator)
from app.modules.clinical.models import ProcedureCode
from app.workflow.errors import PermissionDenied

ITEM_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
ICD10_PREFIX = re.compile(r"^[A-Z][0-9]{1,2}(\.[0-9x]{0,4})?$")


class Invalid(ValueError):
    """Input that cannot be saved, with a message per field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def require_manage(actor) -> None:
    if not can(actor, "catalog.manage"):
        raise PermissionDenied(_("You may not maintain the hospital catalog."))


def may_maintain_department(actor, department_id: int) -> bool:
    r = reach(actor, "catalog.department")
    return r.hospital or department_id in r.department_ids


def require_department(actor, department_id: int) -> None:
    if not may_maintain_department(actor, department_id):
        raise PermissionDenied(_("You may not maintain this department's catalog."))


# --- hospital catalog items ------------------------------------------------------------------

def split_codes(text: Any) -> list[str]:
    """Procedure codes typed or imported as one text: separated by commas, semicolons, spaces or lines."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        text = ",".join(str(t) for t in text)
    return list(dict.fromkeys(part.strip() for part in re.split(r"[,，;；\s]+", str(text)) if part.strip()))


def next_code(kind: str) -> str:
    prefix = KIND_PREFIX.get(kind, "JS")
    codes = db.session.scalars(select(CatalogItem.code).where(CatalogItem.code.like(f"{prefix}-%")))
    numbers = [int(c.split("-", 1)[1]) for c in codes if c.split("-", 1)[1].isdigit()]
    return f"{prefix}-{max(numbers, default=0) + 1:04d}"


def known_procedure_codes(codes: list[str]) -> set[str]:
    if not codes:
        return set()
    return set(db.session.scalars(select(ProcedureCode.code).where(ProcedureCode.code.in_(codes))))


def _int_or_none(value: Any) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def check_item(data: dict, item: CatalogItem | None = None, *, taken_codes: set[str] | None = None,
               code_owners: dict[str, int] | None = None, dictionary: set[str] | None = None) -> dict:
    """The cleaned values of an item, or Invalid with a message per field. `taken_codes`: item codes
    used by other rows of the same import; `code_owners` ({item code: id}) and `dictionary` (procedure
    codes) spare an import a query per row."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    code = str(data.get("code") or "").strip()
    if not code:
        errors["code"] = _("Enter the item code.")
    elif not ITEM_CODE.match(code):
        errors["code"] = _("Use letters, digits, dots and dashes only (at most 40).")
    else:
        other = (code_owners.get(code) if code_owners is not None
                 else db.session.scalar(select(CatalogItem.id).where(CatalogItem.code == code)))
        if (other is not None and (item is None or other != item.id)) or code in (taken_codes or set()):
            errors["code"] = _("Another item already has the code %(code)s.", code=code)
    clean["code"] = code
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = _("Enter the item name.")
    elif len(name) > 200:
        errors["name"] = _("Enter at most %(n)s characters.", n=200)
    clean["name"] = name
    kind = str(data.get("kind") or "").strip()
    if kind not in KINDS:
        errors["kind"] = _("Choose the kind from the list.")
    clean["kind"] = kind
    level = _int_or_none(data.get("level"))
    if level is not None and level not in (1, 2, 3, 4):
        errors["level"] = _("The level is 1 to 4, or empty.")
    clean["level"] = level if level in (1, 2, 3, 4) else None
    clean["restricted"] = _truthy(data.get("restricted")) or kind == "restricted"
    category = str(data.get("category") or "").strip() or None
    if category and len(category) > 60:
        errors["category"] = _("Enter at most %(n)s characters.", n=60)
    clean["category"] = category
    clean["description"] = str(data.get("description") or "").strip() or None
    if data.get("active") is None:  # not given (the edit form): as it was, and in use when new
        clean["active"] = item.active if item is not None else True
    else:
        clean["active"] = _truthy(data.get("active"))
    codes = split_codes(data.get("codes"))
    bad = [c for c in codes if len(c) > 20]
    existing = set(item.code_list) if item is not None else set()
    unknown = [c for c in codes if c not in existing] if codes else []
    unknown = sorted(set(unknown) - (dictionary if dictionary is not None else known_procedure_codes(unknown)))
    if bad:
        errors["codes"] = _("A procedure code has at most 20 characters: %(codes)s.", codes=", ".join(bad))
    elif unknown:
        errors["codes"] = _("Not in the procedure dictionary: %(codes)s.", codes=", ".join(unknown))
    elif clean["restricted"] and kind == "restricted" and not codes:
        errors["codes"] = _("A restricted technology needs at least one procedure code: its cases are found "
                            "through them.")
    clean["codes"] = codes
    if errors:
        raise Invalid(errors)
    return clean


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "yes", "y", "on", "是", "√")


def _snapshot(item: CatalogItem) -> dict:
    return {"code": item.code, "name": item.name, "kind": item.kind, "level": item.level,
            "restricted": item.restricted, "category": item.category, "active": item.active,
            "codes": item.code_list}


def apply_values(item: CatalogItem, clean: dict) -> None:
    """Write checked values (`check_item`) to an item."""
    for key in ("code", "name", "kind", "level", "restricted", "category", "description", "active"):
        setattr(item, key, clean[key])
    wanted = clean["codes"]
    kept = [c for c in item.codes if c.code in wanted]
    item.codes = sorted(kept + [CatalogItemCode(code=code) for code in wanted if code not in item.code_list],
                        key=lambda c: c.code)


def save_item(actor, item: CatalogItem | None, data: dict) -> CatalogItem:
    """Create (item None) or update a hospital catalog item."""
    require_manage(actor)
    clean = check_item(data, item)
    before = _snapshot(item) if item is not None else None
    if item is None:
        item = CatalogItem()
        db.session.add(item)
    apply_values(item, clean)
    db.session.flush()
    after = _snapshot(item)
    changes = after if before is None else {k: [before[k], v] for k, v in after.items() if before[k] != v}
    audit.record("catalog.item_created" if before is None else "catalog.item_updated", actor=actor,
                 object_type="catalog_item", object_id=item.id, data=changes, summary=f"{item.code} {item.name}")
    return item


def set_item_active(actor, item: CatalogItem, active: bool) -> CatalogItem:
    """Deactivate (停用) or reactivate an item; a deactivated item stays in the history and in the
    department catalogs that hold it, but cannot be applied for nor counted as offered."""
    require_manage(actor)
    if item.active != active:
        item.active = active
        db.session.flush()
        audit.record("catalog.item_activated" if active else "catalog.item_deactivated", actor=actor,
                     object_type="catalog_item", object_id=item.id, summary=f"{item.code} {item.name}")
    return item


# --- restricted-technology indicators --------------------------------------------------------

def save_indicator(actor, item: CatalogItem, indicator: RestrictedIndicator | None, data: dict) -> RestrictedIndicator:
    require_manage(actor)
    errors: dict[str, str] = {}
    if item.kind != "restricted":
        raise Invalid({"": _("Indicators are kept for restricted technologies.")})
    clean = {k: str(data.get(k) or "").strip() for k in ("key", "name", "numerator", "denominator", "source",
                                                           "target", "measure", "complication_codes")}
    if indicator is None:
        if not re.match(r"^[a-z][a-z0-9_]{0,39}$", clean["key"]):
            errors["key"] = _("Use lower-case letters, digits and _ (at most 40), starting with a letter.")
        elif any(i.key == clean["key"] for i in item.indicators):
            errors["key"] = _("This technology already has an indicator %(key)s.", key=clean["key"])
    for name, limit in (("name", 120), ("numerator", 2000), ("denominator", 2000)):
        if not clean[name]:
            errors[name] = _("Please fill in this field.")
        elif len(clean[name]) > limit:
            errors[name] = _("Enter at most %(n)s characters.", n=limit)
    for name, limit in (("source", 200), ("target", 60), ("complication_codes", 200)):
        if len(clean[name]) > limit:
            errors[name] = _("Enter at most %(n)s characters.", n=limit)
    if clean["measure"] and clean["measure"] not in INDICATOR_MEASURES:
        errors["measure"] = _("Choose the computation from the list.")
    prefixes = [p for p in split_codes(clean["complication_codes"])]
    wrong = [p for p in prefixes if not ICD10_PREFIX.match(p)]
    if wrong:
        errors["complication_codes"] = _("Not an ICD-10 code or prefix: %(codes)s.", codes=", ".join(wrong))
    if errors:
        raise Invalid(errors)
    created = indicator is None
    if created:
        order = max((i.sort_order for i in item.indicators), default=0) + 10
        indicator = RestrictedIndicator(key=clean["key"], sort_order=order, active=True)
        item.indicators.append(indicator)
    indicator.name, indicator.numerator, indicator.denominator = clean["name"], clean["numerator"], \
        clean["denominator"]
    indicator.source, indicator.target = clean["source"] or None, clean["target"] or None
    indicator.measure = clean["measure"] or None
    indicator.complication_codes = ",".join(prefixes) if indicator.measure == "complication" and prefixes else None
    if "active" in data:
        indicator.active = _truthy(data.get("active"))
    db.session.flush()
    audit.record("catalog.indicator_created" if created else "catalog.indicator_updated", actor=actor,
                 object_type="catalog_indicator", object_id=indicator.id,
                 data={"item": item.code, "key": indicator.key, "measure": indicator.measure,
                       "target": indicator.target, "active": indicator.active},
                 summary=f"{item.name}: {indicator.name}")
    return indicator


# --- department catalogs ---------------------------------------------------------------------

def remove_department_item(actor, row: DepartmentCatalogItem, reason: str | None = None) -> DepartmentCatalogItem:
    """Take an item off a department's catalog (adding it again needs a new application)."""
    require_department(actor, row.department_id)
    if row.status == "removed":
        return row
    row.status, row.removed_at, row.removed_by_id = "removed", utcnow(), getattr(actor, "id", None)
    db.session.flush()
    audit.record("catalog.department_item_removed", actor=actor, object_type="department_catalog_item",
                 object_id=row.id, data={"department_id": row.department_id, "item": row.item.code,
                                         "reason": (reason or "").strip()[:500] or None},
                 summary=f"{row.item.code} {row.item.name}")
    return row


def set_department_note(actor, row: DepartmentCatalogItem, note: str | None) -> DepartmentCatalogItem:
    require_department(actor, row.department_id)
    note = (note or "").strip() or None
    if note and len(note) > 2000:
        raise Invalid({"note": _("Enter at most %(n)s characters.", n=2000)})
    if row.note != note:
        before, row.note = row.note, note
        db.session.flush()
        audit.record("catalog.department_note", actor=actor, object_type="department_catalog_item",
                     object_id=row.id, data={"department_id": row.department_id, "item": row.item.code,
                                             "before": before, "after": note},
                     summary=f"{row.item.code} {row.item.name}")
    return row


def add_department_items(department_id: int, item_ids: list[int], *, added_by_id: int | None,
                         instance_id: int | None, actor=None) -> list[DepartmentCatalogItem]:
    """Add approved items to a department's catalog (called by the approved application; also by the
    demo). Already active rows stay as they are; removed rows become active again."""
    rows = {r.item_id: r for r in db.session.scalars(select(DepartmentCatalogItem).where(
        DepartmentCatalogItem.department_id == department_id, DepartmentCatalogItem.item_id.in_(item_ids)))}
    items = {i.id: i for i in db.session.scalars(select(CatalogItem).where(CatalogItem.id.in_(item_ids)))}
    now = utcnow()
    added = []
    for item_id in dict.fromkeys(item_ids):
        item = items.get(item_id)
        if item is None or not item.active:
            continue
        row = rows.get(item_id)
        if row is not None and row.status == "active":
            continue
        if row is None:
            row = DepartmentCatalogItem(department_id=department_id, item_id=item_id)
            db.session.add(row)
        row.status, row.added_at, row.added_by_id, row.instance_id = "active", now, added_by_id, instance_id
        row.removed_at = row.removed_by_id = None
        added.append(row)
    db.session.flush()
    if added:
        audit.record("catalog.department_items_added", actor=actor, object_type="department",
                     object_id=department_id,
                     data={"items": [items[r.item_id].code for r in added], "instance_id": instance_id},
                     summary=", ".join(items[r.item_id].name for r in added)[:500])
    return added


def department_item_count(department_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(DepartmentCatalogItem).where(
        DepartmentCatalogItem.department_id == department_id, DepartmentCatalogItem.status == "active")) or 0
