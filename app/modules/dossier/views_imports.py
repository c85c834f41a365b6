"""The batch initial import of basic information: template, upload with preview, commit."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.core.exports import xlsx_response
from app.core.scopes import require
from app.core.web import paginate
from app.extensions import db
from app.modules.dossier import blueprint
from app.modules.dossier.forms import ImportForm
from app.modules.dossier.models import DossierImport
from app.modules.dossier.services import batch as batches
from app.modules.dossier.services import importing
from app.modules.dossier.services import profile as profiles

PREVIEW_ROWS = 50


def _labels():
    return {"checked": _("Checked, ready to import"), "invalid": _("Has errors"), "done": _("Imported")}


@blueprint.route("/imports", methods=["GET", "POST"])
@login_required
@require("dossier.import")
def list_imports():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            batch = importing.create(current_user, getattr(upload, "filename", "") or "",
                                     upload.read() if upload else b"")
        except importing.ImportRefused as exc:
            form.file.errors = [str(exc)]
        else:
            return redirect(url_for("dossier.show_import", batch_id=batch.id), code=303)
    page = paginate(select(DossierImport).order_by(DossierImport.id.desc()))
    return render_template("dossier/imports.html", form=form, page=page, statuses=_labels()), \
        (422 if form.file.errors else 200)


def _batch(batch_id: int) -> DossierImport:
    return db.session.get(DossierImport, batch_id) or abort(404)


@blueprint.route("/imports/<int:batch_id>")
@login_required
@require("dossier.import")
def show_import(batch_id: int):
    batch = _batch(batch_id)
    columns = [key for key, _zh in batches.HEADERS if any(key in r["values"] for r in batch.rows[:PREVIEW_ROWS])]
    return render_template("dossier/import.html", batch=batch, columns=columns, specs=profiles.SPECS,
                           preview=batch.rows[:PREVIEW_ROWS], statuses=_labels(),
                           actions={"new": _("New"), "update": _("Changed"), "unchanged": _("Unchanged"),
                                    "error": _("Error")})


@blueprint.route("/imports/<int:batch_id>/commit", methods=["POST"])
@login_required
@require("dossier.import")
def commit_import(batch_id: int):
    batch = _batch(batch_id)
    try:
        importing.commit(batch, current_user, ip=request.remote_addr)
    except importing.ImportRefused as exc:
        flash(str(exc), "warning")
        return redirect(url_for("dossier.show_import", batch_id=batch.id), code=303)
    if batch.status == "done":
        flash(_("Imported: %(new)d new, %(changed)d changed.", new=batch.new_rows, changed=batch.changed_rows),
              "success")
    else:
        flash(_("Nothing was imported: the data changed since the check and some rows now have errors."), "warning")
    return redirect(url_for("dossier.show_import", batch_id=batch.id), code=303)


@blueprint.route("/imports/<int:batch_id>/errors.xlsx")
@login_required
@require("dossier.import")
def export_import_errors(batch_id: int):
    batch = _batch(batch_id)
    header = [_("Row"), _("Employee no."), _("Field"), _("Problem")]
    body = [[e["row"], e["employee_no"], e.get("field_label") or e["field"], e["message"]] for e in batch.errors]
    return xlsx_response(_("Problems"), header, body, f"dossier-import-{batch.id}-errors.xlsx")


@blueprint.route("/imports/template.xlsx")
@login_required
@require("dossier.import")
def import_template():
    header, rows = importing.template()
    return xlsx_response(_("Basic information"), header, rows, "dossier-import-template.xlsx")
