"""What our task specs do when the engine runs them: operations, decisions, timeouts."""
from __future__ import annotations

from collections.abc import Mapping

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent

from app.extensions import db

from . import decisions, operations
from .errors import ProcessError
from .extensions import DEFAULT_OUTCOME_VARIABLE, NodeExt
from .models import OPEN_STATUSES, TASK_DONE
from .scripting import evaluate
from .specs import APPROVE, REJECT


def _node(run, my_task) -> NodeExt:
    node = run.parsed.node(my_task.task_spec.bpmn_id)
    if node is None:
        raise ProcessError(f"{my_task.task_spec.name}: no settings found for this task")
    return node


def run_operation(run, my_task) -> None:
    node = _node(run, my_task)
    params = {name: evaluate(expression, my_task.data) for name, expression in node.params.items()}
    instance = run.instance
    context = operations.OperationContext(
        instance_id=instance.id, process_key=instance.process_key, business_key=instance.business_key,
        subject=instance.subject, department_id=instance.department_id, started_by_id=instance.started_by_id,
        task=node.id, actor_id=run.actor_id, data=dict(my_task.data))
    # Its own savepoint: a failing operation leaves none of its writes behind, the instance's
    # transaction goes on (to record the incident).
    with db.session.begin_nested():
        result = operations.call(node.operation, context, params)
    if node.result_variable:
        my_task.data[node.result_variable] = result
    elif isinstance(result, Mapping):
        my_task.data.update(result)
    run.event("operation", operation=node.operation, step=node.id)


def run_decision(run, my_task) -> None:
    node = _node(run, my_task)
    decisions.run_for_task(node, my_task.data, instance_id=run.instance.id, spiff_task_id=str(my_task.id))


def boundary_fired(run, my_task, node: NodeExt) -> None:
    attached = next((sibling for sibling in my_task.parent.children
                     if sibling is not my_task and not isinstance(sibling.task_spec, BoundaryEvent)), None)
    if node.timeout_action in ("approve", "reject"):
        # The path after an auto-approving timeout reads the outcome like after a decision.
        my_task.data[DEFAULT_OUTCOME_VARIABLE] = APPROVE if node.timeout_action == "approve" else REJECT
    run.effects.append((node.timeout_action, str(attached.id) if attached is not None else None))


def apply_effects(run) -> None:
    """After the step: timeouts of user tasks become task outcomes, reminders and escalations."""
    for action, attached_id in run.effects:
        if attached_id is None:
            continue
        rows = [row for row in (*run.open_rows().values(), *run.closed_rows.values())
                if row.spiff_id == attached_id or row.countersign_of == attached_id]
        if action in ("approve", "reject"):
            outcome = APPROVE if action == "approve" else REJECT
            for row in rows:
                if row.status not in OPEN_STATUSES and row.completed_by_id is None and row.outcome is None:
                    row.status, row.outcome, row.completed_at = TASK_DONE, outcome, run.now
                    row.comment = "timed out"
                    run.event(f"timeout_{action}", task=row)
            continue
        people = set()
        for row in rows:
            if row.status in OPEN_STATUSES:
                people.update([row.assignee_id] if row.assignee_id else
                              [c.user_id for c in row.candidates if c.user_id])
                run.event(action, task=row)
        for row in rows[:1]:
            run.notify(sorted(people), "remind" if action == "remind" else "escalate", row, row.name)
    run.effects.clear()
