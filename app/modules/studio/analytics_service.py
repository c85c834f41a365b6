"""Process analytics (流程分析): for one process, instances started and completed by month, how long
each user step takes (mean and p90, from the task rows' created and completed times), overdue
steps and the slowest step.

Counts, sums and means are aggregated in the database. The p90 needs the durations themselves: the
database numbers each step's completed tasks newest first and returns at most P90_SAMPLE per step,
so the work stays bounded however long the process has run. Months and dates are the staff's
calendar (Beijing time); durations are in hours.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Float, and_, case, cast, func, literal_column, select

from app.core.models import utcnow
from app.extensions import db
from app.workflow.models import (
    ACTIVE_STATUSES,
    COMPLETED,
    OPEN_STATUSES,
    TASK_DONE,
    Instance,
    ProcessDefinition,
    ProcessVersion,
    Task,
)
from app.workflow.permissions import is_admin
from app.workflow.errors import NotFound, PermissionDenied

BEIJING = timedelta(hours=8)
P90_SAMPLE = 2000  # newest completed tasks per step that the p90 is computed over
DEFAULT_MONTHS = 12
MAX_DAYS = 3 * 366


def require_admin(actor: Any) -> None:
    if not is_admin(actor):
        raise PermissionDenied(_("Only administrators may see process analytics."))


@dataclass
class Period:
    date_from: date
    date_to: date  # inclusive

    @classmethod
    def from_args(cls, args, today: date | None = None) -> Period:
        """Lenient: missing or bad dates give the last twelve months; at most three years."""
        today = today or (utcnow() + BEIJING).date()
        end = _date(args.get("date_to")) or today
        start = _date(args.get("date_from")) or _months_back(end, DEFAULT_MONTHS)
        if start > end:
            start, end = end, start
        if (end - start).days > MAX_DAYS:
            start = end - timedelta(days=MAX_DAYS)
        return cls(start, end)

    @property
    def start(self) -> datetime:  # naive UTC
        return datetime(self.date_from.year, self.date_from.month, self.date_from.day) - BEIJING

    @property
    def end(self) -> datetime:  # exclusive, naive UTC
        day = self.date_to + timedelta(days=1)
        return datetime(day.year, day.month, day.day) - BEIJING

    def months(self) -> list[str]:
        months, year, month = [], self.date_from.year, self.date_from.month
        while (year, month) <= (self.date_to.year, self.date_to.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def _months_back(day: date, months: int) -> date:
    year, month = day.year, day.month - months + 1
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


# --- SQL helpers that differ between SQLite and PostgreSQL ---------------------------------------

def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _month(column):
    """'YYYY-MM' of a naive UTC timestamp in Beijing time."""
    if _dialect() == "postgresql":
        return func.to_char(column + literal_column("interval '8 hours'"), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def _seconds(start, end):
    """Seconds between two timestamps, as a float expression."""
    if _dialect() == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


# --- the figures -----------------------------------------------------------------------------------

@dataclass
class Step:
    spec: str
    name: str
    completed: int = 0
    mean_hours: float | None = None
    p90_hours: float | None = None
    max_hours: float | None = None
    sample: int = 0  # durations the p90 was computed over
    open: int = 0
    overdue_open: int = 0
    late: int = 0  # completed after the due date
    with_due: int = 0


@dataclass
class Analytics:
    key: str
    name: str
    period: Period
    months: list[str]
    started: list[int]
    completed: list[int]
    ended_other: list[int]
    steps: list[Step] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    overdue_tasks: list[Task] = field(default_factory=list)

    @property
    def slowest(self) -> Step | None:
        timed = [s for s in self.steps if s.mean_hours is not None]
        return max(timed, key=lambda s: s.mean_hours) if timed else None

    def as_json(self) -> dict:
        slowest = self.slowest
        return {
            "key": self.key, "name": self.name, "months": self.months,
            "period": {"from": self.period.date_from.isoformat(), "to": self.period.date_to.isoformat()},
            "started": self.started, "completed": self.completed, "ended_other": self.ended_other,
            "steps": [{"spec": s.spec, "name": s.name, "completed": s.completed, "mean_hours": s.mean_hours,
                       "p90_hours": s.p90_hours, "max_hours": s.max_hours, "open": s.open,
                       "overdue_open": s.overdue_open, "late": s.late, "with_due": s.with_due}
                      for s in self.steps],
            "slowest": slowest.spec if slowest else None, "totals": self.totals,
        }


def processes(actor: Any) -> list[dict]:
    """Every process with its instance counts (the analytics start page)."""
    require_admin(actor)
    counts = {}
    stmt = select(Instance.process_key, func.count(),
                  func.sum(case((Instance.status == COMPLETED, 1), else_=0)),
                  func.sum(case((Instance.status.in_(ACTIVE_STATUSES), 1), else_=0)),
                  func.max(Instance.started_at)).group_by(Instance.process_key)
    for key, total, completed, active, last in db.session.execute(stmt):
        counts[key] = {"total": total, "completed": int(completed or 0), "active": int(active or 0), "last": last}
    rows = []
    for definition in db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)):
        rows.append({"key": definition.key, "name": definition.name, "module": definition.module,
                     **counts.get(definition.key, {"total": 0, "completed": 0, "active": 0, "last": None})})
    return rows


def _definition(key: str) -> ProcessDefinition:
    definition = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
    if definition is None:
        raise NotFound(_("No published process '%(key)s'.", key=key))
    return definition


def compute(actor: Any, key: str, period: Period, *, now: datetime | None = None) -> Analytics:
    require_admin(actor)
    definition = _definition(key)
    now = now or utcnow()
    months = period.months()
    result = Analytics(key, definition.name, period, months, [0] * len(months), [0] * len(months),
                       [0] * len(months))
    index = {m: i for i, m in enumerate(months)}
    in_key = Instance.process_key == key

    started = _month(Instance.started_at)
    for month, n in db.session.execute(
            select(started, func.count()).where(in_key, Instance.started_at >= period.start,
                                                Instance.started_at < period.end).group_by(started)):
        if month in index:
            result.started[index[month]] = n
    ended = _month(Instance.ended_at)
    for month, status, n in db.session.execute(
            select(ended, Instance.status, func.count()).where(
                in_key, Instance.ended_at.is_not(None), Instance.ended_at >= period.start,
                Instance.ended_at < period.end).group_by(ended, Instance.status)):
        if month in index:
            target = result.completed if status == COMPLETED else result.ended_other
            target[index[month]] += n

    cycle = _seconds(Instance.started_at, Instance.ended_at)
    done_count, mean_cycle = db.session.execute(select(func.count(), func.avg(cycle)).where(
        in_key, Instance.status == COMPLETED, Instance.ended_at >= period.start, Instance.ended_at < period.end)).one()
    active = db.session.scalar(select(func.count()).where(in_key, Instance.status.in_(ACTIVE_STATUSES)))
    result.totals = {"started": sum(result.started), "completed": sum(result.completed),
                     "ended_other": sum(result.ended_other), "active": active or 0,
                     "mean_cycle_hours": _hours(mean_cycle), "completed_with_cycle": done_count}
    result.steps = _steps(key, period, now)
    result.overdue_tasks = list(db.session.scalars(
        select(Task).join(Instance, Instance.id == Task.instance_id)
        .where(Instance.process_key == key, Task.status.in_(OPEN_STATUSES), Task.due_at.is_not(None),
               Task.due_at < now, Instance.status.in_(ACTIVE_STATUSES))
        .order_by(Task.due_at).limit(200)))
    return result


def _of_process(key: str):
    """Tasks of the process's instances (reached through the instance's indexed process key)."""
    return Task.instance_id.in_(select(Instance.id).where(Instance.process_key == key).scalar_subquery())


def _hours(seconds) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600.0, 2)


def _steps(key: str, period: Period, now: datetime) -> list[Step]:
    in_period = and_(_of_process(key), Task.completed_at >= period.start, Task.completed_at < period.end)
    done = and_(in_period, Task.status == TASK_DONE, Task.completed_at.is_not(None))
    duration = _seconds(Task.created_at, Task.completed_at)
    late = case((and_(Task.due_at.is_not(None), Task.completed_at > Task.due_at), 1), else_=0)
    with_due = case((Task.due_at.is_not(None), 1), else_=0)
    steps: dict[str, Step] = {}
    for spec, n, mean, longest, late_n, due_n, last_name in db.session.execute(
            select(Task.spec, func.count(), func.avg(duration), func.max(duration), func.sum(late),
                   func.sum(with_due), func.max(Task.name)).where(done).group_by(Task.spec)):
        steps[spec] = Step(spec, last_name or spec, completed=n, mean_hours=_hours(mean), max_hours=_hours(longest),
                           late=int(late_n or 0), with_due=int(due_n or 0))
    # Open tasks now (any age) and those past their due date.
    overdue = case((and_(Task.due_at.is_not(None), Task.due_at < now), 1), else_=0)
    for spec, n, overdue_n, name in db.session.execute(
            select(Task.spec, func.count(), func.sum(overdue), func.max(Task.name))
            .join(Instance, Instance.id == Task.instance_id)
            .where(Instance.process_key == key, Task.status.in_(OPEN_STATUSES),
                   Instance.status.in_(ACTIVE_STATUSES)).group_by(Task.spec)):
        step = steps.setdefault(spec, Step(spec, name or spec))
        step.open, step.overdue_open = n, int(overdue_n or 0)
    _p90(key, done, duration, steps)
    return sorted(steps.values(), key=lambda s: (-(s.mean_hours or -1), s.spec))


def _p90(key: str, done, duration, steps: dict[str, Step]) -> None:
    """p90 per step (nearest rank) over each step's newest P90_SAMPLE durations."""
    numbered = (select(Task.spec.label("spec"), duration.label("seconds"),
                       func.row_number().over(partition_by=Task.spec,
                                              order_by=(Task.completed_at.desc(), Task.id.desc())).label("n"))
                .where(done).subquery())
    by_step: dict[str, list[float]] = {}
    for spec, seconds in db.session.execute(select(numbered.c.spec, numbered.c.seconds)
                                            .where(numbered.c.n <= P90_SAMPLE)):
        if seconds is not None:
            by_step.setdefault(spec, []).append(float(seconds))
    for spec, values in by_step.items():
        if spec in steps:
            steps[spec].p90_hours = _hours(percentile(values, 90))
            steps[spec].sample = len(values)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least pct% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


