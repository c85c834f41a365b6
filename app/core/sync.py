"""Shipped data synced into the database by `medtech db upgrade` (roles, dictionaries, processes…).

Modules register a named callable; hooks run in registration order inside one transaction.
"""
from __future__ import annotations

from collections.abc import Callable

_HOOKS: dict[str, Callable[[], int]] = {}


def register_sync(name: str, hook: Callable[[], int]) -> None:
    _HOOKS[name] = hook


def run_all() -> dict[str, int]:
    """Returns how many rows each hook changed; the caller commits."""
    return {name: hook() for name, hook in _HOOKS.items()}
