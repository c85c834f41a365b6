"""The sandbox: the only place process expressions and scripts are evaluated.

Gateway conditions, script tasks, multi-instance and timer expressions and DMN cells
all run here. Source is first checked statically (sandbox_ast: whitelisted syntax,
no "_" names, no dangerous builtins), then rewritten so that loops, comprehensions
and size-amplifying operators go through counted, size-checked helpers
(sandbox_runtime). Each evaluation gets its own step/time budget, so compiled code
is shared safely between threads.

Decisions worth knowing:
- f-strings are allowed; interpolated values are size-checked and format specs must
  be literal with a width of at most 3 digits. `%` formatting and `.format` are refused.
- `:=`, `lambda`, `assert`, `del` of attributes are refused; `del name` / `del x[k]`
  are allowed in scripts.
- Methods that mutate (append, update, ...) are only allowed in scripts.
- Scripts store only JSON-like values: assigned dates become ISO strings, tuples
  lists, functions are dropped, anything else (sets, iterators, ...) is an error.
  Existing data the script did not rebind is left as it is, but is checked for
  values only sandbox code can produce (e.g. `items.append({1})` is refused).
- Errors carry 1-based `lineno`/`col`; a runaway loop is reported at its own line.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import re
import threading
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from datetime import date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from . import sandbox_ast, sandbox_runtime
from .sandbox_runtime import SAFE_FUNCTIONS, ExpressionError, Limits

__all__ = [
    "SAFE_FUNCTIONS",
    "ExpressionError",
    "Limits",
    "SandboxEnvironment",
    "SandboxScriptEngine",
    "check_expression",
    "check_script",
    "compile_expression",
    "evaluate",
    "is_iso_timer_literal",
    "register_function",
    "run_script",
    "timer_expression_value",
]

_FILENAMES = {"eval": "<expression>", "exec": "<script>"}
_builtins_lock = threading.Lock()
_builtins: dict[str, Any] = {}


def _rebuild_builtins() -> None:
    global _builtins
    # Replaced wholesale (never mutated) so running evaluations keep a consistent view.
    counted = {name: sandbox_runtime.counted(function) for name, function in SAFE_FUNCTIONS.items()}
    _builtins = {**counted, **sandbox_runtime.HELPERS}


_rebuild_builtins()


def register_function(name: str, function: Callable[..., Any]) -> None:
    """Add a helper callable to the whitelist (e.g. a domain-specific calculation)."""
    if not name.isidentifier() or name.startswith("_") or name in sandbox_ast.FORBIDDEN_NAMES:
        raise ValueError(f"cannot register a sandbox function named {name!r}")
    if not callable(function):
        raise TypeError(f"sandbox function {name!r} must be callable")
    with _builtins_lock:
        SAFE_FUNCTIONS[name] = function
        _rebuild_builtins()


def check_expression(source: str) -> list[str]:
    """Readable problems of an expression (empty list = safe to compile). Never raises."""
    return sandbox_ast.check(source, "eval")[1]


def check_script(source: str) -> list[str]:
    """Readable problems of a script-task script (empty list = safe). Never raises."""
    return sandbox_ast.check(source, "exec")[1]


def _compiled(source: str, mode: str) -> Any:
    if not isinstance(source, str):
        kind = "script" if mode == "exec" else "expression"
        raise ExpressionError(f"{kind} must be text, not {type(source).__name__}", str(source))
    return _compile(source, mode)


@functools.lru_cache(maxsize=1024)
def _compile(source: str, mode: str) -> Any:
    tree, problems = sandbox_ast.check(source, mode)
    if problems:
        match = re.match(r"line (\d+), column (\d+): ", problems[0])
        lineno, col = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        kind = "script" if mode == "exec" else "expression"
        raise ExpressionError(f"unsafe or invalid {kind}: " + "; ".join(problems), source, lineno, col)
    try:
        return compile(sandbox_ast.rewrite(tree), _FILENAMES[mode], mode)
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"cannot compile: {exc}", source) from None


def _error_line(exc: BaseException, mode: str) -> int | None:
    lineno, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAMES[mode]:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def _translate(exc: Exception) -> str:
    if isinstance(exc, NameError):
        return str(exc)
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, KeyError):
        return f"key {exc.args[0]!r} not found" if exc.args else "key not found"
    if isinstance(exc, RecursionError):
        return "expression is too deeply nested"
    if isinstance(exc, MemoryError):
        return "value too large (out of memory)"
    return f"{type(exc).__name__}: {exc}"


def _run(code: Any, source: str, mode: str, namespace: dict[str, Any], limits: Limits) -> Any:
    budget = sandbox_runtime.Budget(limits, script=mode == "exec")
    token = sandbox_runtime.activate(budget)
    try:
        namespace["__builtins__"] = _builtins
        if mode == "exec":
            exec(code, namespace)  # noqa: S102 -- checked, rewritten code; the one sanctioned exec
            return None
        result = eval(code, namespace)
        if isinstance(result, Iterator):
            # Lazy results would run later without a budget; materialize them now.
            result = sandbox_runtime.check_size(list(result))
        return result
    except ExpressionError as exc:
        exc.source = exc.source or source
        if exc.lineno is None:
            exc.lineno = _error_line(exc, mode)
        raise
    except Exception as exc:
        raise ExpressionError(_translate(exc), source, _error_line(exc, mode)) from exc
    finally:
        sandbox_runtime.deactivate(token)


def _namespace(*mappings: Mapping[str, Any] | None) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for mapping in mappings:
        if mapping:
            # Keys user code cannot spell only matter as a way to smuggle in __builtins__.
            namespace.update({key: value for key, value in mapping.items()
                              if isinstance(key, str) and key[:1] != "_"})
    return namespace


def compile_expression(source: str, **limits: Any) -> Callable[[Mapping[str, Any]], Any]:
    """Check and compile once; the returned function evaluates with given variables.

    Raises ExpressionError when the source is unsafe or malformed, and (from the
    returned function) when evaluation fails or exceeds a limit. Limits: max_steps,
    timeout (seconds), max_size (elements/characters), max_int_digits.
    """
    chosen = Limits(**limits)
    code = _compiled(source, "eval")

    def evaluate_compiled(variables: Mapping[str, Any] | None = None) -> Any:
        return _run(code, source, "eval", _namespace(variables), chosen)

    evaluate_compiled.source = source  # type: ignore[attr-defined]
    return evaluate_compiled


def evaluate(source: str, variables: Mapping[str, Any] | None = None, **limits: Any) -> Any:
    """Evaluate an expression once (compiled code is cached by source)."""
    return _run(_compiled(source, "eval"), source, "eval", _namespace(variables), Limits(**limits))


# ---------------------------------------------------------------------------
# Scripts
# ---------------------------------------------------------------------------

_JSON_SCALARS = (type(None), bool, int, float, str)
# Non-JSON values that only sandbox code produces; data from elsewhere never holds them.
_SANDBOX_ONLY = (set, frozenset, range, timedelta, Iterator, KeysView, ValuesView, ItemsView)
_MAX_NESTING = 100
_MISSING = object()


class _Storer:
    """Turns values a script leaves behind into storable process data.

    Values the script (re)assigned are converted strictly to JSON-like data.
    Containers that already existed may have been changed in place; they are
    only checked for values nothing but sandbox code can create.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self.path_ids: set[int] = set()

    def strict(self, item: Any, path: str, depth: int = 0) -> Any:
        if isinstance(item, str):
            self._count(len(item), path)
            return item
        if isinstance(item, _JSON_SCALARS):
            return item
        if isinstance(item, date):
            return item.isoformat()
        if isinstance(item, (list, tuple)):
            with self._entering(item, path, depth):
                return [self.strict(element, f"{path}[{index}]", depth + 1) for index, element in enumerate(item)]
        if isinstance(item, Mapping):
            with self._entering(item, path, depth):
                for key in item:
                    if not isinstance(key, str):
                        raise ExpressionError(f"variable '{path}' has a non-text key {key!r}; keys must be text")
                return {key: self.strict(element, f"{path}.{key}", depth + 1) for key, element in item.items()}
        raise ExpressionError(f"variable '{path}' holds a {type(item).__name__} value; scripts may only "
                              "store text, numbers, booleans, None, dates, lists and dicts")

    def lenient(self, item: Any, path: str, depth: int = 0) -> None:
        if isinstance(item, _SANDBOX_ONLY) or callable(item):
            raise ExpressionError(f"variable '{path}' holds a {type(item).__name__} value; scripts may only "
                                  "store text, numbers, booleans, None, dates, lists and dicts")
        if isinstance(item, (list, tuple, Mapping)):
            with self._entering(item, path, depth):
                pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
                for key, element in pairs:
                    self.lenient(element, f"{path}.{key}" if isinstance(item, Mapping) else f"{path}[{key}]",
                                 depth + 1)

    def _count(self, amount: int, path: str) -> None:
        self.size += amount + 1
        if self.size > self.limit:
            raise ExpressionError(f"variable '{path}' is too large to store (limit {self.limit} elements/characters)")

    @contextlib.contextmanager
    def _entering(self, container: Any, path: str, depth: int):
        if depth > _MAX_NESTING:
            raise ExpressionError(f"variable '{path}' is nested more than {_MAX_NESTING} levels deep")
        if id(container) in self.path_ids:
            raise ExpressionError(f"variable '{path}' contains itself and cannot be stored")
        self._count(len(container), path)
        self.path_ids.add(id(container))
        try:
            yield
        finally:
            self.path_ids.discard(id(container))


