"""Form data sources `staff_privileges_<type>`: the items a user may choose in an application form (the
department's catalog items of the type, or the type's rights), searched by name or code."""
from __future__ import annotations

from app.workflow.forms import register_source

from . import items
from .types import TYPES


def _department(user) -> int | None:
    staff = getattr(user, "staff", None)
    return staff.department_id if staff is not None else None


def _search(ptype: str):
    def search(query: str, limit: int, user) -> list[dict]:
        found = items.offered(ptype, _department(user), (query or "").strip(), limit=limit)
        return [{"value": item.key, "label": item.display, "detail": item.requirement or ""} for item in found]

    return search


def _resolve(ptype: str):
    def resolve(values, user) -> dict:
        keys = [str(v) for v in values if isinstance(v, str) and len(v) <= 80]
        return {key: item.display for key, item in items.resolve(ptype, keys).items()}

    return resolve


def register() -> None:
    for code in TYPES:
        register_source(f"staff_privileges_{code}", _search(code), resolve=_resolve(code))
