"""Rights and data scopes: who may do what, and which rows they may see.

A role grant carries a scope (self, a set of departments, the whole hospital). For a permission,
a user's reach is the union of the scopes of the grants whose role holds that permission.
`scope_filter(user, kind)` turns (user, kind of record) into a SQL filter; every list, detail,
export and API uses it, so a record outside scope answers 404 and an action without the right 403.
Modules register their kinds with `register_kind`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps
from typing import Any
from collections.abc import Callable

from flask import abort, g, has_request_context
from flask_login import current_user
from sqlalchemy import false, select, true
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db


@dataclass(frozen=True)
class Reach:
    """What one permission lets a user see."""

    hospital: bool = False
    department_ids: frozenset[int] = field(default_factory=frozenset)
    staff_id: int | None = None  # set when a "self" grant applies

    @property
    def empty(self) -> bool:
        return not self.hospital and not self.department_ids and self.staff_id is None


@dataclass(frozen=True)
class Kind:
    name: str
    permission: str
    department_column: Callable[[], Any] | None
    self_clause: Callable[[int], Any] | None


_KINDS: dict[str, Kind] = {}


def register_kind(name: str, *, permission: str, department_column: Callable[[], Any] | None,
                  self_clause: Callable[[int], Any] | None) -> None:
    """`department_column()` gives the column holding a row's department; `self_clause(staff_id)`
    the filter for rows that are the user's own. Callables, so modules can register early."""
    _KINDS[name] = Kind(name, permission, department_column, self_clause)


def kinds() -> dict[str, Kind]:
    return dict(_KINDS)


def _grants(user) -> list:
    if not has_request_context():
        return list(user.grants)
    cache = g.setdefault("_grants", {})
    if user.id not in cache:
        cache[user.id] = list(user.grants)
    return cache[user.id]


def permissions(user) -> set[str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    perms: set[str] = set()
    for grant in _grants(user):
        perms.update(grant.role.permissions or [])
    return perms


def can(user, permission: str) -> bool:
    perms = permissions(user)
    return "*" in perms or permission in perms


def has_role(user, code: str) -> bool:
    return any(grant.role.code == code for grant in _grants(user))


def descendant_ids(department_ids: set[int]) -> set[int]:
    """The departments and every unit below them (wards under a department)."""
    from app.modules.org.models import Department

    if not department_ids:
        return set()
    children: dict[int, list[int]] = {}
    for dept_id, parent_id in db.session.execute(select(Department.id, Department.parent_id)):
        if parent_id is not None:
            children.setdefault(parent_id, []).append(dept_id)
    result, stack = set(), list(department_ids)
    while stack:
        current = stack.pop()
        if current in result:
            continue
        result.add(current)
        stack.extend(children.get(current, ()))
    return result


def reach(user, permission: str) -> Reach:
    if user is None or not getattr(user, "is_authenticated", False):
        return Reach()
    hospital, departments, own = False, set(), None
    for grant in _grants(user):
        perms = grant.role.permissions or []
        if "*" not in perms and permission not in perms:
            continue
        if grant.scope == "hospital":
            hospital = True
        elif grant.scope == "departments":
            departments.update(d.id for d in grant.departments)
        elif grant.scope == "self" and user.staff_id is not None:
            own = user.staff_id
    if hospital:
        return Reach(hospital=True)
    return Reach(department_ids=frozenset(descendant_ids(departments)), staff_id=own)


def scope_filter(user, kind: str, permission: str | None = None) -> ColumnElement[bool]:
    """SQL filter limiting `kind` rows to those `user` may see (with `permission`)."""
    spec = _KINDS[kind]
    r = reach(user, permission or spec.permission)
    if r.hospital:
        return true()
    clauses = []
    if r.department_ids and spec.department_column is not None:
        clauses.append(spec.department_column().in_(sorted(r.department_ids)))
    if r.staff_id is not None and spec.self_clause is not None:
        clauses.append(spec.self_clause(r.staff_id))
    if not clauses:
        return false()
    if len(clauses) == 1:
        return clauses[0]
    from sqlalchemy import or_

    return or_(*clauses)


def get_visible(user, kind: str, model, ident: Any, *, query=None, permission: str | None = None):
    """Load one record the user may see, else 404 (existence is not revealed). With `permission`,
    one that permission reaches: an action loads its record with the action's right, since what a
    user may see (through another role) can reach further than what they may change."""
    stmt = query if query is not None else select(model)
    stmt = stmt.where(model.id == ident).where(scope_filter(user, kind, permission))
    row = db.session.scalars(stmt).first()
    if row is None:
        abort(404)
    return row


def require(permission: str) -> Callable:
    """View decorator: 403 unless the logged-in user holds `permission`."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
