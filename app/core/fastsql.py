"""Frequent small statements, compiled once and run on the DBAPI cursor.

Every workflow action reads and writes the same few rows (the instance and its open tasks, the task
it completed, new tasks, events, an audit entry, notifications). SQLAlchemy builds the SQL and the
type conversions (dates on SQLite, JSON) once per dialect and set of parameters; running them goes
straight to the driver's cursor of the session's connection, inside the session's transaction. That
skips the per-execution work of SQLAlchemy (execution context, result objects, events), which is
most of the cost of a small statement.

`Script` sends several statements together: one round trip on PostgreSQL (psycopg2 sends a string
of statements as one query and returns the last one's result), one after the other on SQLite,
which runs in-process anyway.

Only statements with plain named parameters belong here; anything with expanding parameters stays
on `Connection.execute`.
"""
from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.engine import Connection

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _result_processor(type_, dialect):
    """The dialect's conversion of a result value of this type (None: as the driver gives it)."""
    try:
        return type_.dialect_impl(dialect).result_processor(dialect, None)
    except Exception:  # noqa: BLE001 -- types that need the driver's column type (numerics): not converted
        return None


# PostgreSQL plans every statement it is sent; these statements run on every action, so they are
# PREPAREd once per connection (a prepared statement outlives transactions and rollbacks) and
# run with EXECUTE: no parsing and planning each time. A pooler that hands each transaction another
# server connection (PgBouncer's transaction mode) loses them: `configure(server_prepare=False)`
# (the DB_PREPARED_STATEMENTS setting) sends the statements as they are instead.
_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # driver connection -> names
_prepared_lock = threading.Lock()
_server_prepare = True


def configure(*, server_prepare: bool) -> None:
    global _server_prepare
    _server_prepare = server_prepare


