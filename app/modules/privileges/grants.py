"""Grants: creating them, their state on any date, dynamic adjustment (R3.8), expiry and reminders.

Every change is a `GrantChange` row (before/after, reason, effective date, actor) and an entry of
the hash-chained audit log, so `medtech audit verify` notices an edited or deleted record. A change
effective on a later date is stored now and applied by the daily job; the state on a given date is
replayed from the changes, so the live check answers correctly for past and future dates.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.core import audit
from app.core.models import utcnow
from app.core.scopes import can
from app.extensions import db

from . import decide, stamp
from .items import Item
from .models import Grant, GrantChange
from .types import RIGHT, TYPES, label

STATE_FIELDS = ("status", "level", "scope")
ADJUSTMENTS = ("suspend", "restore", "terminate", "narrow", "widen")
STATUS_AFTER = {"suspend": "suspended", "restore": "active", "terminate": "terminated"}
# Which states each adjustment may start from.
ALLOWED_FROM = {"suspend": ("active",), "restore": ("suspended",), "terminate": ("active", "suspended"),
                "narrow": ("active", "suspended"), "widen": ("active", "suspended")}


class GrantError(ValueError):
    """A change that cannot be made; the message says why (field → message in `errors`)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


# --- the state on a date -------------------------------------------------------------------------

def _parse_day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@dataclass(frozen=True)
class State:
    status: str
    level: int | None
    scope: str | None
    valid: bool  # active and inside its term on that date
    why: str  # "", "not_started", "expired", "suspended", "terminated"


def state_on(row, changes: Iterable, day: date) -> State:
    """The grant's state on `day`. `row` has start_date, end_date, status, level, scope, has_changes;
    `changes` are its GrantChange rows (or tuples with effective_on, id, before, after)."""
    values = {"status": row.status, "level": row.level, "scope": row.scope}
    if row.has_changes:
        ordered = sorted(changes, key=lambda c: (c.effective_on, c.id))
        first_before: dict[str, Any] = {}
        for change in ordered:
            if change.action == "grant":
                continue
            for key in change.after:
                if key in STATE_FIELDS and key not in first_before:
                    first_before[key] = (change.before or {}).get(key, values[key])
        values.update(first_before)
        for change in ordered:
            if change.action != "grant" and change.effective_on <= day:
                values.update({k: v for k, v in change.after.items() if k in STATE_FIELDS})
    if values["status"] == "expired":
        values["status"] = "active"  # expiry is the end date's business, checked below
    if day < row.start_date:
        return State(values["status"], values["level"], values["scope"], False, "not_started")
    if row.end_date is not None and day > row.end_date:
        return State("expired", values["level"], values["scope"], False, "expired")
    status = values["status"]
    return State(status, values["level"], values["scope"], status == "active", "" if status == "active" else status)


def changes_of(grant_ids: list[int]) -> dict[int, list[GrantChange]]:
    found: dict[int, list[GrantChange]] = {}
    if grant_ids:
        for change in db.session.scalars(select(GrantChange).where(GrantChange.grant_id.in_(grant_ids))):
            found.setdefault(change.grant_id, []).append(change)
    return found


def current_state(grant: Grant, day: date | None = None) -> State:
    return state_on(grant, grant.changes, day or date.today())


# --- creating ------------------------------------------------------------------------------------

def term_end(ptype: str, level: int | None, start: date, years: int | None = None) -> date:
    years = years or decide.term(ptype, level)[0]
    try:
        end = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + years, day=28)
    return end - timedelta(days=1)


def _snapshot(grant: Grant) -> dict:
    return {"status": grant.status, "level": grant.level, "scope": grant.scope,
            "start_date": grant.start_date.isoformat(),
            "end_date": grant.end_date.isoformat() if grant.end_date else None}


