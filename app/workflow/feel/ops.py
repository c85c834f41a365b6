"""FEEL operator semantics: three-valued logic, typed equality/ordering and arithmetic.

Every operation returns ``None`` (FEEL null) instead of raising when its operands
do not fit, as the FEEL specification requires; the evaluator never sees a
TypeError escape from here.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

from .values import (
    DATE,
    DATETIME,
    DECIMAL,
    DT_DURATION,
    LIST,
    NUMBER,
    ORDERED_KINDS,
    RANGE,
    TIME,
    YM_DURATION,
    Range,
    YearMonthDuration,
    kind_of,
    to_decimal,
)


def equal(a: Any, b: Any) -> bool | None:
    """FEEL ``=``: null only equals null; values of different types are not comparable."""
    if a is None or b is None:
        return a is None and b is None
    ka, kb = kind_of(a), kind_of(b)
    if ka != kb:
        return None
    if ka == NUMBER:
        return to_decimal(a) == to_decimal(b)
    if ka == LIST:
        if len(a) != len(b):
            return False
        for x, y in zip(a, b):
            if equal(x, y) is not True:
                return False
        return True
    if ka == "context":
        if a.keys() != b.keys():
            return False
        return all(equal(a[k], b[k]) is True for k in a)
    if ka in (TIME, DATETIME) and (a.utcoffset() is None) != (b.utcoffset() is None):
        return False
    try:
        return a == b
    except TypeError:
        return None


def compare(a: Any, b: Any) -> int | None:
    """-1/0/1 for ordered values of one FEEL type, None when FEEL leaves it undefined."""
    if a is None or b is None:
        return None
    ka = kind_of(a)
    if ka != kind_of(b) or ka not in ORDERED_KINDS:
        return None
    try:
        if ka == NUMBER:
            a, b = to_decimal(a), to_decimal(b)
        return (a > b) - (a < b)
    except TypeError:  # e.g. a naive and an offset-aware time
        return None


def less(a: Any, b: Any) -> bool | None:
    c = compare(a, b)
    return None if c is None else c < 0


def less_equal(a: Any, b: Any) -> bool | None:
    c = compare(a, b)
    return None if c is None else c <= 0


def greater(a: Any, b: Any) -> bool | None:
    c = compare(a, b)
    return None if c is None else c > 0


def greater_equal(a: Any, b: Any) -> bool | None:
    c = compare(a, b)
    return None if c is None else c >= 0


def not_equal(a: Any, b: Any) -> bool | None:
    r = equal(a, b)
    return None if r is None else not r


def negate(value: Any) -> bool | None:
    return (not value) if isinstance(value, bool) else None


def in_range(value: Any, rng: Range) -> bool | None:
    if rng.start is not None:
        c = compare(value, rng.start)
        if c is None or c < 0 or (c == 0 and not rng.start_closed):
            return None if c is None else False
    if rng.end is not None:
        c = compare(value, rng.end)
        if c is None or c > 0 or (c == 0 and not rng.end_closed):
            return None if c is None else False
    return True


def matches_value(value: Any, target: Any) -> bool | None:
    """How an expression used as a unary test matches the input: lists and ranges test
    membership, anything else equality (DMN 1.3, 'positive unary test' semantics)."""
    kt = kind_of(target)
    if kt == LIST and kind_of(value) != LIST:
        result: bool | None = False
        for item in target:
            r = in_range(value, item) if kind_of(item) == RANGE else equal(value, item)
            if r is True:
                return True
            if r is None:
                result = None
        return result
    if kt == RANGE:
        return in_range(value, target)
    return equal(value, target)


# --- arithmetic --------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def _time_plus(t: time, delta: timedelta) -> time:
    anchor = datetime.combine(date(2000, 1, 1), t.replace(tzinfo=None)) + delta
    return anchor.time().replace(tzinfo=t.tzinfo)


def _as_datetime(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ka, kb = kind_of(a), kind_of(b)
    try:
        if ka == NUMBER and kb == NUMBER:
            return DECIMAL.add(to_decimal(a), to_decimal(b))
        if ka == "string" and kb == "string":
            return a + b
        if ka == kb == DT_DURATION:
            return a + b
        if ka == kb == YM_DURATION:
            return YearMonthDuration(a.months + b.months)
        if kb in (DATE, DATETIME, TIME) and ka in (DT_DURATION, YM_DURATION):
            a, b, ka, kb = b, a, kb, ka
        if ka == DATE and kb == DT_DURATION:
            return (_as_datetime(a) + b).date()
        if ka in (DATE, DATETIME) and kb == YM_DURATION:
            return _add_months(a, b.months)
        if ka == DATETIME and kb == DT_DURATION:
            return a + b
        if ka == TIME and kb == DT_DURATION:
            return _time_plus(a, b)
    except (OverflowError, ValueError, InvalidOperation, Overflow):
        return None
    return None


def subtract(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ka, kb = kind_of(a), kind_of(b)
    try:
        if ka == NUMBER and kb == NUMBER:
            return DECIMAL.subtract(to_decimal(a), to_decimal(b))
        if ka in (DATE, DATETIME) and kb in (DATE, DATETIME):
            x, y = _as_datetime(a), _as_datetime(b)
            if (x.utcoffset() is None) != (y.utcoffset() is None):
                return None
            return x - y
        if ka == TIME and kb == TIME:
            if (a.utcoffset() is None) != (b.utcoffset() is None):
                return None
            base = date(2000, 1, 1)
            return datetime.combine(base, a) - datetime.combine(base, b)
        if kb == DT_DURATION and ka in (DATE, DATETIME, TIME, DT_DURATION):
            return add(a, -b)
        if kb == YM_DURATION and ka in (DATE, DATETIME, YM_DURATION):
            return add(a, YearMonthDuration(-b.months))
    except (OverflowError, ValueError, InvalidOperation, Overflow):
        return None
    return None


def multiply(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ka, kb = kind_of(a), kind_of(b)
    if ka == NUMBER and kb in (DT_DURATION, YM_DURATION):
        a, b, ka, kb = b, a, kb, ka
    try:
        if ka == NUMBER and kb == NUMBER:
            return DECIMAL.multiply(to_decimal(a), to_decimal(b))
        if ka == DT_DURATION and kb == NUMBER:
            return timedelta(seconds=float(DECIMAL.multiply(Decimal(a.total_seconds()), to_decimal(b))))
        if ka == YM_DURATION and kb == NUMBER:
            months = DECIMAL.multiply(Decimal(a.months), to_decimal(b))
            return YearMonthDuration(int(months.to_integral_value()))
    except (OverflowError, InvalidOperation, Overflow):
        return None
    return None


def divide(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ka, kb = kind_of(a), kind_of(b)
    try:
        if ka == NUMBER and kb == NUMBER:
            return DECIMAL.divide(to_decimal(a), to_decimal(b))
        if ka == DT_DURATION and kb == NUMBER:
            seconds = DECIMAL.divide(Decimal(a.total_seconds()), to_decimal(b))
            return timedelta(seconds=float(seconds))
        if ka == DT_DURATION and kb == DT_DURATION:
            return DECIMAL.divide(Decimal(a.total_seconds()), Decimal(b.total_seconds()))
        if ka == YM_DURATION and kb == NUMBER:
            months = DECIMAL.divide(Decimal(a.months), to_decimal(b))
            return YearMonthDuration(int(months.to_integral_value()))
        if ka == YM_DURATION and kb == YM_DURATION:
            return DECIMAL.divide(Decimal(a.months), Decimal(b.months))
    except (ZeroDivisionError, DivisionByZero, InvalidOperation, OverflowError, Overflow):
        return None
    return None


def power(a: Any, b: Any) -> Any:
    if kind_of(a) != NUMBER or kind_of(b) != NUMBER:
        return None
    try:
        return DECIMAL.power(to_decimal(a), to_decimal(b))
    except (InvalidOperation, DivisionByZero, Overflow, OverflowError):
        return None


def negative(a: Any) -> Any:
    k = kind_of(a)
    if k == NUMBER:
        return DECIMAL.minus(to_decimal(a))
    if k == DT_DURATION:
        return -a
    if k == YM_DURATION:
        return YearMonthDuration(-a.months)
    return None


# --- member access -----------------------------------------------------------


def _temporal_member(value: Any, name: str) -> Any:
    if isinstance(value, YearMonthDuration):
        sign = -1 if value.months < 0 else 1
        if name == "years":
            return Decimal(sign * (abs(value.months) // 12))
        if name == "months":
            return Decimal(sign * (abs(value.months) % 12))
        return None
    if isinstance(value, timedelta):
        sign = -1 if value < timedelta(0) else 1
        v = abs(value)
        parts = {
            "days": v.days,
            "hours": v.seconds // 3600,
            "minutes": v.seconds % 3600 // 60,
            "seconds": v.seconds % 60,
        }
        return Decimal(sign * parts[name]) if name in parts else None
    if isinstance(value, (date, time)):
        attrs = {"year", "month", "day", "hour", "minute", "second"}
        if name in attrs and hasattr(value, name):
            return Decimal(getattr(value, name))
        if name == "weekday" and isinstance(value, date):
            return Decimal(value.isoweekday())
        if name == "time offset" and isinstance(value, (time, datetime)):
            return value.utcoffset()
    return None


def member(value: Any, name: str) -> Any:
    """FEEL path expression ``value.name``; on a list it maps over the items."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get(name)
    if isinstance(value, list):
        return [member(v, name) for v in value]
    return _temporal_member(value, name)
