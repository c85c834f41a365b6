"""One unit of work on one instance: load → act → step the engine → save, in one savepoint.

`act(instance_id, actor, fn)` loads the instance row, gives `fn` a `Run` (the row, its open task
rows, the workflow — taken from the hot cache, or deserialized when first used), steps the engine,
projects the human tasks, and saves state, projection, events, audit entries and notifications
together. The `version` column makes the save conditional (optimistic locking): a concurrent change
to the same instance turns into a retry, and after that into `Conflict`. Any error rolls the
savepoint back, so the instance is exactly as it was.

An action is the hot path of the whole product, so it is written for few statements and little
per-statement work: one SELECT loads the instance, its version's checksum and its open tasks (with
their forms' checksums); the writes are plain table statements (`app.core.fastsql`) sent, on
PostgreSQL, as one script that first takes the instance's version; the savepoint travels with the
first and the last statement; ORM objects are brought up to date or made persistent directly,
without the ORM's loading and unit of work.
"""
from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, delete, event, func, insert, inspect, literal_column, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.util.task import TaskState

from app.core.fastsql import Fast, Script, deferring, session_connection
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
    PUBLISHED,
    Event,
    FormVersion,
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
_OPEN_TASK_STATUSES = (*OPEN_STATUSES, SUSPENDED)
# One statement loads what every action needs: the instance row, its process version's checksum
# (the parsed spec is cached by it; the XML is needed only to parse, once) and its open task rows,
# each with the checksum of its published form (forms are validated against the published version,
# parsed once per checksum). Plain columns, not ORM entities: `_persistent` brings the objects up
# to date for a fraction of the ORM's loading. The serialized state is left out: with the workflow
# in the hot cache it is not needed (`Run._state` reads it, for exactly the version loaded).
_TASK_ALIAS = _TASK_TABLE.alias("open_task")
_VERSION_TABLE = ProcessVersion.__table__
_INSTANCE_LOAD_COLUMNS = tuple(column for column in _INSTANCE_TABLE.c if column.key != "state")
_LOAD_COLUMNS = (select(*(column.label(f"i_{column.key}") for column in _INSTANCE_LOAD_COLUMNS),
                        _VERSION_TABLE.c.checksum.label("version_checksum"),
                        *(column.label(f"t_{column.key}") for column in _TASK_ALIAS.c),
                        select(func.max(FormVersion.checksum)).where(FormVersion.name == _TASK_ALIAS.c.form,
                                                                     FormVersion.status == PUBLISHED)
                        .correlate(_TASK_ALIAS).scalar_subquery().label("form_checksum"))
                 .select_from(_INSTANCE_TABLE.join(_VERSION_TABLE,
                                                   _VERSION_TABLE.c.id == _INSTANCE_TABLE.c.process_version_id)
                              .outerjoin(_TASK_ALIAS, and_(_TASK_ALIAS.c.instance_id == _INSTANCE_TABLE.c.id,
                                                           or_(*(_TASK_ALIAS.c.status == status
                                                                 for status in _OPEN_TASK_STATUSES))))))
_LOAD_INSTANCE = _LOAD_COLUMNS.where(_INSTANCE_TABLE.c.id == bindparam("instance_id"))
_LOAD_INSTANCE_OF_TASK = _LOAD_COLUMNS.where(_INSTANCE_TABLE.c.id == select(_TASK_TABLE.c.instance_id).where(
    _TASK_TABLE.c.id == bindparam("task_id")).scalar_subquery())
_OPEN_ROWS = (select(Task).where(Task.instance_id == bindparam("instance_id"), Task.status.in_(_OPEN_TASK_STATUSES))
              .execution_options(populate_existing=True))
_UPDATE_TASK = update(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("b_id"))
_UPDATE_INSTANCE = update(_INSTANCE_TABLE).where(_INSTANCE_TABLE.c.id == bindparam("b_id"),
                                                 _INSTANCE_TABLE.c.version == bindparam("b_version"))
_INSERT_EVENT = insert(Event.__table__)
_INSERT_INSTANCE = insert(_INSTANCE_TABLE).returning(_INSTANCE_TABLE.c.id)
_TASK_COLUMNS = tuple(column.key for column in _TASK_TABLE.c if column.key != "id")
_CANDIDATE_TABLE = TaskCandidate.__table__
_FAST_STATE = Fast(select(_INSTANCE_TABLE.c.state).where(_INSTANCE_TABLE.c.id == bindparam("b_id"),
                                                          _INSTANCE_TABLE.c.version == bindparam("b_version")))
