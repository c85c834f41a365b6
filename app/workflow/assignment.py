"""Who gets a human task: roles resolved in the instance's context, or people named by data.

A lane (or a user task) names a role; a resolver registered for that role code turns it into user
ids for this instance (the applicant's department head, the medical-affairs office, …). Roles
without their own resolver go to the default resolver, which the accounts module registers (users
holding the role whose scope covers the instance's department). The kernel itself only knows the
`initiator` role: whoever started the instance.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .scripting import ExpressionError, evaluate

INITIATOR = "initiator"


@dataclass(frozen=True)
class AssignmentContext:
    """What a resolver may use: the instance's facts and the task's data."""

    role: str
    instance_id: int | None
    process_key: str
    business_key: str | None
    subject: str | None
    department_id: int | None
    started_by_id: int | None
    task: str  # BPMN id of the user task
    data: Mapping[str, Any] = field(default_factory=dict)


Resolver = Callable[[AssignmentContext], Iterable[int]]
DefaultResolver = Callable[[str, AssignmentContext], Iterable[int]]

_resolvers: dict[str, Resolver] = {}
_default: list[DefaultResolver] = []


def register_resolver(role_code: str, fn: Resolver) -> None:
    """Resolve `role_code` with `fn(context) -> user ids` (a role of its own, or overriding the
    default resolution of a shipped role)."""
    _resolvers[role_code] = fn


def register_default_resolver(fn: DefaultResolver) -> None:
    """`fn(role_code, context) -> user ids` for roles without a resolver of their own."""
    _default[:] = [fn]


def resolver_roles() -> set[str]:
    """Role codes that have a resolver of their own (valid in lanes besides the shipped roles)."""
    return set(_resolvers)


def resolve_role(role: str, context: AssignmentContext) -> list[int]:
    fn = _resolvers.get(role)
    if fn is not None:
        users = fn(context)
    elif _default:
        users = _default[0](role, context)
    else:
        users = []
    return _unique(users)


def in_pool(user_id: int, role: str, department_id: int | None, context: AssignmentContext) -> bool:
    """Whether the user belongs to a task's role pool (role, department) now — also when the role
    was granted after the task was created. A role with a resolver of its own asks it in the
    instance's context; any other role asks the default resolver (the grants covering the
    department)."""
    if role in _resolvers:
        return user_id in resolve_role(role, context)
    if not _default:
        return False
    pool_context = AssignmentContext(**{**context.__dict__, "role": role, "department_id": department_id})
    return user_id in _unique(_default[0](role, pool_context))


def _initiator(context: AssignmentContext) -> list[int]:
    return [context.started_by_id] if context.started_by_id else []


register_resolver(INITIATOR, _initiator)


def user_ids(value: Any) -> list[int]:
    """User ids from an assignee/candidates expression's value: an id, digits, or a list of them."""
    if value is None or value == "":
        return []
    if isinstance(value, bool):
        raise ExpressionError(f"expected user ids, got {value!r}")
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if all(part.isdigit() for part in parts):
            return [int(part) for part in parts]
        raise ExpressionError(f"expected user ids, got {value!r}")
    if isinstance(value, (list, tuple, set)):
        result: list[int] = []
        for item in value:
            result.extend(user_ids(item))
        return _unique(result)
    if isinstance(value, Mapping) and "id" in value:
        return user_ids(value["id"])
    raise ExpressionError(f"expected user ids, got a {type(value).__name__}")


def evaluate_users(expression: str, data: Mapping[str, Any]) -> list[int]:
    """Evaluate an assignee/candidates expression (sandboxed) to user ids."""
    return user_ids(evaluate(expression, data))


def _unique(values: Iterable[int]) -> list[int]:
    seen: dict[int, None] = {}
    for value in values:
        if value is not None:
            seen.setdefault(int(value), None)
    return list(seen)
