"""The kernel's notion of "now" for timer events.

SpiffWorkflow's timer definitions read `datetime.now(timezone.utc)` directly. The periodic tick
(and tests) must be able to say "it is now T" — e.g. `tick(now=…)` two hours later to fire a `PT2H`
reminder — so the timer module's `datetime` is replaced by a subclass whose `now()` answers the
kernel clock when one is set for the current context, and the real time otherwise.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_now: ContextVar[datetime | None] = ContextVar("medtech_workflow_now", default=None)


class _KernelDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        fixed = _now.get()
        if fixed is None:
            return super().now(tz)
        value = fixed.replace(tzinfo=UTC) if fixed.tzinfo is None else fixed
        return value.astimezone(tz) if tz is not None else value.astimezone().replace(tzinfo=None)


_spiff_timer.datetime = _KernelDatetime


def utcnow() -> datetime:
    """Naive UTC "now" of the kernel (the clock when set)."""
    fixed = _now.get()
    if fixed is None:
        return datetime.now(UTC).replace(tzinfo=None)
    return fixed.astimezone(UTC).replace(tzinfo=None) if fixed.tzinfo else fixed


@contextlib.contextmanager
def at(moment: datetime | None):
    """Run the block with the kernel clock at `moment` (naive means UTC); None: real time."""
    if moment is None:
        yield
        return
    token = _now.set(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    try:
        yield
    finally:
        _now.reset(token)


def to_naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
