"""Reading one incoming row (JSON, CSV or Excel cell values) into typed column values.

`RowReader` collects every problem of a row (field + Chinese message) instead of stopping at the
first one, so a report lists them all. Values may arrive as strings (CSV), numbers, dates or
datetimes (Excel) or JSON types; blank strings count as missing.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

TRUE = {"1", "true", "yes", "y", "是", "有", "t"}
FALSE = {"0", "false", "no", "n", "否", "无", "f", ""}
_CENT = Decimal("0.01")
_MONEY_MAX = Decimal("10000000000")
GENDERS = {"M": "M", "F": "F", "男": "M", "女": "F", "1": "M", "2": "F", "m": "M", "f": "F"}


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip().replace("/", "-")
    if len(text) == 16 and text[10] in " T":  # minutes without seconds
        text += ":00"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=None, microsecond=0)


def to_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-")
    if len(text) > 10:
        return to_datetime(text).date()
    return date.fromisoformat(text)


class RowReader:
    """Typed access to one row; `errors` gets (field, message) for every bad or missing value."""

    __slots__ = ("data", "errors")

    def __init__(self, data: dict):
        self.data = data
        self.errors: list[tuple[str, str]] = []

    def fail(self, name: str, message: str) -> None:
        self.errors.append((name, message))

    def _missing(self, name: str, required: bool):
        if required:
            self.fail(name, _("Required."))
        return None

    def text(self, name: str, max_len: int, required: bool = False) -> str | None:
        value = self.data.get(name)
        if type(value) is str and 0 < len(value) <= max_len and not value[0].isspace() \
                and not value[-1].isspace():
            return value  # the common case, checked cheaply
        if value is None or value == "":
            return self._missing(name, required)
        if not isinstance(value, str):
            value = (str(int(value)) if isinstance(value, float) and value.is_integer()
                     else str(value))
        value = value.strip()
        if not value:
            return self._missing(name, required)
        if len(value) > max_len:
            self.fail(name, _("At most %(n)d characters.", n=max_len))
            return None
        return value

    def datetime(self, name: str, required: bool = False) -> datetime | None:
        value = self.data.get(name)
        if type(value) is str and len(value) in (16, 19) and value[4] == "-":
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass  # the general path below reports it
        if blank(value):
            return self._missing(name, required)
        try:
            return to_datetime(value)
        except (TypeError, ValueError):
            self.fail(name, _("Not a date and time (YYYY-MM-DD HH:MM)."))
            return None

    def date(self, name: str, required: bool = False) -> date | None:
        value = self.data.get(name)
        if blank(value):
            return self._missing(name, required)
        try:
            return to_date(value)
        except (TypeError, ValueError):
            self.fail(name, _("Not a date (YYYY-MM-DD)."))
            return None

    def integer(self, name: str, low: int, high: int, required: bool = False) -> int | None:
        value = self.data.get(name)
        if blank(value):
            return self._missing(name, required)
        try:
            number = int(value) if not isinstance(value, str) else int(value.strip())
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
        except (TypeError, ValueError):
            self.fail(name, _("Not a whole number."))
            return None
        if not low <= number <= high:
            self.fail(name, _("Must be between %(low)d and %(high)d.", low=low, high=high))
            return None
        return number

    def money(self, name: str, required: bool = False) -> Decimal | None:
        value = self.data.get(name)
        if type(value) is str:  # the common case: Decimal takes it as it is
            try:
                amount = Decimal(value)
            except InvalidOperation:
                pass  # commas, a currency sign or junk: the general path below
            else:
                if amount.is_finite() and 0 <= amount < _MONEY_MAX:
                    return amount.quantize(_CENT)
        if blank(value):
            return self._missing(name, required)
        try:
            amount = Decimal(str(value).strip().replace(",", "").lstrip("¥"))
        except InvalidOperation:
            self.fail(name, _("Not an amount."))
            return None
        if not amount.is_finite() or amount < 0 or amount >= _MONEY_MAX:
            self.fail(name, _("Not an amount."))
            return None
        return amount.quantize(_CENT)

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        self.fail(name, _("Expected yes or no (1 or 0)."))
        return False

    def choice(self, name: str, choices: dict, required: bool = False):
        """`choices` maps every accepted spelling to the stored value."""
        value = self.data.get(name)
        if type(value) is str:
            found = choices.get(value)
            if found is not None:
                return found
        if blank(value):
            return self._missing(name, required)
        key = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            key = str(int(value))
        if key in choices:
            return choices[key]
        if key.lower() in choices:
            return choices[key.lower()]
        self.fail(name, _("Unknown value %(value)s.", value=key[:40]))
        return None

    def ref(self, name: str, lookup: dict, message, required: bool = False):
        """A reference by the sender's key (工号, department code, source id) resolved via `lookup`;
        `message` (lazy, with %(key)s) is formatted only when it does not resolve."""
        value = self.data.get(name)
        if type(value) is str and 0 < len(value) <= 40 and value == value.strip():  # the common case
            key = value
        else:
            key = self.text(name, 40, required)
            if key is None:
                return None
        found = lookup.get(key)
        if found is None:
            self.fail(name, str(message) % {"key": key})
        return found
