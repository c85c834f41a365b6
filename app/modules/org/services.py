"""Organisation services: departments and staff. Actor explicit; flush only; audit every change."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.core import audit
from app.extensions import db
from app.modules.org.dictionaries import PRACTICE_SCOPES
from app.modules.org.models import (DEPARTMENT_CATEGORIES, GENDERS, STAFF_STATUSES, STAFF_TYPES,
                                    UNIT_TYPES, Department, Hospital, Staff, Title)


class ValidationFailed(ValueError):
    """Field-by-field errors (field name → translated message); nothing was written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def the_hospital() -> Hospital:
    hospital = db.session.scalar(select(Hospital).order_by(Hospital.id))
    if hospital is None:
        raise LookupError("no hospital: run `medtech demo` or create one with `medtech hospital`")
    return hospital


DEPARTMENT_FIELDS = ("code", "name", "category", "unit_type", "parent_id", "campus_id", "active",
                     "sort_order")
STAFF_FIELDS = ("employee_no", "name", "gender", "birth_date", "department_id", "staff_type", "post",
                "title_code", "title_since", "practice_category", "practice_scope",
                "practice_cert_no", "qualification_cert_no", "hire_date", "status", "phone")


def check_department(data: dict[str, Any], current: Department | None) -> dict[str, str]:
    errors = {}
    if not (data.get("code") or "").strip():
        errors["code"] = _("Enter the department code.")
    elif db.session.scalar(select(Department.id).where(
            Department.code == data["code"].strip(),
            Department.id != (current.id if current else -1))):
        errors["code"] = _("The code %(code)s is already used.", code=data["code"])
    if not (data.get("name") or "").strip():
        errors["name"] = _("Enter the department name.")
    if data.get("category") not in DEPARTMENT_CATEGORIES:
        errors["category"] = _("Choose the department type.")
    if data.get("unit_type", "department") not in UNIT_TYPES:
        errors["unit_type"] = _("Choose department or ward.")
    parent_id = data.get("parent_id")
    if parent_id:
        if db.session.get(Department, parent_id) is None:
            errors["parent_id"] = _("The parent department does not exist.")
        elif current is not None and _is_descendant(parent_id, current.id):
            errors["parent_id"] = _("A department cannot be placed under itself.")
    return errors


def _is_descendant(candidate_id: int, ancestor_id: int) -> bool:
    seen = set()
    node = db.session.get(Department, candidate_id)
    while node is not None and node.id not in seen:
        if node.id == ancestor_id:
            return True
        seen.add(node.id)
        node = node.parent
    return False


def save_department(actor, data: dict[str, Any], department: Department | None = None,
                    ip: str | None = None) -> Department:
    errors = check_department(data, department)
    if errors:
        raise ValidationFailed(errors)
    created = department is None
    if created:
        department = Department(hospital_id=the_hospital().id)
        db.session.add(department)
    before = {f: getattr(department, f) for f in DEPARTMENT_FIELDS} if not created else {}
    for field in DEPARTMENT_FIELDS:
        if field in data:
            value = data[field]
            setattr(department, field, value.strip() if isinstance(value, str) else value)
    db.session.flush()
    after = {f: getattr(department, f) for f in DEPARTMENT_FIELDS}
    audit.record("department.created" if created else "department.updated", actor=actor,
                 object_type="department", object_id=department.id,
                 data={"before": before, "after": after}, ip=ip)
    return department


def check_staff(data: dict[str, Any], current: Staff | None) -> dict[str, str]:
    errors = {}
    employee_no = (data.get("employee_no") or "").strip()
    if not employee_no:
        errors["employee_no"] = _("Enter the employee number.")
    elif db.session.scalar(select(Staff.id).where(Staff.employee_no == employee_no,
                                                  Staff.id != (current.id if current else -1))):
        errors["employee_no"] = _("The employee number %(no)s is already used.", no=employee_no)
    if not (data.get("name") or "").strip():
        errors["name"] = _("Enter the name.")
    if data.get("gender") not in GENDERS:
        errors["gender"] = _("Choose the gender.")
    if not data.get("department_id") or db.session.get(Department, data["department_id"]) is None:
        errors["department_id"] = _("Choose an existing department.")
    if data.get("staff_type") not in STAFF_TYPES:
        errors["staff_type"] = _("Choose the staff type.")
    if data.get("status", "active") not in STAFF_STATUSES:
        errors["status"] = _("Choose the status.")
    if data.get("title_code") and db.session.get(Title, data["title_code"]) is None:
        errors["title_code"] = _("Choose a title from the list.")
    category = data.get("practice_category")
    if category:
        if category not in PRACTICE_SCOPES:
            errors["practice_category"] = _("Choose a practice category from the list.")
        elif data.get("practice_scope") and data["practice_scope"] not in PRACTICE_SCOPES[category]:
            errors["practice_scope"] = _("This practice scope does not belong to the category "
                                         "%(category)s.", category=category)
    elif data.get("practice_scope"):
        errors["practice_category"] = _("Choose the practice category of this scope.")
    birth, hire = data.get("birth_date"), data.get("hire_date")
    if birth and hire and hire <= birth:
        errors["hire_date"] = _("The hire date must be after the birth date.")
    return errors


def save_staff(actor, data: dict[str, Any], staff: Staff | None = None,
               ip: str | None = None) -> Staff:
    errors = check_staff(data, staff)
    if errors:
        raise ValidationFailed(errors)
    created = staff is None
    if created:
        staff = Staff(hospital_id=the_hospital().id)
        db.session.add(staff)
    before = {f: getattr(staff, f) for f in STAFF_FIELDS} if not created else {}
    for field in STAFF_FIELDS:
        if field in data:
            value = data[field]
            setattr(staff, field, (value.strip() or None) if isinstance(value, str) else value)
    staff.employee_no = staff.employee_no or data["employee_no"].strip()
    db.session.flush()
    after = {f: getattr(staff, f) for f in STAFF_FIELDS}
    changed = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    audit.record("staff.created" if created else "staff.updated", actor=actor,
                 object_type="staff", object_id=staff.id, data={"changes": changed}, ip=ip)
    return staff
