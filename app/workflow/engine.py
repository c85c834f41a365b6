"""One unit of work on one instance: load → act → step the engine → save, in one savepoint.

`act(instance_id, actor, fn)` loads the instance row, gives `fn` a `Run` (the row, its open task
rows, the workflow — deserialized lazily, or taken from the hot cache), steps the engine, projects
the human tasks, and saves state, projection and events together. The `version` column makes the
save conditional (optimistic locking): a concurrent change to the same instance turns into a
retry, and after that into `Conflict`. Any error rolls the savepoint back, so the instance is
exactly as it was.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, insert, inspect, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.util.task import TaskState

from app.core.uow import after_commit
from app.extensions import db

from . import clock, registry, store
from .errors import Conflict, NotFound, ProcessError
from .models import (
    COMPLETED,
    INCIDENT,
    OPEN_STATUSES,
    RUNNING,
    TASK_CANCELLED,
    Event,
    Instance,
    ProcessVersion,
    Task,
    TaskCandidate,
)
from .operations import OperationError
from .permissions import actor_id

log = logging.getLogger(__name__)
T = TypeVar("T")
SUSPENDED = "suspended"  # status of a task row while its instance is suspended
RETRIES = 3


# Statements built once: building a statement (not running it) is most of SQLAlchemy's cost per
# call, and an action runs these every time.
_TASK_TABLE, _INSTANCE_TABLE = Task.__table__, Instance.__table__
_TASK_INSTANCE = select(Task.instance_id).where(Task.id == bindparam("task_id"))
# The process version comes with the instance, without its XML (needed only to parse, once).
_LOAD_INSTANCE = (select(Instance).where(Instance.id == bindparam("instance_id"))
                  .options(joinedload(Instance.process_version).defer(ProcessVersion.bpmn_xml))
                  .execution_options(populate_existing=True))
_OPEN_ROWS = (select(Task).where(Task.instance_id == bindparam("instance_id"),
                                 Task.status.in_((*OPEN_STATUSES, SUSPENDED)))
              .execution_options(populate_existing=True))
_UPDATE_TASK = update(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("b_id"))
_UPDATE_INSTANCE = update(_INSTANCE_TABLE).where(_INSTANCE_TABLE.c.id == bindparam("b_id"),
                                                 _INSTANCE_TABLE.c.version == bindparam("b_version"))
_INSERT_EVENT = insert(Event.__table__)
DELETE_CANDIDATES = delete(TaskCandidate).where(TaskCandidate.task_id.in_(bindparam("task_ids", expanding=True)))


def cache_key(instance_id: int) -> tuple:
    return (db.engine.url.render_as_string(hide_password=True), instance_id)


class Run:
    """The state of one unit of work; also the hooks our task specs call (operations, decisions)."""

    def __init__(self, instance: Instance, actor: Any, *, background: bool = False, workflow=None):
        self.instance = instance
        self.actor = actor
        self.actor_id = actor_id(actor)
        self.background = background
        self.now = clock.utcnow()
        self.parsed = registry.load_process(instance.process_version, instance.process_key)
        self._workflow = workflow
        self._rows: dict[str, Task] | None = None
        self.closed_rows: dict[str, Task] = {}  # rows closed by this unit of work, by spiff id
        self.close_status = TASK_CANCELLED  # what open rows become when their task disappears
        self.assign_override: dict[str, int] = {}  # BPMN id -> user (returned/withdrawn steps)
        self.new_status: str | None = None  # set by actions; applied by save()
        self.suspended: bool | None = None
        self.incident: str | None = None
        self.effects: list[tuple[str, Any]] = []
        self.notes: list[tuple[list[int], str, Task | None, str]] = []
        self.events: list[tuple[Task | None, dict]] = []
        self.audits: list[dict] = []
        self.messages_before: set | None = None
        if workflow is not None:
            self._attach(workflow)

    # --- the workflow ------------------------------------------------------------------------
    @property
    def workflow(self):
        if self._workflow is None:
            self._attach(store.load(self.instance.state, self.parsed))
        return self._workflow

    @property
    def has_workflow(self) -> bool:
        return self._workflow is not None

    def _attach(self, workflow) -> None:
        workflow.mt_hooks = self
        self._workflow = workflow
        from . import messages

        self.messages_before = messages.waiting(self)

    def spiff(self, row: Task):
        task = find_task(self.workflow, row.spiff_id)
        if task is None or not task.has_state(TaskState.READY):
            raise Conflict(_("The task is no longer waiting."))
        return task

    # --- task rows ---------------------------------------------------------------------------
    def open_rows(self) -> dict[str, Task]:
        if self._rows is None:
            rows = db.session.scalars(_OPEN_ROWS, {"instance_id": self.instance.id})
            self._rows = {row.spiff_id: row for row in rows}
        return self._rows

    def task(self, task_id: int) -> Task:
        task_id = getattr(task_id, "id", task_id)  # a Task row works as well as its id
        for row in self.open_rows().values():
            if row.id == task_id:
                return row
        row = db.session.get(Task, task_id, populate_existing=True)
        if row is None or row.instance_id != self.instance.id:
            raise NotFound(_("No such task."))
        return row

    def event(self, action: str, task: Task | None = None, comment: str | None = None,
              before: dict | None = None, after: dict | None = None, **details: Any) -> None:
        """Record an event; written with the instance at save (one INSERT for all of them)."""
        self.events.append((task, {"instance_id": self.instance.id, "actor_id": self.actor_id, "action": action,
                                   "at": self.now, "comment": comment, "data_before": before,
                                   "data_after": after, "details": details}))

    def audit(self, action: str, row: Task | Instance, summary: str, **data: Any) -> None:
        """An audit-log entry, written at save (just before the instance row: see `save`)."""
        kind = "wf_task" if isinstance(row, Task) else "wf_instance"
        self.audits.append({"action": f"workflow.{action}", "actor": self.actor, "object_type": kind,
                            "row": row, "data": data, "summary": summary})

    def notify(self, user_ids, kind: str, task: Task | None, text: str) -> None:
        self.notes.append((list(user_ids), kind, task, text))

    # --- hooks called by our task specs ------------------------------------------------------
    def run_operation(self, my_task) -> None:
        from . import service_calls

        service_calls.run_operation(self, my_task)

    def run_decision(self, my_task) -> None:
        from . import service_calls

        service_calls.run_decision(self, my_task)

    def boundary_fired(self, my_task) -> None:
        node = self.parsed.node(my_task.task_spec.bpmn_id)
        if node is not None and node.timeout_action:
            from . import service_calls

            service_calls.boundary_fired(self, my_task, node)

    # --- stepping ----------------------------------------------------------------------------
    def step(self) -> None:
        from . import projection

        prune_waiting(self.workflow)
        for _round in range(100):
            self._engine_steps()
            created = projection.sync(self)
            if not projection.auto_skip(self, created):
                break
        from . import service_calls

        service_calls.apply_effects(self)

    def _engine_steps(self) -> None:
        try:
            self.workflow.do_engine_steps()
        except Exception as exc:  # noqa: BLE001 -- sorted into incidents and refusals below
            operation_error = _cause(exc, OperationError)
            if operation_error is None and not self.background:
                raise ProcessError(describe(exc)) from exc
            failed = self.workflow.get_tasks(state=TaskState.ERROR)
            self.incident = describe(operation_error or exc, failed[0] if failed else None)
            self.event("incident", comment=self.incident)
            log.warning("instance %s: incident: %s", self.instance.id, self.incident)

    # --- saving ------------------------------------------------------------------------------
    def save(self) -> None:
        instance = self.instance
        changes: dict[str, Any] = {}
        status = instance.status
        if self._workflow is not None:
            from . import messages, timers

            changes["state"] = store.dump(self._workflow)
            changes["next_timer_at"] = timers.next_due(self._workflow)
            messages.sync(self)
            if self.incident is not None:
                status = changes["status"] = INCIDENT
                changes["incident"] = self.incident
            elif self.new_status is None and status == INCIDENT and \
                    not self._workflow.get_tasks(state=TaskState.ERROR):
                status = changes["status"] = RUNNING
                changes["incident"] = None
            if self._workflow.is_completed() and self.new_status is None and status == RUNNING:
                self.new_status = COMPLETED
                self.event("end")
        if self.new_status is not None and self.new_status != status:
            changes["status"] = self.new_status
            if self.new_status not in (RUNNING, INCIDENT):
                changes["ended_at"], changes["next_timer_at"] = self.now, None
                self._close_all()
        if self.suspended is not None:
            changes["suspended"] = self.suspended
        # Rows first (task updates, new tasks and their candidates, the audit chain's head): the
        # instance row is always the last lock an action takes.
        self._write_rows()
        from app.core import audit

        if any(entry["row"].id is None for entry in self.audits):
            db.session.flush()  # an audited row created by this action needs its id
        for entry in self.audits:
            row = entry.pop("row")
            audit.record(entry.pop("action"), object_id=row.id, **entry)
        self.audits.clear()
        db.session.flush()
        self._update_instance(changes)
        if self.events:
            db.session.execute(_INSERT_EVENT, [
                {**values, "task_id": task.id if task is not None else None} for task, values in self.events])
            self.events.clear()
        self._send_notes()

    def _write_rows(self) -> None:
        """UPDATE the changed projection rows directly (the ORM's unit of work is the slow part of an
        action); new rows and anything else still go through the ORM's flush."""
        rows = {id(row): row for row in (*(self._rows or {}).values(), *self.closed_rows.values())}
        table = _TASK_TABLE
        for row in rows.values():
            state = inspect(row)
            if state.pending or not state.persistent or not state.committed_state:
                continue
            values = {key: state.dict[key] for key in state.committed_state if key in table.c and key in state.dict}
            if values:
                db.session.execute(_UPDATE_TASK, {**values, "b_id": row.id})
                for key, value in values.items():
                    set_committed_value(row, key, value)

    def _update_instance(self, changes: dict[str, Any]) -> None:
        """UPDATE … WHERE version = the version loaded (optimistic locking), written directly: the
        instance is the one row every action changes, so it skips the ORM's unit of work."""
        instance = self.instance
        stamp = datetime.now(UTC).replace(tzinfo=None)  # real time, even when the clock is set
        changes["updated_at"] = stamp if stamp != instance.updated_at else stamp + timedelta(microseconds=1)
        changes["version"] = instance.version + 1
        result = db.session.execute(_UPDATE_INSTANCE, {**changes, "b_id": instance.id, "b_version": instance.version})
        if result.rowcount != 1:
            raise StaleDataError(f"instance {instance.id} changed since version {instance.version}")
        for key, value in changes.items():
            set_committed_value(instance, key, value)

    def _close_all(self) -> None:
        closed = []
        for row in self.open_rows().values():
            if row.status in (*OPEN_STATUSES, SUSPENDED):
                row.status, row.completed_at = self.close_status, self.now
            if row.id is not None and has_candidates(row):
                closed.append(row.id)
        if closed:
            db.session.execute(DELETE_CANDIDATES, {"task_ids": closed})

    def _send_notes(self) -> None:
        from . import hooks

        for user_ids, kind, task, text in self.notes:
            hooks.notify(user_ids, kind, task.id if task is not None else None, text)
        self.notes.clear()


