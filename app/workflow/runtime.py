"""The kernel's runtime API: what pages, the API, jobs and other modules call.

Every call takes the actor (a user object; only `.id` is used), checks that the actor may do it
(`PermissionDenied`) and that it is possible now (`Conflict` with the reason), and runs as one unit
of work on the instance (see engine.py): either everything (state, task projection, events, audit
entries) is written, or nothing. Callers commit (one commit per request, job or CLI command).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from SpiffWorkflow.util.task import TaskState

from app.extensions import db

from . import clock, engine, forms, messages, permissions, registry, store, timers
from .countersign import add_signers, remove_signers  # noqa: F401  (part of the API)
from .errors import Conflict, FormInvalid, NotFound, PermissionDenied, ProcessError
from .models import (
    CANCELLED,
    DELEGATED,
    INCIDENT,
    OPEN,
    REJECTED,
    RUNNING,
    TASK_DONE,
    Instance,
    Task,
    TaskCandidate,
    TaskCopy,
)
from .permissions import actor_id, check_instance_admin, check_task_action
from .projection import finish
from .records import add_attachment, add_comment  # noqa: F401  (part of the API)
from .rewind import return_to, withdraw  # noqa: F401  (part of the API)
from .specs import APPROVE, REJECT

__all__ = [
    "Conflict", "NotFound", "PermissionDenied", "ProcessError", "add_attachment", "add_comment",
    "add_signers", "allowed_actions", "cancel", "claim", "complete", "copy_to", "delegate", "reject",
    "remove_signers", "resolve_delegation", "resume", "retry", "return_to", "send_message", "start",
    "suspend", "task_data", "tick", "transfer", "unclaim", "urge", "variables", "withdraw",
]

_OUTCOME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _task(task_id: int | Task) -> Task:
    row = task_id if isinstance(task_id, Task) else db.session.get(Task, task_id)
    if row is None:
        raise NotFound(_("No such task."))
    return row


def _instance(instance_id: int | Instance) -> Instance:
    row = instance_id if isinstance(instance_id, Instance) else db.session.get(Instance, instance_id)
    if row is None:
        raise NotFound(_("No such process instance."))
    return row


def _plain_data(data: Any) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(key, str) and key and not key.startswith("_")
                                             for key in data):
        raise ProcessError(_("Task data must be an object with named fields."))
    return dict(data)


# --- start ---------------------------------------------------------------------------------------

def start(actor: Any, process_key: str, *, business_key: str | None = None, subject: str | None = None,
          department_id: int | None = None, data: dict | None = None, title: str | None = None) -> Instance:
    """Start the published version of `process_key` and step it to its first wait."""
    return _start(actor, process_key, business_key=business_key, subject=subject, department_id=department_id,
                  data=data, title=title)


def _start(actor: Any, process_key: str, *, business_key: str | None = None, subject: str | None = None,
           department_id: int | None = None, data: dict | None = None, title: str | None = None,
           message: str | None = None) -> Instance:
    """`start`; with `message`, the instance starts on that message (its message start event
    catches it, with `data` as the message's data)."""
    version = registry.published_process_ref(process_key)
    parsed = registry.cached_process(version.checksum, process_key) or \
        registry.load_process(registry.published_process(process_key), process_key)
    data = _plain_data(data)
    workflow = store.new_workflow(parsed)
    if message is None:  # a message's data come with the message
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
    instance = Instance(process_version_id=version.id, process_key=process_key,
                        title=(title or parsed.name)[:200], business_key=business_key, subject=subject,
                        department_id=department_id, status=RUNNING, state="", started_by_id=actor_id(actor),
                        started_at=clock.utcnow())

    def first_steps(run):
        run.event("start", after=data or None, process=process_key, version=version.version,
                  **({"message": message, "key": business_key} if message else {}))
        run.step()
        if message is not None:  # waiting at its message start event now
            if not messages.catch(run, message, data):
                raise ProcessError(_("The process %(key)s does not start on the message %(name)s.",
                                     key=process_key, name=message))
            run.step()
        return run.instance

    return engine.create(instance, workflow, actor, first_steps, parsed=parsed)


# --- completing ----------------------------------------------------------------------------------

def complete(actor: Any, task_id: int, *, data: dict | None = None, outcome: str = APPROVE,
             comment: str | None = None, expected_version: int | None = None) -> Task:
    """Complete a task with its form data and an outcome (approve, reject, submit, …).

    The outcome goes into the data as `outcome` (gateways route on it) and counts in countersigns.
    An unassigned task is claimed by completing it.
    """
    if not isinstance(outcome, str) or not _OUTCOME.match(outcome):
        raise ProcessError(_("Unknown outcome %(outcome)r.", outcome=outcome))
    data = _plain_data(data)

    def act(run):
        task = run.task(task_id)
        check_task_action(actor, task, "complete")
        _check_form(task, data, run)
        spiff = run.spiff(task)
        before = {key: spiff.data.get(key) for key in data}
        finish(run, spiff, task, outcome=outcome, data=data, by=run.actor_id)
        task.comment = comment
        run.event("complete", task=task, comment=comment, before=before or None,
                  after={**data, "outcome": outcome})
        if comment:
            add_comment(actor, run.instance, comment, task=task, check=False)
        run.audit("task.complete", task, f"{task.name}: {outcome}", instance=run.instance.id,
               process=run.instance.process_key, task=task.spec, outcome=outcome)
        run.step()
        return task

    return engine.act_on_task(task_id, actor, act, expected_version=expected_version)


def _check_form(task: Task, data: dict, run: engine.Run | None = None) -> None:
    if not task.form:
        return
    if run is not None and task.id in run.form_checksums:  # read with the task
        form = registry.published_form_def(task.form, checksum=run.form_checksums[task.id])
    else:
        form = registry.published_form_def(task.form)
    if form is None:
        return  # validation refused processes with unknown forms; a retired form no longer binds
    if registry.form_validator(form).is_valid(data):
        return  # the common case, without building the readable messages
    errors = forms.validate(form, data)
    if errors:
        raise FormInvalid(_("The form has errors."), errors)


def reject(actor: Any, task_id: int, comment: str | None = None) -> Instance:
    """驳回: end the whole process as rejected (not a routed "reject" outcome, see `complete`)."""
    def act(run):
        task = run.task(task_id)
        check_task_action(actor, task, "reject")
        task.status, task.outcome, task.comment = TASK_DONE, REJECT, comment
        task.completed_at, task.completed_by_id = run.now, run.actor_id
        task.assignee_id = task.assignee_id or run.actor_id
        run.workflow.cancel()
        run.new_status = REJECTED
        run.event("reject", task=task, comment=comment)
        run.audit("instance.reject", run.instance, f"{task.name}: rejected", task=task.id)
        run.notify([run.instance.started_by_id], "rejected", task, comment or task.name)
        return run.instance

    return engine.act_on_task(task_id, actor, act)


# --- assignment ----------------------------------------------------------------------------------

def _projection_only(actor: Any, task_id: int, action: str, change) -> Task:
    def act(run):
        task = run.task(task_id)
        check_task_action(actor, task, action)
        change(run, task)
        return task

    return engine.act_on_task(task_id, actor, act)


def claim(actor: Any, task_id: int) -> Task:
    def change(run, task):
        task.assignee_id, task.claimed_at = run.actor_id, run.now
        run.event("claim", task=task)

    return _projection_only(actor, task_id, "claim", change)


def unclaim(actor: Any, task_id: int) -> Task:
    def change(run, task):
        task.assignee_id, task.claimed_at = None, None
        run.event("unclaim", task=task)

    return _projection_only(actor, task_id, "unclaim", change)


def _user(user_id: Any) -> int:
    if isinstance(user_id, bool) or not isinstance(user_id, int) and not str(user_id).isdigit():
        raise ProcessError(_("Not a user: %(value)r", value=user_id))
    return int(getattr(user_id, "id", user_id))


def transfer(actor: Any, task_id: int, to_user_id: int, comment: str | None = None) -> Task:
    """转办: the task now belongs to someone else for good."""
    to_user = _user(to_user_id)

    def change(run, task):
        if to_user == task.assignee_id:
            raise Conflict(_("The task is already assigned to that person."))
        before = task.assignee_id
        task.assignee_id, task.owner_id, task.status, task.claimed_at = to_user, None, OPEN, None
        db.session.execute(TaskCandidate.__table__.delete().where(TaskCandidate.task_id == task.id))
        run.event("transfer", task=task, comment=comment, from_user=before, to_user=to_user)
        run.audit("task.transfer", task, f"{task.name}: transferred", from_user=before, to_user=to_user)
        run.notify([to_user], "task_assigned", task, comment or task.name)

    return _projection_only(actor, task_id, "transfer", change)


def delegate(actor: Any, task_id: int, to_user_id: int, comment: str | None = None) -> Task:
    """委派: someone else works on it and gives it back (`resolve_delegation`); the owner completes."""
    to_user = _user(to_user_id)

    def change(run, task):
        if to_user == task.assignee_id:
            raise Conflict(_("You cannot delegate a task to yourself."))
        task.owner_id, task.assignee_id, task.status = task.assignee_id, to_user, DELEGATED
        run.event("delegate", task=task, comment=comment, owner=task.owner_id, delegate=to_user)
        run.audit("task.delegate", task, f"{task.name}: delegated", owner=task.owner_id, delegate=to_user)
        run.notify([to_user], "task_assigned", task, comment or task.name)

    return _projection_only(actor, task_id, "delegate", change)


def resolve_delegation(actor: Any, task_id: int, comment: str | None = None) -> Task:
    def change(run, task):
        delegate_id = task.assignee_id
        task.assignee_id, task.owner_id, task.status = task.owner_id, None, OPEN
        run.event("resolve", task=task, comment=comment, delegate=delegate_id)
        if comment:
            add_comment(actor, run.instance, comment, task=task, check=False)
        run.notify([task.assignee_id], "task_assigned", task, comment or task.name)

    return _projection_only(actor, task_id, "resolve", change)


def copy_to(actor: Any, task_id: int, user_ids: Iterable[int], comment: str | None = None) -> list[TaskCopy]:
    """抄送: let others see the task (listed for them as copies) and tell them."""
    users = list(dict.fromkeys(_user(user) for user in user_ids))
    if not users:
        raise ProcessError(_("Choose whom to send a copy to."))

    def change(run, task):
        copies = [TaskCopy(instance_id=task.instance_id, task_id=task.id, user_id=user, from_user_id=run.actor_id,
                           comment=comment, created_at=run.now) for user in users]
        db.session.add_all(copies)
        run.event("copy", task=task, comment=comment, users=users)
        run.notify(users, "copy", task, comment or task.name)
        return copies

    row = _task(task_id)

    def act(run):
        task = run.task(row.id)
        check_task_action(actor, task, "copy")
        return change(run, task)

    return engine.act(row.instance_id, actor, act)


def urge(actor: Any, task_id: int, comment: str | None = None) -> Task:
    """催办: remind whoever has the task now."""
    def change(run, task):
        task.urged_at = run.now
        people = [task.assignee_id] if task.assignee_id else [c.user_id for c in task.candidates if c.user_id]
        run.event("urge", task=task, comment=comment, users=people)
        run.notify(people, "urge", task, comment or task.name)

    return _projection_only(actor, task_id, "urge", change)


# --- the whole instance --------------------------------------------------------------------------

def suspend(actor: Any, instance_id: int, reason: str | None = None) -> Instance:
    def act(run):
        check_instance_admin(actor, run.instance, "suspend")
        if not run.instance.active or run.instance.suspended:
            raise Conflict(_("Only a running, not suspended process can be suspended."))
        for task in run.open_rows().values():
            task.status = engine.SUSPENDED
        run.suspended = True
        run.event("suspend", comment=reason)
        run.audit("instance.suspend", run.instance, reason or "suspended")
        return run.instance

    return engine.act(_instance(instance_id).id, actor, act)


def resume(actor: Any, instance_id: int, reason: str | None = None) -> Instance:
    def act(run):
        check_instance_admin(actor, run.instance, "resume")
        if not run.instance.suspended:
            raise Conflict(_("The process is not suspended."))
        for task in run.open_rows().values():
            task.status = DELEGATED if task.owner_id else OPEN
        run.suspended = False
        run.event("resume", comment=reason)
        run.audit("instance.resume", run.instance, reason or "resumed")
        return run.instance

    return engine.act(_instance(instance_id).id, actor, act)


def cancel(actor: Any, instance_id: int, reason: str | None = None) -> Instance:
    def act(run):
        check_instance_admin(actor, run.instance, "cancel")
        if not run.instance.active:
            raise Conflict(_("The process has already ended (%(status)s).", status=run.instance.status))
        run.workflow.cancel()
        run.new_status = CANCELLED
        run.event("cancel", comment=reason)
        run.audit("instance.cancel", run.instance, reason or "cancelled")
        return run.instance

    return engine.act(_instance(instance_id).id, actor, act)


def retry(actor: Any, instance_id: int) -> Instance:
    """Run the failed steps of an incident again (after the cause was fixed)."""
    def act(run):
        check_instance_admin(actor, run.instance, "retry")
        if run.instance.status != INCIDENT:
            raise Conflict(_("The process has no incident."))
        failed = run.workflow.get_tasks(state=TaskState.ERROR)
        for task in failed:
            task._set_state(TaskState.READY)
        run.event("retry", comment=run.instance.incident)
        run.step()
        run.audit("instance.retry", run.instance, run.instance.incident or "retried")
        return run.instance

    return engine.act(_instance(instance_id).id, actor, act, background=True)


# --- events from outside -------------------------------------------------------------------------

def send_message(name: str, key: Any, data: dict | None = None) -> int:
    """Deliver a message: to the instances waiting for `name` under correlation `key`, and as a new
    instance (business key `key`) of every published process that starts on `name`. How many
    instances caught or started on it."""
    data = _plain_data(data)
    delivered = messages.send(name, key, data)
    for process_key in messages.started_by(name):
        _start(None, process_key, business_key=None if key is None else str(key)[:120], data=data, message=name)
        delivered += 1
    return delivered


def tick(now: datetime | None = None) -> int:
    """Advance instances whose timers are due (the periodic job calls this)."""
    return timers.tick(now)


# --- reading ---------------------------------------------------------------------------------------

def allowed_actions(actor: Any, task: Task | int) -> list[str]:
    """What the actor may do with the task now (the portal shows only these)."""
    from .rewind import may_withdraw, return_targets

    row = _task(task)
    allowed = [action for action in permissions.ACTIONS
               if action != "withdraw" and permissions.task_allowed(actor, row, action)]
    if "complete" in allowed and row.status == DELEGATED:
        allowed.remove("complete")
    if "return" in allowed and not return_targets(row):
        allowed.remove("return")  # 退回 needs an earlier step to go back to
    if may_withdraw(actor, row):
        allowed.append("withdraw")
    return allowed


def task_data(task_id: int) -> dict:
    """The data a task sees (to prefill its form); {} when the task is no longer waiting."""
    row = _task(task_id)
    instance = _instance(row.instance_id)
    workflow = store.load(instance.state, registry.load_process(instance.process_version))
    task = engine.find_task(workflow, row.spiff_id)
    return dict(task.data) if task is not None else {}


def variables(instance_id: int | Instance) -> dict:
    """The process data as it stands (the latest completed task's data)."""
    instance = _instance(instance_id)
    workflow = store.load(instance.state, registry.load_process(instance.process_version))
    if workflow.is_completed():
        return dict(workflow.data)
    last = workflow.last_task
    return dict(last.data) if last is not None else {}


def open_tasks(instance_id: int) -> list[Task]:
    """The instance's open tasks (rows of the projection), oldest first."""
    return engine.open_tasks(getattr(instance_id, "id", instance_id))
