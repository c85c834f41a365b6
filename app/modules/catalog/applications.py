"""Department catalog applications (R2.2, R2.5): a department head applies for hospital-catalog items,
medical affairs approves in the portal, and the approved items join the department's catalog.

The process is `processes/catalog/catalog_application.bpmn` (forms in `forms/catalog/`). Its service
task calls the operation `catalog.add_department_items`, which writes inside the instance's
transaction. Items are picked through the `catalog_items` lookup source.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.core.models import utcnow
from app.core.scopes import can
from app.extensions import db
from app.modules.catalog import maintenance
from app.modules.catalog.labels import KIND_LABELS, LEVEL_LABELS
from app.modules.catalog.models import CatalogItem, CatalogItemCode, DepartmentCatalogItem
from app.modules.org.models import Department
from app.workflow import forms, operations, registry, runtime
from app.workflow.errors import NotFound, PermissionDenied
from app.workflow.models import ACTIVE_STATUSES, Event, Instance

PROCESS = "catalog_application"
START_FORM = "catalog_application"
OPERATION = "catalog.add_department_items"
CATALOG_CATEGORIES = ("clinical", "medtech")


# --- the `catalog_items` lookup source --------------------------------------------------------

def _ids(values) -> list[int]:
    return [int(v) for v in values if str(v).strip().isdigit() and len(str(v).strip()) < 12]


def item_label(item: CatalogItem) -> str:
    level = f" · {LEVEL_LABELS[item.level]}" if item.level in LEVEL_LABELS else ""
    return f"{item.name}（{item.code}）{level}"


def search_items(query: str, limit: int, user) -> list[dict]:
    """Active hospital-catalog items by name, item code or procedure code (everyone who may view the
    catalog may pick from it; whether they may apply is checked when they apply)."""
    if not can(user, "catalog.view"):
        return []
    stmt = select(CatalogItem).where(CatalogItem.active.is_(True))
    query = (query or "").strip()
    if query:
        by_code = select(CatalogItemCode.item_id).where(CatalogItemCode.code.startswith(query, autoescape=True))
        stmt = stmt.where(or_(CatalogItem.name.contains(query, autoescape=True),
                              CatalogItem.code.startswith(query, autoescape=True), CatalogItem.id.in_(by_code)))
    stmt = stmt.order_by(CatalogItem.kind, CatalogItem.code).limit(limit)
    return [{"value": i.id, "label": item_label(i), "detail": str(KIND_LABELS.get(i.kind, i.kind))}
            for i in db.session.scalars(stmt)]


def resolve_items(values, user) -> dict:
    ids = _ids(values)
    if not ids or not can(user, "catalog.view"):
        return {}
    return {i.id: item_label(i) for i in db.session.scalars(
        select(CatalogItem).where(CatalogItem.id.in_(ids), CatalogItem.active.is_(True)))}


def register_sources() -> None:
    forms.register_source("catalog_items", search_items, resolve=resolve_items,
                          placeholder=_l("Type an item name, item code or procedure code"))


# --- applying --------------------------------------------------------------------------------

class ApplicationInvalid(ValueError):
    def __init__(self, errors: dict[str, str], data: dict):
        super().__init__("; ".join(errors.values()))
        self.errors, self.data = errors, data


def start_form() -> forms.FormDef:
    form = registry.published_form_def(START_FORM)
    if form is None:
        raise LookupError("the catalog application form is not published")
    return form


def may_start(actor) -> bool:
    """Whether `actor` may start the application process (the roles its start event names, e.g. 科主任)."""
    from app.modules.portal import processes

    try:
        processes.get_startable(actor, PROCESS)
    except NotFound:
        return False
    return True


def departments_for(actor) -> list[Department]:
    """The departments whose catalog `actor` may apply for (clinical and medical-technical units)."""
    from app.core.scopes import scope_filter

    if not can(actor, "catalog.department") or not may_start(actor):
        return []
    return list(db.session.scalars(
        select(Department).where(scope_filter(actor, "department", "catalog.department"),
                                 Department.active.is_(True), Department.unit_type == "department",
                                 Department.category.in_(CATALOG_CATEGORIES))
        .order_by(Department.sort_order, Department.code)))


def start_page(actor) -> str | None:
    """Where `actor` starts a catalog application: the apply page of their own department, else of
    the first department they may apply for (None: none)."""
    from flask import url_for

    departments = departments_for(actor)
    if not departments:
        return None
    own = getattr(getattr(actor, "staff", None), "department_id", None)
    chosen = next((d for d in departments if d.id == own), departments[0])
    return url_for("catalog.apply", department_id=chosen.id)


def pending_item_ids(department_id: int) -> dict[int, Instance]:
    """Items of the department's running applications: {item id: the instance}."""
    found: dict[int, Instance] = {}
    for instance, data in _applications(department_id, active_only=True):
        for item_id in data.get("item_ids") or []:
            found.setdefault(int(item_id), instance)
    return found


