"""Work and training history (R1.4), kept by the doctor at any time and quoted into applications through
the form data sources `work_history` and `training_history` (see `sources`)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.core import audit
from app.extensions import db
from app.modules.dossier import access
from app.modules.dossier.models import HISTORY_KINDS, Certificate, HistoryEntry
from app.modules.org.models import Staff

FIELDS = ("started_on", "ended_on", "institution", "department", "role", "title", "content", "hours", "credits",
          "certificate_id")
LIMITS = {"institution": 120, "department": 60, "role": 60, "title": 120}


class HistoryRefused(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _number(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.1"))
    except InvalidOperation:
        raise ValueError from None
    if number < 0 or number >= 100000:
        raise ValueError
    return number


def check(staff: Staff, kind: str, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key in FIELDS:
        value = data.get(key)
        values[key] = (value.strip() or None) if isinstance(value, str) else value
    if kind not in HISTORY_KINDS:
        errors["kind"] = _("Choose work experience or training.")
    started, ended = values["started_on"], values["ended_on"]
    if not isinstance(started, date):
        errors["started_on"] = _("Enter the start date.")
    elif started > date.today():
        errors["started_on"] = _("The start date cannot be in the future.")
    if isinstance(started, date) and isinstance(ended, date) and ended < started:
        errors["ended_on"] = _("The end date must not be before the start date.")
    if not values["institution"]:
        errors["institution"] = (_("Enter the institution.") if kind == "work"
                                 else _("Enter the organiser of the training."))
    if kind == "training" and not values["title"]:
        errors["title"] = _("Enter the name of the training.")
    for key, limit in LIMITS.items():
        if values.get(key) and len(values[key]) > limit:
            errors[key] = _("At most %(n)d characters.", n=limit)
    for key in ("hours", "credits"):
        try:
            values[key] = _number(values[key]) if kind == "training" else None
        except ValueError:
            errors[key] = _("Enter a number such as 12 or 1.5.")
    if kind == "work":
        values["title"] = None
        values["certificate_id"] = None
    else:
        values["department"] = None
    certificate_id = values.get("certificate_id")
    if certificate_id:
        owner = db.session.scalar(select(Certificate.staff_id).where(Certificate.id == certificate_id))
        if owner != staff.id:
            errors["certificate_id"] = _("Choose one of this person's certificates.")
    return values, errors


def save(actor, staff: Staff, kind: str, data: dict[str, Any], entry: HistoryEntry | None = None,
         ip: str | None = None) -> HistoryEntry:
    access.require_edit(actor, staff)
    kind = entry.kind if entry is not None else kind
    values, errors = check(staff, kind, data)
    if errors:
        raise HistoryRefused(errors)
    created = entry is None
    before = {} if created else {k: getattr(entry, k) for k in FIELDS}
    if created:
        entry = HistoryEntry(staff_id=staff.id, kind=kind)
        db.session.add(entry)
    for key, value in values.items():
        setattr(entry, key, value)
    db.session.flush()
    audit.record("dossier.history_created" if created else "dossier.history_updated", actor=actor,
                 object_type="dossier_history", object_id=entry.id, ip=ip,
                 data={"staff_id": staff.id, "kind": kind, "before": before,
                       "after": {k: getattr(entry, k) for k in FIELDS}})
    return entry


def delete(actor, entry: HistoryEntry, ip: str | None = None) -> None:
    staff = db.session.get(Staff, entry.staff_id)
    access.require_edit(actor, staff)
    audit.record("dossier.history_deleted", actor=actor, object_type="dossier_history", object_id=entry.id, ip=ip,
                 data={"staff_id": entry.staff_id, "kind": entry.kind, **{k: getattr(entry, k) for k in FIELDS}})
    db.session.delete(entry)
    db.session.flush()


def of_person(staff_id: int, kind: str | None = None) -> list[HistoryEntry]:
    stmt = select(HistoryEntry).where(HistoryEntry.staff_id == staff_id)
    if kind:
        stmt = stmt.where(HistoryEntry.kind == kind)
    return list(db.session.scalars(stmt.order_by(HistoryEntry.started_on.desc(), HistoryEntry.id.desc())))


def period(entry: HistoryEntry) -> str:
    start = entry.started_on.strftime("%Y-%m")
    end = entry.ended_on.strftime("%Y-%m") if entry.ended_on else _("present")
    return f"{start} – {end}"


def label(entry: HistoryEntry) -> str:
    """One line quoting the entry, as an application form shows it."""
    if entry.kind == "work":
        parts = [entry.institution, entry.department, entry.role]
    else:
        hours = _("%(n)s hours", n=f"{entry.hours:g}") if entry.hours is not None else None
        credits = _("%(n)s credits", n=f"{entry.credits:g}") if entry.credits is not None else None
        parts = [entry.title, entry.institution, hours, credits]
    return f"{period(entry)} · " + " · ".join(p for p in parts if p)
