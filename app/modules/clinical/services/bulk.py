"""Bulk loading for the synthetic hospital and the benchmark: PostgreSQL COPY, SQLite executemany.

Rows are tuples of plain values already in the database's text form (dates 'YYYY-MM-DD', times
'YYYY-MM-DD HH:MM:SS.ffffff', booleans 0/1), written inside the session's transaction.
`without_indexes` drops the indexes, unique and foreign-key constraints of the given tables for
the load and recreates them after (PostgreSQL; one pass each is far cheaper than per-row upkeep).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from operator import itemgetter

from sqlalchemy import Table, UniqueConstraint, text
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex, ForeignKeyConstraint

from app.extensions import db

COPY_CHUNK = 200_000


def dialect() -> str:
    return db.session.get_bind().dialect.name


def _raw_cursor():
    return db.session.connection().connection.cursor()


def write_rows(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Append rows to `table` (COPY on PostgreSQL); returns how many."""
    cursor = _raw_cursor()
    count = 0
    if dialect() == "postgresql":
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        pending = 0
        for row in rows:
            writer.writerow(row)
            pending += 1
            if pending >= COPY_CHUNK:
                buffer.seek(0)
                cursor.copy_expert(statement, buffer)
                count += pending
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                pending = 0
        if pending:
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)
            count += pending
    else:
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        rows = rows if isinstance(rows, list) else list(rows)
        cursor.executemany(statement, rows)
        count = len(rows)
    cursor.close()
    return count


def _copy(statement: str, buffer) -> None:
    """One COPY on the session's connection; a broken constraint raises SQLAlchemy's IntegrityError
    (as any statement through the session would), so that callers can roll back a savepoint and retry."""
    from sqlalchemy.exc import IntegrityError

    cursor = _raw_cursor()
    try:
        cursor.copy_expert(statement, buffer, size=65536)
    except Exception as exc:
        dbapi = db.session.get_bind().dialect.dbapi
        if isinstance(exc, dbapi.IntegrityError):
            raise IntegrityError(statement, None, exc) from exc
        raise
    finally:
        cursor.close()


def copy_text(table: str, columns: Sequence[str], data: str) -> None:
    """COPY CSV text into a table (PostgreSQL only)."""
    cursor = _raw_cursor()
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", io.StringIO(data))
    cursor.close()


def reset_sequences(tables: Iterable[Table]) -> None:
    """After rows were written with explicit ids, move PostgreSQL's id sequences past them."""
    if dialect() != "postgresql":
        return
    for table in tables:
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))


def analyze(tables: Iterable[Table]) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load (else it plans for empty tables)."""
    if dialect() != "postgresql":
        return
    for table in tables:
        db.session.execute(text(f"ANALYZE {table.name}"))


@contextmanager
def without_indexes(tables: Sequence[Table]):
    """Drop secondary indexes, unique and foreign-key constraints during a PostgreSQL bulk load."""
    if dialect() != "postgresql":
        yield
        return
    connection = db.session.connection()
    names = {t.name for t in tables}
    existing = set(connection.execute(text(
        "SELECT conname FROM pg_constraint WHERE conrelid::regclass::text = ANY(:t)"), {"t": list(names)}).scalars())
    existing |= set(connection.execute(text(
        "SELECT indexname FROM pg_indexes WHERE tablename = ANY(:t)"), {"t": list(names)}).scalars())
    constraints = [c for t in tables for c in t.constraints
                   if c.name in existing and isinstance(c, (ForeignKeyConstraint, UniqueConstraint))]
    indexes = [i for t in tables for i in t.indexes if i.name in existing]
    for constraint in constraints:
        connection.execute(DropConstraint(constraint))
    for index in indexes:
        connection.execute(DropIndex(index))
    try:
        yield
    finally:
        connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for index in indexes:
            connection.execute(CreateIndex(index))
        for constraint in constraints:
            connection.execute(AddConstraint(constraint))


def _default_of(column):
    default = column.default
    if default is None or column.primary_key:
        return None
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)
    return None


def _layout(model, rows: list[dict], constants: dict) -> tuple[list[str], dict]:
    """The table's columns the rows give (in table order) and the constant value of every other
    column (`constants`, else its Python-side default, else NULL); None in a given column that has a
    default becomes the default, as the ORM would do."""
    given = set().union(*rows)
    present, fixed = [], {}
    for column in model.__table__.columns:
        key = column.key
        if column.primary_key and key == "id":
            continue
        if key in constants:
            fixed[key] = constants[key]
        elif key in given:
            present.append(key)
            default = _default_of(column)
            if default is not None and any(row.get(key) is None for row in rows):
                for row in rows:
                    if row.get(key) is None:
                        row[key] = default
        else:
            fixed[key] = _default_of(column)
    return present, fixed


def _tuples(rows: list[dict], present: list[str]):
    """Each row's values of `present`, in order (C-speed when every row has every key)."""
    if not present:
        return [()] * len(rows)
    getter = itemgetter(*present)
    if len(present) == 1:
        return [(row.get(present[0]),) for row in rows]
    try:
        return list(map(getter, rows))
    except KeyError:
        return [tuple(row.get(k) for k in present) for row in rows]


