"""The highest surgery level a surgeon may perform on a date (越级 checks, R1.7 and R7.1).

Until surgery privileges exist the default is the title ceiling (DOMAIN.md: 住院医师 → 一级,
主治医师 → 二级, 副主任医师 → 三级, 主任医师 → 四级), using the title held on that date: before
`title_since` the surgeon held the title one step below. Other modules (privileges) register a
function `fn(staff_id, on_date) -> int | None`; the most recently registered one that answers wins,
None falls through to the next and finally to the title ceiling.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from sqlalchemy import select

from app.extensions import db

TITLE_LEVELS = {"resident": 1, "attending": 2, "assoc_chief": 3, "chief": 4}

_HOOKS: list[Callable[[int, date], int | None]] = []


def register_level_ceiling(fn: Callable[[int, date], int | None]) -> None:
    if fn not in _HOOKS:
        _HOOKS.append(fn)


def unregister_level_ceiling(fn: Callable[[int, date], int | None]) -> None:
    if fn in _HOOKS:
        _HOOKS.remove(fn)


def title_ceiling(level_now: int | None, since: date | None, on: date) -> int | None:
    if level_now is None:
        return None
    if since is not None and on < since:
        return max(1, level_now - 1)
    return level_now


class CeilingLookup:
    """Ceilings for many (surgeon, date) pairs with one query for the titles."""

    def __init__(self, staff_ids: Iterable[int]):
        from app.modules.org.models import Staff

        ids = sorted({i for i in staff_ids if i is not None})
        self.titles: dict[int, tuple[int | None, date | None]] = {}
        for start in range(0, len(ids), 900):
            for staff_id, code, since in db.session.execute(
                    select(Staff.id, Staff.title_code, Staff.title_since)
                    .where(Staff.id.in_(ids[start:start + 900]))):
                self.titles[staff_id] = (TITLE_LEVELS.get(code or ""), since)

    def ceiling(self, staff_id: int, on: date) -> int | None:
        for hook in reversed(_HOOKS):
            answer = hook(staff_id, on)
            if answer is not None:
                return answer
        level_now, since = self.titles.get(staff_id, (None, None))
        return title_ceiling(level_now, since, on)

    def above(self, staff_id: int, on: date, level: int | None) -> bool:
        if level is None or level <= 1 and not _HOOKS:
            return False
        limit = self.ceiling(staff_id, on)
        return limit is not None and level > limit


def level_ceiling(staff_id: int, on: date) -> int | None:
    return CeilingLookup([staff_id]).ceiling(staff_id, on)


def title_level(title_code: str | None) -> int:
    return TITLE_LEVELS.get(title_code or "", 0)


def refresh_above_level(staff_ids: Iterable[int] | None = None) -> int:
    """Recompute `Operation.above_level` (after titles or privileges changed); returns the number
    of operations whose flag changed. The caller rebuilds the metrics of the surgeons concerned."""
    from sqlalchemy import update

    from app.modules.clinical.models import Operation

    stmt = select(Operation.id, Operation.surgeon_id, Operation.performed_at, Operation.level,
                  Operation.above_level)
    if staff_ids is not None:
        wanted = sorted(set(staff_ids))
        if not wanted:
            return 0
        stmt = stmt.where(Operation.surgeon_id.in_(wanted))
    rows = db.session.execute(stmt).all()
    lookup = CeilingLookup(r.surgeon_id for r in rows)
    changes = []
    for row in rows:
        flag = lookup.above(row.surgeon_id, row.performed_at.date(), row.level)
        if flag != row.above_level:
            changes.append({"id": row.id, "above_level": flag})
    for start in range(0, len(changes), 5000):
        db.session.execute(update(Operation), changes[start:start + 5000])
    return len(changes)
