"""Emergency overrides of the live check (急诊越级, emergency use of a drug above one's tier): the
check's "no" is overridden with a reason, the operation or order goes ahead, and the case waits
for medical affairs to review it (paperwork within 24 h)."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from app.core import audit
from app.core.models import utcnow
from app.core.notify import notify
from app.core.scopes import can
from app.extensions import db
from app.modules.org.models import Staff

from .check import CheckError, Query, answer_one
from .models import CheckOverride

REVIEW_OUTCOMES = ("accepted", "questioned")


def record(query: Query, reason: str, client: str | None) -> dict:
    """Check `query`; when it is not allowed, record the override and answer allowed (override=true)."""
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise CheckError(400, "紧急越权须说明理由（reason）")
    answer = answer_one(query)
    if "error" in answer or answer["allowed"]:
        return {**answer, "override": False}
    staff = db.session.execute(select(Staff.id, Staff.department_id).where(Staff.employee_no == query.staff)).one()
    row = CheckOverride(staff_id=staff.id, department_id=staff.department_id, ptype=query.kind, code=query.code,
                        on_date=query.on, denial=answer["reason"], reason=reason[:2000], client=client,
                        status="open")
    db.session.add(row)
    db.session.flush()
    audit.record("privileges.override", object_type="privilege_override", object_id=row.id,
                 data={"staff": query.staff, "kind": query.kind, "code": query.code, "date": query.on.isoformat(),
                       "denial": answer["reason"], "reason": row.reason, "client": client},
                 summary=f"emergency override for {query.staff}: {answer['reason']}")
    _tell_medical_affairs(row, answer)
    return {**answer, "allowed": True, "override": True, "override_id": row.id,
            "reason": f"紧急越权已记录待审核（{answer['reason']}）"}


def _tell_medical_affairs(row: CheckOverride, answer: dict) -> None:
    from app.modules.accounts.resolvers import users_with_role

    try:
        from flask import url_for

        link = url_for("privileges.list_overrides")
    except RuntimeError:
        link = "/privileges/overrides"
    people = set(users_with_role("medaffairs_staff", None)) | set(users_with_role("medaffairs_admin", None))
    notify(sorted(people), "privileges.override",
           _("Emergency override to review: %(name)s (%(code)s)", name=answer.get("name") or "", code=row.code),
           _("%(denial)s; reason given: %(reason)s", denial=answer["reason"], reason=row.reason), link=link,
           key=f"privileges.override:{row.id}")


def review(actor, row: CheckOverride, outcome: str, note: str) -> CheckOverride:
    if not can(actor, "privileges.manage"):
        from app.workflow.errors import PermissionDenied

        raise PermissionDenied(_("You may not review overrides."))
    note = (note or "").strip()
    if outcome not in REVIEW_OUTCOMES:
        raise ValueError(_("Choose accepted or questioned."))
    if outcome == "questioned" and not note:
        raise ValueError(_("Say what is questioned."))
    row.status, row.review_note, row.reviewed_by_id, row.reviewed_at = outcome, note or None, actor.id, utcnow()
    db.session.flush()
    audit.record("privileges.override.review", actor=actor, object_type="privilege_override", object_id=row.id,
                 data={"outcome": outcome, "note": row.review_note}, summary=f"override {row.id}: {outcome}")
    return row
