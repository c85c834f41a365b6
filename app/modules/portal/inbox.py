"""The inbox tabs as SQL on the task projection (wf_task, wf_task_candidate, wf_task_copy,
wf_instance) — never a deserialized workflow.

Each tab starts from an indexed column of the user's own rows (assignee+status, candidate user or
role, completed_by, started_by, copy user); filters, search and sorting then apply to those rows
only, so a tab costs the same whatever the size of the task table.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, exists, func, or_, select, union
from sqlalchemy.orm import aliased, contains_eager

from app.core.models import utcnow
from app.extensions import db
from app.workflow.models import (OPEN, OPEN_STATUSES, RUNNING, TASK_DONE, TASK_RETURNED, Instance,
                                 ProcessDefinition, Task, TaskCandidate, TaskCopy)

from . import access

TABS = ("todo", "claim", "done", "started", "copied", "queue")
TASK_TABS = ("todo", "claim", "done", "queue")
SORTS = ("newest", "oldest", "due")
URGENCIES = ("urged", "due_soon")
DONE_STATUSES = (TASK_DONE, TASK_RETURNED)
BEIJING = timedelta(hours=8)  # dates in filters are the staff's calendar days
DUE_SOON = timedelta(hours=24)


def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


@dataclass
class Filters:
    process: str | None = None
    department_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    overdue: bool = False
    urgency: str | None = None
    q: str = ""
    sort: str = "newest"

    @classmethod
    def from_args(cls, args) -> Filters:
        """Lenient: a value that does not parse is ignored, never an error."""
        urgency = args.get("urgency")
        sort = args.get("sort")
        return cls(process=(args.get("process") or "").strip()[:120] or None,
                   department_id=_int(args.get("department_id")),
                   date_from=_date(args.get("date_from")), date_to=_date(args.get("date_to")),
                   overdue=args.get("overdue") in ("1", "true", "on"),
                   urgency=urgency if urgency in URGENCIES else None,
                   q=(args.get("q") or "").strip()[:60],
                   sort=sort if sort in SORTS else "newest")

    @property
    def active(self) -> bool:
        return bool(self.process or self.department_id or self.date_from or self.date_to or self.overdue
                    or self.urgency or self.q)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day) - BEIJING


# --- the tabs' own rows ------------------------------------------------------------------------

def todo_rows(user_id: int) -> Select:
    return select(Task).where(Task.assignee_id == user_id, Task.status.in_(OPEN_STATUSES))


def claimable_ids(user_id: int, pools: list[tuple[str, int | None]]):
    mine = select(TaskCandidate.task_id).where(TaskCandidate.user_id == user_id)
    if not pools:
        return mine
    return union(mine, select(TaskCandidate.task_id).where(access.pool_clause(pools)))


def claim_rows(user_id: int, pools: list[tuple[str, int | None]]) -> Select:
    return select(Task).where(Task.id.in_(claimable_ids(user_id, pools)), Task.assignee_id.is_(None),
                              Task.status == OPEN)


def done_rows(user_id: int) -> Select:
    return select(Task).where(Task.completed_by_id == user_id, Task.status.in_(DONE_STATUSES))


def queue_rows(user) -> Select:
    """Open tasks of running processes in the user's oversight (department or hospital queue)."""
    scope = access.oversight(user)
    return (select(Task).join(Instance, Instance.id == Task.instance_id)
            .where(Instance.status == RUNNING, scope.clause(Instance.department_id),
                   Task.status.in_(OPEN_STATUSES)))


def started_rows(user_id: int) -> Select:
    return select(Instance).where(Instance.started_by_id == user_id)


def copied_rows(user_id: int) -> Select:
    return select(TaskCopy).where(TaskCopy.user_id == user_id)


def base_rows(tab: str, user) -> Select:
    if tab == "todo":
        return todo_rows(user.id)
    if tab == "claim":
        return claim_rows(user.id, access.role_pools(user))
    if tab == "done":
        return done_rows(user.id)
    if tab == "queue":
        return queue_rows(user)
    if tab == "started":
        return started_rows(user.id)
    return copied_rows(user.id)


# --- filters, search, sorting --------------------------------------------------------------------

def _open_task_where(*conditions) -> exists:
    return exists().where(Task.instance_id == Instance.id, Task.status.in_(OPEN_STATUSES), *conditions)


def _search(q: str, *columns):
    applicant = aliased(_user_model())
    clauses = [column.contains(q, autoescape=True) for column in columns]
    clauses.append(Instance.started_by_id.in_(select(applicant.id).where(
        applicant.display_name.contains(q, autoescape=True))))
    return or_(*clauses)


def _user_model():
    from app.modules.accounts.models import User

    return User


