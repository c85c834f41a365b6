"""FEEL value model: how FEEL values are represented in Python, parsed and printed.

FEEL numbers are decimals, so numbers inside the evaluator are always ``Decimal``;
callers get plain ``int``/``float`` back through :func:`to_python`. Days-and-time
durations are ``timedelta``; years-and-months durations have no Python equivalent,
hence :class:`YearMonthDuration`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext

# FEEL specifies IEEE 754-2008 decimal128 arithmetic: 34 significant digits.
DECIMAL = Context(prec=34, rounding=ROUND_HALF_EVEN)

NUMBER = "number"
STRING = "string"
BOOLEAN = "boolean"
DATE = "date"
TIME = "time"
DATETIME = "date and time"
DT_DURATION = "days and time duration"
YM_DURATION = "years and months duration"
LIST = "list"
CONTEXT = "context"
RANGE = "range"
NULL = "null"

ORDERED_KINDS = frozenset({NUMBER, STRING, DATE, TIME, DATETIME, DT_DURATION, YM_DURATION})


@dataclass(frozen=True, order=True)
class YearMonthDuration:
    """A FEEL years-and-months duration, kept as a signed number of months."""

    months: int

    def __str__(self) -> str:
        return format_duration(self)


@dataclass(frozen=True)
class Range:
    """A FEEL range such as ``[1..5)``; a ``None`` end is unbounded."""

    start: Any
    start_closed: bool
    end: Any
    end_closed: bool

    def __str__(self) -> str:
        left = "[" if self.start_closed else "("
        right = "]" if self.end_closed else ")"
        return f"{left}{format_value(self.start)}..{format_value(self.end)}{right}"


_KINDS: dict[type, str] = {
    Decimal: NUMBER,
    int: NUMBER,
    float: NUMBER,
    bool: BOOLEAN,
    str: STRING,
    date: DATE,
    datetime: DATETIME,
    time: TIME,
    timedelta: DT_DURATION,
    YearMonthDuration: YM_DURATION,
    list: LIST,
    tuple: LIST,
    dict: CONTEXT,
    Range: RANGE,
    type(None): NULL,
}


def kind_of(value: Any) -> str | None:
    """The FEEL type name of a value, or None for values FEEL cannot represent."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    # Subclasses (e.g. OrderedDict, Box) keep the semantics of their base type; datetime
    # must be tested before date because it is a subclass of it.
    for base in (bool, datetime, date, time, timedelta, Decimal, int, float, str, dict, list, tuple):
        if isinstance(value, base):
            return _KINDS[base]
    return None


def to_decimal(value: Any) -> Decimal:
    """Exact decimal of a Python number; floats go through repr so 0.1 stays 0.1."""
    if type(value) is Decimal:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def normalize(value: Any) -> Any:
    """Convert plain Python data (ints, floats, tuples, nested dicts) into FEEL values."""
    t = type(value)
    if t is Decimal or t is str or t is bool or value is None:
        return value
    if t is int:
        return Decimal(value)
    if t is float:
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)):
        return to_decimal(value)
    return value


def to_python(value: Any) -> Any:
    """FEEL value back to friendly Python: decimals become int when integral, else float."""
    t = type(value)
    if t is Decimal:
        if not value.is_finite():
            return float(value)
        integral = value.to_integral_value()
        return int(integral) if integral == value else float(value)
    if t is list:
        return [to_python(v) for v in value]
    if t is dict:
        return {k: to_python(v) for k, v in value.items()}
    return value


