"""DMN ``typeRef`` handling: resolving type names and converting input values to them.

Inputs arrive from forms and JSON as strings and plain numbers, so an input column
declared ``date`` turns "2026-03-01" into a date before any test sees it; a value
that cannot be converted raises :class:`ConversionError` (the caller names the
decision and column).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from .values import (
    BOOLEAN,
    DATE,
    DATETIME,
    DT_DURATION,
    NUMBER,
    STRING,
    TIME,
    YM_DURATION,
    YearMonthDuration,
    format_number,
    format_value,
    kind_of,
    normalize,
    parse_date,
    parse_datetime,
    parse_duration,
    parse_number,
    parse_time,
    to_python,
)

DURATION = "duration"  # either kind of duration

_BASE_TYPES = {
    "number": NUMBER, "decimal": NUMBER, "integer": NUMBER, "int": NUMBER, "long": NUMBER,
    "double": NUMBER, "float": NUMBER, "string": STRING, "boolean": BOOLEAN, "date": DATE,
    "time": TIME, "datetime": DATETIME, "date and time": DATETIME,
    "daytimeduration": DT_DURATION, "days and time duration": DT_DURATION,
    "yearmonthduration": YM_DURATION, "years and months duration": YM_DURATION,
    "duration": DURATION, "any": None, "context": None,
}


class ConversionError(ValueError):
    """A value does not fit the declared type."""


@dataclass(frozen=True)
class TypeInfo:
    """A resolved typeRef: a base kind (None = anything), maybe a list, maybe a structure."""

    name: str
    kind: str | None = None
    is_collection: bool = False
    components: Mapping[str, TypeInfo] = field(default_factory=dict)

    @property
    def describe(self) -> str:
        return self.name or "any"


ANY = TypeInfo("")


@dataclass
class ItemDefinition:
    name: str
    type_ref: str | None = None
    is_collection: bool = False
    components: dict[str, ItemDefinition] = field(default_factory=dict)


def base_kind(type_ref: str | None) -> tuple[bool, str | None]:
    """(known, kind) for a built-in type name; prefixes such as ``feel:`` are dropped."""
    if not type_ref:
        return True, None
    name = type_ref.strip()
    if ":" in name and " " not in name.split(":", 1)[0]:
        name = name.split(":", 1)[1]
    key = name.lower()
    if key in _BASE_TYPES:
        return True, _BASE_TYPES[key]
    return False, None


def resolve(type_ref: str | None, items: Mapping[str, ItemDefinition], _depth: int = 0) -> TypeInfo:
    """TypeInfo for a typeRef; unknown names resolve to ANY rather than failing the model."""
    if not type_ref:
        return ANY
    known, kind = base_kind(type_ref)
    if known:
        return TypeInfo(type_ref.strip(), kind)
    item = items.get(type_ref.strip()) or items.get(type_ref.strip().split(":", 1)[-1])
    if item is None or _depth > 20:
        return TypeInfo(type_ref.strip())
    return _from_item(item, items, _depth)


def _from_item(item: ItemDefinition, items: Mapping[str, ItemDefinition], depth: int) -> TypeInfo:
    if item.components:
        comps = {name: _from_item(c, items, depth + 1) for name, c in item.components.items()}
        return TypeInfo(item.name, None, item.is_collection, comps)
    inner = resolve(item.type_ref, items, depth + 1)
    return TypeInfo(item.name, inner.kind, item.is_collection or inner.is_collection, inner.components)


# --- conversion ------------------------------------------------------------------------


def _fail(expected: str, value: Any) -> ConversionError:
    shown = f"'{value}'" if isinstance(value, str) else format_value(value)
    return ConversionError(gettext("expected %(expected)s, got %(value)s", expected=expected, value=shown))


def _to_number(value: Any) -> Any:
    if type(value) is Decimal or value is None:
        return value
    if isinstance(value, str):
        try:
            return parse_number(value)
        except ValueError:
            raise _fail(gettext("a number"), value) from None
    value = normalize(value)
    if kind_of(value) != NUMBER:
        raise _fail(gettext("a number"), value)
    return value


def _to_string(value: Any) -> Any:
    if type(value) is str or value is None:
        return value
    value = normalize(value)
    if kind_of(value) == NUMBER:
        return format_number(value)
    raise _fail(gettext("a string"), value)


def _to_boolean(value: Any) -> Any:
    if value is True or value is False or value is None:
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail(gettext("a boolean (true or false)"), value)


def _parsing(kind: str, expected: str, parse: Callable[[str], Any], accept: Callable[[Any], Any]):
    def convert(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = parse(value)
            except ValueError as exc:  # the parser's message already says what was expected
                raise ConversionError(str(exc)) from None
        result = accept(value)
        if result is None:
            raise _fail(expected, value)
        return result

    return convert


def _accept_date(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.date()
    return v if isinstance(v, date) else None


def _accept_datetime(v: Any) -> Any:
    if isinstance(v, datetime):
        return v
    return datetime.combine(v, time()) if isinstance(v, date) else None


_CONVERTERS: dict[str | None, Callable[[Any], Any]] = {
    None: normalize,
    NUMBER: _to_number,
    STRING: _to_string,
    BOOLEAN: _to_boolean,
    DATE: _parsing(DATE, _l("a date (YYYY-MM-DD)"), parse_date, _accept_date),
    TIME: _parsing(TIME, _l("a time (hh:mm:ss)"), parse_time, lambda v: v if isinstance(v, time) else None),
    DATETIME: _parsing(DATETIME, _l("a date and time (YYYY-MM-DDThh:mm:ss)"), parse_datetime, _accept_datetime),
    DT_DURATION: _parsing(DT_DURATION, _l("a days and time duration (e.g. P1DT2H)"), parse_duration,
                          lambda v: v if isinstance(v, timedelta) else None),
    YM_DURATION: _parsing(YM_DURATION, _l("a years and months duration (e.g. P1Y2M)"), parse_duration,
                          lambda v: v if isinstance(v, YearMonthDuration) else None),
    DURATION: _parsing(DURATION, _l("a duration (e.g. P1DT2H or P1Y2M)"), parse_duration,
                       lambda v: v if isinstance(v, (timedelta, YearMonthDuration)) else None),
}


def make_converter(info: TypeInfo, python_values: bool = False) -> Callable[[Any], Any]:
    """Converter to FEEL values of ``info``; with ``python_values`` numbers come out as
    int/float for Python-dialect tables."""
    convert = _structure_converter(info)
    if python_values:
        return lambda value: to_python(convert(value))
    return convert


def _structure_converter(info: TypeInfo) -> Callable[[Any], Any]:
    if info.components:
        parts = {name: _structure_converter(c) for name, c in info.components.items()}

        def single(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, dict):
                raise _fail(gettext("a structure (%(components)s)", components=", ".join(parts)), value)
            out = normalize(value)
            for name, convert in parts.items():
                if name in value:
                    try:
                        out[name] = convert(value[name])
                    except ConversionError as exc:
                        raise ConversionError(gettext("component '%(name)s': %(reason)s", name=name,
                                                      reason=exc)) from None
            return out
    else:
        single = _CONVERTERS.get(info.kind, normalize)
    if not info.is_collection:
        return single

    def collection(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise _fail(gettext("a list of %(kind)s", kind=info.kind) if info.kind else gettext("a list of values"),
                        value)
        return [single(v) for v in value]

    return collection