_FAST_UPDATE_TASK = Fast(_UPDATE_TASK)
_FAST_INSERT_CANDIDATE = Fast(insert(TaskCandidate.__table__))
_FAST_UPDATE_INSTANCE = Fast(_UPDATE_INSTANCE)
_FAST_EVENT = Fast(_INSERT_EVENT)
_FAST_INSERT_INSTANCE = Fast(_INSERT_INSTANCE)
DELETE_CANDIDATES = delete(_CANDIDATE_TABLE).where(
    _CANDIDATE_TABLE.c.task_id.in_(bindparam("task_ids", expanding=True)))


_connection: ContextVar[Any] = ContextVar("mt_kernel_connection", default=None)


def connection():
    """The session's connection (in its transaction)."""
    found = _connection.get()
    return found if found is not None else session_connection(db.session())


def execute(statement, params=None):
    """A Core statement on the session's connection, without the ORM's per-statement work: the
    kernel's writes are plain table statements (the most frequent ones go through `fastsql`)."""
    return connection().execute(statement, params)


_insert_tasks_by_count: dict[int, Fast] = {}


def _insert_tasks(count: int) -> Fast:
    """INSERT of `count` task rows in one statement, returning (id, spiff_id) of each."""
    fast = _insert_tasks_by_count.get(count)
    if fast is None:
        fast = _insert_tasks_by_count[count] = Fast(insert(_TASK_TABLE).values([
            {key: bindparam(f"r{number}_{key}", type_=_TASK_TABLE.c[key].type) for key in _TASK_COLUMNS}
            for number in range(count)]).returning(_TASK_TABLE.c.id, _TASK_TABLE.c.spiff_id))
    return fast


_guarded_by_keys: dict[tuple, Fast] = {}


def _guarded_update(keys: tuple[str, ...]) -> Fast:
    """PostgreSQL: the instance UPDATE … WHERE version = :v as a statement that fails (division by
    zero) when it matched no row, so that the statements after it in the script do not run."""
    fast = _guarded_by_keys.get(keys)
    if fast is None:
        table = _INSTANCE_TABLE
        guarded = (update(table).where(table.c.id == bindparam("v_b_id"), table.c.version == bindparam("v_b_version"))
                   .values({key: bindparam(f"v_{key}", type_=table.c[key].type) for key in keys})
                   .returning(table.c.id).cte("guarded"))
        fast = _guarded_by_keys[keys] = Fast(select(literal_column("1") / func.count()).select_from(guarded))
    return fast


def _is_guard_failure(exc: BaseException) -> bool:
    return getattr(getattr(exc, "diag", None), "sqlstate", None) == "22012" or \
        getattr(exc, "pgcode", None) == "22012"  # division_by_zero


_database_names: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> its URL


def cache_key(instance_id: int) -> tuple:
    """The hot cache's key of an instance: its database (by URL) and id."""
    engine = db.engine
    name = _database_names.get(engine)
    if name is None:
        name = _database_names[engine] = engine.url.render_as_string(hide_password=True)
    return (name, instance_id)