def check_application(actor, data: dict) -> list[int]:
    """Domain checks beyond the form: the department is the actor's to maintain, every item is active,
    not yet in its catalog and not in a running application. Returns the item ids; raises
    ApplicationInvalid with field messages."""
    errors: dict[str, str] = {}
    department_id = data.get("department_id")
    department = db.session.get(Department, department_id) if isinstance(department_id, int) else None
    if department is None or not maintenance.may_maintain_department(actor, department.id):
        errors["department_id"] = _("Choose one of your departments.")
    elif department.unit_type != "department" or department.category not in CATALOG_CATEGORIES:
        errors["department_id"] = _("Only clinical and medical-technical departments keep a catalog.")
    item_ids = [int(i) for i in data.get("item_ids") or [] if isinstance(i, int)]
    if not errors:
        items = {i.id: i for i in db.session.scalars(select(CatalogItem).where(CatalogItem.id.in_(item_ids)))}
        held = set(db.session.scalars(select(DepartmentCatalogItem.item_id).where(
            DepartmentCatalogItem.department_id == department.id, DepartmentCatalogItem.status == "active",
            DepartmentCatalogItem.item_id.in_(item_ids))))
        pending = pending_item_ids(department.id)
        problems = []
        for item_id in item_ids:
            item = items.get(item_id)
            if item is None or not item.active:
                problems.append(_("an item that is not in use"))
            elif item_id in held:
                problems.append(_("“%(name)s” is already in the department catalog", name=item.name))
            elif item_id in pending:
                problems.append(_("“%(name)s” is in application %(key)s", name=item.name,
                                  key=pending[item_id].business_key or pending[item_id].id))
        if problems:
            errors["item_ids"] = _("Remove %(problems)s.", problems="; ".join(problems))
    if errors:
        raise ApplicationInvalid(errors, data)
    return item_ids


def apply(actor, formdata) -> Instance:
    """Validate the posted start form and start the application in the chosen department."""
    from app.modules.portal.starting import business_key

    form = start_form()
    data = forms.coerce(form, formdata)
    errors = forms.validate(form, data)
    for path, message in forms.check_sources(form, data, actor).items():
        errors.setdefault(path, message)
    if errors:
        raise ApplicationInvalid(errors, data)
    return start(actor, data, business_key=business_key())


def start(actor, data: dict, *, business_key: str | None = None) -> Instance:
    if not can(actor, "catalog.department") or not may_start(actor):
        raise PermissionDenied(_("You may not apply for catalog items."))
    item_ids = check_application(actor, data)
    department = db.session.get(Department, data["department_id"])
    names = list(db.session.scalars(select(CatalogItem.name).where(CatalogItem.id.in_(item_ids))
                                    .order_by(CatalogItem.code)))
    summary = names[0] if len(names) == 1 else _("%(first)s and %(n)s more", first=names[0], n=len(names) - 1)
    title = _("Department catalog application: %(department)s · %(items)s", department=department.name,
              items=summary)
    return runtime.start(actor, PROCESS, business_key=business_key, subject=department.name,
                         department_id=department.id, data=data, title=title)


# --- the operation the approved process calls --------------------------------------------------

def add_items_operation(ctx: operations.OperationContext, department_id: int, item_ids: list) -> dict:
    """Add the approved items to the department's catalog (inside the instance's transaction)."""
    from app.modules.accounts.models import User

    department = db.session.get(Department, department_id)
    if department is None:
        raise operations.OperationError(OPERATION, f"no department {department_id}")
    applicant = db.session.get(User, ctx.started_by_id) if ctx.started_by_id else None
    if applicant is not None and not maintenance.may_maintain_department(applicant, department_id):
        raise operations.OperationError(OPERATION, f"the applicant may not maintain department {department_id}")
    actor = db.session.get(User, ctx.actor_id) if ctx.actor_id else None
    added = maintenance.add_department_items(department_id, [int(i) for i in item_ids],
                                             added_by_id=ctx.started_by_id, instance_id=ctx.instance_id,
                                             actor=actor)
    return {"added_item_ids": [row.item_id for row in added], "added_at": utcnow().isoformat(timespec="seconds")}


def register_operation() -> None:
    operations.register_operation(OPERATION, add_items_operation, {
        "type": "object",
        "properties": {"department_id": {"type": "integer"},
                       "item_ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1}},
        "required": ["department_id", "item_ids"],
        "additionalProperties": False,
    }, description=_l("Add approved hospital-catalog items to a department's catalog."))


# --- applications of a department ------------------------------------------------------------

@dataclass
class Application:
    instance: Instance
    item_ids: list[int]
    reason: str | None
    started_at: datetime


def _applications(department_id: int, *, active_only: bool, limit: int = 200):
    """(instance, start data) of the department's catalog applications (an application started from the
    portal runs in the applicant's department, which is the one it names when the head has one)."""
    stmt = select(Instance, Event.data_after).join(Event, (Event.instance_id == Instance.id)
                                                   & (Event.action == "start")).where(
        Instance.process_key == PROCESS, Instance.department_id == department_id)
    if active_only:
        stmt = stmt.where(Instance.status.in_(ACTIVE_STATUSES))
    stmt = stmt.order_by(Instance.id.desc()).limit(limit)
    for instance, data in db.session.execute(stmt):
        data = data or {}
        if data.get("department_id") == department_id:
            yield instance, data


def department_applications(department_id: int, limit: int = 50) -> list[Application]:
    return [Application(instance, [int(i) for i in data.get("item_ids") or []], data.get("reason"),
                        instance.started_at)
            for instance, data in _applications(department_id, active_only=False)][:limit]
