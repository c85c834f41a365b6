"""Exceptions of the kernel's runtime API.

Pages and the API map them to HTTP: `PermissionDenied` → 403, `NotFound` → 404, `Conflict` → 409,
`ProcessError` → 422 (the submitted data broke a condition or a script; nothing was changed).
"""
from __future__ import annotations


class WorkflowError(Exception):
    """Base of every error the runtime API raises on purpose."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PermissionDenied(WorkflowError):
    """The actor may not do this (to this task or instance)."""


class NotFound(WorkflowError):
    """No such instance, task, process or version."""


class Conflict(WorkflowError):
    """The action is not allowed in the current state (or someone else changed the instance first)."""


class ProcessError(WorkflowError):
    """Stepping the process failed (a condition, script or decision); the instance is unchanged."""


class FormInvalid(ProcessError):
    """Submitted form data breaks the form's schema; `errors` maps field paths to messages."""

    def __init__(self, reason: str, errors: dict[str, str]):
        super().__init__(reason)
        self.errors = dict(errors)


class ValidationFailed(WorkflowError):
    """A process, decision or form that fails validation; `issues` holds the readable reasons."""

    def __init__(self, reason: str, issues: list | None = None):
        super().__init__(reason)
        self.issues = list(issues or [])
