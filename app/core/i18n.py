"""Locale choice and the display formats hospital staff expect (UI.md: YYYY-MM-DD, ¥12,345.00)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app, has_request_context, session
from flask_login import current_user

LOCALES = {"zh_CN": "中文", "en": "English"}
_CHINA = timedelta(hours=8)


def select_locale() -> str:
    if not has_request_context():  # CLI commands and jobs speak the hospital's default language
        return current_app.config["DEFAULT_LOCALE"]
    user_locale = getattr(current_user, "locale", None) if current_user else None
    chosen = session.get("locale") or user_locale
    return chosen if chosen in LOCALES else current_app.config["DEFAULT_LOCALE"]


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = (value + _CHINA).date()
    return value.strftime("%Y-%m-%d")


def format_datetime(value: datetime | None) -> str:
    """Stored timestamps are naive UTC; staff read Beijing time."""
    if value is None:
        return ""
    return (value + _CHINA).strftime("%Y-%m-%d %H:%M")


def format_money(value) -> str:
    if value is None:
        return ""
    return f"¥{value:,.2f}"
