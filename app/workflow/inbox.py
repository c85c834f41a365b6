"""Inbox queries: read the task projection only, never a workflow.

A user's open tasks are those assigned to them (index assignee+status) plus the unassigned ones
they are a candidate for (the candidate table holds open tasks only, indexed by user); the two
are combined with UNION ALL so each side uses its own index, whatever the size of the table.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, func, or_, select, union_all
from sqlalchemy.orm import aliased

from app.extensions import db

from .models import OPEN, OPEN_STATUSES, TASK_DONE, Instance, Task, TaskCandidate, TaskCopy


def _open_for(user_id: int, roles: Iterable[tuple[str, int | None]] = ()):
    assigned = select(Task).where(Task.assignee_id == user_id, Task.status.in_(OPEN_STATUSES))
    pooled = (select(Task).join(TaskCandidate, TaskCandidate.task_id == Task.id)
              .where(TaskCandidate.user_id == user_id, Task.assignee_id.is_(None), Task.status == OPEN))
    parts = [assigned, pooled]
    role_filters = [and_(TaskCandidate.role == role, TaskCandidate.department_id == dept) if dept is not None
                    else TaskCandidate.role == role for role, dept in roles]
    if role_filters:
        # Pools of roles nobody held when the task was created (the caller says which roles the user has).
        parts.append(select(Task).join(TaskCandidate, TaskCandidate.task_id == Task.id)
                     .where(or_(*role_filters), TaskCandidate.user_id.is_(None), Task.assignee_id.is_(None),
                            Task.status == OPEN))
    return union_all(*parts).subquery()


def inbox(user_id: int, *, limit: int = 50, offset: int = 0,
          roles: Iterable[tuple[str, int | None]] = ()) -> list[Task]:
    """Open tasks of a user, newest first. `roles`: (role, department or None) pools to include."""
    sub = _open_for(user_id, list(roles))
    task = aliased(Task, sub)
    return list(db.session.scalars(select(task).order_by(sub.c.created_at.desc(), sub.c.id.desc())
                                   .limit(limit).offset(offset)))


def inbox_count(user_id: int, roles: Iterable[tuple[str, int | None]] = ()) -> int:
    sub = _open_for(user_id, list(roles))
    return db.session.scalar(select(func.count()).select_from(sub)) or 0


def done(user_id: int, *, limit: int = 50, offset: int = 0) -> list[Task]:
    """Tasks the user completed, latest first."""
    return list(db.session.scalars(select(Task).where(Task.completed_by_id == user_id, Task.status == TASK_DONE)
                                   .order_by(Task.completed_at.desc(), Task.id.desc()).limit(limit).offset(offset)))


def started(user_id: int, *, limit: int = 50, offset: int = 0) -> list[Instance]:
    """Processes the user started (我的申请), latest first."""
    return list(db.session.scalars(select(Instance).where(Instance.started_by_id == user_id)
                                   .order_by(Instance.started_at.desc(), Instance.id.desc())
                                   .limit(limit).offset(offset)))


def copies(user_id: int, *, unread_only: bool = False, limit: int = 50) -> list[TaskCopy]:
    stmt = select(TaskCopy).where(TaskCopy.user_id == user_id)
    if unread_only:
        stmt = stmt.where(TaskCopy.read_at.is_(None))
    return list(db.session.scalars(stmt.order_by(TaskCopy.id.desc()).limit(limit)))
