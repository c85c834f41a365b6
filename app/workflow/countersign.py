"""加签/减签: adding and removing signers of a running countersign (multi-instance user task).

The signers are the multi-instance input collection (a list of user ids, e.g. chosen by a DMN
decision). Adding appends to it and creates the new signer's task (parallel) or queues it
(sequential). Removing drops signers who have not signed yet; if the remaining ones have all
signed — or the policy is now met — the countersign completes with the outcome the policy gives.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import SequentialMultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from app.extensions import db

from . import engine
from .errors import Conflict, NotFound, ProcessError
from .models import OPEN_STATUSES, TASK_CANCELLED, Task
from .permissions import check_task_action
from .specs import Policy, counters


def _users(user_ids: Iterable[Any]) -> list[int]:
    users = []
    for user in user_ids:
        if isinstance(user, bool) or not str(user).isdigit():
            raise ProcessError(_("Not a user: %(value)r", value=user))
        users.append(int(user))
    if not users:
        raise ProcessError(_("Choose at least one signer."))
    return list(dict.fromkeys(users))


def _countersign(run, task: Task):
    child = run.spiff(task)
    parent = child.parent
    spec = parent.task_spec
    if getattr(spec, "data_input", None) is None or getattr(spec, "input_item", None) is None:
        raise Conflict(_("The signers of this countersign are a fixed number, not a list of people."))
    collection = spec.data_input.get(parent)
    if not isinstance(collection, list):
        raise Conflict(_("The signers of this countersign are not a list."))
    return parent, spec, collection


def _item(spec, child):
    return spec.input_item.get(child) if spec.input_item.exists(child) else child.internal_data.get("item")


def _signers(parent, spec, collection: list) -> list[Any]:
    signers = [_item(spec, child) for child in spec._instances(parent) if not child.has_state(TaskState.CANCELLED)]
    if isinstance(spec, SequentialMultiInstanceTask):
        signers += [collection[index] for index in parent.internal_data.get("remaining", [])]
    return signers


def add_signers(actor: Any, task_id: int, user_ids: Iterable[int]) -> list[Task]:
    """加签: add people to the countersign this task belongs to; returns the new open tasks."""
    users = _users(user_ids)
    row = db.session.get(Task, task_id)
    if row is None:
        raise NotFound(_("No such task."))

    def act(run):
        task = run.task(row.id)
        check_task_action(actor, task, "add_signers")
        parent, spec, collection = _countersign(run, task)
        present = set(_signers(parent, spec, collection))
        new = [user for user in users if user not in present]
        if not new:
            raise Conflict(_("They are already signers."))
        for user in new:
            collection.append(user)
            if isinstance(spec, SequentialMultiInstanceTask):
                parent.internal_data.setdefault("remaining", []).append(len(collection) - 1)
            else:
                spec.create_child(parent, user, len(collection) - 1)
        # Running signers hold a copy of the list; merging a copy back trims the parent's list to
        # its length (SpiffWorkflow's DeepMerge), which would lose the new signers.
        for child in spec._instances(parent):
            copy = spec.data_input.get(child) if spec.data_input.exists(child) else None
            if isinstance(copy, list) and copy is not collection and not child.has_state(TaskState.FINISHED_MASK):
                copy[:] = collection
        run.event("add_signers", task=task, users=new)
        run.audit("task.add_signers", task, f"{task.name}: +{new}", instance=run.instance.id, users=new)
        before = set(run.open_rows())
        run.step()
        return [r for key, r in run.open_rows().items() if key not in before]

    return engine.act(row.instance_id, actor, act)


def remove_signers(actor: Any, task_id: int, user_ids: Iterable[int]) -> None:
    """减签: remove people who have not signed yet."""
    users = set(_users(user_ids))
    row = db.session.get(Task, task_id)
    if row is None:
        raise NotFound(_("No such task."))

    def act(run):
        task = run.task(row.id)
        check_task_action(actor, task, "remove_signers")
        parent, spec, collection = _countersign(run, task)
        children = [c for c in spec._instances(parent) if not c.has_state(TaskState.CANCELLED)]
        signed = [_item(spec, c) for c in children if c.has_state(TaskState.COMPLETED) and _item(spec, c) in users]
        if signed:
            raise Conflict(_("%(users)s already signed.", users=", ".join(map(str, signed))))
        present = _signers(parent, spec, collection)
        if not users & set(present):
            raise Conflict(_("They are not signers of this countersign."))
        if not [signer for signer in present if signer not in users]:
            raise Conflict(_("At least one signer must remain."))
        dropped = [c for c in children if not c.has_state(TaskState.FINISHED_MASK) and _item(spec, c) in users]
        if isinstance(spec, SequentialMultiInstanceTask):
            parent.internal_data["remaining"] = [index for index in parent.internal_data.get("remaining", [])
                                                 if collection[index] not in users]
        for child in dropped:
            open_row = run.open_rows().get(str(child.id))
            if open_row is not None and open_row.status in OPEN_STATUSES:
                open_row.status, open_row.outcome, open_row.completed_at = TASK_CANCELLED, "removed", run.now
            run.workflow._remove_task(child.id)
        if dropped and isinstance(spec, SequentialMultiInstanceTask) and parent.internal_data.get("remaining"):
            spec.add_next_child(parent)
        _complete_if_decided(run, parent, spec)
        run.event("remove_signers", task=task, users=sorted(users))
        run.audit("task.remove_signers", task, f"{task.name}: -{sorted(users)}", instance=run.instance.id,
                  users=sorted(users))
        run.step()

    engine.act(row.instance_id, actor, act)


def _complete_if_decided(run, parent, spec) -> None:
    """After removing signers: finish the countersign when everyone left has signed or the policy is met."""
    policy: Policy | None = getattr(spec, "policy", None)
    values = counters(spec, parent, policy)
    running = [c for c in spec._instances(parent) if not c.has_state(TaskState.FINISHED_MASK)]
    queued = parent.internal_data.get("remaining", []) if isinstance(spec, SequentialMultiInstanceTask) else []
    decided = not running and not queued
    if not decided and spec.condition and values["completed"]:
        decided = bool(run.workflow.script_engine.environment.evaluate(spec.condition, {**parent.data, **values}))
    if not decided:
        return
    for child in running:
        child.cancel()
    result_variable = getattr(spec, "result_variable", None)
    if result_variable:
        parent.data[result_variable] = (policy or Policy("all")).outcome(values["approved"], values["total"])
    parent._set_state(TaskState.READY)
