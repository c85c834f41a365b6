"""Work/training history and adverse-behaviour records of a dossier."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.extensions import db
from app.modules.dossier import access, blueprint
from app.modules.dossier.forms import AdverseForm, HistoryForm
from app.modules.dossier.labels import CERT_TYPES, HISTORY_KIND_LABELS
from app.modules.dossier.models import Certificate, HistoryEntry
from app.modules.dossier.services import adverse as adverse_records
from app.modules.dossier.services import history
from app.modules.org.models import Staff


def _show_errors(form, errors: dict) -> None:
    for key, message in errors.items():
        if key in form:
            form[key].errors = [*form[key].errors, message]


def _certificate_choices(staff_id: int):
    rows = db.session.execute(select(Certificate.id, Certificate.cert_type, Certificate.name, Certificate.number)
                              .where(Certificate.staff_id == staff_id).order_by(Certificate.id)).all()
    return [("", "—"), *[(r.id, f"{r.name}{'（' + r.number + '）' if r.number else ''}") for r in rows]]


def _history_page(form, staff, kind, entry=None, status=200):
    if kind == "training":
        form.institution.label.text = _("Organiser")
    return render_template("dossier/history_form.html", form=form, staff=staff, kind=kind, entry=entry,
                           kinds=HISTORY_KIND_LABELS, cert_types=CERT_TYPES), status


@blueprint.route("/<int:person_id>/history/new", methods=["GET", "POST"])
@login_required
def new_history(person_id: int):
    staff = access.get_person(current_user, person_id)
    access.require_edit(current_user, staff)
    kind = request.args.get("kind", "work")
    if kind not in HISTORY_KIND_LABELS:
        abort(404)
    form = HistoryForm()
    form.certificate_id.choices = _certificate_choices(staff.id)
    if form.validate_on_submit():
        try:
            history.save(current_user, staff, kind, form.data, ip=request.remote_addr)
        except history.HistoryRefused as exc:
            _show_errors(form, exc.errors)
            return _history_page(form, staff, kind, status=422)
        flash(_("Saved."), "success")
        return redirect(url_for("dossier.show_person", person_id=staff.id, tab="history"), code=303)
    return _history_page(form, staff, kind, status=422 if form.is_submitted() else 200)


def _visible_entry(history_id: int) -> HistoryEntry:
    entry = db.session.scalar(select(HistoryEntry).join(Staff, Staff.id == HistoryEntry.staff_id)
                              .where(HistoryEntry.id == history_id, access.visible_clause(current_user)))
    if entry is None:
        abort(404)
    return entry


@blueprint.route("/history/<int:history_id>/edit", methods=["GET", "POST"])
@login_required
def edit_history(history_id: int):
    entry = _visible_entry(history_id)
    staff = db.session.get(Staff, entry.staff_id)
    access.require_edit(current_user, staff)
    form = HistoryForm(obj=entry)
    form.certificate_id.choices = _certificate_choices(staff.id)
    if form.validate_on_submit():
        try:
            history.save(current_user, staff, entry.kind, form.data, entry=entry, ip=request.remote_addr)
        except history.HistoryRefused as exc:
            _show_errors(form, exc.errors)
            return _history_page(form, staff, entry.kind, entry, status=422)
        flash(_("Saved."), "success")
        return redirect(url_for("dossier.show_person", person_id=staff.id, tab="history"), code=303)
    return _history_page(form, staff, entry.kind, entry, status=422 if form.is_submitted() else 200)


@blueprint.route("/history/<int:history_id>/delete", methods=["POST"])
@login_required
def delete_history(history_id: int):
    entry = _visible_entry(history_id)
    staff_id = entry.staff_id
    history.delete(current_user, entry, ip=request.remote_addr)
    flash(_("The entry was deleted."), "success")
    return redirect(url_for("dossier.show_person", person_id=staff_id, tab="history"), code=303)


# --- adverse-behaviour records ------------------------------------------------------------------

def _adverse_page(form, staff, record=None, status=200):
    form.duty_department_id.choices = [("", "—"), *[(d.id, d.name) for d in
                                                    adverse_records.duty_departments(current_user)]]
    return render_template("dossier/adverse_form.html", form=form, staff=staff, record=record), status


@blueprint.route("/<int:person_id>/adverse/new", methods=["GET", "POST"])
@login_required
def new_adverse(person_id: int):
    staff = access.get_person(current_user, person_id)
    if not access.can_record_adverse(current_user, staff):
        abort(403)
    form = AdverseForm()
    form.duty_department_id.choices = []
    if request.method == "GET":
        own = adverse_records.duty_departments(current_user)
        mine = getattr(current_user.staff, "department_id", None) if current_user.staff_id else None
        form.duty_department_id.data = mine if any(d.id == mine for d in own) else (own[0].id if own else None)
    if form.validate_on_submit():
        try:
            adverse_records.create(current_user, staff, form.data, ip=request.remote_addr)
        except adverse_records.AdverseRefused as exc:
            _show_errors(form, exc.errors)
            return _adverse_page(form, staff, status=422)
        flash(_("The record was added to the dossier."), "success")
        return redirect(url_for("dossier.show_person", person_id=staff.id, tab="adverse"), code=303)
    return _adverse_page(form, staff, status=422 if form.is_submitted() else 200)


@blueprint.route("/adverse/<int:adverse_id>/edit", methods=["GET", "POST"])
@login_required
def edit_adverse(adverse_id: int):
    record = adverse_records.visible_record(current_user, adverse_id)
    if not adverse_records.can_change(current_user, record):
        abort(403)
    form = AdverseForm(obj=record)
    form.duty_department_id.choices = []
    if form.validate_on_submit():
        try:
            adverse_records.update(current_user, record, form.data, ip=request.remote_addr)
        except adverse_records.AdverseRefused as exc:
            _show_errors(form, exc.errors)
            return _adverse_page(form, record.staff, record, status=422)
        flash(_("Saved."), "success")
        return redirect(url_for("dossier.show_person", person_id=record.staff_id, tab="adverse"), code=303)
    return _adverse_page(form, record.staff, record, status=422 if form.is_submitted() else 200)


@blueprint.route("/adverse/<int:adverse_id>/withdraw", methods=["POST"])
@login_required
def withdraw_adverse(adverse_id: int):
    record = adverse_records.visible_record(current_user, adverse_id)
    try:
        adverse_records.withdraw(current_user, record, request.form.get("reason", ""), ip=request.remote_addr)
    except adverse_records.AdverseRefused as exc:
        flash(exc.errors["reason"], "warning")
        return redirect(url_for("dossier.edit_adverse", adverse_id=record.id), code=303)
    flash(_("The record was withdrawn."), "success")
    return redirect(url_for("dossier.show_person", person_id=record.staff_id, tab="adverse"), code=303)
