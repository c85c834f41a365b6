"""What a user's home page shows, computed for the user's own reach."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.core.models import utcnow
from app.core.scopes import can, descendant_ids, reach, scope_filter
from app.extensions import db
from app.modules.org.models import Department, Staff, Title


@dataclass
class DepartmentSummary:
    department: Department
    active_staff: int
    by_level: dict[str, int]


def home_summary(user) -> dict:
    summary: dict = {"reach": reach(user, "org.view"), "departments": []}
    if can(user, "org.view"):
        dept_filter = scope_filter(user, "department")
        staff_filter = scope_filter(user, "staff")
        summary["department_count"] = db.session.scalar(
            select(func.count(Department.id)).where(dept_filter))
        summary["staff_count"] = db.session.scalar(
            select(func.count(Staff.id)).where(staff_filter, Staff.status == "active"))
        r = summary["reach"]
        if not r.hospital and r.department_ids:
            departments = db.session.scalars(
                select(Department).where(Department.id.in_(r.department_ids))
                .where(Department.parent_id.is_(None) | ~Department.parent_id.in_(r.department_ids))
                .order_by(Department.sort_order)).all()
            # A department's card counts its wards too, as the scope does.
            units = {dept.id: descendant_ids({dept.id}) for dept in departments}
            levels = db.session.execute(
                select(Staff.department_id, Title.level, func.count(Staff.id))
                .join(Title, Staff.title_code == Title.code)
                .where(Staff.department_id.in_(set().union(*units.values())),
                       Staff.status == "active")
                .group_by(Staff.department_id, Title.level)).all()
            for dept in departments:
                by_level: dict[str, int] = {}
                for unit, lvl, n in levels:
                    if unit in units[dept.id]:
                        by_level[lvl] = by_level.get(lvl, 0) + n
                summary["departments"].append(
                    DepartmentSummary(dept, sum(by_level.values()), by_level))
    if can(user, "accounts.manage"):
        from app.modules.accounts.models import User

        summary["locked_users"] = db.session.scalar(
            select(func.count(User.id)).where(User.locked_until > utcnow()))
    return summary