def _server_side(sql: str) -> tuple[str, str]:
    """(PREPARE statement, EXECUTE statement with pyformat placeholders) of a pyformat statement."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    body = _PLACEHOLDER.sub(number, sql)
    name = "mt_" + hashlib.sha1(sql.encode("utf-8")).hexdigest()[:20]
    arguments = f" ({', '.join(f'%({item})s' for item in names)})" if names else ""
    return f"PREPARE {name} AS {body.replace('%%', '%')}", f"EXECUTE {name}{arguments}"


def _ensure_prepared(driver_connection, prepared: _Prepared) -> None:
    if prepared.prepare is None:
        return
    with _prepared_lock:
        names = _prepared_on.get(driver_connection)
        if names is None:
            names = _prepared_on[driver_connection] = set()
    if prepared.prepare in names:
        return
    cursor = driver_connection.cursor()
    try:
        cursor.execute(prepared.prepare)
    finally:
        cursor.close()
    names.add(prepared.prepare)


class _Prepared:
    __slots__ = ("compiled", "sql", "prepare", "positiontup", "processors", "static", "result_processors",
                 "_renamed")

    def __init__(self, statement, dialect, keys: tuple[str, ...], server_prepare: bool = True):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("expanding or literal-execute parameters are not supported here")
        if getattr(compiled, "escaped_bind_names", None):
            raise ValueError("parameter names that need escaping are not supported here")
        self.compiled = compiled
        self.sql = compiled.string
        self.prepare = None
        if server_prepare and dialect.name == "postgresql" and dialect.paramstyle == "pyformat":
            self.prepare, self.sql = _server_side(compiled.string)
        self.positiontup = tuple(compiled.positiontup) if compiled.positional else None
        self.processors = tuple(compiled._bind_processors.items())
        # Values the statement carries itself (literals in WHERE clauses, …); the caller's come on top.
        self.static = compiled.construct_params(_check=False)
        columns = getattr(statement, "selected_columns", None)
        processors = [_result_processor(column.type, dialect) for column in columns] if columns is not None else []
        self.result_processors = tuple(processors) if any(processors) else None
        self._renamed: dict[int, str] = {}

    def params(self, values: dict[str, Any]):
        named = {**self.static, **values}
        for name, processor in self.processors:
            value = named.get(name)
            if value is not None:
                named[name] = processor(value)
        if self.positiontup is None:
            return named
        return tuple(named[name] for name in self.positiontup)

    def convert(self, rows: list[tuple]) -> list[tuple]:
        processors = self.result_processors
        if processors is None:
            return rows
        return [tuple(value if processor is None or value is None else processor(value)
                      for processor, value in zip(processors, row)) for row in rows]

    def renamed(self, number: int) -> str:
        """The SQL with its pyformat placeholders prefixed `s<number>_` (statements of a script)."""
        sql = self._renamed.get(number)
        if sql is None:
            sql = self._renamed[number] = _PLACEHOLDER.sub(rf"%(s{number}_\1)s", self.sql)
        return sql


class Fast:
    """A Core statement run on the raw cursor: `run` → the cursor (for RETURNING rows or
    `rowcount`), `rows` → the result rows with their types converted, `run_many` → executemany."""

    def __init__(self, statement):
        self.statement = statement
        self._prepared: dict[tuple, _Prepared] = {}
        self._lock = threading.Lock()

    def prepared(self, connection: Connection, keys: tuple[str, ...]) -> _Prepared:
        dialect = connection.dialect
        cache_key = (dialect.name, dialect.driver, keys, _server_prepare)
        prepared = self._prepared.get(cache_key)
        if prepared is None:
            prepared = _Prepared(self.statement, dialect, keys, _server_prepare)
            with self._lock:
                self._prepared[cache_key] = prepared
        return prepared

    def run(self, connection: Connection, values: dict[str, Any]):
        prepared = self.prepared(connection, tuple(values))
        driver = connection.connection.driver_connection
        _ensure_prepared(driver, prepared)
        cursor = driver.cursor()
        cursor.execute(prepared.sql, prepared.params(values))
        return cursor

    def rows(self, connection: Connection, values: dict[str, Any]) -> list[tuple]:
        prepared = self.prepared(connection, tuple(values))
        driver = connection.connection.driver_connection
        _ensure_prepared(driver, prepared)
        cursor = driver.cursor()
        try:
            cursor.execute(prepared.sql, prepared.params(values))
            return prepared.convert(cursor.fetchall())
        finally:
            cursor.close()

    def run_many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        prepared = self.prepared(connection, tuple(rows[0]))
        driver = connection.connection.driver_connection
        _ensure_prepared(driver, prepared)
        cursor = driver.cursor()
        try:
            cursor.executemany(prepared.sql, [prepared.params(values) for values in rows])
        finally:
            cursor.close()


class Script:
    """Statements sent together; `run()` returns the last one's rows (converted) and row count.

    On PostgreSQL they travel as one query string (one round trip): a failing statement aborts the
    ones after it, as it would one by one. Elsewhere they run one after the other.
    """

    def __init__(self, connection: Connection):
        self.connection = connection
        self.combine = connection.dialect.name == "postgresql" and connection.dialect.paramstyle == "pyformat"
        self.parts: list[tuple[str, Any, _Prepared | None]] = []

    def __bool__(self) -> bool:
        return bool(self.parts)

    def sql(self, text: str) -> Script:
        """A statement without parameters (SAVEPOINT, RELEASE …); no `%` in it."""
        self.parts.append((text, None, None))
        return self

    def add(self, fast: Fast, values: dict[str, Any]) -> Script:
        prepared = fast.prepared(self.connection, tuple(values))
        _ensure_prepared(self.connection.connection.driver_connection, prepared)
        self.parts.append((prepared.sql, prepared.params(values), prepared))
        return self

    def add_many(self, fast: Fast, rows: list[dict[str, Any]]) -> Script:
        for values in rows:
            self.add(fast, values)
        return self

    def run(self) -> tuple[list[tuple], int]:
        parts, self.parts = self.parts, []
        if not parts:
            return [], -1
        cursor = self.connection.connection.driver_connection.cursor()
        try:
            if self.combine and len(parts) > 1:
                texts, params = [], {}
                for number, (sql, values, prepared) in enumerate(parts):
                    if prepared is None:
                        texts.append(sql)
                        continue
                    texts.append(prepared.renamed(number))
                    params.update((f"s{number}_{name}", value) for name, value in values.items())
                cursor.execute(";\n".join(texts), params)
            else:
                for sql, values, _prepared in parts:
                    cursor.execute(sql, values) if values is not None else cursor.execute(sql)
            last = parts[-1][2]
            rows = cursor.fetchall() if cursor.description is not None else []
            return (last.convert(rows) if last is not None else rows), cursor.rowcount
        finally:
            cursor.close()


_deferring: ContextVar[Script | None] = ContextVar("mt_fastsql_deferring", default=None)


@contextmanager
def deferring(script: Script) -> Iterator[Script]:
    """Writers that can (`deferred_script()`) add their statements to `script` instead of running
    them: they go out with it (one round trip on PostgreSQL) and fail or roll back with it."""
    token = _deferring.set(script)
    try:
        yield script
    finally:
        _deferring.reset(token)


def deferred_script() -> Script | None:
    return _deferring.get()


_transaction_connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def session_connection(session) -> Connection:
    """`session.connection()`, remembered for the session's current (innermost) transaction: looking
    it up through the session costs more than the statements these helpers run. A nested
    transaction (savepoint) is a new key, so that asking the session first opens its savepoint."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is not None:
        found = _transaction_connections.get(transaction)
        if found is not None and not found.closed:
            return found
    connection = session.connection()
    _transaction_connections[session.get_nested_transaction() or session.get_transaction()] = connection
    return connection