def has_candidates(row: Task) -> bool:
    """Whether a row may have candidate rows: pool tasks (unassigned, or claimed from the pool).

    Tasks assigned directly never get any, so closing them needs no DELETE.
    """
    return row.assignee_id is None or row.claimed_at is not None


def find_task(workflow, spiff_id: str | UUID):
    """The task with this id in the workflow or its subprocesses, or None."""
    try:
        return workflow.get_task_from_id(spiff_id if isinstance(spiff_id, UUID) else UUID(spiff_id))
    except Exception:  # TaskNotFoundException, or an id that is not a UUID
        return None


def prune_waiting(workflow) -> None:
    """Forget waiting events of tasks no longer in the tree.

    Resetting to an earlier task (return, withdraw) or removing a signer drops tasks, but
    SpiffWorkflow keeps their boundary timers in the event manager, where the next timer refresh
    would trip over their missing parents.
    """
    manager = workflow.event_manager
    for task_id, task in list(manager.tasks.items()):
        if task.workflow.tasks.get(task_id) is not task:
            manager.tasks.pop(task_id, None)


def _cause(exc: BaseException | None, kind: type) -> BaseException | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "exception", None)
    return None


def describe(exc: BaseException, task=None) -> str:
    """A one-line reason naming the BPMN element where possible."""
    task = task or getattr(exc, "task", None)
    spec = getattr(task, "task_spec", None) or getattr(exc, "task_spec", None)
    where = ""
    if spec is not None:
        name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name
        where = f"{name}: "
    text = " ".join(str(exc).split())
    return f"{where}{text}" if not text.startswith(where) else text


