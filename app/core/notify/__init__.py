"""Notifications: in-app rows plus e-mail, WeCom (企业微信) and SMS messages behind an outbox,
sent after commit by jobs, idempotent and retried. See `service.notify`."""
from __future__ import annotations

from flask import Flask

from app.core.notify import models  # noqa: F401  (the tables must be known when the app is created)
from app.core.notify.service import (Notified, for_user, get_own, mark_read, notify,
                                     register_address_resolver, resolve_address, retry_due,
                                     send_outbox, set_addresses, unread_count)

__all__ = ["Notified", "for_user", "get_own", "init_app", "mark_read", "notify",
           "register_address_resolver", "resolve_address", "retry_due", "send_outbox",
           "set_addresses", "unread_count"]


def init_app(app: Flask) -> None:
    """Nothing to bind yet: importing this package registers the models and the sending jobs."""

