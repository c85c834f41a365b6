"""A change stamp that lets every process drop its cached lookup maps when the data behind them
changes: grants, rights, settings, catalog items and codes, drugs, staff and titles.

Services of this module bump it in the transaction of the change; ORM changes of the other
modules' rows bump it through a flush listener. Readers compare it at most once per second (and
after any rollback). A bump writes a new random value rather than counting, so the value of a
rolled-back bump can never come back and match maps built inside that transaction.
"""
from __future__ import annotations

import random
import threading
import time

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from app.extensions import db

from .models import PrivilegeStamp

CHECK_SECONDS = 1.0
_WATCHED: tuple[type, ...] = ()
_state = {"value": None, "checked": 0.0}
_lock = threading.Lock()
_listeners: list = []


def _token() -> int:
    return random.randrange(1, 2**31 - 1)


def bump(session=None) -> None:
    """Mark a change (in the caller's transaction)."""
    target = session or db.session
    value = _token()
    if target.execute(update(PrivilegeStamp).where(PrivilegeStamp.id == 1).values(value=value)).rowcount == 0:
        target.add(PrivilegeStamp(id=1, value=value))
        target.flush()
    _changed()


def _changed() -> None:
    with _lock:
        _state["checked"] = 0.0  # this process reads the new value at its next look
    for listener in _listeners:
        listener()


def reset() -> None:
    """Forget what this process read (tests; after a rollback the value is read again)."""
    with _lock:
        _state["value"], _state["checked"] = None, 0.0


def current(force: bool = False):
    """The stamp as this process last read it (re-read when older than CHECK_SECONDS)."""
    now = time.monotonic()
    with _lock:
        if not force and _state["value"] is not None and now - _state["checked"] < CHECK_SECONDS:
            return _state["value"]
    value = db.session.scalar(select(PrivilegeStamp.value).where(PrivilegeStamp.id == 1)) or 0
    with _lock:
        _state["value"], _state["checked"] = value, now
    return value


def on_bump(listener) -> None:
    """Call `listener()` whenever this process bumps the stamp (local caches clear at once)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _after_flush(session, flush_context) -> None:
    if not _WATCHED:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _WATCHED):
            connection = session.connection()
            table = PrivilegeStamp.__table__
            value = _token()
            if connection.execute(update(table).where(table.c.id == 1).values(value=value)).rowcount == 0:
                connection.execute(table.insert().values(id=1, value=value))
            _changed()
            return


def _after_rollback(session) -> None:
    with _lock:
        _state["checked"] = 0.0


def watch() -> None:
    """Bump on ORM changes of the rows the lookup maps are built from (called once at start-up)."""
    global _WATCHED
    from app.modules.catalog.models import CatalogItem, CatalogItemCode, DepartmentCatalogItem
    from app.modules.clinical.models import Drug
    from app.modules.org.models import Staff, Title

    from .models import PrivilegeRight

    _WATCHED = (CatalogItem, CatalogItemCode, DepartmentCatalogItem, Drug, Staff, Title, PrivilegeRight)
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
    if not event.contains(Session, "after_rollback", _after_rollback):
        event.listen(Session, "after_rollback", _after_rollback)