def create(actor, staff_id: int, item: Item, *, start: date, end: date | None = None, level: int | None = None,
           scope: str | None = None, application_id: int | None = None, instance_id: int | None = None,
           renewal_of_id: int | None = None, source: str = "process", reason: str | None = None,
           write_audit: bool = True) -> Grant:
    """A new grant of `item` to a staff member (the services and the approval operation call this)."""
    level = level if level is not None else item.level
    grant = Grant(staff_id=staff_id, ptype=item.ptype, item_key=item.grant_key, item_id=item.item_id,
                  right_code=item.right_code, variant=item.variant, item_name=item.display[:200], level=level,
                  scope=(scope or "").strip() or None, start_date=start,
                  end_date=end if end is not None else term_end(item.ptype, level, start),
                  status="active", application_id=application_id, instance_id=instance_id,
                  granted_by_id=getattr(actor, "id", None), renewal_of_id=renewal_of_id, source=source)
    db.session.add(grant)
    db.session.flush()
    change = GrantChange(action="renew" if renewal_of_id else "grant", reason=reason, effective_on=start,
                         applied=True, before={}, after=_snapshot(grant), actor_id=getattr(actor, "id", None))
    grant.changes.append(change)
    db.session.flush()
    if write_audit:
        entry = audit.record("privileges.grant.create", actor=actor, object_type="privilege_grant", object_id=grant.id,
                             data={"staff_id": staff_id, "ptype": grant.ptype, "item_key": grant.item_key,
                                   "item": grant.item_name, **_snapshot(grant), "application_id": application_id,
                                   "instance_id": instance_id, "renewal_of": renewal_of_id},
                             summary=f"grant {grant.item_name} to staff {staff_id}")
        change.audit_seq = entry.seq
    _supersede(actor, grant)
    stamp.bump()
    if write_audit:
        _refresh_ceiling(grant, start)
    return grant


def _supersede(actor, grant: Grant) -> None:
    """A tiered right granted again (another tier) ends the older grant of that right the day before
    the new one starts; renewals leave their predecessor to run out."""
    if TYPES[grant.ptype].source != RIGHT and not grant.item_key.startswith("anaes:"):
        return
    older = db.session.scalars(select(Grant).where(Grant.staff_id == grant.staff_id, Grant.item_key == grant.item_key,
                                                   Grant.id != grant.id, Grant.id != (grant.renewal_of_id or 0),
                                                   Grant.status.in_(("active", "suspended")))).all()
    for old in older:
        if old.end_date is not None and old.end_date < grant.start_date:
            continue
        adjust(actor, old, "terminate", _("Replaced by a new grant (level %(level)s).", level=grant.level),
               max(grant.start_date, old.start_date), allow_past=True, notify_staff=False)


def create_many(actor, rows: list[dict], *, source: str = "demo", summary: str = "") -> list[Grant]:
    """Many consistent grants in one go (a data load): inserted together, one GrantChange each, one audit
    entry for the batch. Rows hold staff_id, item, start and optionally end, level, scope; unlike
    `create` nothing is superseded — the caller gives each item's terms without overlaps."""
    grants = []
    for spec in rows:
        item: Item = spec["item"]
        level = spec.get("level") if spec.get("level") is not None else item.level
        start = spec["start"]
        grants.append(Grant(staff_id=spec["staff_id"], ptype=item.ptype, item_key=item.grant_key, item_id=item.item_id,
                            right_code=item.right_code, variant=item.variant, item_name=item.display[:200],
                            level=level, scope=spec.get("scope"), start_date=start,
                            end_date=spec.get("end") or term_end(item.ptype, level, start), status="active",
                            granted_by_id=getattr(actor, "id", None), source=source))
    if not grants:
        return grants
    db.session.add_all(grants)
    db.session.flush()
    db.session.add_all([GrantChange(grant_id=g.id, action="grant", reason=summary or None, effective_on=g.start_date,
                                    applied=True, before={}, after=_snapshot(g), actor_id=getattr(actor, "id", None))
                        for g in grants])
    db.session.flush()
    audit.record("privileges.grant.create_many", actor=actor, object_type="privilege_grant", object_id=grants[0].id,
                 data={"count": len(grants), "first_id": grants[0].id, "last_id": grants[-1].id, "source": source},
                 summary=summary or f"{len(grants)} grants")
    stamp.bump()
    return grants


# --- adjusting (R3.8) ------------------------------------------------------------------------------

def _staff_users(staff_id: int) -> list[int]:
    from app.modules.accounts.models import User

    return list(db.session.scalars(select(User.id).where(User.staff_id == staff_id, User.active.is_(True))))


