from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from app.core.exports import xlsx_response
from app.core.scopes import descendant_ids, get_visible, reach, require, scope_filter
from app.core.web import paginate
from app.extensions import db
from app.modules.org import blueprint, services
from app.modules.org.forms import (CATEGORY_LABELS, GENDER_LABELS, LEVEL_LABELS, STAFF_TYPE_LABELS,
                                   STATUS_LABELS, UNIT_LABELS, DepartmentForm, StaffForm)
from app.modules.org.models import Department, Staff, Title

LABELS = dict(categories=CATEGORY_LABELS, units=UNIT_LABELS, genders=GENDER_LABELS,
              staff_types=STAFF_TYPE_LABELS, statuses=STATUS_LABELS, levels=LEVEL_LABELS)


def _apply_errors(form, errors: dict) -> None:
    for field, message in errors.items():
        if not form[field].errors:
            form[field].errors = [message]


def _submitted_and_valid(form, check) -> bool:
    """Validate the form and the service's rules together, so every field's error shows at once."""
    if not form.is_submitted():
        return False
    form_ok = form.validate()
    errors = check()
    _apply_errors(form, errors)
    return form_ok and not errors


@blueprint.route("/departments")
@login_required
@require("org.view")
def list_departments():
    stmt = (select(Department).options(joinedload(Department.parent), joinedload(Department.campus))
            .where(scope_filter(current_user, "department")))
    category = request.args.get("category")
    if category in CATEGORY_LABELS:
        stmt = stmt.where(Department.category == category)
    q = request.args.get("q", "").strip()
    if q:
        stmt = stmt.where(or_(Department.name.contains(q), Department.code.contains(q)))
    stmt = stmt.order_by(Department.sort_order, Department.code)
    page = paginate(stmt)
    counts = dict(db.session.execute(
        select(Staff.department_id, func.count(Staff.id))
        .where(Staff.department_id.in_([d.id for d in page.items]), Staff.status == "active")
        .where(scope_filter(current_user, "staff"))
        .group_by(Staff.department_id)).all())
    return render_template("org/departments.html", page=page, counts=counts, q=q,
                           category=category, **LABELS)


@blueprint.route("/departments/<int:department_id>")
@login_required
@require("org.view")
def show_department(department_id: int):
    department = get_visible(current_user, "department", Department, department_id)
    children = db.session.scalars(select(Department).where(Department.parent_id == department.id)
                                  .where(scope_filter(current_user, "department"))
                                  .order_by(Department.sort_order)).all()
    stmt = (select(Staff).options(joinedload(Staff.title))
            .where(Staff.department_id == department.id)
            .where(scope_filter(current_user, "staff")).order_by(Staff.employee_no))
    page = paginate(stmt)
    return render_template("org/department.html", department=department, children=children,
                           page=page, **LABELS)


def _require_managed(department_id: int | None) -> None:
    """Staff and departments are placed only where the user's org.manage reaches: a manager of some
    departments neither adds a top-level department nor moves anyone out of their reach (403)."""
    r = reach(current_user, "org.manage")
    if not r.hospital and department_id not in r.department_ids:
        abort(403)


@blueprint.route("/departments/new", methods=["GET", "POST"])
@blueprint.route("/departments/<int:department_id>/edit", methods=["GET", "POST"])
@login_required
@require("org.manage")
def edit_department(department_id: int | None = None):
    department = None
    if department_id is not None:
        department = get_visible(current_user, "department", Department, department_id, permission="org.manage")
    form = DepartmentForm(obj=department)
    if form.is_submitted() and (department is None or form.parent_id.data != department.parent_id):
        _require_managed(form.parent_id.data)
    data = {k: v for k, v in form.data.items() if k != "csrf_token"}
    if _submitted_and_valid(form, lambda: services.check_department(data, department)):
        try:
            department = services.save_department(current_user, data, department, request.remote_addr)
        except services.ValidationFailed as exc:
            _apply_errors(form, exc.errors)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("org.show_department", department_id=department.id), code=303)
    return render_template("org/department_form.html", form=form, department=department)


