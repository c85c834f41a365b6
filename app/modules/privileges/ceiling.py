"""The surgeon's level ceiling on a date from the surgery and procedure grants, for the clinical
module's 越级 flag (`Operation.above_level`, R1.7/R7.1): the highest level among the grants valid
that day (0 when none is). Before a surgeon's first such grant began — or for one who never held
any — the answer is None, so the title ceiling applies (a hospital adopts privileges department by
department, and older records keep the rule of their time).

Per-staff timelines are cached in the process and dropped when the change stamp moves.
"""
from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import bindparam, select

from app.extensions import db

from . import stamp
from .grants import state_on
from .models import Grant, GrantChange
from .types import CEILING_TYPES

_GRANTS = (select(Grant.id, Grant.level, Grant.start_date, Grant.end_date, Grant.status, Grant.scope,
                  Grant.has_changes)
           .where(Grant.staff_id == bindparam("staff_id"), Grant.ptype.in_(CEILING_TYPES),
                  Grant.level.is_not(None)))
_CHANGES = (select(GrantChange.grant_id, GrantChange.id, GrantChange.action, GrantChange.effective_on,
                   GrantChange.before, GrantChange.after)
            .where(GrantChange.grant_id.in_(bindparam("grant_ids", expanding=True))))

_cache: dict[int, list] = {}
_state = {"stamp": None}
_lock = threading.Lock()


def _clear() -> None:
    with _lock:
        _cache.clear()
        _state["stamp"] = None


stamp.on_bump(_clear)


def _timeline(staff_id: int) -> list:
    current = stamp.current()
    with _lock:
        if _state["stamp"] != current:
            _cache.clear()
            _state["stamp"] = current
        found = _cache.get(staff_id)
    if found is not None:
        return found
    rows = db.session.execute(_GRANTS, {"staff_id": staff_id}).all()
    changed = [row.id for row in rows if row.has_changes]
    changes: dict[int, list] = {}
    if changed:
        for change in db.session.execute(_CHANGES, {"grant_ids": changed}):
            changes.setdefault(change.grant_id, []).append(change)
    timeline = [(row, changes.get(row.id, ())) for row in rows]
    with _lock:
        if len(_cache) > 20000:
            _cache.clear()
        _cache[staff_id] = timeline
    return timeline


def level_ceiling(staff_id: int, on: date) -> int | None:
    timeline = _timeline(staff_id)
    if not timeline or on < min(row.start_date for row, _changes in timeline):
        return None
    best = 0
    for row, changes in timeline:
        if row.start_date > on and not row.has_changes:
            continue
        state = state_on(row, changes, on)
        if state.valid and (state.level or 0) > best:
            best = state.level or 0
    return best


def refresh_flags(staff_ids) -> int:
    """Recompute the 越级 flags of these surgeons' operations and the metrics of the months that
    changed (after a grant was created or adjusted)."""
    from app.modules.clinical.models import Operation
    from app.modules.clinical.services import ceiling as clinical_ceiling
    from app.modules.clinical.services import metrics

    ids = sorted(set(staff_ids))
    if not ids:
        return 0
    _clear()
    before = set(db.session.execute(select(Operation.id).where(Operation.surgeon_id.in_(ids),
                                                               Operation.above_level.is_(True))).scalars())
    changed = clinical_ceiling.refresh_above_level(ids)
    if changed:
        after = set(db.session.execute(select(Operation.id).where(Operation.surgeon_id.in_(ids),
                                                                  Operation.above_level.is_(True))).scalars())
        moved = sorted(before ^ after)
        keys = set(db.session.execute(select(Operation.surgeon_id, Operation.op_month)
                                      .where(Operation.id.in_(moved))).tuples())
        metrics.refresh(keys)
    return changed