def adjust(actor, grant: Grant, action: str, reason: str, effective_on: date | None = None, *,
           level: int | None = None, scope: str | None = None, allow_past: bool = False,
           notify_staff: bool = True) -> GrantChange:
    """Suspend, restore, terminate, narrow or widen a grant, with a reason, now or from a date."""
    if actor is not None and getattr(actor, "is_authenticated", True) and not allow_past \
            and not can(actor, "privileges.manage"):
        from app.workflow.errors import PermissionDenied

        raise PermissionDenied(_("You may not adjust privileges."))
    if action not in ADJUSTMENTS:
        raise GrantError(_("Unknown adjustment."), {"action": _("Choose an adjustment.")})
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("Give the reason for the change.")
    today = date.today()
    effective_on = effective_on or today
    if effective_on < today and not allow_past:
        errors["effective_on"] = _("The date cannot be in the past.")
    if effective_on < grant.start_date:
        effective_on = grant.start_date
    if grant.end_date is not None and effective_on > grant.end_date:
        errors["effective_on"] = _("The grant ends on %(date)s, before that date.", date=grant.end_date.isoformat())
    state = current_state(grant, effective_on)
    after: dict[str, Any] = {}
    if action in STATUS_AFTER:
        if state.status not in ALLOWED_FROM[action]:
            errors.setdefault("action", _("Not possible: on %(date)s the grant is %(status)s.",
                                          date=effective_on.isoformat(), status=_status_word(state.status)))
        after["status"] = STATUS_AFTER[action]
    else:
        if state.status not in ALLOWED_FROM[action]:
            errors.setdefault("action", _("Not possible: on %(date)s the grant is %(status)s.",
                                          date=effective_on.isoformat(), status=_status_word(state.status)))
        tiered = TYPES[grant.ptype].source == RIGHT or grant.item_key.startswith("anaes:")
        if level is not None:
            if not tiered:
                errors["level"] = _("The level of a catalog item cannot change; describe the scope instead.")
            elif action == "narrow" and not (state.level or 0) > level >= 1:
                errors["level"] = _("Narrowing needs a lower level than %(level)s.", level=state.level)
            elif action == "widen" and not level > (state.level or 0):
                errors["level"] = _("Widening needs a higher level than %(level)s.", level=state.level)
            else:
                after["level"] = level
        new_scope = (scope or "").strip() or None
        if scope is not None and new_scope != state.scope:
            after["scope"] = new_scope
        if not after and "level" not in errors:
            errors["scope"] = _("Change the level or the scope description.")
    if errors:
        raise GrantError(next(iter(errors.values())), errors)
    before = {"status": state.status, "level": state.level, "scope": state.scope}
    before = {k: before[k] for k in after}
    applied = effective_on <= today
    change = GrantChange(action=action, reason=reason, effective_on=effective_on, applied=applied,
                         before=before, after=after, actor_id=getattr(actor, "id", None))
    grant.changes.append(change)  # keeps the loaded history in step (the state replays it)
    grant.has_changes = True
    if applied:
        _apply(grant, after)
    db.session.flush()
    entry = audit.record(f"privileges.grant.{action}", actor=actor, object_type="privilege_grant", object_id=grant.id,
                         data={"staff_id": grant.staff_id, "item_key": grant.item_key, "item": grant.item_name,
                               "reason": reason, "effective_on": effective_on.isoformat(), "before": before,
                               "after": after, "change_id": change.id},
                         summary=f"{action} grant {grant.id} ({grant.item_name}) from {effective_on.isoformat()}")
    change.audit_seq = entry.seq
    stamp.bump()
    _refresh_ceiling(grant, effective_on)
    if notify_staff:
        _notify_change(grant, change)
    return change


def _refresh_ceiling(grant: Grant, since: date) -> None:
    """Operations on or after `since` may now be above (or within) the surgeon's level."""
    from .ceiling import refresh_flags
    from .types import CEILING_TYPES

    if grant.ptype in CEILING_TYPES and since <= date.today():
        refresh_flags([grant.staff_id])


def _apply(grant: Grant, after: dict) -> None:
    for key, value in after.items():
        setattr(grant, key, value)
    grant.updated_at = utcnow()


def _status_word(status: str) -> str:
    from .labels import GRANT_STATUS_LABELS

    return str(GRANT_STATUS_LABELS.get(status, status))


