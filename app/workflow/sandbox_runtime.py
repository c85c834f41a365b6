"""Run-time half of the expression sandbox: limits, guarded operations, safe functions.

The static checker (sandbox_ast) rewrites user code so that every risky operation
goes through a helper defined here. Helpers find the limits of the evaluation in
progress through a context variable, so one compiled code object can be shared by
many threads while each evaluation keeps its own step counter and deadline.
"""
from __future__ import annotations

import calendar
import contextvars
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any


class ExpressionError(Exception):
    """An expression or script is unsafe, malformed, or failed while running."""

    def __init__(self, message: str, source: str = "", lineno: int | None = None, col: int | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.lineno = lineno
        self.col = col

    def __str__(self) -> str:
        where = f"line {self.lineno}" if self.lineno is not None else ""
        if not where or where in self.message:
            return self.message
        return f"{self.message} ({where}" + (f", column {self.col})" if self.col is not None else ")")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one evaluation; every field can be passed as a keyword."""

    max_steps: int = 100_000          # loop iterations + comprehension items + function calls
    timeout: float = 0.5              # wall-clock seconds, checked at every step
    max_size: int = 1_000_000         # elements + characters of any built value
    max_int_digits: int = 4_300       # same bound CPython applies to int <-> str
    max_total_size: int = 10_000_000  # everything created during one evaluation


class Budget:
    """Mutable accounting of one evaluation; never shared between evaluations."""

    __slots__ = ("allocated", "deadline", "limits", "script", "steps")

    def __init__(self, limits: Limits, script: bool):
        self.limits = limits
        self.steps = 0
        self.allocated = 0
        self.deadline = time.monotonic() + limits.timeout
        self.script = script

    def tick(self) -> bool:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise ExpressionError(f"expression exceeded its step limit ({self.limits.max_steps} steps)")
        if time.monotonic() > self.deadline:
            raise ExpressionError(f"expression exceeded its time limit ({self.limits.timeout:g} s)")
        return True

    def charge(self, size: float) -> None:
        """Account for newly created data; memory use is bounded by the running total."""
        self.allocated += size
        if self.allocated > self.limits.max_total_size:
            raise ExpressionError("value too large: expression created more than "
                                  f"{self.limits.max_total_size} elements/characters in total")


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("sandbox_budget", default=None)
# Size checks of values that escaped an evaluation still need some limits.
_FALLBACK_LIMITS = Limits()


def activate(budget: Budget) -> contextvars.Token:
    return _current.set(budget)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


def current_budget() -> Budget:
    budget = _current.get()
    return budget if budget is not None else Budget(_FALLBACK_LIMITS, script=False)


# ---------------------------------------------------------------------------
# Size accounting
# ---------------------------------------------------------------------------

_FLAT_SCALARS = frozenset({type(None), bool, float})
_INTS = frozenset({int, bool})
_CONTAINERS = (list, tuple, set, frozenset)


def _int_cost(value: int) -> int:
    # Big ints are cheap to hold but expensive to print and multiply; charge per 64 bits.
    return 1 + value.bit_length() // 64


def measure(value: Any, limit: int) -> int:
    """Approximate size (elements + characters) of a value; stops counting past limit.

    Shared references are counted every time they are reachable, because that is
    what printing, comparing or copying the value will cost.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += len(item)
        elif kind is int:
            total += _int_cost(item)
        elif isinstance(item, (*_CONTAINERS, Mapping)):
            elements = list(item.keys()) + list(item.values()) if isinstance(item, Mapping) else item
            total += len(elements)
            if total > limit:
                return total
            kinds = set(map(type, elements))
            if kinds <= _FLAT_SCALARS:
                continue
            if kinds == {str}:
                total += sum(map(len, elements))
            elif kinds <= _INTS:
                total += len(elements) * (max(map(int.bit_length, elements)) // 64)
            else:
                stack.extend(elements)
        elif kind is range:
            total += len(item)
        else:
            total += 1
        if total > limit:
            return total
    return total


def check_size(value: Any) -> Any:
    limit = current_budget().limits.max_size
    if measure(value, limit) > limit:
        raise ExpressionError(f"value too large (more than {limit} elements/characters)")
    return value


def _refuse_size(estimate: float) -> None:
    """Refuse building a value of the estimated size, or charge it to the budget."""
    budget = current_budget()
    limit = budget.limits.max_size
    if estimate > limit:
        about = f"about {int(estimate)}" if estimate < 10**15 else "an enormous number of"
        raise ExpressionError(f"value too large ({about} elements/characters, limit {limit})")
    budget.charge(estimate)


_SIZED = (str, list, tuple, dict, set, frozenset)
_BIG_INT_BITS = 1_024


def charged(result: Any) -> Any:
    """Charge a freshly built result (a copy, a new string, a big int) to the budget.

    Only the new container is charged (shallow): its elements were charged when
    they were created, and shared references cost no memory.
    """
    if isinstance(result, _SIZED):
        current_budget().charge(len(result))
    elif type(result) is int and result.bit_length() > _BIG_INT_BITS:
        current_budget().charge(_int_cost(result))
    return result


def _charging(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return charged(function(*args, **kwargs))
    call.__name__ = getattr(function, "__name__", "function")
    call.__doc__ = getattr(function, "__doc__", None)
    return call


def counted(function: Callable[..., Any]) -> Callable[..., Any]:
    """Each call is a step: C code (sorted(key=...), max(key=...)) may call it a million times."""
    def call(*args: Any, **kwargs: Any) -> Any:
        sb_tick()
        return function(*args, **kwargs)
    call.__name__ = getattr(function, "__name__", "function")
    call.__doc__ = getattr(function, "__doc__", None)
    return call


def _operand_sizes(*values: Any) -> int:
    limit = current_budget().limits.max_size
    return sum(measure(value, limit) for value in values)


def _log10(value: int) -> float:
    return math.log10(abs(value)) if value else 0.0


def _refuse_digits(magnitude: float) -> None:
    """Refuse an integer result of about 10 ** magnitude before computing it."""
    limit = current_budget().limits.max_int_digits
    if not magnitude < limit:  # also catches inf
        about = "unbounded" if math.isinf(magnitude) else f"about {math.floor(magnitude) + 1}"
        raise ExpressionError(f"value too large (an integer of {about} digits, limit {limit})")


def _scaled(count: int, factor: float) -> float:
    try:
        return count * factor
    except OverflowError:  # count does not even fit in a float
        return math.inf


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


_SEQUENCES = (str, list, tuple)


# ---------------------------------------------------------------------------
# Guarded operators (the AST rewriter routes +, *, **, <<, % and loops here)
# ---------------------------------------------------------------------------

def sb_tick() -> bool:
    budget = _current.get()
    if budget is None:
        # A lazy value (generator, zip) outlived its evaluation: no budget to charge.
        raise ExpressionError("a lazy sandbox value was iterated after its evaluation ended")
    return budget.tick()


def sb_add(left: Any, right: Any) -> Any:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        _refuse_size(_operand_sizes(left, right))
        return left + right
    return charged(left + right)


def sb_sub(left: Any, right: Any) -> Any:
    if isinstance(left, (set, frozenset)):
        _refuse_size(_operand_sizes(left))
        return left - right
    return charged(left - right)


def sb_or(left: Any, right: Any) -> Any:
    if isinstance(left, (set, frozenset, Mapping)):
        _refuse_size(_operand_sizes(left, right))
        return left | right
    return charged(left | right)


def sb_xor(left: Any, right: Any) -> Any:
    if isinstance(left, (set, frozenset)):
        _refuse_size(_operand_sizes(left, right))
        return left ^ right
    return charged(left ^ right)


def sb_and(left: Any, right: Any) -> Any:
    if isinstance(left, (set, frozenset)):
        _refuse_size(_operand_sizes(left))
        return left & right
    return charged(left & right)


def sb_mul(left: Any, right: Any) -> Any:
    if _is_int(left) and _is_int(right):
        _refuse_digits(_log10(left) + _log10(right))
    else:
        sequence, count = (left, right) if _is_int(right) else (right, left)
        if isinstance(sequence, _SEQUENCES) and _is_int(count) and count > 0:
            _refuse_size(_operand_sizes(sequence) * count)
            return left * right
    return charged(left * right)


def sb_pow(base: Any, exponent: Any) -> Any:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        _refuse_digits(_scaled(exponent, _log10(base)))
    return charged(base ** exponent)


def sb_lshift(value: Any, shift: Any) -> Any:
    if _is_int(value) and _is_int(shift) and value and shift > 0:
        _refuse_digits(_log10(value) + _scaled(shift, math.log10(2)))
    return charged(value << shift)


def sb_mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        # '%9999999999d' % 1 allocates before anything can be checked.
        raise ExpressionError("'%' string formatting is not allowed; use an f-string")
    return left % right


def sb_fmt(value: Any) -> Any:
    """Values interpolated into f-strings must be printable without blowing up."""
    _refuse_size(_operand_sizes(value))
    return value


def sb_slice(value: Any, lower: Any, upper: Any, step: Any) -> Any:
    return charged(value[lower:upper:step])


def sb_star(value: Any) -> Any:
    """`*x` / `**x` unpacking copies x into a new list, tuple, dict or call."""
    if isinstance(value, (_SIZED, range)):
        _refuse_size(_operand_sizes(value))
    return value


# ---------------------------------------------------------------------------
# Attribute access: dotted access on dicts, plus whitelisted methods of values
# ---------------------------------------------------------------------------

_READ_METHODS: dict[type, frozenset[str]] = {
    str: frozenset([
        "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
        "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join",
        "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind",
        "rindex", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith",
        "strip", "swapcase", "title", "upper",
    ]),
    list: frozenset({"count", "index", "copy"}),
    tuple: frozenset({"count", "index"}),
    dict: frozenset({"get", "keys", "values", "items", "copy"}),
    set: frozenset({"union", "intersection", "difference", "symmetric_difference",
                    "issubset", "issuperset", "isdisjoint", "copy"}),
    frozenset: frozenset({"union", "intersection", "difference", "symmetric_difference",
                          "issubset", "issuperset", "isdisjoint", "copy"}),
    datetime: frozenset({"date", "isoformat", "weekday", "isoweekday", "timestamp"}),
    date: frozenset({"isoformat", "weekday", "isoweekday"}),
    timedelta: frozenset({"total_seconds"}),
    int: frozenset({"bit_length"}),
    float: frozenset({"is_integer"}),
}
# In-place mutation only makes sense (and is only permitted) in script tasks.
_WRITE_METHODS: dict[type, frozenset[str]] = {
    list: frozenset({"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"}),
    dict: frozenset({"update", "pop", "setdefault", "clear"}),
    set: frozenset({"add", "discard", "remove", "update", "clear", "pop"}),
}
_VALUE_ATTRIBUTES: dict[type, frozenset[str]] = {
    datetime: frozenset({"year", "month", "day", "hour", "minute", "second", "microsecond"}),
    date: frozenset({"year", "month", "day"}),
    timedelta: frozenset({"days", "seconds", "microseconds"}),
}


def _kind_name(value: Any) -> str:
    return "dict" if isinstance(value, Mapping) else type(value).__name__


def _lookup(table: dict[type, frozenset[str]], value: Any, name: str) -> bool:
    return any(isinstance(value, kind) and name in names for kind, names in table.items())


def sb_attr(value: Any, name: str) -> Any:
    """`a.b` in user code: a field of a dict, or a plain attribute of a date value."""
    if isinstance(value, Mapping):
        try:
            return value[name]
        except KeyError:
            known = ", ".join(sorted(str(key) for key in value)[:20]) or "none"
            raise ExpressionError(f"field '{name}' not found (available fields: {known})") from None
    if _lookup(_VALUE_ATTRIBUTES, value, name):
        return getattr(value, name)
    raise ExpressionError(f"attribute '{name}' is not available on {_kind_name(value)} values")


def sb_method(value: Any, name: str) -> Callable[..., Any]:
    """`a.b(...)` in user code: only whitelisted methods of plain data values."""
    if _lookup(_READ_METHODS, value, name):
        return counted(_charging(_GUARDED_METHODS.get(name, getattr)(value, name)))
    if _lookup(_WRITE_METHODS, value, name):
        if not current_budget().script:
            raise ExpressionError(f"method '{name}' changes data and is only allowed in script tasks")
        return counted(_GUARDED_METHODS.get(name, getattr)(value, name))
    if isinstance(value, Mapping) and name in value:
        return value[name]  # calling a data field fails with a normal "not callable" error
    raise ExpressionError(f"method '{name}' is not allowed on {_kind_name(value)} values")


def _guard_replace(text: str, _name: str) -> Callable[..., str]:
    def replace(old: str, new: str, count: int = -1) -> str:
        hits = len(text) + 1 if old == "" else text.count(old)
        if count >= 0:
            hits = min(hits, count)
        _refuse_size(len(text) + hits * (len(new) - len(old)))
        return text.replace(old, new, count)
    return replace


def _guard_join(separator: str, _name: str) -> Callable[..., str]:
    def join(items: Any) -> str:
        parts = list(items)
        if all(isinstance(part, str) for part in parts):
            _refuse_size(sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0))
        return separator.join(parts)
    return join


def _guard_extend(target: Any, name: str) -> Callable[..., Any]:
    method = getattr(target, name)

    def grow(*others: Any, **fields: Any) -> Any:
        materialized = [other if isinstance(other, Mapping) else list(other) for other in others]
        limit = current_budget().limits.max_size
        added = sum(measure(other, limit) for other in materialized) + measure(fields, limit)
        _refuse_size(measure(target, limit) + added)
        return method(*materialized, **fields)
    return grow


_GUARDED_METHODS: dict[str, Callable[[Any, str], Callable[..., Any]]] = {
    "replace": _guard_replace,
    "join": _guard_join,
    "extend": _guard_extend,
    "update": _guard_extend,
}


# ---------------------------------------------------------------------------
# Safe functions
# ---------------------------------------------------------------------------

def safe_range(*args: int) -> range:
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        length = math.inf
    _refuse_size(length)
    return numbers


def safe_round(number: Any, ndigits: int | None = None) -> Any:
    if ndigits is None:
        return round(number)
    if isinstance(number, int) and isinstance(ndigits, int) and ndigits < 0 and -ndigits > _log10(number) + 1:
        # CPython would build 10 ** -ndigits first; the result is known to be 0.
        return 0
    return round(number, ndigits)


def safe_sum(values: Any, start: Any = 0) -> Any:
    if not isinstance(start, (int, float)):
        # Summing lists or strings is quadratic; keep sum() for numbers.
        raise ExpressionError("sum() only adds numbers")
    return sum(values, start)


def safe_str(value: Any = "") -> str:
    if isinstance(value, str):
        return value
    _refuse_size(_operand_sizes(value))
    return str(value)


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_date(value)
    raise ExpressionError(f"expected a date, got {_kind_name(value)}")


def parse_date(value: Any) -> date:
    """ISO 8601 text to a date (YYYY-MM-DD) or datetime (with a time part)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ExpressionError(f"parse_date() expects text, got {_kind_name(value)}")
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ExpressionError(f"cannot parse date {value!r}; expected ISO format such as 2026-03-01") from None


def today() -> date:
    return date.today()


def now() -> datetime:
    return datetime.now()


def days(count: float) -> timedelta:
    return timedelta(days=count)


def add_days(value: Any, count: float) -> date:
    return _as_date(value) + timedelta(days=count)


def add_months(value: Any, count: int) -> date:
    """Calendar months; the day is clamped to the end of shorter months (Jan 31 + 1 = Feb 28)."""
    start = _as_date(value)
    if not isinstance(count, int):
        raise ExpressionError("add_months() expects a whole number of months")
    index = start.year * 12 + start.month - 1 + count
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ExpressionError("add_months() result is out of the supported date range")
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return start.replace(year=year, month=month + 1, day=day)


def _same_kind(first: date, second: date) -> tuple[date, date]:
    # Mixing date and datetime cannot be subtracted; compare by calendar day then.
    if isinstance(first, datetime) != isinstance(second, datetime):
        first = first.date() if isinstance(first, datetime) else first
        second = second.date() if isinstance(second, datetime) else second
    return first, second


def years_between(start: Any, end: Any) -> int:
    """Whole years from start to end (an age); negative when end precedes start."""
    first, second = _same_kind(_as_date(start), _as_date(end))
    if second < first:
        return -years_between(second, first)
    years = second.year - first.year
    if (second.month, second.day) < (first.month, first.day):
        years -= 1
    return years


def days_between(start: Any, end: Any) -> int:
    first, second = _same_kind(_as_date(start), _as_date(end))
    return (second - first).days


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": _charging(dict),
    "enumerate": enumerate, "float": float, "int": _charging(int), "len": len,
    "list": _charging(list), "max": max, "min": min, "range": safe_range, "reversed": reversed,
    "round": safe_round, "set": _charging(set), "sorted": _charging(sorted), "str": safe_str,
    "sum": safe_sum, "tuple": _charging(tuple), "zip": zip,
    "today": today, "now": now, "date": date, "datetime": datetime, "timedelta": timedelta,
    "days": days, "parse_date": parse_date, "add_days": add_days, "add_months": add_months,
    "years_between": years_between, "days_between": days_between,
}

# Names the rewritten code refers to; they start with "_" so user code cannot touch them.
HELPERS: dict[str, Callable[..., Any]] = {
    "_sb_tick": sb_tick, "_sb_add": sb_add, "_sb_sub": sb_sub, "_sb_mul": sb_mul,
    "_sb_pow": sb_pow, "_sb_lshift": sb_lshift, "_sb_mod": sb_mod, "_sb_or": sb_or,
    "_sb_xor": sb_xor, "_sb_and": sb_and, "_sb_fmt": sb_fmt, "_sb_slice": sb_slice,
    "_sb_star": sb_star, "_sb_attr": sb_attr, "_sb_method": sb_method, "_sb_size": check_size,
}