class Run:
    """The state of one unit of work; also the hooks our task specs call (operations, decisions)."""

    def __init__(self, instance: Instance, actor: Any, *, background: bool = False, workflow=None,
                 checksum: str | None = None, rows: list[Task | tuple[Task, str | None]] | None = None,
                 parsed=None):
        self.instance = instance
        self.actor = actor
        self.actor_id = actor_id(actor)
        self.background = background
        self.now = clock.utcnow()
        self.parsed = parsed or (checksum and registry.cached_process(checksum, instance.process_key)) or \
            registry.load_process(instance.process_version, instance.process_key)
        self._workflow = workflow
        self._rows: dict[str, Task] | None = None
        self.form_checksums: dict[int, str | None] = {}  # open task id -> checksum of its published form
        if rows is not None:
            self._rows = {}
            for row in rows:
                row, form_checksum = row if isinstance(row, tuple) else (row, False)
                self._rows[row.spiff_id] = row
                if form_checksum is not False:
                    self.form_checksums[row.id] = form_checksum
        self.new_rows: list[Task] = []  # projection rows created by this unit of work, not yet written
        self.new_candidates: list[tuple[Task, TaskCandidate]] = []  # their candidates, not yet written
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
            self._attach(store.load(self._state(), self.parsed))
        return self._workflow

    def _state(self) -> str:
        """The serialized state of exactly the version this unit of work loaded (read only when
        the workflow is not in the hot cache); a newer version means a concurrent change."""
        instance = self.instance
        if "state" in instance.__dict__:  # a new instance, or the state is loaded already
            return instance.state
        found = _FAST_STATE.rows(connection(), {"b_id": instance.id, "b_version": instance.version})
        if not found:
            raise StaleDataError(f"instance {instance.id} changed since version {instance.version}")
        set_committed_value(instance, "state", found[0][0])
        return found[0][0]

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
        """Record an event; written at save, with the other rows of the action."""
        self.events.append((task, {"instance_id": self.instance.id, "actor_id": self.actor_id, "action": action,
                                   "at": self.now, "comment": comment, "data_before": before,
                                   "data_after": after, "details": details}))

    def audit(self, action: str, row: Task | Instance, summary: str, **data: Any) -> None:
        """An audit-log entry, written at save (in the write script, after the instance's version)."""
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
        # The writes: new task rows first (their ids go into notifications, events and audit
        # entries), then one script — sent as a single round trip on PostgreSQL — that takes the
        # instance's version (the guard fails when another action changed it since it was read,
        # before anything else is written), adds the notifications, updates the task rows, adds
        # candidates, the audit entries and the events, and releases the savepoint.
        conn = connection()
        self.insert_new_rows(conn)
        script = Script(conn)
        unit = _unit_var.get()
        releasing = False
        try:
            self._guard_instance(conn, script, changes)
            with deferring(script):  # the in-app notifications go out with the script
                self._send_notes()
            self.write_rows(script)
            if self.audits:
                from app.core import audit

                audit.append_to_script(script, [{**entry, "object_id": entry.pop("row").id}
                                                for entry in self.audits])
                self.audits.clear()
            if self.events:
                script.add_many(_FAST_EVENT, [{**values, "task_id": task.id if task is not None else None}
                                              for task, values in self.events])
                self.events.clear()
            db.session.flush()  # whatever else the action added through the ORM (copies, comments, …)
            releasing = unit is not None and unit.release_into(script)
            script.run()
        except Exception as exc:
            if releasing:
                unit.savepoint_open = True  # the script stopped before its RELEASE
            if _is_guard_failure(exc):
                raise StaleDataError(f"instance {instance.id} changed since version {instance.version}") from exc
            raise
        for key, value in changes.items():
            set_committed_value(instance, key, value)

    def insert_new_rows(self, conn=None) -> None:
        """INSERT the projection rows created by this unit of work (one statement, their ids
        returned). The objects become persistent as if loaded; their candidates are written with
        the other rows (`write_rows`)."""
        if not self.new_rows:
            return
        conn = conn or connection()
        new, self.new_rows = self.new_rows, []
        for row in new:  # every column loaded: a missing one would be reloaded with a SELECT
            for key in _TASK_COLUMNS:
                if key not in row.__dict__:
                    setattr(row, key, None)
        returned = dict((spiff_id, task_id) for task_id, spiff_id in _insert_tasks(len(new)).rows(conn, {
            f"r{number}_{key}": row.__dict__[key] for number, row in enumerate(new) for key in _TASK_COLUMNS}))
        for row in new:
            candidates = list(row.candidates)
            if candidates:  # written as plain rows (see `write_rows`): kept away from the session
                for candidate in candidates:
                    set_committed_value(candidate, "task", None)
                set_committed_value(row, "candidates", [])
                self.new_candidates.extend((row, candidate) for candidate in candidates)
            row.id = returned[row.spiff_id]
            make_transient_to_detached(row)  # (the candidates collection loads when asked for)
            db.session.add(row)  # persistent, as if loaded: no SQL
            _became_persistent(row)

    def write_rows(self, script: Script | None = None) -> None:
        """The projection rows this unit of work changed (an UPDATE each, of the changed columns)
        and the candidates of new rows, added to `script` (or written at once). The objects are
        clean afterwards (the next flush has nothing to look at)."""
        run_now = script is None
        if run_now:
            self.insert_new_rows()
            script = Script(connection())
        table = _TASK_TABLE
        for row in {id(row): row for row in (*(self._rows or {}).values(), *self.closed_rows.values())}.values():
            state = inspect(row)
            if state.key is None or not state.committed_state:
                continue
            values = {key: state.dict[key] for key in state.committed_state if key in table.c and key in state.dict}
            if values:
                script.add(_FAST_UPDATE_TASK, {**values, "b_id": row.id})
            if len(values) == len(state.committed_state):
                state._commit_all(state.dict, state.session.identity_map if state.session else None)
            else:
                for key, value in values.items():
                    set_committed_value(row, key, value)
        if self.new_candidates:
            pending, self.new_candidates = self.new_candidates, []
            script.add_many(_FAST_INSERT_CANDIDATE, [
                {"task_id": row.id, "user_id": c.user_id, "role": c.role, "department_id": c.department_id}
                for row, c in pending])
            for row in {id(row): row for row, _c in pending}.values():
                db.session.expire(row, ["candidates"])  # loaded from the rows when asked for
        if run_now:
            script.run()

    def _guard_instance(self, conn, script: Script, changes: dict[str, Any]) -> None:
        """UPDATE the instance … WHERE version = the version loaded (optimistic locking). On
        PostgreSQL it opens the write script and stops it (division by zero) when no row matched;
        elsewhere it runs at once and its row count is checked."""
        instance = self.instance
        stamp = datetime.now(UTC).replace(tzinfo=None)  # real time, even when the clock is set
        changes["updated_at"] = stamp if stamp != instance.updated_at else stamp + timedelta(microseconds=1)
        changes["version"] = instance.version + 1
        values = {**changes, "b_id": instance.id, "b_version": instance.version}
        if script.combine:
            script.add(_guarded_update(tuple(changes)), {f"v_{key}": value for key, value in values.items()})
            return
        cursor = _FAST_UPDATE_INSTANCE.run(conn, values)
        updated = cursor.rowcount
        cursor.close()
        if updated != 1:
            raise StaleDataError(f"instance {instance.id} changed since version {instance.version}")

    def _close_all(self) -> None:
        closed = []
        for row in self.open_rows().values():
            if row.status in (*OPEN_STATUSES, SUSPENDED):
                row.status, row.completed_at = self.close_status, self.now
            if row.id is not None and has_candidates(row):
                closed.append(row.id)
        if closed:
            execute(DELETE_CANDIDATES, {"task_ids": closed})

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


