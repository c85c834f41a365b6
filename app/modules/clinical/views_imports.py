"""Pages of data imports (R15.1), the import history, dictionaries and unknown codes."""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from app.core import jobs
from app.core.exports import xlsx_response
from app.core.scopes import can, require
from app.core.web import paginate
from app.extensions import db
from app.modules.clinical import blueprint
from app.modules.clinical.forms import DICTIONARY_FORMS, ImportForm, form_row
from app.modules.clinical.labels import (ANTICANCER_LABELS, ANTIMICROBIAL_LABELS, CATEGORY_LABELS,
                                         CONTROLLED_LABELS, DICTIONARY_LABELS, IMPORT_STATUS_LABELS, SOURCE_LABELS,
                                         TCM_LABELS, UNKNOWN_DICTIONARY)
from app.modules.clinical.models import ImportBatch, UnknownCode
from app.modules.clinical.services import files, ingest
from app.modules.clinical.services.kinds import DICTIONARY_KINDS, KINDS, RECORD_KINDS

LABELS = dict(statuses=IMPORT_STATUS_LABELS, sources=SOURCE_LABELS, kinds={k: v.label for k, v in KINDS.items()})
RUNNING = ("checking", "queued", "running")


def _kind_choices() -> list[tuple[str, str]]:
    return [(k, str(KINDS[k].label)) for k in (*RECORD_KINDS, *DICTIONARY_KINDS)]


@blueprint.route("/imports", methods=["GET", "POST"])
@login_required
@require("clinical.import")
def list_imports():
    form = ImportForm()
    form.kind.choices = _kind_choices()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            batch = files.create(current_user, form.kind.data, getattr(upload, "filename", "") or "",
                                 upload.read() if upload else b"")
        except files.FileRefused as exc:
            form.file.errors = [str(exc)]
        else:
            if files.is_big(batch):
                batch.status = "checking"
                batch.job_run_id = jobs.enqueue("clinical.check_import", batch.id, current_user.id, track=True,
                                                created_by=current_user.id)
            else:
                files.check(batch)
            return redirect(url_for("clinical.show_import", import_id=batch.id), code=303)
    stmt = select(ImportBatch)
    args = request.args
    if args.get("kind") in KINDS:
        stmt = stmt.where(ImportBatch.kind == args["kind"])
    if args.get("status") in IMPORT_STATUS_LABELS:
        stmt = stmt.where(ImportBatch.status == args["status"])
    if args.get("source") in SOURCE_LABELS:
        stmt = stmt.where(ImportBatch.source == args["source"])
    q = args.get("q", "").strip()
    if q:
        stmt = stmt.where(or_(ImportBatch.filename.contains(q), ImportBatch.message.contains(q)))
    page = paginate(stmt.order_by(ImportBatch.id.desc()))
    return render_template("clinical/imports.html", form=form, page=page, args=args, kind_choices=_kind_choices(),
                           **LABELS)


def _batch(import_id: int) -> ImportBatch:
    return db.session.get(ImportBatch, import_id) or abort(404)


@blueprint.route("/imports/<int:import_id>")
@login_required
@require("clinical.import")
def show_import(import_id: int):
    batch = _batch(import_id)
    kind = KINDS.get(batch.kind)
    columns = [f for f in (kind.model.__table__.columns.keys() if kind else []) if batch.preview
               and f in batch.preview[0]]
    return render_template("clinical/import.html", batch=batch, columns=columns, running=batch.status in RUNNING,
                           unknown_links=UNKNOWN_DICTIONARY, **LABELS)


@blueprint.route("/imports/<int:import_id>/commit", methods=["POST"])
@login_required
@require("clinical.import")
def commit_import(import_id: int):
    batch = _batch(import_id)
    if batch.status != "checked":
        flash(_("Only a checked file without errors can be imported."), "warning")
        return redirect(url_for("clinical.show_import", import_id=batch.id), code=303)
    if files.is_big(batch):
        batch.status = "queued"
        batch.job_run_id = jobs.enqueue("clinical.commit_import", batch.id, current_user.id, track=True,
                                        created_by=current_user.id)
        flash(_("The import runs in the background; this page shows its progress."), "info")
    else:
        files.commit(batch, current_user)
        if batch.status == "done":
            flash(_("Imported: %(inserted)d new, %(updated)d changed, %(unchanged)d unchanged.",
                    inserted=batch.inserted, updated=batch.updated, unchanged=batch.unchanged), "success")
        else:
            flash(_("Nothing was imported: the file has errors."), "warning")
    return redirect(url_for("clinical.show_import", import_id=batch.id), code=303)


