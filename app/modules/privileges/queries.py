"""Working lists (R3.8, OR scheduling, expiry): grants, doctors authorised for an item, grants by
department, applications and overrides — every one limited to what the viewer may see."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, func, or_, select

from app.core.scopes import reach, scope_filter
from app.extensions import db
from app.modules.catalog.models import CatalogItem, CatalogItemCode
from app.modules.org.models import Department, Staff
from app.workflow.models import Instance

from .applications import effective_status
from .models import Application, CheckOverride, Grant
from .types import TYPES


def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _day(value) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def departments(user) -> list[Department]:
    """Departments the viewer's grants list can be filtered by."""
    r = reach(user, "privileges.view")
    stmt = select(Department).where(Department.category != "functional", Department.unit_type == "department",
                                    Department.active.is_(True)).order_by(Department.sort_order)
    if not r.hospital:
        stmt = stmt.where(Department.id.in_(sorted(r.department_ids) or [0]))
    return list(db.session.scalars(stmt))


def grants(user, args) -> select:
    """Grants the viewer may see, filtered by the list's URL arguments."""
    stmt = (select(Grant).join(Staff, Staff.id == Grant.staff_id)
            .where(scope_filter(user, "privilege_grant")))
    q = (args.get("q") or "").strip()
    if q:
        stmt = stmt.where(or_(Staff.name.contains(q, autoescape=True), Staff.employee_no == q,
                              Grant.item_name.contains(q, autoescape=True)))
    department_id = _int(args.get("department_id"))
    if department_id:
        from app.core.scopes import descendant_ids

        stmt = stmt.where(Staff.department_id.in_(sorted(descendant_ids({department_id}))))
    staff_id = _int(args.get("staff_id"))
    if staff_id:
        stmt = stmt.where(Grant.staff_id == staff_id)
    ptype = args.get("ptype") or ""
    if ptype in TYPES:
        stmt = stmt.where(Grant.ptype == ptype)
    status = args.get("status") or ""
    if status in ("active", "suspended", "terminated", "expired"):
        stmt = stmt.where(Grant.status == status)
    expiring = _int(args.get("expiring"))
    if expiring:
        today = date.today()
        stmt = stmt.where(Grant.status == "active", Grant.end_date.is_not(None), Grant.end_date >= today,
                          Grant.end_date <= today + timedelta(days=expiring))
    order = {"end": (Grant.end_date, Grant.id), "staff": (Staff.employee_no, Grant.id),
             "item": (Grant.item_name, Grant.id)}.get(args.get("sort") or "",
                                                      (Grant.start_date.desc(), Grant.id.desc()))
    return stmt.order_by(*order)


def authorised(user, args) -> tuple[select | None, list[CatalogItem], CatalogItem | None, date]:
    """Doctors holding a valid grant of a catalog item on a date (OR scheduling): (rows, the items
    matching the search, the chosen item, the date)."""
    on = _day(args.get("date")) or date.today()
    q = (args.get("q") or "").strip()
    matches: list[CatalogItem] = []
    if q:
        by_code = select(CatalogItemCode.item_id).where(CatalogItemCode.code.startswith(q, autoescape=True))
        matches = list(db.session.scalars(
            select(CatalogItem).where(CatalogItem.active.is_(True),
                                      or_(CatalogItem.name.contains(q, autoescape=True), CatalogItem.code == q,
                                          CatalogItem.id.in_(by_code)))
            .order_by(CatalogItem.level, CatalogItem.code).limit(50)))
    item_id = _int(args.get("item_id"))
    chosen = db.session.get(CatalogItem, item_id) if item_id else (matches[0] if len(matches) == 1 else None)
    if chosen is None:
        return None, matches, None, on
    keys = [f"item:{chosen.id}", f"item:{chosen.id}:operate", f"item:{chosen.id}:report"]
    stmt = (select(Grant, Staff, Department.name.label("department_name"))
            .join(Staff, Staff.id == Grant.staff_id).join(Department, Department.id == Staff.department_id)
            .where(scope_filter(user, "privilege_grant"), Grant.item_key.in_(keys), Grant.start_date <= on,
                   or_(Grant.end_date.is_(None), Grant.end_date >= on),
                   Grant.status.in_(("active", "suspended", "terminated", "expired")))
            .order_by(Department.sort_order, Staff.employee_no))
    return stmt, matches, chosen, on


def by_department(user) -> list[tuple]:
    """(department id, name, {ptype: active grants}, total, expiring in 90 days) for the viewer's scope."""
    today = date.today()
    soon = today + timedelta(days=90)
    rows = db.session.execute(
        select(Staff.department_id, Grant.ptype, func.count(Grant.id),
               func.sum(case((Grant.end_date <= soon, 1), else_=0)))
        .join(Staff, Staff.id == Grant.staff_id)
        .where(scope_filter(user, "privilege_grant"), Grant.status == "active")
        .group_by(Staff.department_id, Grant.ptype)).all()
    names = {d.id: d for d in db.session.scalars(select(Department).where(
        Department.id.in_({r[0] for r in rows} or {0})))}
    table: dict[int, dict] = {}
    for department_id, ptype, count, expiring in rows:
        entry = table.setdefault(department_id, {"types": {}, "total": 0, "expiring": 0})
        entry["types"][ptype] = int(count)
        entry["total"] += int(count)
        entry["expiring"] += int(expiring or 0)
    ordered = sorted(table.items(), key=lambda kv: (names[kv[0]].sort_order if kv[0] in names else 0, kv[0]))
    return [(dept_id, names[dept_id].name if dept_id in names else "—", v["types"], v["total"], v["expiring"])
            for dept_id, v in ordered]


