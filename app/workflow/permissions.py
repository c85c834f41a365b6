"""Who may do what to a task or an instance, and `allowed_actions` for the portal.

The kernel only uses an actor's `.id`; whether someone is an administrator is asked of the checks
that modules register (accounts registers "holds the admin role"). Every runtime call goes through
`require`, so a page that shows a button the actor may not press still cannot make it work.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, or_, select

from app.extensions import db

from .errors import Conflict, PermissionDenied
from .models import ACTIVE_STATUSES, DELEGATED, OPEN, OPEN_STATUSES, Instance, Task, TaskCandidate

_admin_checks: list[Callable[[Any], bool]] = []

# The order the portal shows buttons in.
ACTIONS = ("complete", "reject", "claim", "unclaim", "transfer", "delegate", "resolve", "return",
           "add_signers", "remove_signers", "copy", "urge", "withdraw")


def register_admin_check(fn: Callable[[Any], bool]) -> None:
    """`fn(actor) -> bool`: True when the actor administers processes (may transfer, suspend, …)."""
    if fn not in _admin_checks:
        _admin_checks.append(fn)


_author_checks: dict[str, list[Callable[[Any], bool]]] = {}


def register_author_check(kind: str, fn: Callable[[Any], bool]) -> None:
    """`fn(actor) -> bool`: True when the actor may draft and publish versions of `kind`
    ("process", "decision", "form") besides administrators — e.g. rule authors for decisions."""
    checks = _author_checks.setdefault(kind, [])
    if fn not in checks:
        checks.append(fn)


def may_author(actor: Any, kind: str) -> bool:
    return is_admin(actor) or (actor is not None and any(check(actor) for check in _author_checks.get(kind, ())))


def actor_id(actor: Any) -> int | None:
    return getattr(actor, "id", None) if actor is not None else None


def is_admin(actor: Any) -> bool:
    return actor is not None and any(check(actor) for check in _admin_checks)


_CANDIDATE_ROWS = select(TaskCandidate.user_id, TaskCandidate.role, TaskCandidate.department_id).where(
    TaskCandidate.task_id == bindparam("task_id"),
    or_(TaskCandidate.user_id == bindparam("user_id"), TaskCandidate.user_id.is_(None)))


def is_candidate(task: Task, user_id: int | None) -> bool:
    """Named as a candidate, or in one of the task's role pools (holding the role for the task's
    department now, also when granted after the task was created)."""
    if user_id is None or task.id is None:
        return False
    rows = db.session.execute(_CANDIDATE_ROWS, {"task_id": task.id, "user_id": user_id}).all()
    if any(row.user_id == user_id for row in rows):
        return True
    pools = [(row.role, row.department_id) for row in rows if row.role]
    if not pools:
        return False
    from .assignment import AssignmentContext, in_pool

    instance = task.instance
    context = AssignmentContext(
        role="", instance_id=instance.id, process_key=instance.process_key, business_key=instance.business_key,
        subject=instance.subject, department_id=instance.department_id, started_by_id=instance.started_by_id,
        task=task.spec, data={})
    return any(in_pool(user_id, role, department_id, context) for role, department_id in pools)


def may_act(task: Task, user_id: int | None) -> bool:
    """The assignee, or a candidate of an unassigned task (completing claims it)."""
    if user_id is None or not task.is_open:
        return False
    if task.assignee_id is not None:
        return task.assignee_id == user_id
    return is_candidate(task, user_id)


def check_task_action(actor: Any, task: Task, action: str) -> None:
    """Raise PermissionDenied (not allowed for this actor) or Conflict (not possible now)."""
    reason = _refusal(actor, task, action)
    if reason is not None:
        raise reason


def _refusal(actor: Any, task: Task, action: str) -> Exception | None:
    uid = actor_id(actor)
    instance = task.instance
    admin = functools.cache(lambda: is_admin(actor))  # asked only when the answer matters
    if action == "withdraw":
        return None  # checked against the history by the runtime
    if not task.is_open:
        return Conflict(_("The task is already %(status)s.", status=task.status))
    if instance.status not in ACTIVE_STATUSES:
        return Conflict(_("The process is %(status)s.", status=instance.status))
    if instance.suspended and action not in ("copy",):
        return Conflict(_("The process is suspended."))
    mine = task.assignee_id is not None and task.assignee_id == uid
    if action in ("complete", "reject", "return"):
        if task.status == DELEGATED:
            return Conflict(_("The task is delegated: the delegate resolves it, then its owner completes it.")) \
                if mine or task.owner_id == uid else PermissionDenied(_("You may not act on this task."))
        return None if may_act(task, uid) else PermissionDenied(_("You may not act on this task."))
    if action == "claim":
        if task.assignee_id is not None:
            return Conflict(_("The task is already claimed.")) if is_candidate(task, uid) or mine \
                else PermissionDenied(_("You are not a candidate for this task."))
        return None if is_candidate(task, uid) else PermissionDenied(_("You are not a candidate for this task."))
    if action == "unclaim":
        if not mine:
            return PermissionDenied(_("Only the assignee can give the task back."))
        return None if task.status == OPEN and task.claimed_at is not None else \
            Conflict(_("The task was assigned, not claimed from a pool."))
    if action == "transfer":
        if task.status == DELEGATED and not admin():
            return Conflict(_("The task is delegated; resolve the delegation first."))
        return None if mine or admin() or (task.assignee_id is None and is_candidate(task, uid)) \
            else PermissionDenied(_("Only the assignee or an administrator can transfer the task."))
    if action == "delegate":
        if not mine:
            return PermissionDenied(_("Only the assignee can delegate the task."))
        return Conflict(_("The task is already delegated.")) if task.status == DELEGATED else None
    if action == "resolve":
        if task.status != DELEGATED:
            return Conflict(_("The task is not delegated."))
        return None if mine else PermissionDenied(_("Only the delegate can resolve the delegation."))
    if action in ("add_signers", "remove_signers"):
        if task.countersign_of is None:
            return Conflict(_("The task is not part of a countersign."))
        return None if mine or admin() else PermissionDenied(_("Only a signer or an administrator can change signers."))
    if action == "copy":
        return None if mine or admin() or instance.started_by_id == uid or may_act(task, uid) \
            else PermissionDenied(_("You may not copy this task."))
    if action == "urge":
        return None if admin() or (uid is not None and instance.started_by_id == uid) \
            else PermissionDenied(_("Only the applicant or an administrator can urge."))
    return PermissionDenied(_("Unknown action %(action)s.", action=action))


def check_instance_admin(actor: Any, instance: Instance, action: str) -> None:
    """suspend / resume / retry: administrators; cancel: administrators and the applicant."""
    if action == "cancel" and actor_id(actor) is not None and instance.started_by_id == actor_id(actor):
        return
    if not is_admin(actor):
        raise PermissionDenied(_("Only an administrator can %(action)s a process.", action=action))


def task_allowed(actor: Any, task: Task, action: str) -> bool:
    return _refusal(actor, task, action) is None


def open_statuses() -> tuple[str, ...]:
    return OPEN_STATUSES
