"""The human-task projection: `wf_task` rows for the READY user tasks of a workflow.

After every engine step the open rows are compared with the workflow's READY manual tasks: rows
whose task went away are closed (and lose their candidate rows, so the candidate table only ever
holds open tasks and stays small), new READY tasks get a row with their assignee or candidates
resolved in the instance's context.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from app.extensions import db

from . import assignment, clock
from .extensions import DEFAULT_OUTCOME_VARIABLE, NodeExt
from .models import OPEN, OPEN_STATUSES, TASK_DONE, Task, TaskCandidate
from .scripting import evaluate, is_iso_timer_literal
from .specs import APPROVE, OUTCOME_KEY

BY_KEY = "mt_by"  # internal data of a completed user task: who completed it


def sync(run) -> list[Task]:
    workflow = run.workflow
    ready = {str(task.id): task for task in workflow.get_tasks(state=TaskState.READY, manual=True)}
    rows = run.open_rows()
    closed: list[Task] = []
    for spiff_id, row in list(rows.items()):
        if spiff_id in ready:
            continue
        if row.status in (*OPEN_STATUSES, "suspended"):
            row.status, row.completed_at = run.close_status, run.now
        closed.append(row)
        run.closed_rows[spiff_id] = row
        del rows[spiff_id]
    from .engine import DELETE_CANDIDATES, execute, has_candidates

    flushed = [row.id for row in closed if row.id is not None and has_candidates(row)]
    for row in closed:
        if row.id is None:
            row.candidates.clear()
    if flushed:
        execute(DELETE_CANDIDATES, {"task_ids": flushed})
    return [_new_row(run, task) for spiff_id, task in ready.items() if spiff_id not in rows]


def _new_row(run, task) -> Task:
    spec = task.task_spec
    node: NodeExt | None = run.parsed.node(getattr(spec, "bpmn_id", None))
    roles = node.effective_roles if node else []
    assignee, candidates = _assign(run, node, task, roles)
    parent = task.parent
    instance = run.instance
    from .engine import new_task_row

    row = new_task_row(
        instance_id=instance.id, spiff_id=str(task.id), spec=spec.bpmn_id or spec.name,
        name=spec.bpmn_name or spec.bpmn_id or spec.name, process_key=instance.process_key,
        form=node.form if node else None, role=roles[0] if roles else None,
        department_id=instance.department_id, assignee_id=assignee, status=OPEN,
        countersign_of=str(parent.id) if parent is not None and isinstance(parent.task_spec, MultiInstanceTask)
        else None, due_at=_due(run, node, task), created_at=run.now)
    pool = [TaskCandidate(user_id=user_id, role=None, department_id=None) for user_id in candidates]
    if assignee is None:
        # The role pool too, so that someone granted the role after the task was created finds and
        # claims it: for roles resolved by their grants (the default resolver), and for any role
        # nobody was resolved for.
        own = assignment.resolver_roles()
        pool += [TaskCandidate(user_id=None, role=role, department_id=instance.department_id) for role in roles
                 if not candidates or role not in own]
    row.candidates.extend(pool)
    run.new_rows.append(row)  # written by `Run.save` (one INSERT for the rows, one for the candidates)
    run.open_rows()[row.spiff_id] = row
    run.notify([assignee] if assignee else candidates, "task_assigned", row, row.name)
    return row


def _assign(run, node: NodeExt | None, task, roles: list[str]) -> tuple[int | None, list[int]]:
    override = run.assign_override.get(getattr(task.task_spec, "bpmn_id", None))
    if override is not None:
        return override, []
    if node is None:
        return None, []
    named = assignment.evaluate_users(node.assignee, task.data) if node.assignee else []
    if len(named) == 1:
        return named[0], []
    candidates = list(named)
    if node.candidates:
        candidates += assignment.evaluate_users(node.candidates, task.data)
    instance = run.instance
    for role in roles:
        context = assignment.AssignmentContext(
            role=role, instance_id=instance.id, process_key=instance.process_key,
            business_key=instance.business_key, subject=instance.subject, department_id=instance.department_id,
            started_by_id=instance.started_by_id, task=node.id, data=task.data)
        candidates += assignment.resolve_role(role, context)
    candidates = list(dict.fromkeys(candidates))
    if len(candidates) == 1 and not node.candidates:
        return candidates[0], []
    return None, candidates


def _due(run, node: NodeExt | None, task) -> datetime | None:
    if node is not None and node.due:
        value: Any = node.due if is_iso_timer_literal(node.due) else evaluate(node.due, task.data)
        return _as_due(value, run.now)
    # Otherwise: when an interrupting timer on the task (or on its multi-instance parent) fires.
    holder = task.parent if task.parent is not None and isinstance(task.parent.task_spec, MultiInstanceTask) else task
    split = holder.parent
    if split is None or not isinstance(split.task_spec, BoundaryEventSplit):
        return None
    dues = []
    for sibling in split.children:
        definition = getattr(sibling.task_spec, "event_definition", None)
        if sibling is holder or not isinstance(definition, TimerEventDefinition):
            continue
        if getattr(sibling.task_spec, "cancel_activity", False):
            due = event_due(sibling)
            if due is not None:
                dues.append(due)
    return min(dues) if dues else None


def _as_due(value: Any, now: datetime) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, timedelta):
        return now + value
    if isinstance(value, datetime):
        return clock.to_naive_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    if text.upper().startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
    return clock.to_naive_utc(TimerEventDefinition.get_datetime(text))


def event_due(task) -> datetime | None:
    """When a waiting timer event fires (naive UTC), from the value SpiffWorkflow stored."""
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):  # cycle timers
        if value.get("cycles", 0) == 0:
            return None
        value = value.get("next")
    if not isinstance(value, str):
        return None
    try:
        return clock.to_naive_utc(TimerEventDefinition.get_datetime(value))
    except ValueError:
        return None


def finish(run, task, row: Task | None, *, outcome: str, data: dict | None, by: int | None) -> None:
    """Complete a READY user task in the engine (the caller steps afterwards)."""
    if data:
        task.data.update(data)
    task.data[DEFAULT_OUTCOME_VARIABLE] = outcome
    task.internal_data[OUTCOME_KEY] = outcome
    task.internal_data[BY_KEY] = by
    task.run()
    if row is not None:
        row.status, row.outcome = TASK_DONE, outcome
        row.completed_at, row.completed_by_id = run.now, by
        if row.assignee_id is None:  # completed straight from the pool: claimed by completing
            row.assignee_id, row.claimed_at = by, run.now


def auto_skip(run, created: list[Task]) -> bool:
    """Complete new tasks whose process skips approvers who already approved (mt:skipIfApproved)."""
    from .engine import find_task

    flagged = []
    for row in created:
        node = run.parsed.node(row.spec)
        if (node is not None and node.skip_if_approved) or run.parsed.ext.skip_approved:
            flagged.append(row)
    if not flagged:
        return False
    run.write_rows()  # the approvals of this unit of work count too
    approvers = set(db.session.scalars(select(Task.completed_by_id).where(
        Task.instance_id == run.instance.id, Task.outcome == APPROVE, Task.status == TASK_DONE)))
    skipped = False
    for row in flagged:
        people = [row.assignee_id] if row.assignee_id else [c.user_id for c in row.candidates if c.user_id]
        who = next((user for user in people if user in approvers), None)
        if who is None:
            continue
        task = find_task(run.workflow, row.spiff_id)
        finish(run, task, row, outcome=APPROVE, data=None, by=who)
        row.comment = "skipped: already approved earlier in this process"
        run.event("auto_approve", task=row, reason="already approved", user_id=who)
        skipped = True
    return skipped
