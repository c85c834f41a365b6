"""Resident identity card numbers (居民身份证号码, GB 11643-1999): check digit, birth date, sex."""
from __future__ import annotations

from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def normalise(text: str | None) -> str:
    return (text or "").strip().upper().replace(" ", "")


def problem(number: str) -> str | None:
    """Why `number` (normalised) is not a valid 18-digit ID number, as a message key; None when valid."""
    if len(number) != 18 or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return "format"
    if birth_date(number) is None:
        return "birth"
    if check_char(number[:17]) != number[17]:
        return "checksum"
    return None


def birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def gender(number: str) -> str:
    """M or F: the 17th digit is odd for men."""
    return "M" if int(number[16]) % 2 else "F"


def mask(number: str | None) -> str:
    if not number:
        return ""
    return number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)


def make(region: str, born: date, seq: int, male: bool) -> str:
    """A valid number (demo data and tests): region code, birth date, a sequence of the right parity."""
    order = f"{seq % 500 * 2 + (1 if male else 0):03d}"
    first17 = f"{region}{born:%Y%m%d}{order}"
    return first17 + check_char(first17)