def _staff_query():
    stmt = (select(Staff).join(Staff.department).outerjoin(Staff.title)
            .options(joinedload(Staff.department), joinedload(Staff.title))
            .where(scope_filter(current_user, "staff")))
    args = request.args
    if args.get("department_id", "").isdigit():
        # A department's list includes the staff of its wards.
        stmt = stmt.where(Staff.department_id.in_(descendant_ids({int(args["department_id"])})))
    if args.get("staff_type") in STAFF_TYPE_LABELS:
        stmt = stmt.where(Staff.staff_type == args["staff_type"])
    if args.get("level") in LEVEL_LABELS:
        stmt = stmt.where(Title.level == args["level"])
    if args.get("status") in STATUS_LABELS:
        stmt = stmt.where(Staff.status == args["status"])
    q = args.get("q", "").strip()
    if q:
        stmt = stmt.where(or_(Staff.name.contains(q), Staff.employee_no.contains(q)))
    sort = args.get("sort", "employee_no")
    order = {"employee_no": Staff.employee_no, "name": Staff.name,
             "department": Department.code, "hire_date": Staff.hire_date}.get(sort, Staff.employee_no)
    return stmt.order_by(order, Staff.id)


@blueprint.route("/staff")
@login_required
@require("org.view")
def list_staff():
    page = paginate(_staff_query())
    departments = db.session.execute(
        select(Department.id, Department.name).where(scope_filter(current_user, "department"))
        .order_by(Department.sort_order, Department.code)).all()
    return render_template("org/staff_list.html", page=page, departments=departments,
                           args=request.args, **LABELS)


@blueprint.route("/staff.xlsx")
@login_required
@require("org.view")
def export_staff():
    rows = db.session.scalars(_staff_query()).all()
    header = [_("Employee no."), _("Name"), _("Gender"), _("Department"), _("Staff type"), _("Title"),
              _("Title level"), _("Practice category"), _("Practice scope"), _("Hire date"),
              _("Status")]
    body = [[s.employee_no, s.name, str(GENDER_LABELS.get(s.gender, s.gender)), s.department.name,
             str(STAFF_TYPE_LABELS.get(s.staff_type, "")), s.title.name if s.title else "",
             str(LEVEL_LABELS.get(s.title.level, "")) if s.title else "", s.practice_category or "",
             s.practice_scope or "", s.hire_date, str(STATUS_LABELS.get(s.status, s.status))]
            for s in rows]
    return xlsx_response(_("Staff"), header, body, "staff.xlsx")


@blueprint.route("/staff/<int:staff_id>")
@login_required
@require("org.view")
def show_staff(staff_id: int):
    staff = get_visible(current_user, "staff", Staff, staff_id)
    return render_template("org/staff.html", staff=staff, **LABELS)


@blueprint.route("/staff/new", methods=["GET", "POST"])
@blueprint.route("/staff/<int:staff_id>/edit", methods=["GET", "POST"])
@login_required
@require("org.manage")
def edit_staff(staff_id: int | None = None):
    staff = None
    if staff_id is not None:
        staff = get_visible(current_user, "staff", Staff, staff_id, permission="org.manage")
    form = StaffForm(obj=staff)
    if form.is_submitted() and (staff is None or form.department_id.data != staff.department_id):
        _require_managed(form.department_id.data)
    if _submitted_and_valid(form, lambda: services.check_staff(form.service_data(), staff)):
        try:
            staff = services.save_staff(current_user, form.service_data(), staff, request.remote_addr)
        except services.ValidationFailed as exc:
            _apply_errors(form, exc.errors)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("org.show_staff", staff_id=staff.id), code=303)
    return render_template("org/staff_form.html", form=form, staff=staff)
