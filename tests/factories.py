"""`create_<thing>` factories: rows with sensible defaults, overridable by keyword."""
from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import select

from app.extensions import db
from app.modules.accounts import services as accounts
from app.modules.accounts.models import User
from app.modules.org.models import Department, Hospital, Staff

_seq = itertools.count(1)


def the_hospital() -> Hospital:
    return db.session.scalar(select(Hospital).order_by(Hospital.id))


def create_department(**kw) -> Department:
    n = next(_seq)
    values = dict(hospital_id=the_hospital().id, code=f"T{n:04d}", name=f"测试科室{n}",
                  category="clinical", unit_type="department")
    values.update(kw)
    dept = Department(**values)
    db.session.add(dept)
    db.session.flush()
    return dept


def create_staff(**kw) -> Staff:
    n = next(_seq)
    if "department_id" not in kw and "department" not in kw:
        kw["department"] = create_department()
    values = dict(hospital_id=the_hospital().id, employee_no=f"T{n:06d}", name=f"测试{n}号",
                  gender="M", staff_type="physician", title_code="attending",
                  title_since=date(2020, 1, 1), practice_category="临床", practice_scope="外科专业",
                  hire_date=date(2015, 8, 1), status="active")
    values.update(kw)
    staff = Staff(**values)
    db.session.add(staff)
    db.session.flush()
    return staff


def create_user(role: str = "physician", scope: str | None = None, *, departments=(),
                staff: Staff | None = None, password: str = "demo", username: str | None = None,
                **kw) -> User:
    """A user holding `role` with `scope` (the role's default when None)."""
    from app.modules.accounts.models import Role

    n = next(_seq)
    role_row = db.session.scalar(select(Role).where(Role.code == role))
    scope = scope or role_row.default_scope
    if staff is None and scope != "hospital":
        staff = create_staff(department=departments[0]) if departments else create_staff()
    user = accounts.create_user(None, username=username or f"user{n}", password=password,
                                display_name=staff.name if staff else f"用户{n}",
                                staff_id=staff.id if staff else None, **kw)
    dept_ids = tuple(d.id for d in departments)
    if scope == "departments" and not dept_ids:
        dept_ids = (staff.department_id,)
    accounts.set_grants(None, user, [accounts.GrantSpec(role, scope, dept_ids)])
    return user
