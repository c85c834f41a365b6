"""Timer events: due times on the instance row, a periodic tick that advances due instances.

Timers are written as modelers write them (ISO 8601 date, duration or cycle, quoted or not). After
every save the earliest due timer of the instance goes to `wf_instance.next_timer_at`; `tick()`
picks the due instances with one indexed query and steps each in its own savepoint. The tick runs
as an RQ cron job when REDIS_URL is set, and on the periodic-jobs ticker thread started by
`medtech run` in the embedded mode. Tests call `tick(now=…)` directly.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from app.core import jobs
from app.extensions import db

from . import clock, engine
from .errors import Conflict
from .models import RUNNING, Instance
from .projection import event_due

log = logging.getLogger(__name__)

TICK_SECONDS = 60
BATCH = 500


def next_due(workflow) -> datetime | None:
    """The earliest moment a waiting timer event of the workflow fires (naive UTC)."""
    dues = [due for task in list(workflow.event_manager.tasks.values()) if (due := event_due(task)) is not None]
    return min(dues) if dues else None


def due_instances(now: datetime, limit: int = BATCH) -> list[int]:
    return list(db.session.scalars(
        select(Instance.id).where(Instance.status == RUNNING, Instance.suspended.is_(False),
                                  Instance.next_timer_at.is_not(None), Instance.next_timer_at <= now)
        .order_by(Instance.next_timer_at).limit(limit)))


def _fire(run) -> None:
    run.event("timer")
    run.workflow.refresh_timers()
    run.step()


def tick(now: datetime | None = None, limit: int = BATCH) -> int:
    """Advance every instance whose timer is due at `now` (default: the current time).

    Each instance is stepped in its own savepoint: one busy or failing instance does not hold up
    the others. Returns how many instances were advanced; the caller commits.
    """
    moment = clock.to_naive_utc(now) if now is not None else clock.utcnow()
    advanced = 0
    with clock.at(moment):
        for instance_id in due_instances(moment, limit):
            try:
                engine.act(instance_id, None, _fire, background=True)
                advanced += 1
            except Conflict:
                log.info("timer of instance %s: busy, next tick", instance_id)
            except Exception:  # one broken instance must not stop the others
                log.exception("timer of instance %s failed", instance_id)
    return advanced


@jobs.job("workflow.tick", every_seconds=TICK_SECONDS)
def tick_job() -> int:
    return tick()


# --- the embedded ticker -----------------------------------------------------------------------

def start_ticker(app, interval: float | None = None):
    """Run the periodic jobs — this tick, the notification retries, … — on a daemon thread
    (embedded mode, `medtech run`); see `app.core.jobs.start_ticker`."""
    return jobs.start_ticker(app, interval)


def stop_ticker() -> None:
    jobs.stop_ticker()