def act(instance_id: int | None, actor: Any, fn: Callable[[Run], T], *, expected_version: int | None = None,
        background: bool = False, task_id: int | None = None) -> T:
    """Run `fn` on the instance as one unit of work (retried on a concurrent change).

    With `task_id` (and no `instance_id`) the instance is the task's, found by the same statement
    that loads it.
    """
    for attempt in range(RETRIES):
        try:
            return _attempt(instance_id, task_id, actor, fn, expected_version, background)
        except Exception as exc:
            if not _is_conflict(exc):
                raise
            if expected_version is not None or attempt == RETRIES - 1:
                raise Conflict(_("The process was changed by someone else at the same time; "
                                 "reload and try again.")) from exc
            log.info("instance %s changed concurrently; retrying (%s)", instance_id or f"of task {task_id}",
                     attempt + 1)
            # What this attempt read (the audit head, task rows) is stale: read it all again.
            db.session.expire_all()
    raise AssertionError("unreachable")


def act_on_task(task_id: int, actor: Any, fn: Callable[[Run], T], **options: Any) -> T:
    """`act` on the instance of a task."""
    return act(None, actor, fn, task_id=getattr(task_id, "id", task_id), **options)


def _load(instance_id: int | None, task_id: int | None) -> tuple[Instance, str, list[tuple[Task, str | None]]]:
    """The instance, its version's checksum and its open tasks (each with its form's checksum),
    read by the unit's first statement (which opens its savepoint)."""
    script = open_script()
    if instance_id is None:
        result, _count = script.add(_FAST_LOAD_INSTANCE_OF_TASK, {"task_id": task_id}).run()
        if not result:
            raise NotFound(_("No such task."))
    else:
        result, _count = script.add(_FAST_LOAD_INSTANCE, {"instance_id": instance_id}).run()
        if not result:
            raise NotFound(_("No such process instance."))
    first = result[0]
    instance = _persistent(Instance, dict(zip(_INSTANCE_KEYS, first)), _INSTANCE_EXPIRE)
    rows = []
    for row in result:
        if row[_TASK_ID_AT] is not None:
            task = _persistent(Task, dict(zip(_TASK_KEYS, row[_TASK_ID_AT:_FORM_CHECKSUM_AT])), _TASK_EXPIRE)
            rows.append((task, row[_FORM_CHECKSUM_AT]))
    return instance, first[_VERSION_CHECKSUM_AT], rows


