"""Named domain operations that service tasks call (`mt:operation="privileges.grant"`).

Domains register their operations at start-up; a process naming an unknown operation fails
validation. An operation runs inside the instance's transaction (in a savepoint of its own, so a
failure undoes exactly its own writes), receives the instance context and its evaluated
parameters, and may return a dict that is merged into the process data (or stored under
`mt:resultVariable`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class OperationContext:
    instance_id: int | None
    process_key: str
    business_key: str | None
    subject: str | None
    department_id: int | None
    started_by_id: int | None
    task: str  # BPMN id of the service task
    actor_id: int | None  # who caused this step (None for timers and messages)
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    name: str
    fn: Callable[..., Any]
    params_schema: dict | None = None
    description: str = ""

    def required_params(self) -> set[str]:
        return set((self.params_schema or {}).get("required", []))

    def known_params(self) -> set[str] | None:
        """None when any parameter is accepted."""
        schema = self.params_schema or {}
        if schema.get("additionalProperties", True) is not False:
            return None
        return set(schema.get("properties", {}))


class OperationError(Exception):
    """An operation failed (or got parameters it does not accept)."""

    def __init__(self, operation: str, message: str):
        super().__init__(f"operation '{operation}' failed: {message}")
        self.operation = operation
        self.message = message


_OPERATIONS: dict[str, Operation] = {}


def register_operation(name: str, fn: Callable[..., Any], params_schema: dict | None = None,
                       description: Any = "") -> Operation:
    """Register `fn(ctx: OperationContext, **params) -> dict | None` under `name`. `description`
    (shown to administrators; a lazy translatable string) defaults to the function's docstring."""
    if not name or any(ch.isspace() for ch in name):
        raise ValueError(f"invalid operation name {name!r}")
    if params_schema is not None:
        jsonschema.Draft202012Validator.check_schema(params_schema)
    operation = Operation(name, fn, params_schema, description or (fn.__doc__ or "").strip())
    _OPERATIONS[name] = operation
    return operation


def unregister_operation(name: str) -> None:
    _OPERATIONS.pop(name, None)


def get(name: str) -> Operation | None:
    return _OPERATIONS.get(name)


def registered() -> dict[str, Operation]:
    return dict(_OPERATIONS)


def call(name: str, ctx: OperationContext, params: dict[str, Any]) -> Any:
    operation = _OPERATIONS.get(name)
    if operation is None:
        raise OperationError(name, "no such operation is registered")
    if operation.params_schema is not None:
        errors = sorted(jsonschema.Draft202012Validator(operation.params_schema).iter_errors(params),
                        key=lambda error: list(error.path))
        if errors:
            raise OperationError(name, "; ".join(_describe(error) for error in errors))
    try:
        return operation.fn(ctx, **params)
    except OperationError:
        raise
    except Exception as exc:  # any failure of domain code becomes an incident, not a crash
        raise OperationError(name, f"{type(exc).__name__}: {exc}") from exc


def _describe(error) -> str:
    where = ".".join(str(part) for part in error.path)
    return f"parameter '{where}': {error.message}" if where else error.message


# --- kernel-generic operations ---------------------------------------------------------------

def _audit_note(ctx: OperationContext, text: str, action: str = "workflow.note") -> None:
    """Write an entry to the audit log about this instance."""
    from app.core import audit

    audit.record(action, object_type="wf_instance", object_id=ctx.instance_id,
                 data={"process": ctx.process_key, "task": ctx.task, "business_key": ctx.business_key},
                 summary=text)


def _data_set(ctx: OperationContext, **values: Any) -> dict[str, Any]:
    """Set process variables to the (evaluated) parameters."""
    return dict(values)


def register_builtins() -> None:
    register_operation("audit.note", _audit_note, {
        "type": "object",
        "properties": {"text": {"type": "string", "minLength": 1}, "action": {"type": "string"}},
        "required": ["text"],
        "additionalProperties": False,
    }, _l("Write an entry to the audit log about this instance."))
    register_operation("data.set", _data_set, {"type": "object"},
                       _l("Set process variables to the (evaluated) parameters."))


register_builtins()
