"""The FEEL built-in functions we support. Arguments arrive as FEEL values; like
operators, functions return null (None) for arguments they cannot handle."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Decimal,
    InvalidOperation,
)
from typing import Any

from flask_babel import gettext

from . import ops
from .values import (
    DATE,
    DATETIME,
    DECIMAL,
    LIST,
    NUMBER,
    STRING,
    TIME,
    YearMonthDuration,
    format_value,
    kind_of,
    parse_date,
    parse_datetime,
    parse_duration,
    parse_number,
    parse_time,
    to_decimal,
)


class _NullResult(Exception):
    """Raised inside a built-in to make the call evaluate to null."""


def _num(value: Any) -> Decimal:
    if kind_of(value) != NUMBER:
        raise _NullResult
    return to_decimal(value)


def _str(value: Any) -> str:
    if kind_of(value) != STRING:
        raise _NullResult
    return value


def _items(args: tuple) -> list:
    """FEEL list functions take either one list or the items as separate arguments."""
    if len(args) == 1 and kind_of(args[0]) == LIST:
        return list(args[0])
    return list(args)


def _int(value: Any) -> int:
    number = _num(value)
    if number != number.to_integral_value():
        raise _NullResult
    return int(number)


# --- conversion ------------------------------------------------------------------


def _date(*args: Any) -> Any:
    if len(args) == 3:
        try:
            return date(_int(args[0]), _int(args[1]), _int(args[2]))
        except ValueError:
            raise _NullResult from None
    (value,) = args
    kind = kind_of(value)
    if kind == STRING:
        try:
            return parse_date(value)
        except ValueError:
            raise _NullResult from None
    if kind == DATETIME:
        return value.date()
    if kind == DATE:
        return value
    raise _NullResult


def _time(*args: Any) -> Any:
    if len(args) in (3, 4):
        offset = args[3] if len(args) == 4 else None
        if offset is not None and not isinstance(offset, timedelta):
            raise _NullResult
        seconds = _num(args[2])
        whole = int(seconds)
        micro = int((seconds - whole) * 1_000_000)
        try:
            return time(_int(args[0]), _int(args[1]), whole, micro,
                        tzinfo=timezone(offset) if offset is not None else None)
        except ValueError:
            raise _NullResult from None
    (value,) = args
    kind = kind_of(value)
    if kind == STRING:
        try:
            return parse_time(value)
        except ValueError:
            raise _NullResult from None
    if kind == DATETIME:
        return value.timetz()
    if kind == DATE:
        return time()
    if kind == TIME:
        return value
    raise _NullResult


def _date_and_time(*args: Any) -> Any:
    if len(args) == 2:
        day, clock = args
        if kind_of(day) not in (DATE, DATETIME) or kind_of(clock) != TIME:
            raise _NullResult
        return datetime.combine(day if kind_of(day) == DATE else day.date(), clock)
    (value,) = args
    kind = kind_of(value)
    if kind == STRING:
        try:
            return parse_datetime(value)
        except ValueError:
            raise _NullResult from None
    if kind == DATE:
        return datetime.combine(value, time())
    if kind == DATETIME:
        return value
    raise _NullResult


def _duration(value: Any) -> Any:
    try:
        return parse_duration(_str(value))
    except ValueError:
        raise _NullResult from None


def _years_and_months_duration(start: Any, end: Any) -> Any:
    if kind_of(start) not in (DATE, DATETIME) or kind_of(end) not in (DATE, DATETIME):
        raise _NullResult
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if months > 0 and end.day < start.day:
        months -= 1
    elif months < 0 and end.day > start.day:
        months += 1
    return YearMonthDuration(months)


def _number(value: Any, *separators: Any) -> Any:
    text = _str(value)
    if len(separators) == 2:
        group, decimal_sep = separators
        if group:
            text = text.replace(group, "")
        if decimal_sep:
            text = text.replace(decimal_sep, ".")
    try:
        return parse_number(text)
    except ValueError:
        raise _NullResult from None


def _string(value: Any) -> Any:
    if value is None:
        raise _NullResult
    return value if isinstance(value, str) else format_value(value)


# --- numbers -----------------------------------------------------------------------


def _decimal(value: Any, scale: Any) -> Decimal:
    return _num(value).quantize(Decimal(1).scaleb(-_int(scale)), rounding=ROUND_HALF_EVEN)


def _floor(value: Any) -> Decimal:
    return _num(value).to_integral_value(rounding=ROUND_FLOOR)


def _ceiling(value: Any) -> Decimal:
    return _num(value).to_integral_value(rounding=ROUND_CEILING)


def _abs(value: Any) -> Any:
    if isinstance(value, timedelta):
        return abs(value)
    if isinstance(value, YearMonthDuration):
        return YearMonthDuration(abs(value.months))
    return abs(_num(value))


def _modulo(dividend: Any, divisor: Any) -> Decimal:
    a, b = _num(dividend), _num(divisor)
    if b == 0:
        raise _NullResult
    return DECIMAL.subtract(a, DECIMAL.multiply(b, (a / b).to_integral_value(rounding=ROUND_FLOOR)))


def _sqrt(value: Any) -> Decimal:
    number = _num(value)
    if number < 0:
        raise _NullResult
    return DECIMAL.sqrt(number)


# --- lists -------------------------------------------------------------------------


def _extreme(args: tuple, pick: int) -> Any:
    items = _items(args)
    if not items:
        raise _NullResult
    best = items[0]
    for item in items[1:]:
        c = ops.compare(item, best)
        if c is None:
            raise _NullResult
        if c == pick:
            best = item
    if len(items) == 1 and ops.compare(best, best) is None:
        raise _NullResult
    return best


def _sum(*args: Any) -> Any:
    items = _items(args)
    if not items:
        raise _NullResult
    total = Decimal(0)
    for item in items:
        total = DECIMAL.add(total, _num(item))
    return total


def _mean(*args: Any) -> Any:
    items = _items(args)
    if not items:
        raise _NullResult
    return DECIMAL.divide(_sum(*items), Decimal(len(items)))


def _count(*args: Any) -> Decimal:
    return Decimal(len(_items(args)))


def _all(*args: Any) -> Any:
    items = _items(args)
    if any(i is False for i in items):
        return False
    return True if all(i is True for i in items) else None


def _any(*args: Any) -> Any:
    items = _items(args)
    if any(i is True for i in items):
        return True
    return False if all(i is False for i in items) else None


def _list(value: Any) -> list:
    if kind_of(value) != LIST:
        raise _NullResult
    return list(value)


def _list_contains(items: Any, element: Any) -> bool:
    return any(ops.equal(i, element) is True for i in _list(items))


def _append(items: Any, *extra: Any) -> list:
    return _list(items) + list(extra)


def _concatenate(*lists: Any) -> list:
    out: list = []
    for items in lists:
        out.extend(_list(items))
    return out


def _distinct_values(items: Any) -> list:
    out: list = []
    for item in _list(items):
        if not any(ops.equal(item, seen) is True for seen in out):
            out.append(item)
    return out


def _flatten(items: Any) -> list:
    out: list = []
    for item in _list(items):
        out.extend(_flatten(item) if kind_of(item) == LIST else [item])
    return out


def _index_of(items: Any, match: Any) -> list:
    return [Decimal(i + 1) for i, item in enumerate(_list(items)) if ops.equal(item, match) is True]


# --- strings -------------------------------------------------------------------------


def _substring(value: Any, start: Any, length: Any = None) -> str:
    chars = list(_str(value))
    begin = _int(start)
    # FEEL positions are 1-based; a negative start counts from the end.
    first = begin - 1 if begin > 0 else max(len(chars) + begin, 0)
    if length is None:
        return "".join(chars[first:])
    return "".join(chars[first : first + _int(length)])


def _substring_before(value: Any, match: Any) -> str:
    text, sep = _str(value), _str(match)
    return text.split(sep, 1)[0] if sep and sep in text else ""


def _substring_after(value: Any, match: Any) -> str:
    text, sep = _str(value), _str(match)
    if not sep:
        return text
    return text.split(sep, 1)[1] if sep in text else ""


def _matches(value: Any, pattern: Any, flags: Any = None) -> bool:
    re_flags = 0
    for flag in (_str(flags) if flags is not None else ""):
        re_flags |= {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "x": re.VERBOSE}.get(flag, 0)
    try:
        return re.search(_str(pattern), _str(value), re_flags) is not None
    except re.error:
        raise _NullResult from None


def _today() -> date:
    return date.today()


def _now() -> datetime:
    return datetime.now(UTC)


def _not(value: Any) -> Any:
    return ops.negate(value)


# name -> (function, minimum arguments, maximum arguments or None for variadic)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "date": (_date, 1, 3),
    "time": (_time, 1, 4),
    "date and time": (_date_and_time, 1, 2),
    "duration": (_duration, 1, 1),
    "years and months duration": (_years_and_months_duration, 2, 2),
    "number": (_number, 1, 3),
    "string": (_string, 1, 1),
    "not": (_not, 1, 1),
    "decimal": (_decimal, 2, 2),
    "floor": (_floor, 1, 1),
    "ceiling": (_ceiling, 1, 1),
    "abs": (_abs, 1, 1),
    "modulo": (_modulo, 2, 2),
    "sqrt": (_sqrt, 1, 1),
    "min": (lambda *a: _extreme(a, -1), 1, None),
    "max": (lambda *a: _extreme(a, 1), 1, None),
    "sum": (_sum, 1, None),
    "mean": (_mean, 1, None),
    "count": (_count, 1, None),
    "all": (_all, 1, None),
    "any": (_any, 1, None),
    "list contains": (_list_contains, 2, 2),
    "append": (_append, 1, None),
    "concatenate": (_concatenate, 1, None),
    "distinct values": (_distinct_values, 1, 1),
    "flatten": (_flatten, 1, 1),
    "index of": (_index_of, 2, 2),
    "string length": (lambda s: Decimal(len(_str(s))), 1, 1),
    "substring": (_substring, 2, 3),
    "substring before": (_substring_before, 2, 2),
    "substring after": (_substring_after, 2, 2),
    "upper case": (lambda s: _str(s).upper(), 1, 1),
    "lower case": (lambda s: _str(s).lower(), 1, 1),
    "contains": (lambda s, m: _str(m) in _str(s), 2, 2),
    "starts with": (lambda s, m: _str(s).startswith(_str(m)), 2, 2),
    "ends with": (lambda s, m: _str(s).endswith(_str(m)), 2, 2),
    "matches": (_matches, 2, 3),
    "today": (_today, 0, 0),
    "now": (_now, 0, 0),
}

# Names spelled with spaces must be known to the lexer up front.
MULTI_WORD_FUNCTIONS = tuple(name for name in FUNCTIONS if " " in name)


def call(name: str, args: tuple) -> Any:
    function = FUNCTIONS[name][0]
    try:
        return function(*args)
    except (_NullResult, InvalidOperation, OverflowError, ArithmeticError, TypeError, ValueError):
        return None


def arity_error(name: str, count: int) -> str | None:
    _, low, high = FUNCTIONS[name]
    if count < low or (high is not None and count > high):
        if low == high:
            expected = str(low)
        elif high is None:
            expected = gettext("at least %(n)s", n=low)
        else:
            expected = gettext("%(low)s to %(high)s", low=low, high=high)
        return gettext("function '%(name)s' takes %(expected)s argument(s), got %(count)s", name=name,
                       expected=expected, count=count)
    return None