_INSTANCE_KEYS = tuple(column.key for column in _INSTANCE_LOAD_COLUMNS)
_VERSION_CHECKSUM_AT = len(_INSTANCE_KEYS)
_TASK_ID_AT = _VERSION_CHECKSUM_AT + 1
_TASK_KEYS = tuple(column.key for column in _TASK_ALIAS.c)
_FORM_CHECKSUM_AT = _TASK_ID_AT + len(_TASK_KEYS)
assert _TASK_KEYS[0] == "id"
_FAST_LOAD_INSTANCE = Fast(_LOAD_INSTANCE)
_FAST_LOAD_INSTANCE_OF_TASK = Fast(_LOAD_INSTANCE_OF_TASK)
_INSTANCE_EXPIRE = ("state", "process_version")
_TASK_EXPIRE = ("candidates", "instance")


def _new_object(cls, values: dict[str, Any]):
    """A transient object with these column values, as the ORM's loading makes one (no
    constructor, no attribute events: the values go straight into its dict)."""
    obj = inspect(cls).class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def new_task_row(**values: Any) -> Task:
    """A new (transient) projection row with every column set (the ones not given are None)."""
    return _new_object(Task, {**_EMPTY_TASK, **values})


_EMPTY_TASK = dict.fromkeys(_TASK_COLUMNS)


def _persistent(cls, values: dict[str, Any], expire: tuple[str, ...], *, refresh: bool = True):
    """The session's object for this row: a new persistent one, or the one in the identity map
    brought up to date — all of it (what a load with `populate_existing` gives; `expire` then
    names relationships to load afresh on first access), or with `refresh=False` only what is
    expired (what a plain ORM query gives)."""
    session = db.session()
    obj = session.identity_map.get((cls, (values["id"],), None))
    if obj is None:
        obj = _new_object(cls, values)
        make_transient_to_detached(obj)  # what was not given is expired: loaded when used
        session.add(obj)  # as if loaded: stays in the session even if the action fails
        return obj
    if refresh:
        for key, value in values.items():
            set_committed_value(obj, key, value)
        session.expire(obj, expire)
        return obj
    expired = inspect(obj).expired_attributes
    for key in [key for key in values if key in expired]:
        set_committed_value(obj, key, values[key])
    return obj


_TASK_KEYS_ALL = tuple(column.key for column in _TASK_TABLE.c)
_FAST_OPEN_TASKS = Fast(select(*_TASK_TABLE.c).where(
    _TASK_TABLE.c.instance_id == bindparam("instance_id"),
    or_(*(_TASK_TABLE.c.status == status for status in OPEN_STATUSES))).order_by(_TASK_TABLE.c.id))


def open_tasks(instance_id: int) -> list[Task]:
    """The instance's open task rows, oldest first (as an ORM query would give them)."""
    rows = _FAST_OPEN_TASKS.rows(connection(), {"instance_id": instance_id})
    return [_persistent(Task, dict(zip(_TASK_KEYS_ALL, row)), (), refresh=False) for row in rows]


class _Unit:
    """The savepoint of one unit of work, and the ORM objects it made persistent (forgotten again
    when it rolls back). The SAVEPOINT goes out with the unit's first statement and the RELEASE
    with its last write script, so that on PostgreSQL they cost no round trips of their own."""

    def __init__(self, outer: _Unit | None = None) -> None:
        self.depth = outer.depth + 1 if outer is not None else 1
        self.savepoint = f"mt_unit_{self.depth}"  # the same text each time: statement caches keep it
        self.started = False  # the SAVEPOINT was sent
        self.savepoint_open = False  # … and not yet released
        self.added: list[Any] = []

    def open_into(self, script: Script) -> Script:
        """Put the SAVEPOINT in front of the unit's first statement."""
        if not self.started:
            script.sql(f"SAVEPOINT {self.savepoint}")
            self.started = self.savepoint_open = True
        return script

    def release_into(self, script: Script) -> bool:
        if not self.savepoint_open:
            return False
        script.sql(f"RELEASE SAVEPOINT {self.savepoint}")
        self.savepoint_open = False
        return True


_unit_var: ContextVar[_Unit | None] = ContextVar("mt_kernel_unit", default=None)


def _driver_sql(sql: str) -> None:
    cursor = connection().connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def open_script() -> Script:
    """A script on the unit of work's connection, opening the unit's savepoint if it is the first."""
    script = Script(connection())
    unit = _unit_var.get()
    return unit.open_into(script) if unit is not None else script


