"""Certificate pages: add/edit/delete with scanned pages, file and thumbnail delivery within scope, the
hospital-wide overview for medical affairs, and the zip exports with their progress page."""
from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.core.exports import xlsx_response
from app.core.scopes import require, scope_filter
from app.core.web import paginate
from app.extensions import db
from app.modules.dossier import access, blueprint
from app.modules.dossier.forms import CertificateForm
from app.modules.dossier.labels import CERT_TYPES, EXPIRY_FILTERS, EXPORT_STATUS_LABELS
from app.modules.dossier.services import certificates as certs
from app.modules.dossier.services import exports, storage
from app.modules.dossier.views import expiry_state
from app.modules.org.models import Department


def _uploads(form) -> list[certs.Upload]:
    return [certs.Upload(getattr(f, "filename", "") or "", f.read()) for f in (form.files.data or [])
            if getattr(f, "filename", "")]


def _form_page(form, staff, certificate=None, status=200):
    return render_template("dossier/certificate_form.html", form=form, staff=staff, certificate=certificate,
                           max_mb=current_app.config["DOSSIER_MAX_FILE_MB"],
                           max_files=certs.MAX_FILES), status


@blueprint.route("/<int:person_id>/certificates/new", methods=["GET", "POST"])
@login_required
def new_certificate(person_id: int):
    staff = access.get_person(current_user, person_id)
    access.require_edit(current_user, staff)
    form = CertificateForm()
    if request.method == "GET" and request.args.get("cert_type") in CERT_TYPES:
        form.cert_type.data = request.args["cert_type"]
    if form.validate_on_submit():
        try:
            cert = certs.save(current_user, staff, form.data, _uploads(form), ip=request.remote_addr)
        except certs.CertificateRefused as exc:
            _show_errors(form, exc.errors)
            return _form_page(form, staff, status=422)
        flash(_("The certificate %(name)s was added.", name=cert.name), "success")
        return redirect(url_for("dossier.show_person", person_id=staff.id, tab="certificates"), code=303)
    _show_all_problems(form)
    return _form_page(form, staff, status=422 if form.is_submitted() else 200)


def _show_errors(form, errors: dict) -> None:
    for key, message in errors.items():
        if key in form:
            form[key].errors = [*form[key].errors, message]


def _show_all_problems(form, certificate=None) -> None:
    """The form's own checks failed (an impossible date …): show the service's problems of the other
    fields too, so that none of them surfaces only on the next submit."""
    if not form.is_submitted() or not form.errors or "csrf_token" in form.errors:
        return
    data = {key: None if form[key].errors else value for key, value in form.data.items()}
    _values, errors, _checked = certs.problems(data, _uploads(form), certificate)
    _show_errors(form, {key: message for key, message in errors.items() if not form[key].errors})


@blueprint.route("/certificates/<int:certificate_id>/edit", methods=["GET", "POST"])
@login_required
def edit_certificate(certificate_id: int):
    cert = certs.visible_certificate(current_user, certificate_id)
    access.require_edit(current_user, cert.staff)
    form = CertificateForm(obj=cert)
    if form.validate_on_submit():
        try:
            certs.save(current_user, cert.staff, form.data, _uploads(form), certificate=cert,
                       ip=request.remote_addr)
        except certs.CertificateRefused as exc:
            _show_errors(form, exc.errors)
            return _form_page(form, cert.staff, cert, status=422)
        flash(_("Saved."), "success")
        return redirect(url_for("dossier.show_person", person_id=cert.staff_id, tab="certificates"), code=303)
    _show_all_problems(form, cert)
    return _form_page(form, cert.staff, cert, status=422 if form.is_submitted() else 200)


@blueprint.route("/certificates/<int:certificate_id>/delete", methods=["POST"])
@login_required
def delete_certificate(certificate_id: int):
    cert = certs.visible_certificate(current_user, certificate_id)
    staff_id, name = cert.staff_id, cert.name
    certs.delete(current_user, cert, ip=request.remote_addr)
    flash(_("The certificate %(name)s was deleted.", name=name), "success")
    return redirect(url_for("dossier.show_person", person_id=staff_id, tab="certificates"), code=303)