def query(tab: str, user, filters: Filters) -> Select:
    """The tab's rows with the filters applied, sorted; paginate the result."""
    stmt = base_rows(tab, user)
    now = utcnow()
    if tab in TASK_TABS:
        if tab != "queue":
            stmt = stmt.join(Instance, Instance.id == Task.instance_id)
        stmt = stmt.options(contains_eager(Task.instance))
        when = Task.completed_at if tab == "done" else Task.created_at
        if filters.process:
            stmt = stmt.where(Task.process_key == filters.process)
        if filters.department_id:
            stmt = stmt.where(Instance.department_id == filters.department_id)
        if filters.overdue:
            stmt = stmt.where(Task.completed_at > Task.due_at if tab == "done" else Task.due_at < now)
        if filters.urgency == "urged":
            stmt = stmt.where(Task.urged_at.is_not(None))
        elif filters.urgency == "due_soon":
            stmt = stmt.where(Task.due_at >= now, Task.due_at < now + DUE_SOON)
        if filters.q:
            stmt = stmt.where(_search(filters.q, Instance.business_key, Instance.title, Task.name,
                                      Instance.subject))
        order = [Task.due_at.is_(None), Task.due_at, Task.id] if filters.sort == "due" else \
            [when.asc(), Task.id.asc()] if filters.sort == "oldest" else [when.desc(), Task.id.desc()]
    else:
        if tab == "copied":
            stmt = stmt.join(Instance, Instance.id == TaskCopy.instance_id)
            when, tiebreak = TaskCopy.created_at, TaskCopy.id
        else:
            when, tiebreak = Instance.started_at, Instance.id
        if filters.process:
            stmt = stmt.where(Instance.process_key == filters.process)
        if filters.department_id:
            stmt = stmt.where(Instance.department_id == filters.department_id)
        if filters.overdue:
            stmt = stmt.where(_open_task_where(Task.due_at < now))
        if filters.urgency == "urged":
            stmt = stmt.where(_open_task_where(Task.urged_at.is_not(None)))
        elif filters.urgency == "due_soon":
            stmt = stmt.where(_open_task_where(Task.due_at >= now, Task.due_at < now + DUE_SOON))
        if filters.q:
            stmt = stmt.where(_search(filters.q, Instance.business_key, Instance.title, Instance.subject))
        order = [when.asc(), tiebreak.asc()] if filters.sort == "oldest" else [when.desc(), tiebreak.desc()]
    if filters.date_from:
        stmt = stmt.where(when >= _day_start(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(when < _day_start(filters.date_to) + timedelta(days=1))
    return stmt.order_by(*order)


# --- counts and choices --------------------------------------------------------------------------

def count(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def todo_count(user) -> int:
    return count(todo_rows(user.id))


def claim_count(user) -> int:
    return count(claim_rows(user.id, access.role_pools(user)))


def unread_copies(user) -> int:
    return db.session.scalar(select(func.count(TaskCopy.id)).where(TaskCopy.user_id == user.id,
                                                                   TaskCopy.read_at.is_(None))) or 0


def process_choices() -> list[tuple[str, str]]:
    """Processes that have run at least once (one index probe each): what the filter can narrow to,
    without shipped examples or drafts nobody started."""
    started = exists().where(Instance.process_key == ProcessDefinition.key)
    return [(key, name) for key, name in db.session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name).where(started).order_by(ProcessDefinition.name))]


def department_choices(tab: str, user) -> list[tuple[int, str]]:
    """The departments the tab's own rows belong to (what a filter could narrow to)."""
    from app.modules.org.models import Department

    rows = base_rows(tab, user)
    if tab in ("todo", "claim", "done"):
        ids = select(Task.department_id).where(Task.id.in_(rows.with_only_columns(Task.id)))
    elif tab == "queue":
        ids = rows.with_only_columns(Instance.department_id)
    elif tab == "started":
        ids = rows.with_only_columns(Instance.department_id)
    else:
        ids = select(Instance.department_id).where(Instance.id.in_(rows.with_only_columns(TaskCopy.instance_id)))
    return [(d.id, d.name) for d in db.session.scalars(
        select(Department).where(Department.id.in_(ids.distinct())).order_by(Department.sort_order,
                                                                           Department.id))]


def open_steps(instance_ids: list[int]) -> dict[int, list[Task]]:
    """The open tasks of these instances (the current steps of started processes)."""
    if not instance_ids:
        return {}
    found: dict[int, list[Task]] = {}
    for task in db.session.scalars(select(Task).where(Task.instance_id.in_(instance_ids),
                                                      Task.status.in_(OPEN_STATUSES)).order_by(Task.id)):
        found.setdefault(task.instance_id, []).append(task)
    return found


def is_overdue(task: Task, now: datetime | None = None) -> bool:
    return task.is_open and task.due_at is not None and task.due_at < (now or utcnow())