def insert_rows(model, rows: list[dict], returning: bool = False, constants: dict | None = None) -> list[int]:
    """Insert new rows (dicts holding at least their column values; other keys are ignored) in bulk;
    `constants` gives columns that are the same for every row (e.g. time stamps). Returns the new
    ids when asked.

    PostgreSQL: ids are drawn from the table's sequence and the rows go in with one COPY (the
    fastest way in; unique constraints still guard against a concurrent duplicate). Elsewhere an
    executemany INSERT.
    """
    if not rows:
        return []
    present, fixed = _layout(model, rows, constants or {})
    has_id = "id" in model.__table__.c and model.__table__.c.id.primary_key
    if dialect() != "postgresql":
        from sqlalchemy import func, insert, select

        payload = [{**fixed, **dict(zip(present, values))} for values in _tuples(rows, present)]
        ids = []
        if returning and has_id:
            # SQLite has one writer at a time; ids after the current maximum (RETURNING in order would
            # make SQLAlchemy insert row by row). A concurrent writer fails on the key and retries.
            first = (db.session.scalar(select(func.max(model.id))) or 0) + 1
            ids = list(range(first, first + len(rows)))
            for row, new_id in zip(payload, ids):
                row["id"] = new_id
        db.session.execute(insert(model.__table__), payload)  # Core: no ORM bookkeeping per row
        return ids
    names = [*present, *fixed]
    tail = tuple(None if v is None else str(v) for v in fixed.values())  # formatted once, not per row
    values = _tuples(rows, present)
    ids: list[int] = []
    if has_id:
        sequence = _sequence(model.__tablename__)
        cursor = _raw_cursor()  # thousands of ids: plain tuples, no result processing per row
        cursor.execute("SELECT nextval(CAST(%s AS regclass)) FROM generate_series(1, %s)", (sequence, len(rows)))
        ids = [row[0] for row in cursor.fetchall()]
        cursor.close()
        names.insert(0, "id")
        values = [(new_id, *row, *tail) for new_id, row in zip(ids, values)]
    elif tail:
        values = [(*row, *tail) for row in values]
    _copy(f"COPY {model.__tablename__} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)", CsvStream(values))
    return ids if returning else []


class CsvStream:
    """A file-like object COPY reads from, formatting rows as CSV a few thousand at a time: the server
    inserts (and maintains its indexes for) what it got while the next rows are being formatted."""

    ROWS = 2000

    def __init__(self, rows: Sequence[tuple]):
        self._rows, self._next = rows, 0
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._text, self._pos = "", 0

    def read(self, size: int = -1) -> str:
        if size < 0:
            return "".join(iter(lambda: self.read(1 << 20), ""))
        if self._pos >= len(self._text):
            if self._next >= len(self._rows):
                return ""
            self._buffer.seek(0)
            self._buffer.truncate()
            self._writer.writerows(self._rows[self._next:self._next + self.ROWS])
            self._next += self.ROWS
            self._text, self._pos = self._buffer.getvalue(), 0
        end = self._pos + size
        chunk = self._text[self._pos:end]
        self._pos = end
        return chunk


_SEQUENCES: dict[str, str] = {}


def _sequence(table: str) -> str:
    """The id sequence of a table (looked up once per process)."""
    found = _SEQUENCES.get(table)
    if found is None:
        found = _SEQUENCES[table] = db.session.scalar(text(f"SELECT pg_get_serial_sequence('{table}', 'id')"))
    return found