# --- export ----------------------------------------------------------------------------------------

def xlsx(result: Analytics) -> bytes:
    """Three sheets: steps, months, overdue tasks."""
    workbook = Workbook()
    steps = workbook.active
    steps.title = _("Steps")[:31]
    _sheet(steps, [_("Step"), _("Step ID"), _("Completed"), _("Mean (hours)"), _("P90 (hours)"),
                   _("Longest (hours)"), _("Open now"), _("Overdue now"), _("Completed late"), _("With due date")],
           [[s.name, s.spec, s.completed, s.mean_hours, s.p90_hours, s.max_hours, s.open, s.overdue_open, s.late,
             s.with_due] for s in result.steps])
    months = workbook.create_sheet(_("By month")[:31])
    _sheet(months, [_("Month"), _("Instances started"), _("Instances completed"), _("Ended otherwise")],
           [[m, s, c, o] for m, s, c, o in zip(result.months, result.started, result.completed, result.ended_other)])
    overdue = workbook.create_sheet(_("Overdue")[:31])
    from app.core.i18n import format_datetime

    _sheet(overdue, [_("Instance"), _("Step"), _("Due"), _("Created")],
           [[t.instance_id, t.name, format_datetime(t.due_at), format_datetime(t.created_at)]
            for t in result.overdue_tasks])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet(ws, header: list[str], rows: list[list]) -> None:
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    ws.freeze_panes = "A2"
    for column, name in zip(ws.columns, header):
        width = max([len(str(name))] + [len(str(c.value or "")) for c in list(column)[:200]])
        ws.column_dimensions[column[0].column_letter].width = min(40, width * 1.6 + 2)


def version_counts(key: str) -> list[tuple[int, str, int]]:
    """(version, status, instances) of a process, for the page's side note."""
    return [(v, s, n) for v, s, n in db.session.execute(
        select(ProcessVersion.version, ProcessVersion.status, func.count(Instance.id))
        .join(ProcessDefinition, ProcessDefinition.id == ProcessVersion.definition_id)
        .outerjoin(Instance, Instance.process_version_id == ProcessVersion.id)
        .where(ProcessDefinition.key == key).group_by(ProcessVersion.version, ProcessVersion.status)
        .order_by(ProcessVersion.version))]