@blueprint.route("/imports/<int:import_id>/status.json")
@login_required
@require("clinical.import")
def import_status(import_id: int):
    batch = _batch(import_id)
    progress, message = (100 if batch.status not in RUNNING else 0), batch.message
    if batch.job_run_id is not None and batch.status in RUNNING:
        from app.core.notify.models import JobRun

        run = db.session.get(JobRun, batch.job_run_id)
        if run is not None:
            state = jobs.run_status(run)
            progress, message = state["progress"], state["message"] or message
    return jsonify({"status": batch.status, "label": str(IMPORT_STATUS_LABELS.get(batch.status, batch.status)),
                    "progress": progress, "message": message, "running": batch.status in RUNNING})


@blueprint.route("/imports/<int:import_id>/errors.xlsx")
@login_required
@require("clinical.import")
def export_import_errors(import_id: int):
    batch = _batch(import_id)
    header = [_("Row"), _("Source id"), _("Field"), _("Problem")]
    body = [[e.get("row"), e.get("source_id"), e.get("field"), e.get("message")] for e in batch.errors or []]
    return xlsx_response(_("Problems"), header, body, f"import-{batch.id}-errors.xlsx")


@blueprint.route("/imports/template.xlsx")
@login_required
@require("clinical.import")
def import_template():
    kind = request.args.get("kind", "stays")
    if kind not in KINDS:
        abort(404)
    header, rows = files.template_rows(kind)
    return xlsx_response(str(KINDS[kind].label), header, rows, f"{kind}-template.xlsx")


# --- dictionaries -----------------------------------------------------------------------------

DICTIONARY_LABEL_MAPS = dict(categories=CATEGORY_LABELS, antimicrobial=ANTIMICROBIAL_LABELS,
                             anticancer=ANTICANCER_LABELS, controlled=CONTROLLED_LABELS, tcm=TCM_LABELS)


def _dictionary_query(dictionary: str, args):
    model = KINDS[dictionary].model
    stmt = select(model)
    q = args.get("q", "").strip()
    if q:
        stmt = stmt.where(or_(model.code.startswith(q), model.name.contains(q)))
    if args.get("active") in ("0", "1"):
        stmt = stmt.where(model.active.is_(args["active"] == "1"))
    if dictionary == "procedures":
        if args.get("level", "") in ("1", "2", "3", "4"):
            stmt = stmt.where(model.level == int(args["level"]))
        if args.get("category") in CATEGORY_LABELS:
            stmt = stmt.where(model.category == args["category"])
    if dictionary == "drugs" and args.get("drug_class"):
        column, _sep, value = args["drug_class"].partition(":")
        if column in ("antimicrobial_tier", "anticancer_tier", "controlled_class", "tcm_type") and value:
            stmt = stmt.where(getattr(model, column) == value)
        elif column == "glucocorticoid":
            stmt = stmt.where(model.glucocorticoid.is_(True))
    return stmt.order_by(model.code)


def _dictionary_or_404(dictionary: str) -> str:
    if dictionary not in DICTIONARY_KINDS:
        abort(404)
    return dictionary


@blueprint.route("/dictionaries/<dictionary>")
@login_required
@require("clinical.view")
def list_dictionary(dictionary: str):
    _dictionary_or_404(dictionary)
    page = paginate(_dictionary_query(dictionary, request.args))
    unknown = db.session.scalar(select(db.func.count(UnknownCode.id)).where(
        UnknownCode.dictionary == {v: k for k, v in UNKNOWN_DICTIONARY.items()}[dictionary]))
    return render_template("clinical/dictionary.html", dictionary=dictionary, page=page, args=request.args,
                           dictionaries=DICTIONARY_LABELS, unknown=unknown, **DICTIONARY_LABEL_MAPS)


