"""Upserting a batch of records by the sender's key: all rows or none.

`upsert(kind, rows)` checks every row first; one bad row refuses the whole batch with a per-row
report and writes nothing. A good batch is split into new, changed and unchanged rows (so sending
the same batch twice writes nothing the second time), written in bulk, and the doctor-months it
touches are recomputed in the same transaction. Codes missing from the dictionaries are listed in
`clinical_unknown_code` and in the result, never dropped.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.core.models import utcnow
from app.extensions import db
from app.modules.clinical.models import UnknownCode
from app.modules.clinical.services import bulk, metrics
from app.modules.clinical.services.base import fetch_by
from app.modules.clinical.services.kinds import KINDS, Context, chunks, matching
from app.modules.clinical.services.parsing import RowReader

MAX_BATCH = 5000  # rows per API call
MAX_REPORTED_ERRORS = 1000
WRITE_CHUNK = 20000


@dataclass
class Result:
    kind: str
    total: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    errors: list[dict] = field(default_factory=list)  # {row, source_id, field, message}
    error_rows: int = 0
    unknown_codes: list[dict] = field(default_factory=list)  # {dictionary, code, name, occurrences}
    preview: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "total": self.total, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "written": self.written, "error_rows": self.error_rows,
                "errors": self.errors, "unknown_codes": self.unknown_codes}


class UnknownKind(KeyError):
    pass


def kind_of(name: str):
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(name) from None


def check(kind_name: str, rows: list, *, first_row: int = 1, preview: int = 0,
          progress: Callable[[int, int], None] | None = None):
    """Convert and check every row; returns (result, prepared values, context). Writes nothing."""
    kind = kind_of(kind_name)
    result = Result(kind=kind.name, total=len(rows))
    ctx = Context()
    kind.prepare(ctx, rows)
    prepared: list[dict] = []
    seen: dict[str, int] = {}
    key_field = kind.key
    for index, row in enumerate(rows):
        number = first_row + index
        if progress is not None and index % 5000 == 0:
            progress(index, len(rows))
        if not isinstance(row, dict):
            _report(result, number, None, None, _("A row must be an object with named fields."))
            continue
        reader = RowReader(row)
        values = kind.convert(ctx, reader)
        key = values.get(key_field) if values else None
        if key is not None:
            if key in seen:
                reader.fail(key_field, _("Appears twice in this batch (rows %(first)d and %(second)d).",
                                         first=seen[key], second=number))
            else:
                seen[key] = number
        if reader.errors:
            result.error_rows += 1
            for name, message in reader.errors:
                _report(result, number, key or _raw_key(row, key_field), name, message)
            continue
        prepared.append(values)
        if len(result.preview) < preview:
            result.preview.append({k: _plain(v) for k, v in values.items() if not k.startswith("_")})
    result.error_rows = max(result.error_rows, len({e["row"] for e in result.errors}))
    if not result.errors:
        kind.finish(ctx, prepared)
    result.unknown_codes = [
        {"dictionary": dictionary, "code": code, "name": ctx.unknown_names.get((dictionary, code)),
         "occurrences": n} for (dictionary, code), n in sorted(ctx.unknown.items())]
    return result, prepared, ctx


def _raw_key(row: dict, key_field: str):
    value = row.get(key_field)
    return str(value)[:40] if value not in (None, "") else None


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if value is not None and not isinstance(value, (str, int, float, bool)):
        return str(value)
    return value


def _report(result: Result, row: int, key, name, message) -> None:
    if len(result.errors) < MAX_REPORTED_ERRORS:
        result.errors.append({"row": row, "source_id": key, "field": name, "message": str(message)})
    else:
        result.error_rows = max(result.error_rows, row)


def upsert(kind_name: str, rows: list, *, first_row: int = 1,
           progress: Callable[[int, int], None] | None = None) -> Result:
    """Check, then write all rows or none; returns what happened. The caller commits.

    The writes run in a savepoint. Should another import write one of these keys between our look-up
    and our insert (two senders, or a retry racing its original), the unique constraint stops ours;
    the savepoint is rolled back and the batch upserted again, now finding that row.
    """
    # A progress bar: checking is its first half, writing the second.
    halved = None if progress is None else (lambda done, total: progress(done, 2 * total))
    for attempt in range(3):
        result, prepared, ctx = check(kind_name, rows, first_row=first_row, progress=halved)
        if result.errors:
            return result
        try:
            with db.session.begin_nested():
                _write(kind_name, rows, result, prepared, ctx, progress)
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        return result


def _write(kind_name: str, rows: list, result: Result, prepared: list[dict], ctx: Context,
           progress: Callable[[int, int], None] | None) -> None:
    """Split the checked rows into new, changed and unchanged, and write them with the metrics."""
    kind = KINDS[kind_name]
    model, key_field = kind.model, kind.key
    key_column = getattr(model, key_field)
    columns = [getattr(model, c) for c in (*kind.compare, *kind.fetch_extra)]
    keys = [v[key_field] for v in prepared]
    existing = {row[0]: row for row in fetch_by(key_column, keys, model.id, *columns)}
    new, changed = [], []
    children_differ = kind.children_differ(existing, prepared)
    for values in prepared:
        old = existing.get(values[key_field])
        if old is None:
            new.append(values)
        elif values[key_field] in children_differ or any(getattr(old, c) != values[c] for c in kind.compare):
            changed.append((old, values))
    result.inserted, result.updated = len(new), len(changed)
    result.unchanged = len(prepared) - len(new) - len(changed)
    deltas = kind.deltas(ctx, new)  # before writing: it may look at what was there
    kind.before_write(ctx, new, changed)
    ids = {values[key_field]: old.id for old, values in changed}
    table_columns = {c.key for c in model.__table__.columns}
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now} if "created_at" in table_columns else {}
    for start in range(0, len(new), WRITE_CHUNK):
        part = new[start:start + WRITE_CHUNK]
        new_ids = bulk.insert_rows(model, part, returning=kind.need_ids, constants=stamps)
        ids.update(zip((values[key_field] for values in part), new_ids))
        if progress is not None:
            progress(len(rows) + start + len(part), 2 * len(rows))
    if changed:
        payload = [{"id": old.id, **{k: v for k, v in values.items() if k in table_columns and k != "id"}}
                   for old, values in changed]
        for part in chunks(payload, WRITE_CHUNK):
            db.session.execute(update(model), part)
    kind.after_write(ctx, new, changed, ids)
    if kind.dictionary is not None:
        _resolve_unknown(kind.dictionary, keys)
    _record_unknown(result.unknown_codes)
    if deltas is not None:
        metrics.add(deltas)
        new = []
    metrics.refresh(kind.affected(ctx, new, changed))
    result.written = True


def _record_unknown(unknown: list[dict]) -> None:
    if not unknown:
        return
    now = utcnow()
    by_dictionary: dict[str, dict[str, dict]] = {}
    for item in unknown:
        by_dictionary.setdefault(item["dictionary"], {})[item["code"]] = item
    for dictionary, items in by_dictionary.items():
        stored = {}
        for clause in matching(UnknownCode.code, sorted(items)):
            stored.update({row.code: row for row in db.session.scalars(
                select(UnknownCode).where(UnknownCode.dictionary == dictionary, clause))})
        for code, item in items.items():
            row = stored.get(code)
            if row is None:
                db.session.add(UnknownCode(dictionary=dictionary, code=code[:32], name=(item["name"] or None),
                                           occurrences=item["occurrences"], first_seen_at=now, last_seen_at=now))
            else:
                row.occurrences += item["occurrences"]
                row.last_seen_at = now
                row.name = row.name or item["name"]
    db.session.flush()


def _resolve_unknown(dictionary: str, codes: list[str]) -> None:
    for clause in matching(UnknownCode.code, sorted(set(codes))):
        db.session.execute(delete(UnknownCode).where(UnknownCode.dictionary == dictionary, clause))