def to_json(value: Any) -> Any:
    """FEEL value as JSON-compatible data; temporal values become ISO 8601 strings."""
    value = to_python(value)
    if isinstance(value, (datetime, date, time, timedelta, YearMonthDuration, Range)):
        return format_value(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# --- parsing -----------------------------------------------------------------

_DATE_RE = re.compile(r"(-?\d{4,})-(\d{2})-(\d{2})")
_TIME_RE = re.compile(r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2}|@[\w/+-]+)?")
_DURATION_RE = re.compile(
    r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def parse_date(text: str) -> date:
    match = _DATE_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(gettext("'%(text)s' is not a date (expected YYYY-MM-DD)", text=text))
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(gettext("'%(text)s' is not a valid date: %(reason)s", text=text, reason=exc)) from None


def _parse_zone(text: str | None) -> tzinfo | None:
    if not text:
        return None
    if text == "Z":
        return UTC
    if text.startswith("@"):
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo(text[1:])
        except (ImportError, ValueError, KeyError):  # KeyError covers ZoneInfoNotFoundError
            raise ValueError(gettext("unknown time zone '%(zone)s'", zone=text[1:])) from None
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_time(text: str) -> time:
    match = _TIME_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(gettext("'%(text)s' is not a time (expected hh:mm:ss)", text=text))
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    micro = round(float(match[4]) * 1_000_000) if match[4] else 0
    try:
        return time(hour, minute, second, min(micro, 999_999), tzinfo=_parse_zone(match[5]))
    except ValueError as exc:
        raise ValueError(gettext("'%(text)s' is not a valid time: %(reason)s", text=text, reason=exc)) from None


def parse_datetime(text: str) -> datetime:
    text = text.strip()
    if "T" not in text:
        return datetime.combine(parse_date(text), time())
    day, _, clock = text.partition("T")
    return datetime.combine(parse_date(day), parse_time(clock))


def parse_duration(text: str) -> timedelta | YearMonthDuration:
    """Parse an xsd:duration; FEEL keeps year-month and day-time durations apart."""
    stripped = text.strip()
    match = _DURATION_RE.fullmatch(stripped)
    if not match or stripped in ("P", "-P") or stripped.endswith("T"):
        raise ValueError(gettext("'%(text)s' is not a duration (expected e.g. P1DT2H or P1Y2M)", text=text))
    sign = -1 if match[1] else 1
    years, months, days, hours, minutes = (int(g) if g else 0 for g in match.groups()[1:6])
    seconds = Decimal(match[7]) if match[7] else Decimal(0)
    has_ym = match[2] is not None or match[3] is not None
    has_dt = any(match[i] is not None for i in (4, 5, 6, 7))
    if has_ym and has_dt:
        raise ValueError(gettext("'%(text)s' mixes years/months with days/time, which FEEL does not allow in one "
                                 "duration", text=text))
    if has_ym:
        return YearMonthDuration(sign * (years * 12 + months))
    delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=float(seconds))
    return -delta if sign < 0 else delta


def parse_number(text: str) -> Decimal:
    cleaned = text.strip()
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(gettext("'%(text)s' is not a number", text=text)) from None
    if not number.is_finite():
        raise ValueError(gettext("'%(text)s' is not a finite number", text=text))
    return number


# --- printing ----------------------------------------------------------------


def format_duration(value: timedelta | YearMonthDuration) -> str:
    if isinstance(value, YearMonthDuration):
        sign = "-" if value.months < 0 else ""
        years, months = divmod(abs(value.months), 12)
        parts = (f"{years}Y" if years else "") + (f"{months}M" if months or not years else "")
        return f"{sign}P{parts}"
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    days = value.days
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or value.microseconds:
        sec = Decimal(seconds) + Decimal(value.microseconds) / Decimal(1_000_000)
        clock += f"{sec.normalize():f}S"
    if clock:
        text += "T" + clock
    elif not days:
        text += "T0S"
    return text


def _format_zone(value: time | datetime) -> str:
    offset = value.utcoffset()
    if offset is None:
        return ""
    if offset == timedelta(0):
        return "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_value(value: Any) -> str:
    """Render a FEEL value the way FEEL's string() and the CLI show it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_number(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat() + _format_zone(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.replace(tzinfo=None).isoformat() + _format_zone(value)
    if isinstance(value, (timedelta, YearMonthDuration)):
        return format_duration(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def format_number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"