@contextmanager
def _unit_of_work():
    """A savepoint around one action, issued on the driver's cursor (a fraction of the cost of the
    session's nested transaction). On an error the savepoint is rolled back, the session's objects
    are expired and what the action made persistent is expunged, so the instance and its rows are
    exactly as they were, in the database and in the session. Pending changes made before the
    action are flushed first (as a nested transaction would). The first statement of the unit
    must come from `open_script`."""
    db.session.flush()
    token = _connection.set(session_connection(db.session()))
    unit = _Unit(_unit_var.get())
    unit_token = _unit_var.set(unit)
    try:
        with db.session.no_autoflush:
            yield unit
        db.session.flush()  # anything still pending from the action is part of it
        if unit.savepoint_open:
            unit.savepoint_open = False
            _driver_sql(f"RELEASE SAVEPOINT {unit.savepoint}")
    except BaseException:
        if unit.savepoint_open:
            try:
                _driver_sql(f"ROLLBACK TO SAVEPOINT {unit.savepoint}")
                _driver_sql(f"RELEASE SAVEPOINT {unit.savepoint}")
            except Exception:  # the transaction itself is broken: the caller's rollback cleans up
                log.warning("could not roll back savepoint %s", unit.savepoint, exc_info=True)
        elif unit.started:
            log.warning("unit of work failed after its savepoint was released")
        _forget(unit)
        raise
    finally:
        _unit_var.reset(unit_token)
        _connection.reset(token)
    outer = _unit_var.get()
    if outer is not None:  # part of an enclosing unit of work now: forgotten if that one fails
        outer.added.extend(unit.added)


def _forget(unit: _Unit) -> None:
    session = db.session()
    for obj in unit.added:
        if obj in session:
            session.expunge(obj)
    session.expire_all()


def _became_persistent(obj) -> None:
    unit = _unit_var.get()
    if unit is not None:
        unit.added.append(obj)


def _became_persistent_all(objs) -> None:
    for obj in objs:
        _became_persistent(obj)


@event.listens_for(Session, "pending_to_persistent")
def _flushed_in_unit(session, instance) -> None:
    """Rows flushed through the ORM inside a unit of work (comments, copies, …)."""
    _became_persistent(instance)


@event.listens_for(Session, "transient_to_pending")
def _added_in_unit(session, instance) -> None:
    _became_persistent(instance)


def _attempt(instance_id: int | None, task_id: int | None, actor: Any, fn: Callable[[Run], T],
             expected_version: int | None, background: bool) -> T:
    with _unit_of_work():
        instance, checksum, rows = _load(instance_id, task_id)
        if expected_version is not None and instance.version != expected_version:
            raise Conflict(_("The process has changed since you loaded it (version %(seen)s, now %(now)s).",
                             seen=expected_version, now=instance.version))
        key = cache_key(instance.id)
        cached = store.hot.take(key, instance.version, instance.updated_at)
        run = Run(instance, actor, background=background, workflow=cached, checksum=checksum, rows=rows)
        result = fn(run)
        run.save()
    if run.has_workflow:
        version, stamp, workflow = instance.version, instance.updated_at, run.workflow
        workflow.mt_hooks = None
        after_commit(lambda: store.hot.put(key, version, stamp, workflow))
    return result


def _insert(instance: Instance) -> None:
    """INSERT the new instance row directly; the object becomes persistent as if loaded."""
    for column in _INSTANCE_TABLE.c:
        if column.key != "id" and column.key not in instance.__dict__:
            default = column.default.arg if column.default is not None and column.default.is_scalar else None
            if column.default is not None and column.default.is_callable:
                default = column.default.arg({})
            setattr(instance, column.key, default)
    values = {column.key: instance.__dict__[column.key] for column in _INSTANCE_TABLE.c if column.key != "id"}
    [(instance.id,)], _count = open_script().add(_FAST_INSERT_INSTANCE, values).run()
    make_transient_to_detached(instance)
    db.session.add(instance)
    _became_persistent(instance)


def create(instance: Instance, workflow, actor: Any, fn: Callable[[Run], T], *, parsed=None) -> T:
    """Insert a new instance and run its first steps (start)."""
    with _unit_of_work():
        _insert(instance)
        run = Run(instance, actor, workflow=workflow, rows=[], parsed=parsed)
        result = fn(run)
        run.save()
    key, version, stamp = cache_key(instance.id), instance.version, instance.updated_at
    workflow.mt_hooks = None
    after_commit(lambda: store.hot.put(key, version, stamp, workflow))
    return result
