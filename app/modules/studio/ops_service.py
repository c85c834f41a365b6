"""The operations console (流程运维): administrators find process instances, read everything about one
(data, tasks, events, decisions, the incident) and act on it — suspend, resume, cancel, retry an
incident, reassign a task, migrate to a newer version, one by one or in bulk as a background job.

Every action goes through the kernel's runtime (or `app.workflow.migration`) with the administrator
as the actor, takes a reason, and leaves an `ops.*` audit entry beside the kernel's own.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, func, or_, select

from app.core import audit, jobs
from app.core.models import utcnow
from app.extensions import db
from app.workflow import migration, runtime
from app.workflow.errors import NotFound, PermissionDenied, WorkflowError
from app.workflow.models import (
    ACTIVE_STATUSES,
    CANCELLED,
    COMPLETED,
    DRAFT,
    INCIDENT,
    OPEN_STATUSES,
    PUBLISHED,
    REJECTED,
    RUNNING,
    WITHDRAWN,
    DecisionLog,
    Event,
    Instance,
    ProcessDefinition,
    ProcessVersion,
    Task,
)
from app.workflow.permissions import is_admin

BEIJING = timedelta(hours=8)  # dates in filters are the staff's calendar days
SUSPENDED = "suspended"
STATUS_FILTERS = {
    RUNNING: _l("In progress"), SUSPENDED: _l("Suspended"), INCIDENT: _l("Incident"),
    COMPLETED: _l("Completed"), CANCELLED: _l("Cancelled"), REJECTED: _l("Rejected"), WITHDRAWN: _l("Withdrawn"),
}
ACTIONS = ("suspend", "resume", "cancel", "retry")
ACTION_LABELS = {"suspend": _l("Suspend"), "resume": _l("Resume"), "cancel": _l("Cancel"),
                 "retry": _l("Retry"), "reassign": _l("Reassign"), "migrate": _l("Migrate")}
MAX_REASON = 500
BULK_LIMIT = 5000  # instances one bulk migration may take
BULK_JOB = "studio.migrate_instances"


class OpsError(Exception):
    """Bad input for a console action: `field` names the form field, `message` says what to fix."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def require_admin(actor: Any) -> None:
    if not is_admin(actor):
        raise PermissionDenied(_("Only administrators may use the operations console."))


# --- the list ------------------------------------------------------------------------------------

def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day) - BEIJING


@dataclass
class Filters:
    process: str | None = None
    version: int | None = None
    status: str | None = None
    subject: str = ""
    business_key: str = ""
    date_from: date | None = None
    date_to: date | None = None
    step: str | None = None  # BPMN id of an open task
    overdue: bool = False
    q: str = ""

    @classmethod
    def from_args(cls, args) -> Filters:
        """Lenient: a value that does not parse is ignored, never an error."""
        status = args.get("status")
        return cls(process=(args.get("process") or "").strip()[:120] or None, version=_int(args.get("version")),
                   status=status if status in STATUS_FILTERS else None,
                   subject=(args.get("subject") or "").strip()[:100],
                   business_key=(args.get("business_key") or "").strip()[:120],
                   date_from=_date(args.get("date_from")), date_to=_date(args.get("date_to")),
                   step=(args.get("step") or "").strip()[:120] or None,
                   overdue=args.get("overdue") in ("1", "true", "on"), q=(args.get("q") or "").strip()[:60])

    @property
    def active(self) -> bool:
        return any((self.process, self.version, self.status, self.subject, self.business_key, self.date_from,
                    self.date_to, self.step, self.overdue, self.q))

    @property
    def advanced(self) -> int:
        """How many filters beyond process and search are set (they fold away on phones)."""
        return sum(1 for value in (self.version, self.subject, self.business_key, self.date_from, self.date_to,
                                   self.step, self.overdue) if value)

    def as_args(self) -> dict[str, str]:
        values = {"process": self.process, "version": self.version, "status": self.status, "subject": self.subject,
                  "business_key": self.business_key, "date_from": self.date_from, "date_to": self.date_to,
                  "step": self.step, "overdue": "1" if self.overdue else None, "q": self.q}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


def _contains(column, text: str):
    return column.contains(text, autoescape=True)