def _is_conflict(exc: BaseException) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
        return "deadlock" in text or "database is locked" in text or "could not serialize" in text
    return False


def instance_of_task(task_id: int) -> int:
    instance_id = db.session.scalar(_TASK_INSTANCE, {"task_id": getattr(task_id, "id", task_id)})
    if instance_id is None:
        raise NotFound(_("No such task."))
    return instance_id


def act(instance_id: int, actor: Any, fn: Callable[[Run], T], *, expected_version: int | None = None,
        background: bool = False) -> T:
    """Run `fn` on the instance as one unit of work (retried on a concurrent change)."""
    for attempt in range(RETRIES):
        try:
            return _attempt(instance_id, actor, fn, expected_version, background)
        except Exception as exc:
            if not _is_conflict(exc):
                raise
            if expected_version is not None or attempt == RETRIES - 1:
                raise Conflict(_("The process was changed by someone else at the same time; "
                                 "reload and try again.")) from exc
            log.info("instance %s changed concurrently; retrying (%s)", instance_id, attempt + 1)
            # What this attempt read (the audit head, task rows) is stale: read it all again.
            db.session.expire_all()
    raise AssertionError("unreachable")


def _attempt(instance_id: int, actor: Any, fn: Callable[[Run], T], expected_version: int | None,
             background: bool) -> T:
    key = cache_key(instance_id)
    with db.session.begin_nested(), db.session.no_autoflush:
        instance = db.session.scalars(_LOAD_INSTANCE, {"instance_id": instance_id}).one_or_none()
        if instance is None:
            raise NotFound(_("No such process instance."))
        if expected_version is not None and instance.version != expected_version:
            raise Conflict(_("The process has changed since you loaded it (version %(seen)s, now %(now)s).",
                             seen=expected_version, now=instance.version))
        cached = store.hot.take(key, instance.version, instance.updated_at)
        run = Run(instance, actor, background=background, workflow=cached)
        result = fn(run)
        run.save()
    if run.has_workflow:
        version, stamp, workflow = instance.version, instance.updated_at, run.workflow
        workflow.mt_hooks = None
        after_commit(lambda: store.hot.put(key, version, stamp, workflow))
    return result


def create(instance: Instance, workflow, actor: Any, fn: Callable[[Run], T]) -> T:
    """Insert a new instance and run its first steps (start)."""
    with db.session.begin_nested(), db.session.no_autoflush:
        db.session.add(instance)
        db.session.flush()
        run = Run(instance, actor, workflow=workflow)
        result = fn(run)
        run.save()
    key, version, stamp = cache_key(instance.id), instance.version, instance.updated_at
    workflow.mt_hooks = None
    after_commit(lambda: store.hot.put(key, version, stamp, workflow))
    return result
