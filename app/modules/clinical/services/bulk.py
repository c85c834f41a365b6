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


def _fill_defaults(model, rows: list[dict]) -> list[str]:
    """Column names in table order, with Python-side defaults filled into rows that lack them."""
    columns = [c for c in model.__table__.columns]
    names = [c.key for c in columns]
    for column in columns:
        default = column.default
        if default is None or column.primary_key:
            continue
        if default.is_scalar:
            value = default.arg
        elif default.is_callable:
            value = default.arg(None)
        else:
            continue
        for row in rows:
            if row.get(column.key) is None:
                row[column.key] = value
    return names


def insert_rows(model, rows: list[dict], returning: bool = False) -> list[int]:
    """Insert new rows (dicts of column values) in bulk; returns their ids when asked.

    PostgreSQL: ids are drawn from the table's sequence and the rows go in with one COPY (the
    fastest way in; unique constraints still guard against a concurrent duplicate). Elsewhere an
    executemany INSERT.
    """
    if not rows:
        return []
    names = _fill_defaults(model, rows)
    has_id = "id" in names and model.__table__.c.id.primary_key
    if dialect() != "postgresql":
        from sqlalchemy import func, insert, select

        ids = []
        if returning and has_id:
            # SQLite has one writer at a time; ids after the current maximum (RETURNING in order would
            # make SQLAlchemy insert row by row). A concurrent writer fails on the key and retries.
            first = (db.session.scalar(select(func.max(model.id))) or 0) + 1
            ids = list(range(first, first + len(rows)))
            for row, new_id in zip(rows, ids):
                row["id"] = new_id
        db.session.execute(insert(model.__table__), rows)  # Core: no ORM bookkeeping per row
        return ids
    ids: list[int] = []
    if has_id:
        sequence = db.session.scalar(text(f"SELECT pg_get_serial_sequence('{model.__tablename__}', 'id')"))
        ids = list(db.session.execute(text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                                      {"seq": sequence, "n": len(rows)}).scalars())
        for row, new_id in zip(rows, ids):
            row["id"] = new_id
    else:
        names = [n for n in names if n != "id"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([[row.get(name) for name in names] for row in rows])
    buffer.seek(0)
    cursor = _raw_cursor()
    cursor.copy_expert(f"COPY {model.__tablename__} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)", buffer)
    cursor.close()
    return ids if returning else []