def query(actor: Any, filters: Filters) -> Select:
    """Instances matching the filters, newest first (administrators see every instance)."""
    require_admin(actor)
    stmt = select(Instance).join(ProcessVersion, ProcessVersion.id == Instance.process_version_id)
    if filters.process:
        stmt = stmt.where(Instance.process_key == filters.process)
    if filters.version:
        stmt = stmt.where(ProcessVersion.version == filters.version)
    if filters.status == SUSPENDED:
        stmt = stmt.where(Instance.suspended.is_(True), Instance.status.in_(ACTIVE_STATUSES))
    elif filters.status == RUNNING:
        stmt = stmt.where(Instance.status == RUNNING, Instance.suspended.is_(False))
    elif filters.status:
        stmt = stmt.where(Instance.status == filters.status)
    if filters.subject:
        stmt = stmt.where(_contains(Instance.subject, filters.subject))
    if filters.business_key:
        stmt = stmt.where(_contains(Instance.business_key, filters.business_key))
    if filters.q:
        stmt = stmt.where(or_(_contains(Instance.title, filters.q), _contains(Instance.business_key, filters.q),
                              _contains(Instance.subject, filters.q),
                              Instance.id == (_int(filters.q) or -1)))
    if filters.date_from:
        stmt = stmt.where(Instance.started_at >= _day_start(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Instance.started_at < _day_start(filters.date_to + timedelta(days=1)))
    if filters.step or filters.overdue:
        conditions = [Task.instance_id == Instance.id, Task.status.in_(OPEN_STATUSES)]
        if filters.step:
            conditions.append(Task.spec == filters.step)
        if filters.overdue:
            conditions += [Task.due_at.is_not(None), Task.due_at < utcnow()]
        stmt = stmt.where(exists().where(and_(*conditions)))
    return stmt.order_by(Instance.started_at.desc(), Instance.id.desc())


def process_choices() -> list[tuple[str, str]]:
    return [(d.key, d.name) for d in db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key))]


def version_choices(process_key: str | None) -> list[ProcessVersion]:
    if not process_key:
        return []
    return list(db.session.scalars(select(ProcessVersion).join(ProcessDefinition)
                                   .where(ProcessDefinition.key == process_key)
                                   .order_by(ProcessVersion.version.desc())))


def migration_targets(process_key: str | None) -> list[ProcessVersion]:
    """Versions instances of the process may move to (published or retired, never drafts)."""
    return [v for v in version_choices(process_key) if v.status != DRAFT]


def open_steps(instance_ids: list[int]) -> dict[int, list[Task]]:
    if not instance_ids:
        return {}
    found: dict[int, list[Task]] = {}
    for task in db.session.scalars(select(Task).where(Task.instance_id.in_(instance_ids),
                                                      Task.status.in_((*OPEN_STATUSES, SUSPENDED)))
                                   .order_by(Task.id)):
        found.setdefault(task.instance_id, []).append(task)
    return found


def status_counts(actor: Any, process: str | None) -> dict[str, int]:
    """How many instances (of a process) are in each status, for the filter chips."""
    require_admin(actor)
    stmt = select(Instance.status, Instance.suspended, func.count()).group_by(Instance.status, Instance.suspended)
    if process:
        stmt = stmt.where(Instance.process_key == process)
    counts = dict.fromkeys(STATUS_FILTERS, 0)
    for status, suspended, n in db.session.execute(stmt):
        if suspended and status in ACTIVE_STATUSES:
            counts[SUSPENDED] += n
            if status == INCIDENT:
                counts[INCIDENT] += n
        elif status in counts:
            counts[status] += n
    return counts


# --- one instance --------------------------------------------------------------------------------

@dataclass
class Detail:
    instance: Instance
    version: ProcessVersion
    variables: dict
    variables_error: str | None
    open_tasks: list[Task]
    other_tasks: list[Task]
    events: list[Event]
    decisions: list[DecisionLog]
    targets: list[tuple[ProcessVersion, migration.Check]] = field(default_factory=list)


def get_instance(actor: Any, instance_id: int) -> Instance:
    require_admin(actor)
    instance = db.session.get(Instance, instance_id)
    if instance is None:
        raise NotFound(_("No such process instance."))
    return instance