def applications(user, args) -> select:
    status = effective_status().label("effective_status")
    stmt = (select(Application, status, Instance.business_key, Instance.title)
            .outerjoin(Instance, Instance.id == Application.instance_id)
            .join(Staff, Staff.id == Application.staff_id)
            .where(scope_filter(user, "privilege_application")))
    if args.get("mine"):
        stmt = stmt.where(Application.staff_id == (getattr(user, "staff_id", None) or 0))
    ptype = args.get("ptype") or ""
    if ptype in TYPES:
        stmt = stmt.where(Application.ptype == ptype)
    wanted = args.get("status") or ""
    if wanted in ("pending", "approved", "rejected", "withdrawn", "cancelled"):
        stmt = stmt.where(effective_status() == wanted)
    auto = args.get("auto") or ""
    if auto in ("approve", "reject", "review"):
        stmt = stmt.where(Application.auto_outcome == auto)
    q = (args.get("q") or "").strip()
    if q:
        stmt = stmt.where(or_(Staff.name.contains(q, autoescape=True), Staff.employee_no == q,
                              Instance.business_key == q))
    return stmt.order_by(Application.created_at.desc(), Application.id.desc())


def overrides(user, args) -> select:
    stmt = (select(CheckOverride).join(Staff, Staff.id == CheckOverride.staff_id)
            .where(scope_filter(user, "privilege_override")))
    status = args.get("status", "open")
    if status in ("open", "accepted", "questioned"):
        stmt = stmt.where(CheckOverride.status == status)
    q = (args.get("q") or "").strip()
    if q:
        stmt = stmt.where(or_(Staff.name.contains(q, autoescape=True), Staff.employee_no == q,
                              CheckOverride.code == q))
    return stmt.order_by(CheckOverride.created_at.desc(), CheckOverride.id.desc())


def staff_grants(staff_id: int, ptypes: tuple[str, ...] | None = None) -> list[Grant]:
    stmt = select(Grant).where(Grant.staff_id == staff_id)
    if ptypes:
        stmt = stmt.where(Grant.ptype.in_(ptypes))
    order = {"active": 0, "suspended": 1, "expired": 2, "terminated": 3}
    rows = list(db.session.scalars(stmt.order_by(Grant.ptype, Grant.item_name, Grant.start_date.desc())))
    return sorted(rows, key=lambda g: (g.ptype, order.get(g.status, 9), g.item_name, -g.start_date.toordinal()))


def counts(user) -> dict[str, int]:
    """Figures for the privileges home page, in the viewer's scope."""
    today = date.today()
    base = select(func.count(Grant.id)).join(Staff, Staff.id == Grant.staff_id).where(
        scope_filter(user, "privilege_grant"))
    result = {
        "active": db.session.scalar(base.where(Grant.status == "active")) or 0,
        "suspended": db.session.scalar(base.where(Grant.status == "suspended")) or 0,
        "expiring": db.session.scalar(base.where(Grant.status == "active", Grant.end_date >= today,
                                                 Grant.end_date <= today + timedelta(days=90))) or 0,
    }
    result["pending"] = db.session.scalar(
        select(func.count(Application.id)).outerjoin(Instance, Instance.id == Application.instance_id)
        .join(Staff, Staff.id == Application.staff_id)
        .where(scope_filter(user, "privilege_application"), effective_status() == "pending")) or 0
    result["overrides"] = db.session.scalar(
        select(func.count(CheckOverride.id)).join(Staff, Staff.id == CheckOverride.staff_id)
        .where(scope_filter(user, "privilege_override"), CheckOverride.status == "open")) or 0
    return result


def capable_doctors(department_id: int, item_ids: list[int]) -> dict[int, int]:
    """{catalog item id: doctors of the department holding a grant of it valid today} (for the
    catalog's department pages)."""
    from app.core.scopes import descendant_ids

    from .grants import changes_of, state_on

    if not item_ids:
        return {}
    today = date.today()
    keys = {f"item:{i}": i for i in item_ids}
    rows = db.session.execute(select(Grant.id, Grant.staff_id, Grant.item_key, Grant.level, Grant.scope,
                                     Grant.start_date, Grant.end_date, Grant.status, Grant.has_changes)
                              .join(Staff, Staff.id == Grant.staff_id)
                              .where(Staff.department_id.in_(sorted(descendant_ids({department_id}))),
                                     Grant.item_key.in_(list(keys)), Grant.start_date <= today)).all()
    changes = changes_of([r.id for r in rows if r.has_changes])
    holders: dict[int, set[int]] = {}
    for row in rows:
        if state_on(row, changes.get(row.id, ()), today).valid:
            holders.setdefault(keys[row.item_key], set()).add(row.staff_id)
    return {item_id: len(staff) for item_id, staff in holders.items()}
