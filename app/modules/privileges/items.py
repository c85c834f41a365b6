"""The items a privilege type grants, by key: catalog items ("item:<id>", medical-technology rights
"item:<id>:operate|report") and rights of the dictionary ("right:<code>").

An item knows what the eligibility table needs (group, level, label, restricted) and the key its
grant is looked up by (`grant_key`): the catalog key, or the right's group for tiered rights.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import or_, select

from app.extensions import db
from app.modules.catalog.models import CatalogItem, CatalogItemCode, DepartmentCatalogItem

from . import settings
from .models import PrivilegeRight
from .types import CATALOG, PROCEDURE_KINDS, RIGHT, TYPES, VARIANT_LABELS, catalog_key, level_name, parse_catalog_key

KIND_WORDS = {"surgery": "手术", "restricted": "手术", "diagnostic": "诊断性操作", "therapeutic": "治疗性操作",
              "interventional": "介入操作", "endoscopic": "内镜操作"}


@dataclass(frozen=True)
class Item:
    key: str
    ptype: str
    name: str
    level: int | None
    group: str  # catalog kind, or the right code's family ("antimicrobial", "equipment", …)
    grant_key: str
    item_id: int | None = None
    right_code: str | None = None
    variant: str | None = None
    restricted: bool = False
    category: str | None = None
    codes: tuple[str, ...] = field(default_factory=tuple)
    requirement: str | None = None
    evidence_required: bool = False

    @property
    def label(self) -> str:
        """How the rules name the item in a reason ("四级手术，职称不符")."""
        if self.item_id is not None and self.group in KIND_WORDS and self.level:
            return f"{level_name(self.level)}{KIND_WORDS[self.group]}"
        if self.variant:
            return f"{self.name}{VARIANT_LABELS[self.variant]}"
        return self.name

    @property
    def display(self) -> str:
        text = self.name
        if self.variant:
            text += f"（{VARIANT_LABELS[self.variant]}）"
        elif self.level and self.item_id is not None:
            text += f"（{level_name(self.level)}）"
        return text


def right_item(right: PrivilegeRight) -> Item:
    return Item(key=f"right:{right.code}", ptype=right.ptype, name=right.name, level=right.rank,
                group=right.code.split(".")[0], grant_key=right.group_key, right_code=right.code,
                requirement=right.requirement, evidence_required=right.evidence_required)


def catalog_item(item: CatalogItem, ptype: str, variant: str | None = None, codes=()) -> Item:
    return Item(key=catalog_key(item.id, variant), ptype=ptype, name=item.name, level=item.level, group=item.kind,
                grant_key=catalog_key(item.id, variant), item_id=item.id, variant=variant,
                restricted=bool(item.restricted) or item.kind == "restricted", category=item.category,
                codes=tuple(codes), requirement=item.description,
                evidence_required=bool(item.restricted) or item.kind == "restricted")


def _catalog_kinds(ptype: str, on: date | None = None) -> tuple[str, ...]:
    kind = TYPES[ptype]
    if kind.source == CATALOG:
        return kind.catalog_kinds
    if kind.source == RIGHT:
        return ()
    return kind.catalog_kinds if settings.anaesthesia_mode(on) == "catalog" else ()


def uses_catalog(ptype: str, on: date | None = None) -> bool:
    return bool(_catalog_kinds(ptype, on))


def _codes(item_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for start in range(0, len(item_ids), 900):
        for item_id, code in db.session.execute(select(CatalogItemCode.item_id, CatalogItemCode.code)
                                                .where(CatalogItemCode.item_id.in_(item_ids[start:start + 900]))
                                                .order_by(CatalogItemCode.code)):
            found.setdefault(item_id, []).append(code)
    return found


def _expand(ptype: str, rows: list[CatalogItem]) -> list[Item]:
    codes = _codes([r.id for r in rows])
    variants = ("operate", "report") if ptype == "medtech" else (None,)
    return [catalog_item(row, ptype, variant, codes.get(row.id, ())) for row in rows for variant in variants]


def offered(ptype: str, department_id: int | None, query: str = "", limit: int | None = None,
            on: date | None = None) -> list[Item]:
    """What a member of `department_id` is offered to apply for: the department's catalog items of the
    type (all hospital items when the department has none of them yet), or the type's rights."""
    kinds = _catalog_kinds(ptype, on)
    if not kinds:
        stmt = select(PrivilegeRight).where(PrivilegeRight.ptype == ptype, PrivilegeRight.active.is_(True))
        if query:
            stmt = stmt.where(or_(PrivilegeRight.name.contains(query, autoescape=True),
                                  PrivilegeRight.code.contains(query, autoescape=True)))
        rights = db.session.scalars(stmt.order_by(PrivilegeRight.sort_order, PrivilegeRight.code)).all()
        items = [right_item(r) for r in rights]
        return items[:limit] if limit else items
    base = select(CatalogItem).where(CatalogItem.kind.in_(kinds), CatalogItem.active.is_(True))
    if query:
        base = base.where(or_(CatalogItem.name.contains(query, autoescape=True),
                              CatalogItem.code.contains(query, autoescape=True),
                              CatalogItem.id.in_(select(CatalogItemCode.item_id)
                                                 .where(CatalogItemCode.code.startswith(query, autoescape=True)))))
    own = base.where(CatalogItem.id.in_(_department_item_ids(department_id))) if department_id else None
    rows = db.session.scalars(own.order_by(CatalogItem.level, CatalogItem.code)).all() if own is not None else []
    if not rows:
        rows = db.session.scalars(base.order_by(CatalogItem.level, CatalogItem.code)
                                  .limit(limit or 500)).all()
    items = _expand(ptype, list(rows))
    return items[:limit] if limit else items