def _notify_change(grant: Grant, change: GrantChange) -> None:
    from flask import url_for

    from app.core.notify import notify

    from .labels import CHANGE_LABELS

    word = str(CHANGE_LABELS.get(change.action, change.action))
    title = _("Privilege adjusted (%(action)s): %(item)s", action=word, item=grant.item_name)
    reason = change.reason or "—"
    body = (_("%(action)s, effective immediately. Reason: %(reason)s", action=word, reason=reason) if change.applied
            else _("%(action)s from %(date)s. Reason: %(reason)s", action=word,
                   date=change.effective_on.isoformat(), reason=reason))
    try:
        link = url_for("privileges.show_grant", grant_id=grant.id)
    except RuntimeError:
        link = f"/privileges/grants/{grant.id}"
    notify(_staff_users(grant.staff_id), "privileges.adjusted", title, body, link=link,
           key=f"privileges.change:{change.id}")


# --- the daily job: scheduled changes, expiry, reminders ---------------------------------------------

def apply_due(today: date | None = None) -> int:
    """Apply changes whose effective date has come; returns how many."""
    today = today or date.today()
    due = db.session.scalars(select(GrantChange).where(GrantChange.applied.is_(False),
                                                       GrantChange.effective_on <= today)
                             .order_by(GrantChange.effective_on, GrantChange.id)).all()
    for change in due:
        _apply(change.grant, {k: v for k, v in change.after.items() if k in STATE_FIELDS})
        change.applied = True
    if due:
        db.session.flush()
        stamp.bump()
    return len(due)


def expire_due(today: date | None = None) -> int:
    """Mark grants whose term has ended as expired (with a change row and an audit entry)."""
    today = today or date.today()
    rows = db.session.scalars(select(Grant).where(Grant.status.in_(("active", "suspended")),
                                                  Grant.end_date.is_not(None), Grant.end_date < today)
                              .order_by(Grant.id)).all()
    for grant in rows:
        change = GrantChange(action="expire", reason="有效期届满", effective_on=grant.end_date + timedelta(days=1),
                             applied=True, before={"status": grant.status}, after={"status": "expired"})
        grant.changes.append(change)
        grant.status = "expired"
        db.session.flush()
        entry = audit.record("privileges.grant.expire", object_type="privilege_grant", object_id=grant.id,
                             data={"staff_id": grant.staff_id, "item_key": grant.item_key,
                                   "end_date": grant.end_date.isoformat(), "change_id": change.id},
                             summary=f"grant {grant.id} expired")
        change.audit_seq = entry.seq
    if rows:
        stamp.bump()
    return len(rows)


def has_successor(grant: Grant) -> bool:
    return db.session.scalar(select(Grant.id).where(Grant.renewal_of_id == grant.id,
                                                    Grant.status.in_(("active", "suspended"))).limit(1)) is not None


def remind_expiring(today: date | None = None) -> int:
    """Tell holders of active grants that end soon (once when the reminder window opens, once a week
    before the end); idempotent by key, so running the job twice a day sends nothing twice."""
    from flask import url_for

    from app.core.notify import notify

    today = today or date.today()
    horizon = today + timedelta(days=366)
    sent = 0
    rows = db.session.scalars(select(Grant).where(Grant.status == "active", Grant.end_date.is_not(None),
                                                  Grant.end_date >= today, Grant.end_date <= horizon)
                              .order_by(Grant.end_date)).all()
    for grant in rows:
        _years, remind_days = decide.term(grant.ptype, grant.level)
        left = (grant.end_date - today).days
        if left > remind_days or has_successor(grant):
            continue
        stage = "final" if left <= 7 else "first"
        try:
            link = url_for("privileges.show_grant", grant_id=grant.id)
        except RuntimeError:
            link = f"/privileges/grants/{grant.id}"
        title = _("Privilege ending soon: %(item)s", item=grant.item_name)
        body = _("%(type)s “%(item)s” ends on %(date)s (%(n)d days left); apply for renewal in time.",
                 type=label(grant.ptype), item=grant.item_name, date=grant.end_date.isoformat(), n=left)
        result = notify(_staff_users(grant.staff_id), "privileges.expiring", title, body, link=link,
                        key=f"privileges.expiring:{grant.id}:{grant.end_date.isoformat()}:{stage}")
        sent += len(result.notifications)
    return sent
