"""Frequent statements on the driver's cursor: results converted like SQLAlchemy's, and on
PostgreSQL prepared once per connection unless a transaction-mode pooler forbids it
(DB_PREPARED_STATEMENTS)."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import DateTime, bindparam, cast, literal, select, text

from app.core import fastsql
from app.extensions import db


def _statement(marker: str, backend: str):
    # A label of its own: no earlier test can have prepared this very statement on the connection.
    # PostgreSQL needs the parameter's type spelled out (a prepared `$1` alone is text).
    at = bindparam("at", type_=DateTime)
    return select((cast(at, DateTime) if backend == "postgres" else at).label(f"at_{marker}"),
                  literal(marker).label("marker"))


def _prepared_names(connection) -> set[str]:
    return set(connection.execute(text("SELECT name FROM pg_prepared_statements")).scalars())


@pytest.mark.parametrize("server_prepare", [True, False])
def test_statements_run_on_the_cursor_prepared_only_when_allowed(ctx, backend, server_prepare):
    marker = uuid.uuid4().hex[:12]
    fast = fastsql.Fast(_statement(marker, backend))
    connection = fastsql.session_connection(db.session())
    before = _prepared_names(connection) if backend == "postgres" else set()
    at = datetime(2026, 11, 28, 9, 30, 15, 123456)
    fastsql.configure(server_prepare=server_prepare)
    try:
        assert fast.rows(connection, {"at": at}) == [(at, marker)]  # dates come back as dates on SQLite too
        assert fast.rows(connection, {"at": at}) == [(at, marker)]
    finally:
        fastsql.configure(server_prepare=True)
    if backend == "postgres":
        added = _prepared_names(connection) - before
        assert len(added) == (1 if server_prepare else 0), added


def test_a_script_runs_its_statements_in_order_and_returns_the_last_ones_rows(ctx, backend):
    first, second = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    connection = fastsql.session_connection(db.session())
    at = datetime(2026, 1, 2, 3, 4, 5)
    script = fastsql.Script(connection)
    script.add(fastsql.Fast(_statement(first, backend)), {"at": at})
    script.add(fastsql.Fast(_statement(second, backend)), {"at": at})
    rows, _count = script.run()
    assert rows == [(at, second)] and not script
