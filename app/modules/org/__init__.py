"""Organisation: hospital, campuses, departments and wards, staff (R1.1 identity)."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

blueprint = Blueprint("org", __name__, url_prefix="/org")

from app.modules.org import views  # noqa: E402,F401


def _staff_names(ids: list[str]) -> dict[str, str]:
    """Instances about a person ("staff:<id>"): their name and employee number."""
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.org.models import Staff

    numbers = [int(i) for i in ids if i.isdigit()]
    rows = db.session.execute(select(Staff.id, Staff.name, Staff.employee_no).where(Staff.id.in_(numbers)))
    return {str(staff_id): f"{name}（{employee_no}）" if employee_no else name for staff_id, name, employee_no in rows}


def init_app(app):
    from sqlalchemy import select

    from app.core.scopes import register_kind
    from app.core.sync import register_sync
    from app.core.web import register_nav
    from app.modules.org.dictionaries import sync_titles
    from app.modules.org.models import Department, Staff
    from app.workflow import subjects

    register_kind("staff", permission="org.view",
                  department_column=lambda: Staff.department_id,
                  self_clause=lambda staff_id: Staff.id == staff_id)
    register_kind("department", permission="org.view",
                  department_column=lambda: Department.id,
                  self_clause=lambda staff_id: Department.id == select(Staff.department_id)
                  .where(Staff.id == staff_id).scalar_subquery())
    register_sync("titles", sync_titles)
    subjects.register("staff", _staff_names)
    register_nav("org.list_staff", _l("Staff"), "people", "org.view", order=50)
    register_nav("org.list_departments", _l("Departments"), "diagram-3", "org.view", order=51)