@blueprint.route("/files/<int:file_id>/delete", methods=["POST"])
@login_required
def delete_certificate_file(file_id: int):
    file = certs.visible_file(current_user, file_id)
    certificate_id = file.certificate_id
    try:
        certs.delete_file(current_user, file, ip=request.remote_addr)
    except certs.CertificateRefused as exc:
        flash(exc.errors["files"], "warning")
    else:
        flash(_("The file was removed."), "success")
    return redirect(url_for("dossier.edit_certificate", certificate_id=certificate_id), code=303)


@blueprint.route("/files/<int:file_id>")
@login_required
def show_file(file_id: int):
    file = certs.visible_file(current_user, file_id)
    try:
        path = storage.path_of(file.stored_name)
    except FileNotFoundError:
        abort(404)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=file.mime, as_attachment=request.args.get("download") == "1",
                         download_name=file.original_name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.route("/files/<int:file_id>/thumb")
@login_required
def show_thumbnail(file_id: int):
    file = certs.visible_file(current_user, file_id)
    if not file.thumb_name:
        abort(404)
    path = storage.path_of(file.thumb_name)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# --- the overview -------------------------------------------------------------------------------

def _within() -> int:
    value = request.args.get("within", "")
    return max(1, min(int(value), 3650)) if value.isdigit() and int(value) > 0 else 90


@blueprint.route("/certificates")
@login_required
@require("dossier.manage")
def gallery():
    within = _within()
    page = paginate(certs.overview_query(current_user, request.args, within), per_page=24)
    departments = db.session.execute(select(Department.id, Department.name).where(scope_filter(
        current_user, "department", "dossier.manage")).order_by(Department.sort_order, Department.code)).all()
    return render_template("dossier/gallery.html", page=page, args=request.args, within=within,
                           departments=departments, cert_types=CERT_TYPES, expiry_filters=EXPIRY_FILTERS,
                           counts=certs.counts_by_expiry(current_user, within), today=date.today(),
                           expiry_state=expiry_state)


@blueprint.route("/certificates.xlsx")
@login_required
@require("dossier.manage")
def export_gallery():
    within = _within()
    rows = db.session.scalars(certs.overview_query(current_user, request.args, within).limit(50_000)).unique().all()
    today = date.today()
    header = [_("Department"), _("Name"), _("Employee no."), _("Certificate type"), _("Certificate name"),
              _("Certificate no."), _("Issued by"), _("Issued on"), _("Expires on"), _("State"), _("Files")]
    body = [[c.staff.department.name, c.staff.name, c.staff.employee_no, str(CERT_TYPES.get(c.cert_type, "")),
             c.name, c.number or "", c.issuer or "", c.issued_on, c.expires_on, expiry_state(c, today)[1],
             len(c.files)] for c in rows]
    return xlsx_response(_("Certificates"), header, body, "certificates.xlsx")


# --- zip exports --------------------------------------------------------------------------------

@blueprint.route("/<int:person_id>/certificates/export", methods=["POST"])
@login_required
def export_person_certificates(person_id: int):
    staff = access.get_person(current_user, person_id)
    export = exports.request_export(current_user, staff=staff)
    return redirect(url_for("dossier.show_export", export_id=export.id), code=303)


@blueprint.route("/certificates/export", methods=["POST"])
@login_required
@require("dossier.manage")
def export_all_certificates():
    filters = {k: request.form.get(k, "") for k in ("department_id", "cert_type", "expiry", "within", "q")}
    export = exports.request_export(current_user, filters=filters)
    return redirect(url_for("dossier.show_export", export_id=export.id), code=303)


@blueprint.route("/exports/<int:export_id>")
@login_required
def show_export(export_id: int):
    export = exports.own_export(current_user, export_id)
    return render_template("dossier/export.html", export=export, statuses=EXPORT_STATUS_LABELS,
                           cert_types=CERT_TYPES, expiry_filters=EXPIRY_FILTERS,
                           department=db.session.get(Department, int(export.filters["department_id"]))
                           if str(export.filters.get("department_id", "")).isdigit() else None)


@blueprint.route("/exports/<int:export_id>/download")
@login_required
def download_export(export_id: int):
    export = exports.own_export(current_user, export_id)
    if export.status != "done" or not export.stored_name:
        abort(404)
    path = storage.path_of(export.stored_name)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=export.download_name,
                     max_age=0)
