"""One commit per unit of work, at the request's edge.

Services flush; the request commits once when the response is a success (status < 400) and rolls
back otherwise, so a failed form or a refused action leaves nothing half-written. Callbacks queued
with `after_commit` (outbox sends, jobs) run only once the data they announce is durable.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, g
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.extensions import db


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` after the current unit of work commits (immediately outside a request)."""
    try:
        pending = g.setdefault("_after_commit", [])
    except RuntimeError:  # no app context: CLI or job code that commits itself
        callback()
        return
    pending.append(callback)


def run_after_commit() -> None:
    callbacks = g.pop("_after_commit", [])
    for callback in callbacks:
        callback()


def commit() -> None:
    """Commit outside a request (CLI commands, jobs) and run what waited for it."""
    db.session.commit()
    run_after_commit()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # pragma: no cover - driver hook
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # pysqlite's own transaction handling breaks SAVEPOINTs and defers BEGIN; let SQLAlchemy
        # emit BEGIN itself (see the "begin" hook) so rollbacks and savepoints are real.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _reading_request() -> bool:
    """A page view: reads only. (Token API calls write even when they read: the token's last use.)"""
    from flask import has_request_context, request

    return has_request_context() and request.method in ("GET", "HEAD", "OPTIONS") and request.blueprint != "api"


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):  # pragma: no cover - driver hook
    if connection.dialect.name == "sqlite":
        # A transaction that writes takes SQLite's write lock at BEGIN (IMMEDIATE): one that read
        # first and wants to write after another connection committed cannot get the lock at all
        # (SQLITE_BUSY at once, no waiting), so two people acting at the same moment would see an
        # error. Writers queue instead (up to the connection's timeout). Page views read and start
        # deferred, so they never wait for writers.
        connection.exec_driver_sql("BEGIN" if _reading_request() else "BEGIN IMMEDIATE")


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish_unit_of_work(response: Response) -> Response:
        if response.status_code < 400:
            db.session.commit()
            run_after_commit()
        else:
            db.session.rollback()
            g.pop("_after_commit", None)
        return response

    @app.teardown_request
    def _rollback_on_error(exc):
        if exc is not None:
            db.session.rollback()