def _execute(source: str, variables: dict[str, Any], external: Mapping[str, Any] | None,
             limits: Limits) -> None:
    code = _compiled(source, "exec")
    namespace = _namespace(external, variables)
    before = dict(namespace)
    _run(code, source, "exec", namespace, limits)
    namespace.pop("__builtins__", None)
    storer = _Storer(limits.max_size)
    updates: dict[str, Any] = {}
    for name, value in namespace.items():
        if before.get(name, _MISSING) is value:
            if external and name in external and name not in variables:
                continue  # read-only context (data objects), not task data
            storer.lenient(value, name)  # may have been changed in place
        elif not callable(value):  # functions never become process data
            updates[name] = storer.strict(value, name)
    for name in [key for key in variables if key in before and key not in namespace]:
        del variables[name]  # removed by `del name`
    variables.update(updates)


def run_script(source: str, variables: dict[str, Any], **limits: Any) -> None:
    """Run a script task's script; assignments update `variables` in place.

    Top-level names are written back only when the script succeeds; values must be
    JSON-like (see _to_stored). Raises ExpressionError on unsafe code or failure.
    """
    _execute(source, variables, None, Limits(**limits))


# ---------------------------------------------------------------------------
# Timers
# ---------------------------------------------------------------------------

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = (rf"P(?=\d|T\d)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
             rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?")
_DATETIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_POINT_OR_SPAN = rf"(?:{_DATETIME}|{_DURATION})"
_ISO_TIMER = re.compile(rf"(?:{_DATETIME}|{_DURATION}|R\d*/{_POINT_OR_SPAN}(?:/{_POINT_OR_SPAN})?)")


def is_iso_timer_literal(text: str) -> bool:
    """True for a bare ISO 8601 date-time, duration or repeating interval (R6/P1D)."""
    return isinstance(text, str) and _ISO_TIMER.fullmatch(text.strip()) is not None


def _iso_duration(span: timedelta) -> str:
    if span < timedelta(0):
        raise ExpressionError("timer duration must not be negative")
    whole_days, rest = divmod(span.total_seconds(), 86_400)
    day_part = f"{int(whole_days)}D" if whole_days else ""
    time_part = f"T{rest:g}S" if rest or not day_part else ""
    return f"P{day_part}{time_part}"


def timer_expression_value(text: str, variables: Mapping[str, Any] | None = None, **limits: Any) -> str:
    """The ISO 8601 text of a timer definition.

    Modelers usually write timers unquoted (R6/P1D, PT2H, 2026-03-01T10:00:00Z),
    which is not valid Python; those are returned unchanged. Anything else is a
    sandboxed expression whose value may be text, a date/datetime or a timedelta.
    """
    if is_iso_timer_literal(text):
        return text.strip()
    value = evaluate(text, variables or {}, **limits)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _iso_duration(value)
    if not isinstance(value, str):
        raise ExpressionError(f"timer expression must give ISO 8601 text, got {type(value).__name__}", text)
    return value


# ---------------------------------------------------------------------------
# SpiffWorkflow integration
# ---------------------------------------------------------------------------

class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment backed by the sandbox instead of eval/exec."""

    def __init__(self, **limits: Any):
        super().__init__({})
        self.limits = Limits(**limits)

    def evaluate(self, expression: str, context: Mapping[str, Any], external_context=None) -> Any:
        namespace = _namespace(external_context, context)
        return _run(_compiled(expression, "eval"), expression, "eval", namespace, self.limits)

    def execute(self, script: str, context: dict[str, Any], external_context=None) -> bool:
        _execute(script, context, external_context, self.limits)
        return True

    def call_service(self, context, **kwargs):
        raise ExpressionError("service calls are not available in the expression sandbox")


def _event_definitions(task_spec) -> list[Any]:
    definition = getattr(task_spec, "event_definition", None)
    nested = getattr(definition, "event_definitions", None) or []
    return [candidate for candidate in (definition, *nested) if candidate is not None]


def _timer_definitions(task_spec) -> list[TimerEventDefinition]:
    return [item for item in _event_definitions(task_spec) if isinstance(item, TimerEventDefinition)]


class SandboxScriptEngine(PythonScriptEngine):
    """PythonScriptEngine whose conditions, scripts, multi-instance and timer
    expressions all go through the sandbox. Limits are keyword arguments."""

    def __init__(self, environment: SandboxEnvironment | None = None, **limits: Any):
        super().__init__(environment=environment or SandboxEnvironment(**limits))

    def validate(self, expression: str) -> None:
        # DMN probes syntax through SyntaxError (see DMNEngine.needs_eq); keep that signal.
        ast.parse(expression)
        problems = check_expression(expression)
        if problems:
            raise ExpressionError("unsafe or invalid expression: " + "; ".join(problems), expression)

    def evaluate(self, task, expression, external_context=None):
        if is_iso_timer_literal(expression) and any(
                definition.expression == expression for definition in _timer_definitions(task.task_spec)):
            return expression.strip()
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ExpressionError as err:
            # Keep our readable reason in the message (the base class drops it).
            raise WorkflowTaskException(f"Error evaluating expression '{expression}': {err}", task=task,
                                        exception=err, line_number=err.lineno) from err

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except ExpressionError as err:
            raise self.create_task_exec_exception(task, script, err) from err

    def get_error_line_number_and_content(self, script, err):
        if isinstance(err, ExpressionError) and err.lineno:
            lines = script.splitlines()
            return err.lineno, lines[err.lineno - 1] if err.lineno <= len(lines) else ""
        return super().get_error_line_number_and_content(script, err)


def check_process_spec(spec) -> list[str]:
    """Statically check every expression and script of a parsed BPMN process spec.

    Covers gateway conditions, scripts (and spiff pre-/post-scripts), multi-instance
    and loop expressions, timer, conditional and payload expressions of events.
    """
    problems: list[str] = []

    def add(owner: str, what: str, text: Any, script: bool = False) -> None:
        for problem in (check_script if script else check_expression)(text):
            problems.append(f"{owner}: {what}: {problem}")

    for name, task_spec in spec.task_specs.items():
        owner = getattr(task_spec, "bpmn_name", None) or name
        for condition, target in getattr(task_spec, "cond_task_specs", None) or []:
            if condition is not None and getattr(condition, "args", None):
                add(owner, f"condition to {target}", condition.args[0])
        for attribute in ("script", "prescript", "postscript"):
            if isinstance(getattr(task_spec, attribute, None), str):
                add(owner, attribute, getattr(task_spec, attribute), script=True)
        for attribute in ("cardinality", "condition"):
            if isinstance(getattr(task_spec, attribute, None), str):
                add(owner, f"loop {attribute}", getattr(task_spec, attribute))
        for definition in _event_definitions(task_spec):
            text = getattr(definition, "expression", None)
            if not isinstance(text, str):
                continue
            if isinstance(definition, TimerEventDefinition):
                if not is_iso_timer_literal(text):
                    add(owner, "timer", text)
            else:
                add(owner, "event expression", text)
    return problems
