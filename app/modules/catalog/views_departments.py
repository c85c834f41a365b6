"""Pages of department catalogs (R2.1, R2.2, R2.5, R2.6, R2.9): each department's list, its maintenance
by the department's managers, applications for hospital-catalog items, and its analytics."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.core.exports import xlsx_response
from app.core.scopes import get_visible, require
from app.core.web import paginate
from app.extensions import db
from app.modules.catalog import analytics, applications, blueprint, maintenance, queries, transfer
from app.modules.catalog.forms import NoteForm
from app.modules.catalog.labels import DEPARTMENT_STATUS_LABELS, KIND_LABELS, LEVEL_LABELS
from app.modules.catalog.models import CatalogItem, DepartmentCatalogItem
from app.modules.org.models import Department
from app.modules.portal import story
from app.workflow.errors import PermissionDenied

LABELS = dict(kinds=KIND_LABELS, levels=LEVEL_LABELS, statuses=DEPARTMENT_STATUS_LABELS)


def _department(department_id: int) -> Department:
    return get_visible(current_user, "catalog_department", Department, department_id)


def _row(row_id: int) -> DepartmentCatalogItem:
    """A department-catalog row the user may see (else 404), with its department."""
    return get_visible(current_user, "catalog_department_item", DepartmentCatalogItem, row_id)


@blueprint.route("/departments")
@login_required
@require("catalog.view")
def list_departments():
    departments = db.session.scalars(queries.catalog_departments(current_user)).all()
    ids = [d.id for d in departments]
    counts = dict(db.session.execute(
        select(DepartmentCatalogItem.department_id, func.count()).where(
            DepartmentCatalogItem.department_id.in_(ids), DepartmentCatalogItem.status == "active")
        .group_by(DepartmentCatalogItem.department_id)).all()) if ids else {}
    if len(departments) == 1 and not request.args:
        return redirect(url_for("catalog.show_department", department_id=departments[0].id))
    return render_template("catalog/departments.html", departments=departments, counts=counts)


@blueprint.route("/departments/<int:department_id>")
@login_required
@require("catalog.view")
def show_department(department_id: int):
    department = _department(department_id)
    may_maintain = maintenance.may_maintain_department(current_user, department.id)
    page = paginate(queries.department_rows(department.id, request.args))
    pending = applications.pending_item_ids(department.id)
    history = applications.department_applications(department.id, limit=20)
    item_names = dict(db.session.execute(select(CatalogItem.id, CatalogItem.name).where(
        CatalogItem.id.in_({i for a in history for i in a.item_ids} | set(pending)))).all())
    return render_template("catalog/department.html", department=department, page=page, args=request.args,
                           pending=pending, history=history, item_names=item_names,
                           keeps_catalog=department.category in applications.CATALOG_CATEGORIES
                           and department.unit_type == "department",
                           may_maintain=may_maintain, may_apply=may_maintain and applications.may_start(current_user),
                           active_count=maintenance.department_item_count(department.id),
                           application_statuses=story.INSTANCE_STATUS_LABELS, **LABELS)


@blueprint.route("/departments/<int:department_id>/catalog.xlsx")
@login_required
@require("catalog.view")
def export_department(department_id: int):
    department = _department(department_id)
    rows = db.session.scalars(queries.department_rows(department.id, request.args)).all()
    header = [*transfer.headers()[:7], _("Department note"), _("Added on"), _("Status")]
    body = [[*transfer.export_rows([r.item])[0][:7], r.note or "", r.added_at.strftime("%Y-%m-%d"),
             str(DEPARTMENT_STATUS_LABELS.get(r.status, r.status))] for r in rows]
    return xlsx_response(department.name, header, body, f"catalog-{department.code}.xlsx")


@blueprint.route("/rows/<int:row_id>/remove", methods=["POST"])
@login_required
@require("catalog.department")
def remove_row(row_id: int):
    row = _row(row_id)
    department = row.department
    try:
        maintenance.remove_department_item(current_user, row, request.form.get("reason"))
    except PermissionDenied:
        abort(403)
    flash(_("Removed from the department catalog: %(name)s.", name=row.item.name), "success")
    return redirect(url_for("catalog.show_department", department_id=department.id), code=303)


@blueprint.route("/rows/<int:row_id>/note", methods=["GET", "POST"])
@login_required
@require("catalog.department")
def edit_note(row_id: int):
    row = _row(row_id)
    department = row.department
    if not maintenance.may_maintain_department(current_user, department.id):
        abort(403)
    form = NoteForm(obj=row) if request.method == "GET" else NoteForm()
    if form.validate_on_submit():
        try:
            maintenance.set_department_note(current_user, row, form.note.data)
        except maintenance.Invalid as exc:
            form.note.errors = [exc.errors["note"]]
        else:
            flash(_("Saved: %(name)s.", name=row.item.name), "success")
            return redirect(url_for("catalog.show_department", department_id=department.id), code=303)
    return render_template("catalog/note_form.html", form=form, department=department, row=row), \
        422 if form.note.errors else 200


@blueprint.route("/departments/<int:department_id>/apply", methods=["GET", "POST"])
@login_required
@require("catalog.department")
def apply(department_id: int):
    """The application form (R2.2), opened from the department catalog with the department filled in."""
    department = _department(department_id)
    if not maintenance.may_maintain_department(current_user, department.id) or \
            not applications.may_start(current_user):
        abort(403)
    try:
        form = applications.start_form()
    except LookupError:
        abort(404)
    data = {"department_id": department.id}
    if request.args.get("item_id", "").isdigit():
        data["item_ids"] = [int(request.args["item_id"])]
    errors, reason = {}, None
    if request.method == "POST":
        try:
            instance = applications.apply(current_user, request.form)
        except applications.ApplicationInvalid as exc:
            errors, data, reason = exc.errors, exc.data, _("Please correct the marked fields.")
        except PermissionDenied:
            abort(403)
        else:
            flash(_("Submitted: %(title)s (%(key)s).", title=instance.title, key=instance.business_key), "success")
            return redirect(url_for("portal.show_instance", instance_id=instance.id), code=303)
    form_html = story.render(form, data, story.Files([]), current_user, readonly=False, errors=errors)
    return render_template("catalog/apply.html", department=department, form=form, form_html=form_html,
                           reason=reason), 422 if reason else 200


@blueprint.route("/departments/<int:department_id>/analytics")
@login_required
@require("catalog.view")
def department_analytics(department_id: int):
    department = _department(department_id)
    result = analytics.department_analytics(department.id)
    return render_template("catalog/department_analytics.html", department=department, result=result, **LABELS)


@blueprint.route("/analytics")
@login_required
@require("catalog.view")
def hospital_analytics():
    summary = analytics.hospital_summary()
    offering = analytics.offering_counts()
    items = db.session.scalars(select(CatalogItem).where(CatalogItem.active.is_(True))
                               .order_by(CatalogItem.kind, CatalogItem.code)).all()
    top = sorted(items, key=lambda i: (-offering.get(i.id, 0), i.code))[:15]
    return render_template("catalog/analytics.html", summary=summary, top=top, offering=offering,
                           chart={"kinds": [str(KIND_LABELS[k]) for k in summary.by_kind_level],
                                  "keys": list(summary.by_kind_level),
                                  "levels": [str(v) for v in LEVEL_LABELS.values()] + [_("No level")],
                                  "values": [[summary.by_kind_level[k].get(level, 0) for k in summary.by_kind_level]
                                             for level in (1, 2, 3, 4, None)]},
                           **LABELS)
