"""The daily privileges job: scheduled changes take effect, ended terms expire, holders of grants
that end soon are reminded (idempotent: a second run the same day sends nothing new)."""
from __future__ import annotations

from datetime import date

from app.core import jobs

from . import grants

DAY_SECONDS = 86400


@jobs.job("privileges.daily", every_seconds=DAY_SECONDS)
def daily(on: str | None = None) -> dict:
    today = date.fromisoformat(on) if on else date.today()
    applied = grants.apply_due(today)
    expired = grants.expire_due(today)
    reminded = grants.remind_expiring(today)
    # No 越级 flags change here: a grant's state on any date is replayed from its dated changes, so
    # applying a due change or marking an ended term expired changes no past day's ceiling.
    return {"applied": applied, "expired": expired, "reminded": reminded}
