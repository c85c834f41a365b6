"""Who may see a process record or task in the portal.

Taking part in an instance (the kernel's `is_participant`: applicant, anyone who had a task in it,
its candidates, copy recipients, administrators) lets a user see it; so does a role pool the user
belongs to, and oversight: department heads over their departments' processes, the medical-affairs
office over the whole hospital. Anything else answers 404, so ids reveal nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import abort, g, has_request_context
from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from app.core import scopes
from app.extensions import db
from app.workflow import records
from app.workflow.models import Instance, Task, TaskCandidate

# Roles that watch the processes of their scope (their grant's departments, or the hospital).
OVERSIGHT_ROLES = ("admin", "medaffairs_admin", "medaffairs_staff", "dept_head")


@dataclass(frozen=True)
class Oversight:
    hospital: bool = False
    department_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not self.hospital and not self.department_ids

    def covers(self, department_id: int | None) -> bool:
        return self.hospital or (department_id is not None and department_id in self.department_ids)

    def clause(self, column) -> ColumnElement[bool]:
        if self.hospital:
            return true()
        if self.department_ids:
            return column.in_(sorted(self.department_ids))
        return false()


def _cached(key: str, user, compute):
    if not has_request_context():
        return compute()
    cache = g.setdefault(key, {})
    if user.id not in cache:
        cache[user.id] = compute()
    return cache[user.id]


def oversight(user) -> Oversight:
    if user is None or not getattr(user, "is_authenticated", False):
        return Oversight()

    def compute() -> Oversight:
        departments: set[int] = set()
        for grant in user.grants:
            if grant.role.code not in OVERSIGHT_ROLES:
                continue
            if grant.scope == "hospital":
                return Oversight(hospital=True)
            if grant.scope == "departments":
                departments.update(d.id for d in grant.departments)
        return Oversight(department_ids=frozenset(scopes.descendant_ids(departments)))

    return _cached("_portal_oversight", user, compute)


def role_pools(user) -> list[tuple[str, int | None]]:
    """(role, department or None for any) pools of tasks whose role nobody held when they were
    created, that this user's grants now cover."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []

    def compute() -> list[tuple[str, int | None]]:
        pools: list[tuple[str, int | None]] = []
        own_department = user.staff.department_id if getattr(user, "staff", None) else None
        for grant in user.grants:
            code = grant.role.code
            if grant.scope == "hospital":
                pools.append((code, None))
            elif grant.scope == "departments":
                ids = scopes.descendant_ids({d.id for d in grant.departments})
                pools.extend((code, dept) for dept in sorted(ids))
            elif own_department is not None:
                pools.append((code, own_department))
        return list(dict.fromkeys(pools))

    return _cached("_portal_pools", user, compute)


def pool_clause(pools: list[tuple[str, int | None]]) -> ColumnElement[bool]:
    """Candidate rows of role pools (no user) matching `pools`."""
    if not pools:
        return false()
    anywhere = sorted({role for role, dept in pools if dept is None})
    by_role: dict[str, list[int]] = {}
    for role, dept in pools:
        if dept is not None and role not in anywhere:
            by_role.setdefault(role, []).append(dept)
    parts = []
    if anywhere:
        parts.append(TaskCandidate.role.in_(anywhere))
    parts += [and_(TaskCandidate.role == role, TaskCandidate.department_id.in_(depts))
              for role, depts in by_role.items()]
    return and_(TaskCandidate.user_id.is_(None), or_(*parts))


def can_view_instance(user, instance: Instance) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if oversight(user).covers(instance.department_id):
        return True
    if records.is_participant(user, instance):
        return True
    pools = role_pools(user)
    if not pools:
        return False
    return bool(db.session.scalar(select(exists().where(
        TaskCandidate.task_id.in_(select(Task.id).where(Task.instance_id == instance.id)),
        pool_clause(pools)))))


def get_instance(user, instance_id: int) -> Instance:
    """The instance if `user` may see it, else 404."""
    instance = db.session.get(Instance, instance_id)
    if instance is None or not can_view_instance(user, instance):
        abort(404)
    return instance


def get_task(user, task_id: int) -> Task:
    """The task if `user` may see its instance, else 404."""
    task = db.session.get(Task, task_id)
    if task is None or not can_view_instance(user, task.instance):
        abort(404)
    return task