@blueprint.route("/dictionaries/<dictionary>/export.xlsx")
@login_required
@require("clinical.view")
def export_dictionary(dictionary: str):
    _dictionary_or_404(dictionary)
    kind = KINDS[dictionary]
    rows = db.session.scalars(_dictionary_query(dictionary, request.args)).all()
    fields = list(kind.fields)
    body = [[_cell(getattr(row, f)) for f in fields] for row in rows]
    return xlsx_response(str(kind.label), fields, body, f"{dictionary}.xlsx")


def _cell(value):
    if isinstance(value, bool):
        return 1 if value else 0
    return value


@blueprint.route("/dictionaries/<dictionary>/new", methods=["GET", "POST"])
@blueprint.route("/dictionaries/<dictionary>/<int:entry_id>/edit", methods=["GET", "POST"])
@login_required
@require("clinical.import")
def edit_dictionary_entry(dictionary: str, entry_id: int | None = None):
    _dictionary_or_404(dictionary)
    kind = KINDS[dictionary]
    entry = None
    if entry_id is not None:
        entry = db.session.get(kind.model, entry_id) or abort(404)
    form = DICTIONARY_FORMS[dictionary](obj=entry)
    if entry is None and request.method == "GET" and request.args.get("code"):
        form.code.data = request.args["code"][:32]
        form.name.data = request.args.get("name", "")[:120]
    if form.validate_on_submit():
        row = form_row(form)
        if entry is not None:
            row["code"] = entry.code  # the code is the key: a new code is a new entry
        elif db.session.scalar(select(kind.model.id).where(kind.model.code == row["code"].strip())):
            form.code.errors = [_("Code %(code)s exists already.", code=row["code"])]
            return render_template("clinical/dictionary_form.html", form=form, entry=entry, dictionary=dictionary,
                                   dictionaries=DICTIONARY_LABELS)
        result = ingest.upsert(dictionary, [row])
        if result.written:
            from app.core import audit

            audit.record("clinical.dictionary_saved", actor=current_user, object_type=dictionary,
                         object_id=row["code"], data={k: v for k, v in row.items()}, ip=request.remote_addr)
            flash(_("Saved."), "success")
            return redirect(url_for("clinical.list_dictionary", dictionary=dictionary, q=row["code"]), code=303)
        for error in result.errors:
            if error["field"] in form:
                form[error["field"]].errors = list(form[error["field"]].errors) + [error["message"]]
    return render_template("clinical/dictionary_form.html", form=form, entry=entry, dictionary=dictionary,
                           dictionaries=DICTIONARY_LABELS)


def _unknown_query(args):
    stmt = select(UnknownCode)
    if args.get("dictionary") in UNKNOWN_DICTIONARY:
        stmt = stmt.where(UnknownCode.dictionary == args["dictionary"])
    q = args.get("q", "").strip()
    if q:
        stmt = stmt.where(or_(UnknownCode.code.startswith(q), UnknownCode.name.contains(q)))
    order = UnknownCode.occurrences.desc() if args.get("sort") == "occurrences" else UnknownCode.last_seen_at.desc()
    return stmt.order_by(order, UnknownCode.id)


@blueprint.route("/unknown-codes")
@login_required
@require("clinical.view")
def list_unknown_codes():
    args = request.args
    page = paginate(_unknown_query(args))
    return render_template("clinical/unknown_codes.html", page=page, args=args, dictionaries=DICTIONARY_LABELS,
                           unknown_links=UNKNOWN_DICTIONARY, can_edit=can(current_user, "clinical.import"))


@blueprint.route("/unknown-codes.xlsx")
@login_required
@require("clinical.view")
def export_unknown_codes():
    rows = db.session.scalars(_unknown_query(request.args)).all()
    header = [_("Dictionary"), _("Code"), _("Name as sent"), _("Occurrences"), _("Last seen")]
    body = [[str(DICTIONARY_LABELS[UNKNOWN_DICTIONARY[u.dictionary]]), u.code, u.name or "", u.occurrences,
             u.last_seen_at.strftime("%Y-%m-%d %H:%M")] for u in rows]
    return xlsx_response(_("Unknown codes"), header, body, "unknown-codes.xlsx")
