"""The `users` data source: people (user accounts) to hand a task to, copy it to or add as signers.

Kernel actions take user ids; the typeahead shows the person's name and 工号, limited like the staff
list to the searcher's org.view scope (the whole hospital for hospital-wide roles), plus the
colleagues of the searcher's own department.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.core.scopes import reach, scope_filter
from app.extensions import db
from app.modules.accounts.models import User
from app.modules.org.models import Department, Staff
from app.workflow.forms import register_source


def _ids(values) -> list[int]:
    return [int(v) for v in values if str(v).strip().isdigit() and len(str(v).strip()) < 12]


def label(user: User, staff: Staff | None) -> str:
    return f"{staff.name}（{staff.employee_no}）" if staff else user.display_name


def _visible(user):
    """Users the searcher may pick: staff in their org.view scope, and colleagues of their own
    department (whom a doctor hands work to or copies); staff-less accounts for hospital-wide roles."""
    stmt = (select(User, Staff, Department.name).outerjoin(Staff, Staff.id == User.staff_id)
            .outerjoin(Department, Department.id == Staff.department_id).where(User.active.is_(True)))
    if reach(user, "org.view").hospital:
        return stmt
    own = getattr(getattr(user, "staff", None), "department_id", None)
    colleagues = [Staff.department_id == own] if own is not None else []
    return stmt.where(User.staff_id.is_not(None), or_(scope_filter(user, "staff"), *colleagues))


def search_users(query: str, limit: int, user) -> list[dict]:
    stmt = _visible(user)
    if query:
        stmt = stmt.where(or_(User.display_name.contains(query, autoescape=True),
                              Staff.name.contains(query, autoescape=True),
                              Staff.employee_no.contains(query, autoescape=True),
                              User.username == query))
    stmt = stmt.order_by(Staff.name, User.display_name, User.id).limit(limit)
    return [{"value": row.id, "label": label(row, staff), "detail": dept or ""}
            for row, staff, dept in db.session.execute(stmt)]


def resolve_users(values, user) -> dict:
    ids = _ids(values)
    if not ids:
        return {}
    stmt = _visible(user).where(User.id.in_(ids))
    return {row.id: label(row, staff) for row, staff, _dept in db.session.execute(stmt)}


def names(user_ids) -> dict[int, str]:
    """Display names (with 工号) of any users, for showing who did what — not for choosing."""
    ids = sorted({int(i) for i in user_ids if i is not None})
    if not ids:
        return {}
    rows = db.session.execute(select(User, Staff).outerjoin(Staff, Staff.id == User.staff_id)
                              .where(User.id.in_(ids)))
    return {row.id: label(row, staff) for row, staff in rows}


register_source("users", search_users, resolve=resolve_users,
                placeholder=_l("Type a name or employee number to search"))
