"""Adverse practice records (R1.8): entered by the functional departments within their duty, or taken
over from a confirmed demerit record (`from_demerit`, idempotent by its reference). Every change is
audited; a record is withdrawn with a reason, never erased."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.core import audit
from app.core.scopes import can
from app.extensions import db
from app.modules.dossier import access
from app.modules.dossier.labels import ADVERSE_CATEGORIES
from app.modules.dossier.models import AdverseRecord
from app.modules.org.models import Department, Staff

FIELDS = ("occurred_on", "category", "content", "handling", "duty_department_id")


class AdverseRefused(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def duty_departments(actor) -> list[Department]:
    """The departments `actor` records for: their own functional department, or — for medical affairs
    (dossier.manage) — any functional department."""
    if can(actor, "dossier.manage"):
        return list(db.session.scalars(select(Department).where(Department.category == "functional",
                                                                Department.active.is_(True))
                                       .order_by(Department.sort_order, Department.code)))
    staff = db.session.get(Staff, actor.staff_id) if getattr(actor, "staff_id", None) else None
    return [staff.department] if staff is not None else []


def _values(actor, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    values = {k: (data.get(k).strip() or None) if isinstance(data.get(k), str) else data.get(k) for k in FIELDS}
    errors: dict[str, str] = {}
    occurred = values["occurred_on"]
    if not isinstance(occurred, date):
        errors["occurred_on"] = _("Enter the date it happened.")
    elif occurred > date.today():
        errors["occurred_on"] = _("The date cannot be in the future.")
    if values["category"] not in ADVERSE_CATEGORIES:
        errors["category"] = _("Choose the kind of behaviour.")
    if not values["content"]:
        errors["content"] = _("Describe what happened.")
    allowed = {d.id for d in duty_departments(actor)}
    if not values["duty_department_id"]:
        errors["duty_department_id"] = _("Choose the department responsible for this record.")
    elif values["duty_department_id"] not in allowed:
        errors["duty_department_id"] = _("You record only for your own department's duty.")
    return values, errors


def can_change(actor, record: AdverseRecord) -> bool:
    """The recording department (a member holding the right) or medical affairs, while active."""
    if record.status != "active" or record.source != "manual":
        return False
    if not access.can_record_adverse(actor, record.staff):
        return False
    return record.duty_department_id in {d.id for d in duty_departments(actor)}


def create(actor, staff: Staff, data: dict[str, Any], ip: str | None = None) -> AdverseRecord:
    if not access.can_record_adverse(actor, staff):
        abort(403)
    values, errors = _values(actor, data)
    if errors:
        raise AdverseRefused(errors)
    record = AdverseRecord(staff_id=staff.id, source="manual", status="active", recorded_by_id=actor.id, **values)
    db.session.add(record)
    db.session.flush()
    audit.record("dossier.adverse_created", actor=actor, object_type="dossier_adverse", object_id=record.id, ip=ip,
                 data={"staff_id": staff.id, **values})
    return record


def update(actor, record: AdverseRecord, data: dict[str, Any], ip: str | None = None) -> AdverseRecord:
    if not can_change(actor, record):
        abort(403)
    values, errors = _values(actor, data)
    if errors:
        raise AdverseRefused(errors)
    before = {k: getattr(record, k) for k in FIELDS}
    for key, value in values.items():
        setattr(record, key, value)
    record.updated_by_id = actor.id
    db.session.flush()
    audit.record("dossier.adverse_updated", actor=actor, object_type="dossier_adverse", object_id=record.id, ip=ip,
                 data={"staff_id": record.staff_id, "before": before, "after": values})
    return record


def withdraw(actor, record: AdverseRecord, reason: str, ip: str | None = None) -> AdverseRecord:
    if not can_change(actor, record):
        abort(403)
    reason = (reason or "").strip()
    if not reason:
        raise AdverseRefused({"reason": _("Give the reason for withdrawing the record.")})
    record.status, record.withdraw_reason, record.updated_by_id = "withdrawn", reason, actor.id
    db.session.flush()
    audit.record("dossier.adverse_withdrawn", actor=actor, object_type="dossier_adverse", object_id=record.id,
                 ip=ip, data={"staff_id": record.staff_id, "reason": reason})
    return record


def from_demerit(staff_id: int, reference: str, *, occurred_on: date, category: str, content: str,
                 duty_department_id: int, handling: str | None = None, actor=None) -> AdverseRecord:
    """The negative-archive entry of a confirmed demerit record (R12.3); calling again with the same
    reference updates that entry instead of adding one."""
    if category not in ADVERSE_CATEGORIES:
        raise AdverseRefused({"category": _("Choose the kind of behaviour.")})
    record = db.session.scalar(select(AdverseRecord).where(AdverseRecord.source == "demerit",
                                                           AdverseRecord.source_ref == reference))
    values = dict(staff_id=staff_id, occurred_on=occurred_on, category=category, content=content,
                  handling=handling, duty_department_id=duty_department_id)
    created = record is None
    if created:
        record = AdverseRecord(source="demerit", source_ref=reference, status="active",
                               recorded_by_id=getattr(actor, "id", None), **values)
        db.session.add(record)
    else:
        for key, value in values.items():
            setattr(record, key, value)
        record.updated_by_id = getattr(actor, "id", None)
    db.session.flush()
    audit.record("dossier.adverse_from_demerit", actor=actor, object_type="dossier_adverse", object_id=record.id,
                 data={"reference": reference, "created": created, **values})
    return record


def of_person(staff_id: int) -> list[AdverseRecord]:
    return list(db.session.scalars(
        select(AdverseRecord).options(joinedload(AdverseRecord.duty_department), joinedload(AdverseRecord.recorded_by))
        .where(AdverseRecord.staff_id == staff_id)
        .order_by(AdverseRecord.occurred_on.desc(), AdverseRecord.id.desc())))


def visible_record(user, record_id: int) -> AdverseRecord:
    record = db.session.scalar(select(AdverseRecord).join(Staff, Staff.id == AdverseRecord.staff_id)
                               .where(AdverseRecord.id == record_id, access.visible_clause(user)))
    if record is None:
        abort(404)
    return record
