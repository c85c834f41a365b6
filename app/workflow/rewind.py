"""Going back: 退回 (return to an earlier step) and 撤回 (withdraw before the next step acted)."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from app.extensions import db

from . import engine
from .errors import Conflict, NotFound, PermissionDenied
from .models import ACTIVE_STATUSES, TASK_DONE, TASK_RETURNED, TASK_WITHDRAWN, WITHDRAWN, Instance, Task
from .permissions import actor_id, check_task_action
from .projection import BY_KEY

RETURN_COMMENT = "return_comment"  # process data: why the task came back


def _earlier(current, target: str):
    """The nearest completed ancestor task of `current` that is the user task `target` (id or name)."""
    task = current.parent
    while task is not None:
        spec = task.task_spec
        if task.has_state(TaskState.COMPLETED) and spec.manual and \
                target in (getattr(spec, "bpmn_id", None), getattr(spec, "bpmn_name", None), spec.name):
            return task
        task = task.parent
    return None


def return_to(actor: Any, task_id: int, target_task_spec_name: str, comment: str | None = None) -> Instance:
    """退回: send the process back to an earlier user step (to whoever did it then)."""
    row = db.session.get(Task, task_id)
    if row is None:
        raise NotFound(_("No such task."))

    def act(run):
        task = run.task(row.id)
        check_task_action(actor, task, "return")
        current = run.spiff(task)
        target = _earlier(current, target_task_spec_name)
        if target is None or isinstance(target.parent.task_spec, MultiInstanceTask):
            raise Conflict(_("There is no earlier step '%(step)s' to return to.", step=target_task_spec_name))
        data = dict(current.data)
        data[RETURN_COMMENT] = comment
        task.status, task.outcome, task.comment = TASK_RETURNED, "return", comment
        task.completed_at, task.completed_by_id = run.now, run.actor_id
        by = target.internal_data.get(BY_KEY)
        if by is not None:
            run.assign_override[target.task_spec.bpmn_id] = by
        run.workflow.reset_from_task_id(target.id, data=data)
        run.event("return", task=task, comment=comment, target=target.task_spec.bpmn_id)
        run.audit("task.return", task, f"{task.name}: returned to "
                  f"{target.task_spec.bpmn_name or target.task_spec.bpmn_id}", instance=run.instance.id,
                  target=target.task_spec.bpmn_id)
        run.step()
        for new in run.open_rows().values():
            if new.spec == target.task_spec.bpmn_id and new.assignee_id:
                run.notify([new.assignee_id], "returned", new, comment or new.name)
        return run.instance

    return engine.act(row.instance_id, actor, act)


def return_targets(task: Task) -> list[tuple[str, str]]:
    """(BPMN id, name) of the earlier user steps an open task could be returned to, from the task
    projection (no workflow is loaded): steps of the instance completed before this task was
    created, other than this step itself and the signers of a countersign. `return_to` checks the
    chosen one against the workflow."""
    rows = db.session.execute(select(Task.spec, Task.name).where(
        Task.instance_id == task.instance_id, Task.status == TASK_DONE, Task.countersign_of.is_(None),
        Task.spec != task.spec, Task.completed_at <= task.created_at)
        .order_by(Task.completed_at, Task.id))
    return list(dict.fromkeys((row.spec, row.name) for row in rows))


def _target(target: Any) -> tuple[int, int | None]:
    """(instance id, task id or None) from an Instance, a Task, "task:<id>", "instance:<id>" or an
    instance id."""
    if isinstance(target, Task):
        return target.instance_id, target.id
    if isinstance(target, Instance):
        return target.id, None
    if isinstance(target, str) and ":" in target:
        kind, _sep, ident = target.partition(":")
        if kind == "task" and ident.isdigit():
            row = db.session.get(Task, int(ident))
            if row is None:
                raise NotFound(_("No such task."))
            return row.instance_id, row.id
        if kind == "instance" and ident.isdigit():
            return int(ident), None
        raise NotFound(_("Nothing to withdraw."))
    return int(target), None


def _latest_done(instance_id: int, user_id: int) -> Task | None:
    return db.session.scalar(select(Task).where(
        Task.instance_id == instance_id, Task.completed_by_id == user_id, Task.status == TASK_DONE)
        .order_by(Task.completed_at.desc(), Task.id.desc()).limit(1))


def _acted_after(instance_id: int, done: Task | None) -> bool:
    stmt = select(Task.id).where(Task.instance_id == instance_id, Task.status == TASK_DONE)
    if done is not None:
        stmt = stmt.where(Task.id != done.id, Task.completed_at >= done.completed_at)
    return db.session.scalar(stmt.limit(1)) is not None


def withdraw(actor: Any, target: Any, comment: str | None = None) -> Instance:
    """撤回: take back your last step while the next step has not acted yet.

    `target` is the instance (an Instance, "instance:<id>" or its id) — then the actor's latest step
    in it, or, for the applicant before anyone acted, the whole application — or a step the actor
    completed (a Task or "task:<id>").
    """
    instance_id, task_id = _target(target)

    def act(run):
        uid = run.actor_id
        if uid is None:
            raise PermissionDenied(_("Only a person can withdraw."))
        if run.instance.status not in ACTIVE_STATUSES or run.instance.suspended:
            raise Conflict(_("The process is %(status)s.", status=run.instance.status))
        if task_id is not None:
            done = run.task(task_id)
            if done.completed_by_id != uid or done.status != TASK_DONE:
                raise PermissionDenied(_("You can only withdraw a step you completed."))
        else:
            done = _latest_done(run.instance.id, uid)
        if done is None and run.instance.started_by_id != uid:
            raise PermissionDenied(_("You have nothing to withdraw in this process."))
        if _acted_after(run.instance.id, done):
            raise Conflict(_("The next step has already acted; ask for the task to be returned instead."))
        run.close_status = TASK_WITHDRAWN
        if done is None:
            run.workflow.cancel()
            run.new_status = WITHDRAWN
            run.event("withdraw", comment=comment)
            run.audit("instance.withdraw", run.instance, comment or "withdrawn")
            return run.instance
        spiff = engine.find_task(run.workflow, done.spiff_id)
        if spiff is None or not spiff.has_state(TaskState.COMPLETED) or \
                isinstance(spiff.parent.task_spec, MultiInstanceTask):
            raise Conflict(_("This step can no longer be withdrawn."))
        done.status = TASK_WITHDRAWN
        run.assign_override[spiff.task_spec.bpmn_id] = uid
        run.workflow.reset_from_task_id(spiff.id, data=dict(spiff.data))
        run.event("withdraw", task=done, comment=comment)
        run.audit("task.withdraw", done, comment or f"{done.name}: withdrawn", instance=run.instance.id)
        run.step()
        return run.instance

    return engine.act(instance_id, actor, act)


def may_withdraw(actor: Any, open_task: Task) -> bool:
    """For the portal: can the actor withdraw the step that led to this open task?"""
    uid = actor_id(actor)
    instance = open_task.instance
    if uid is None or instance.status not in ACTIVE_STATUSES or instance.suspended:
        return False
    done = _latest_done(instance.id, uid)
    if done is None:
        return instance.started_by_id == uid and not _acted_after(instance.id, None)
    return not _acted_after(instance.id, done) and done.countersign_of is None