def detail(actor: Any, instance_id: int) -> Detail:
    instance = get_instance(actor, instance_id)
    try:
        variables, variables_error = runtime.variables(instance), None
    except Exception as exc:  # noqa: BLE001 -- a state that does not load is what the admin must see
        variables, variables_error = {}, " ".join(str(exc).split())
    tasks = list(db.session.scalars(select(Task).where(Task.instance_id == instance.id).order_by(Task.id)))
    events = list(db.session.scalars(select(Event).where(Event.instance_id == instance.id)
                                     .order_by(Event.at, Event.id)))
    decisions = list(db.session.scalars(select(DecisionLog).where(DecisionLog.instance_id == instance.id)
                                        .order_by(DecisionLog.at, DecisionLog.id)))
    open_rows = [t for t in tasks if t.status in (*OPEN_STATUSES, SUSPENDED)]
    result = Detail(instance, instance.process_version, variables, variables_error, open_rows,
                    [t for t in tasks if t not in open_rows], events, decisions)
    if instance.active:
        for target in migration.newer_versions(instance)[:3]:
            result.targets.append((target, migration.check(actor, instance, target)))
    return result


def pretty(value: Any) -> str:
    """A variable's value as readable text (JSON for structures)."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=1, default=str)
    return "" if value is None else str(value)


# --- actions -------------------------------------------------------------------------------------

def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise OpsError(_("Please give a reason: it is kept in the process history and the audit log."), "reason")
    if len(text) > MAX_REASON:
        raise OpsError(_("The reason may be at most %(n)d characters.", n=MAX_REASON), "reason")
    return text


def _audit(actor: Any, action: str, instance: Instance, reason: str, **data: Any) -> None:
    audit.record(f"ops.{action}", actor=actor, object_type="wf_instance", object_id=instance.id,
                 data={"reason": reason, "process": instance.process_key, **data},
                 summary=f"{action} {instance.process_key} #{instance.id}: {reason}")


def act(actor: Any, instance_id: int, action: str, reason: str | None) -> Instance:
    """Suspend, resume, cancel or retry an instance (WorkflowError / OpsError when refused)."""
    instance = get_instance(actor, instance_id)
    if action not in ACTIONS:
        raise OpsError(_("Unknown action %(action)s.", action=action))
    text = _reason(reason)
    if action == "suspend":
        runtime.suspend(actor, instance.id, text)
    elif action == "resume":
        runtime.resume(actor, instance.id, text)
    elif action == "cancel":
        runtime.cancel(actor, instance.id, text)
    else:
        runtime.retry(actor, instance.id)
    db.session.refresh(instance)
    _audit(actor, action, instance, text, status=instance.status)
    return instance


def reassign(actor: Any, task_id: int, user_id: Any, reason: str | None) -> Task:
    """Hand an open task to someone else (转办 by an administrator)."""
    require_admin(actor)
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound(_("No such task."))
    text = _reason(reason)
    to_user = _int(user_id)
    if to_user is None:
        raise OpsError(_("Choose the person who takes over the task."), "user_ids")
    from app.modules.accounts.models import User

    user = db.session.get(User, to_user)
    if user is None or not user.active:
        raise OpsError(_("Choose the person who takes over the task."), "user_ids")
    before = task.assignee_id
    runtime.transfer(actor, task.id, to_user, comment=text)
    _audit(actor, "reassign", task.instance, text, task=task.id, step=task.spec, from_user=before, to_user=to_user)
    return task


def migrate(actor: Any, instance_id: int, target_id: Any, reason: str | None) -> Instance:
    """Move one instance to a newer version (`migration.MigrationRefused` with the reasons)."""
    instance = get_instance(actor, instance_id)
    text = _reason(reason)
    target = _target(target_id)
    from_version = instance.process_version.version
    migration.migrate(actor, instance.id, target.id, comment=text)
    _audit(actor, "migrate", instance, text, from_version=from_version, to_version=target.version)
    return instance


def _target(target_id: Any) -> ProcessVersion:
    target = db.session.get(ProcessVersion, _int(target_id) or 0)
    if target is None or target.status == DRAFT:
        raise OpsError(_("Choose the version to migrate to."), "target")
    return target


# --- bulk migration ------------------------------------------------------------------------------

def bulk_candidates(actor: Any, target: ProcessVersion, *, instance_ids: list | None = None,
                    from_version: int | None = None) -> list[int]:
    """Active instances of the target's process on an older version: the chosen ones, or all of a version."""
    require_admin(actor)
    stmt = (select(Instance.id).join(ProcessVersion, ProcessVersion.id == Instance.process_version_id)
            .where(ProcessVersion.definition_id == target.definition_id, ProcessVersion.version < target.version,
                   Instance.status.in_(ACTIVE_STATUSES)))
    if instance_ids is not None:
        ids = [i for i in (_int(v) for v in instance_ids) if i is not None]
        stmt = stmt.where(Instance.id.in_(ids or [-1]))
    elif from_version is not None:
        stmt = stmt.where(ProcessVersion.version == from_version)
    return list(db.session.scalars(stmt.order_by(Instance.id).limit(BULK_LIMIT)))


