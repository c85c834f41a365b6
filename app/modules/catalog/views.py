"""Pages of the hospital catalog (R2.1, R2.3, R2.7): the list, item pages, maintenance by medical
affairs, xlsx export and import."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.core.exports import xlsx_response
from app.core.scopes import can, require, scope_filter
from app.core.web import paginate
from app.extensions import db
from app.modules.catalog import applications, blueprint, maintenance, queries, transfer
from app.modules.catalog.analytics import offering_counts
from app.modules.catalog.forms import ImportForm, IndicatorForm, ItemForm
from app.modules.catalog.labels import KIND_LABELS, LEVEL_LABELS, MEASURE_LABELS
from app.modules.catalog.models import CatalogItem, DepartmentCatalogItem, RestrictedIndicator
from app.modules.clinical.models import ProcedureCode
from app.modules.org.models import Department
from app.workflow.errors import PermissionDenied

EXPORT_LIMIT = 50_000
LABELS = dict(kinds=KIND_LABELS, levels=LEVEL_LABELS, measures=MEASURE_LABELS)


def _item(item_id: int) -> CatalogItem:
    item = db.session.scalar(select(CatalogItem).where(CatalogItem.id == item_id)
                             .options(selectinload(CatalogItem.codes), selectinload(CatalogItem.indicators)))
    return item or abort(404)


@blueprint.app_template_filter("catalog_without")
def _without_filter(args: dict, *names: str) -> dict:
    return {k: v for k, v in args.items() if k not in names}


@blueprint.route("/")
@login_required
@require("catalog.view")
def list_items():
    page = paginate(queries.items(current_user, request.args))
    department = queries.visible_department(current_user, queries._int(request.args, "department_id"))
    offered = offering_counts()
    return render_template("catalog/items.html", page=page, args=request.args, department=department,
                           offered=offered, **LABELS)


@blueprint.route("/items.xlsx")
@login_required
@require("catalog.view")
def export_items():
    items = db.session.scalars(queries.items(current_user, request.args).limit(EXPORT_LIMIT)).unique().all()
    return xlsx_response(_("Technology catalog"), transfer.headers(), transfer.export_rows(items),
                         "technology-catalog.xlsx")


@blueprint.route("/items/<int:item_id>")
@login_required
@require("catalog.view")
def show_item(item_id: int):
    item = _item(item_id)
    names = dict(db.session.execute(select(ProcedureCode.code, ProcedureCode.name)
                                    .where(ProcedureCode.code.in_(item.code_list))).all())
    offering = db.session.execute(
        select(Department.id, Department.name, DepartmentCatalogItem.added_at)
        .join(DepartmentCatalogItem, DepartmentCatalogItem.department_id == Department.id)
        .where(DepartmentCatalogItem.item_id == item.id, DepartmentCatalogItem.status == "active",
               scope_filter(current_user, "catalog_department"))
        .order_by(Department.sort_order, Department.code)).all()
    offered_total = db.session.scalar(select(func.count()).select_from(DepartmentCatalogItem).where(
        DepartmentCatalogItem.item_id == item.id, DepartmentCatalogItem.status == "active")) or 0
    mine = applications.departments_for(current_user)
    held = set(db.session.scalars(select(DepartmentCatalogItem.department_id).where(
        DepartmentCatalogItem.item_id == item.id, DepartmentCatalogItem.status == "active")))
    return render_template("catalog/item.html", item=item, names=names, offering=offering,
                           offered_total=offered_total, can_manage=can(current_user, "catalog.manage"),
                           apply_departments=[d for d in mine if d.id not in held], **LABELS)


def _item_data(form: ItemForm) -> dict:
    data = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
    if not (data.get("code") or "").strip():
        data["code"] = maintenance.next_code(data.get("kind") or "")
    return data


def _edit(item: CatalogItem | None):
    form = ItemForm(obj=item) if request.method == "GET" else ItemForm()
    if request.method == "GET" and item is not None:
        form.codes.data = "\n".join(item.code_list)
        form.level.data = str(item.level or "")
    if request.method == "GET" and item is None and request.args.get("kind") in KIND_LABELS:
        form.kind.data = request.args["kind"]
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            saved = maintenance.save_item(current_user, item, _item_data(form))
        except maintenance.Invalid as exc:
            errors = exc.errors  # refused before anything was written
        except PermissionDenied:
            abort(403)
        else:
            flash(_("Saved: %(name)s.", name=saved.name), "success")
            return redirect(url_for("catalog.show_item", item_id=saved.id), code=303)
    for name, message in errors.items():
        if name in form._fields:
            form._fields[name].errors = [message]
    return render_template("catalog/item_form.html", form=form, item=item, errors=errors), 422 if errors else 200


@blueprint.route("/items/new", methods=["GET", "POST"])
@login_required
@require("catalog.manage")
def create_item():
    return _edit(None)


@blueprint.route("/items/<int:item_id>/edit", methods=["GET", "POST"])
@login_required
@require("catalog.manage")
def edit_item(item_id: int):
    return _edit(_item(item_id))


@blueprint.route("/items/<int:item_id>/active", methods=["POST"])
@login_required
@require("catalog.manage")
def set_item_active(item_id: int):
    item = _item(item_id)
    active = request.form.get("active") == "1"
    maintenance.set_item_active(current_user, item, active)
    flash(_("Back in use: %(name)s.", name=item.name) if active else _("No longer in use: %(name)s.", name=item.name),
          "success")
    return redirect(url_for("catalog.show_item", item_id=item.id), code=303)


# --- indicators of a restricted technology ------------------------------------------------------

def _indicator_form(item: CatalogItem, indicator: RestrictedIndicator | None):
    form = IndicatorForm(obj=indicator) if request.method == "GET" else IndicatorForm()
    if request.method == "GET" and indicator is not None:
        form.measure.data = indicator.measure or ""
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        data = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
        try:
            maintenance.save_indicator(current_user, item, indicator, data)
        except maintenance.Invalid as exc:
            errors = exc.errors  # refused before anything was written
        except PermissionDenied:
            abort(403)
        else:
            flash(_("Saved: %(name)s.", name=data["name"]), "success")
            return redirect(url_for("catalog.show_item", item_id=item.id, _anchor="indicators"), code=303)
    for name, message in errors.items():
        if name in form._fields:
            form._fields[name].errors = [message]
    return render_template("catalog/indicator_form.html", form=form, item=item, indicator=indicator,
                           errors=errors), 422 if errors else 200


@blueprint.route("/items/<int:item_id>/indicators/new", methods=["GET", "POST"])
@login_required
@require("catalog.manage")
def create_indicator(item_id: int):
    item = _item(item_id)
    if item.kind != "restricted":
        abort(404)
    return _indicator_form(item, None)


@blueprint.route("/indicators/<int:indicator_id>/edit", methods=["GET", "POST"])
@login_required
@require("catalog.manage")
def edit_indicator(indicator_id: int):
    indicator = db.session.get(RestrictedIndicator, indicator_id) or abort(404)
    return _indicator_form(_item(indicator.item_id), indicator)


# --- import --------------------------------------------------------------------------------------

@blueprint.route("/import", methods=["GET", "POST"])
@login_required
@require("catalog.manage")
def import_items():
    form = ImportForm()
    result, token, filename = None, None, None
    if form.validate_on_submit():
        upload = form.file.data
        filename = (getattr(upload, "filename", "") or "")[:200]
        data = upload.read() if upload else b""
        try:
            if not filename.lower().endswith(".xlsx"):
                raise transfer.FileRefused(_("Upload a .xlsx file (the export of this catalog is the template)."))
            result, _prepared = transfer.check(transfer.read_rows(data))
        except transfer.FileRefused as exc:
            form.file.errors = [str(exc)]
        else:
            token = transfer.store(data) if result.ok else None
    status = 422 if form.file.errors or (result is not None and not result.ok) else 200
    return render_template("catalog/import.html", form=form, result=result, token=token, filename=filename,
                           **LABELS), status


@blueprint.route("/import/commit", methods=["POST"])
@login_required
@require("catalog.manage")
def commit_import():
    token, filename = request.form.get("token", ""), request.form.get("filename") or None
    try:
        result = transfer.commit(current_user, token, filename)
    except transfer.FileRefused as exc:
        flash(str(exc), "warning")
        return redirect(url_for("catalog.import_items"), code=303)
    if not result.ok:  # the file changed its meaning since the preview (e.g. a code taken meanwhile)
        return render_template("catalog/import.html", form=ImportForm(), result=result, token=None,
                               filename=filename, **LABELS), 422
    flash(_("Imported: %(created)s new items, %(updated)s updated.", created=result.created,
            updated=result.updated), "success")
    return redirect(url_for("catalog.list_items"), code=303)


@blueprint.route("/import-template.xlsx")
@login_required
@require("catalog.manage")
def import_template():
    example = [["SS-9001", "腹腔镜下胆囊切除术", "手术", 3, "否", "", "51.2300", "", "是"],
               ["YJ-9001", "CT增强及血管成像诊断报告", "医技项目", 3, "否", "影像", "", "", "是"]]
    return xlsx_response(_("Technology catalog"), transfer.headers(), example, "technology-catalog-template.xlsx")