def _department_item_ids(department_id: int):
    return (select(DepartmentCatalogItem.item_id)
            .where(DepartmentCatalogItem.department_id == department_id, DepartmentCatalogItem.status == "active"))


def in_department_catalog(department_id: int, item_ids: list[int]) -> set[int]:
    if not item_ids:
        return set()
    return set(db.session.scalars(_department_item_ids(department_id)
                                  .where(DepartmentCatalogItem.item_id.in_(item_ids))))


def resolve(ptype: str, keys: list[str], on: date | None = None) -> dict[str, Item]:
    """The items of `ptype` behind `keys` (unknown or foreign keys are left out)."""
    wanted_rights = [k[6:] for k in keys if k.startswith("right:")]
    wanted_items: dict[int, list[str | None]] = {}
    for key in keys:
        parsed = parse_catalog_key(key)
        if parsed:
            wanted_items.setdefault(parsed[0], []).append(parsed[1])
    found: dict[str, Item] = {}
    kinds = _catalog_kinds(ptype, on)
    if wanted_rights and not kinds:
        for right in db.session.scalars(select(PrivilegeRight).where(PrivilegeRight.code.in_(wanted_rights),
                                                                     PrivilegeRight.ptype == ptype)):
            item = right_item(right)
            found[item.key] = item
    if wanted_items and kinds:
        rows = db.session.scalars(select(CatalogItem).where(CatalogItem.id.in_(list(wanted_items)),
                                                            CatalogItem.kind.in_(kinds))).all()
        codes = _codes([r.id for r in rows])
        for row in rows:
            for variant in wanted_items[row.id]:
                if (variant is None) != (ptype != "medtech"):
                    continue
                item = catalog_item(row, ptype, variant, codes.get(row.id, ()))
                found[item.key] = item
    return found


def describe(key: str) -> str:
    """A readable name for any item key (lists of grants, history)."""
    if key.startswith("right:"):
        right = db.session.scalar(select(PrivilegeRight).where(PrivilegeRight.code == key[6:]))
        return right.name if right else key
    parsed = parse_catalog_key(key)
    if parsed:
        row = db.session.get(CatalogItem, parsed[0])
        if row is not None:
            return row.name + (f"（{VARIANT_LABELS[parsed[1]]}）" if parsed[1] else "")
    return _("Unknown item")


def procedure_kinds() -> tuple[str, ...]:
    return PROCEDURE_KINDS