def start_bulk(actor: Any, target_id: Any, reason: str | None, *, instance_ids: list | None = None,
               from_version: Any = None) -> int:
    """Queue a bulk migration job (tracked: /jobs/<run_id> shows its progress); the run id."""
    require_admin(actor)
    text = _reason(reason)
    target = _target(target_id)
    version = _int(from_version)
    if instance_ids is None and version is None:
        raise OpsError(_("Select instances, or choose the version whose instances should move."), "from_version")
    ids = bulk_candidates(actor, target, instance_ids=instance_ids, from_version=version)
    if not ids:
        raise OpsError(_("No running instance of an older version matches: nothing to migrate."), "instance_ids")
    run_id = jobs.enqueue(BULK_JOB, target.id, ids, actor.id, text, track=True, created_by=actor.id)
    audit.record("ops.migrate_bulk.start", actor=actor, object_type="job_run", object_id=run_id,
                 data={"process": target.key, "to_version": target.version, "instances": len(ids), "reason": text},
                 summary=f"bulk migration of {len(ids)} instances of {target.key} to v{target.version}")
    return run_id


@jobs.job(BULK_JOB)
def migrate_instances_job(target_id: int, instance_ids: list[int], actor_id: int, reason: str) -> dict:
    """Migrate each instance in its own transaction, reporting progress; the outcome is kept as an
    audit entry (`ops.migrate_bulk`) that the console's result page reads."""
    from app.core import uow
    from app.modules.accounts.models import User

    actor = db.session.get(User, actor_id)
    target = db.session.get(ProcessVersion, target_id)
    run_id = jobs.current_run_id()
    migrated: list[int] = []
    refused: dict[str, list[str]] = {}
    total = len(instance_ids)
    for n, instance_id in enumerate(instance_ids, start=1):
        try:
            migrate(actor, instance_id, target.id, reason)
            uow.commit()
            migrated.append(instance_id)
        except (WorkflowError, OpsError) as exc:
            db.session.rollback()
            refused[str(instance_id)] = list(getattr(exc, "reasons", None) or [getattr(exc, "reason", str(exc))])
        jobs.progress(run_id, int(n * 100 / max(total, 1)),
                      _("%(done)d of %(total)d: %(migrated)d migrated, %(refused)d refused",
                        done=n, total=total, migrated=len(migrated), refused=len(refused)))
    result = {"to_version": target.version, "process": target.key, "migrated": migrated, "refused": refused,
              "reason": reason}
    audit.record("ops.migrate_bulk", actor=actor, object_type="job_run", object_id=run_id, data=result,
                 summary=f"bulk migration to {target.key} v{target.version}: {len(migrated)} migrated, "
                         f"{len(refused)} refused")
    return result


def bulk_result(actor: Any, run_id: int) -> tuple[Any, dict | None, dict | None]:
    """(job run, its outcome once finished, what was started) of a bulk migration."""
    require_admin(actor)
    from app.core.notify.models import JobRun

    run = db.session.get(JobRun, run_id)
    if run is None or run.name != BULK_JOB:
        raise NotFound(_("No such migration."))

    def entry(action):
        found = db.session.scalar(select(audit.AuditEntry).where(
            audit.AuditEntry.action == action, audit.AuditEntry.object_type == "job_run",
            audit.AuditEntry.object_id == str(run_id)).order_by(audit.AuditEntry.seq.desc()))
        return found.data if found is not None else None

    return run, entry("ops.migrate_bulk"), entry("ops.migrate_bulk.start")


def published_version(process_key: str | None) -> ProcessVersion | None:
    if not process_key:
        return None
    return db.session.scalar(select(ProcessVersion).join(ProcessDefinition).where(
        ProcessDefinition.key == process_key, ProcessVersion.status == PUBLISHED))
