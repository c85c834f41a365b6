"""The `staff` and `departments` sources: search and labels, limited to the user's org.view scope."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from app.core.scopes import scope_filter
from app.extensions import db
from app.modules.org.models import Department, Staff
from app.workflow.forms import register_source

WORKING = ("active", "leave")


def _ids(values) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue
    return ids


def _staff_label(staff: Staff) -> str:
    return f"{staff.name}（{staff.employee_no}）"  # 工号 beside the name: two people may share one


def search_staff(query: str, limit: int, user) -> list[dict]:
    stmt = (select(Staff).options(joinedload(Staff.department))
            .where(scope_filter(user, "staff"), Staff.status.in_(WORKING)))
    if query:
        stmt = stmt.where(or_(Staff.name.contains(query, autoescape=True),
                              Staff.employee_no.contains(query, autoescape=True)))
    stmt = stmt.order_by(Staff.name, Staff.employee_no).limit(limit)
    return [{"value": s.id, "label": _staff_label(s), "detail": s.department.name}
            for s in db.session.scalars(stmt)]


def resolve_staff(values, user) -> dict:
    ids = _ids(values)
    if not ids:
        return {}
    stmt = select(Staff).where(Staff.id.in_(ids), scope_filter(user, "staff"))
    return {s.id: _staff_label(s) for s in db.session.scalars(stmt)}


def search_departments(query: str, limit: int, user) -> list[dict]:
    stmt = (select(Department).options(joinedload(Department.parent))
            .where(scope_filter(user, "department"), Department.active.is_(True)))
    if query:
        stmt = stmt.where(or_(Department.name.contains(query, autoescape=True),
                              Department.code.contains(query, autoescape=True)))
    stmt = stmt.order_by(Department.sort_order, Department.code).limit(limit)
    return [{"value": d.id, "label": d.name, "detail": d.parent.name if d.parent else d.code}
            for d in db.session.scalars(stmt)]


def resolve_departments(values, user) -> dict:
    ids = _ids(values)
    if not ids:
        return {}
    stmt = select(Department).where(Department.id.in_(ids), scope_filter(user, "department"))
    return {d.id: d.name for d in db.session.scalars(stmt)}


register_source("staff", search_staff, resolve=resolve_staff,
                placeholder=_l("Type a name or employee number to search"))
register_source("departments", search_departments, resolve=resolve_departments,
                placeholder=_l("Type a department name to search"))
