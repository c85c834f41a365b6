"""One append-only, hash-chained audit log that every module writes to.

Each entry carries `seq` (1, 2, 3 … with no gaps) and `hash = sha256(prev_hash + canonical entry)`.
A single `audit_head` row holds the last seq and hash; every append locks it, so concurrent writers
queue up instead of forking the chain, and `verify()` detects an edited, removed (also at the tail)
or reordered entry.

The audit log is written by every approval, so appending costs few statements and no ORM work:
- PostgreSQL, one entry: one statement locks the head, computes the new hash in the database
  (sha256 of the previous hash and the entry's canonical JSON), moves the head and inserts the
  entry; it can travel in a workflow action's write script (`append_to_script`).
- Otherwise: `UPDATE audit_head … WHERE seq/hash = what this process last committed` (lock and
  check in one), or when someone else wrote since, `UPDATE … SET seq = seq + n RETURNING` to read
  the head under its lock; then the entries, and the new hash.
"""
from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, bindparam, insert, select, text, update
from sqlalchemy.orm import Mapped, mapped_column

from app.core.fastsql import Fast, Script, session_connection
from app.core.models import utcnow
from app.core.uow import after_commit
from app.extensions import db

GENESIS = "0" * 64


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_name: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)


class AuditHead(db.Model):
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


_ENTRY, _HEAD = AuditEntry.__table__, AuditHead.__table__
_ENTRY_COLUMNS = ("seq", "at", "actor_id", "actor_name", "action", "object_type", "object_id", "ip", "data",
                  "prev_hash", "hash", "summary")
# Takes the head's write lock and reads the previous hash in one statement (seq is the new last seq).
_BUMP_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + bindparam("n"))
              .returning(_HEAD.c.seq, _HEAD.c.hash))
_SET_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("new_hash"))
# PostgreSQL appends one entry in a single statement: lock and read the head (or start the chain
# when there is none yet), compute the new hash there (sha256 of the previous hash and the
# canonical entry, whose JSON starts with the seq only the head knows: `:rest` is the rest of it),
# move the head and insert the entry. The Python side checks the hash when it sees the result.
_PG_APPEND_ONE = text("""
WITH locked AS (SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE),
old AS (
    SELECT seq, hash FROM locked
    UNION ALL
    SELECT 0, CAST(:genesis AS VARCHAR) WHERE NOT EXISTS (SELECT 1 FROM locked)
),
new AS (
    INSERT INTO audit_head (id, seq, hash)
    SELECT 1, old.seq + 1,
           encode(sha256(convert_to(old.hash || '[' || (old.seq + 1)::text || :rest, 'UTF8')), 'hex')
    FROM old
    ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash
    RETURNING seq, hash
)
INSERT INTO audit_entry (seq, at, actor_id, actor_name, action, object_type, object_id, ip, data, prev_hash,
                         hash, summary)
SELECT new.seq, CAST(:at AS TIMESTAMP WITHOUT TIME ZONE), CAST(:actor_id AS INTEGER), CAST(:actor_name AS VARCHAR),
       CAST(:action AS VARCHAR), CAST(:object_type AS VARCHAR), CAST(:object_id AS VARCHAR), CAST(:ip AS VARCHAR),
       CAST(:data AS JSON), old.hash, new.hash, CAST(:summary AS TEXT)
FROM new, old
RETURNING id, seq, prev_hash, hash
""").bindparams(bindparam("data", type_=JSON))
_FAST_BUMP_HEAD = Fast(_BUMP_HEAD)
_FAST_MOVE_HEAD = Fast(update(_HEAD).where(_HEAD.c.id == 1, _HEAD.c.seq == bindparam("seen_seq"),
                                           _HEAD.c.hash == bindparam("seen_hash"))
                       .values(seq=bindparam("last"), hash=bindparam("new_hash")))
_FAST_SET_HASH = Fast(_SET_HASH)
_FAST_INSERT_ENTRY = Fast(insert(_ENTRY).returning(_ENTRY.c.id))
_FAST_PG_APPEND_ONE = Fast(_PG_APPEND_ONE)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
_DUMPS = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode


def _digest(prev_hash: str, seq: int, at: datetime, actor_id: int | None, actor_name: str | None,
            action: str, object_type: str | None, object_id: str | None, ip: str | None,
            data: dict, summary: str | None) -> str:
    payload = _DUMPS([seq, at.isoformat(timespec="microseconds"), actor_id, actor_name, action, object_type,
                      object_id, ip, data, summary])
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def _entry_digest(entry: Any) -> str:
    return _digest(entry.prev_hash, entry.seq, entry.at, entry.actor_id, entry.actor_name,
                   entry.action, entry.object_type, entry.object_id, entry.ip, entry.data or {},
                   entry.summary)


_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    """JSON-native data (str keys, no tuples, finite numbers): a JSON round trip gives it back as is."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return isinstance(value, _PLAIN)


def _normalise(data: dict[str, Any] | None) -> dict[str, Any]:
    # What is hashed must be exactly what the database returns later: plain data already is,
    # anything else (dates, tuples, numeric keys, …) goes through JSON once.
    if not data:
        return {}
    if _plain(data):
        return dict(data)
    return json.loads(json.dumps(data, ensure_ascii=False, sort_keys=True, default=str))


def _actor_values(actor: Any) -> tuple[int | None, str | None]:
    if actor is None:
        return None, None
    return getattr(actor, "id", None), getattr(actor, "display_name", None) or getattr(actor, "username", None)


def _bump_head(connection, n: int) -> tuple[int, str]:
    """Reserve `n` sequence numbers: (first new seq, previous hash), holding the head's lock."""
    row = _fetch_one(_FAST_BUMP_HEAD, connection, {"n": n})
    if row is None:  # the very first entry of this database
        if connection.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        connection.execute(dialect_insert(_HEAD).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing())
        row = _fetch_one(_FAST_BUMP_HEAD, connection, {"n": n})
    return row[0] - n + 1, row[1]


def _fetch_one(statement: Fast, connection, params: dict[str, Any]):
    cursor = statement.run(connection, params)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def record_many(entries: list[dict[str, Any]], *, returning: bool = True) -> list[AuditEntry]:
    """Append several entries at once, in order (each a dict of `record`'s keyword arguments plus
    `action`). One head update for all of them; they commit with the change they record.

    Returns detached copies of the entries as written (none with `returning=False`).
    """
    if not entries:
        return []
    at = utcnow()
    connection = session_connection(db.session())
    if len(entries) == 1 and connection.dialect.name == "postgresql":
        values = _entry_values(entries[0], at)
        written = _append_one_pg(connection, values)
        return [AuditEntry(**values, **written)] if returning else []
    values = [_entry_values(item, at) for item in entries]
    database = connection.engine  # the engine stands for its database (an app has one)
    known = _known_heads.get(database)
    rows = None
    if known is not None:
        # The head as this process last committed it: move it only if it is still that (which
        # also takes its lock) — one statement instead of reading it first.
        rows = _chain(values, known[0] + 1, known[1])
        cursor = _FAST_MOVE_HEAD.run(connection, {"last": rows[-1]["seq"], "new_hash": rows[-1]["hash"],
                                                  "seen_seq": known[0], "seen_hash": known[1]})
        moved = cursor.rowcount == 1
        cursor.close()
        if not moved:
            rows = None
    if rows is None:
        seq, prev_hash = _bump_head(connection, len(entries))
        rows = _chain(values, seq, prev_hash)
        _FAST_SET_HASH.run(connection, {"new_hash": rows[-1]["hash"]}).close()
    ids = [_fetch_one(_FAST_INSERT_ENTRY, connection, row)[0] for row in rows]
    last = (rows[-1]["seq"], rows[-1]["hash"])
    after_commit(lambda: _known_heads.__setitem__(database, last))
    return [AuditEntry(id=entry_id, **row) for entry_id, row in zip(ids, rows)] if returning else []


# Database (engine) → (seq, hash) of the head as this process last committed it: the next append
# moves the head from there if nobody else did meanwhile (else it reads the head as usual).
_known_heads: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _chain(values: list[dict[str, Any]], seq: int, prev_hash: str) -> list[dict[str, Any]]:
    rows = []
    for item in values:
        row = {"seq": seq, **item, "prev_hash": prev_hash}
        row["hash"] = prev_hash = _digest(prev_hash, seq, item["at"], item["actor_id"], item["actor_name"],
                                          item["action"], item["object_type"], item["object_id"], item["ip"],
                                          item["data"], item["summary"])
        rows.append(row)
        seq += 1
    return rows


def append_to_script(script: Script, entries: list[dict[str, Any]]) -> None:
    """Add entries to a write script (see `app.core.fastsql.Script`), in the script's order: on
    PostgreSQL one entry is one statement of the script (the database computes its hash from the
    head it locks); otherwise the script so far runs first and the entries are written at once."""
    if not entries:
        return
    if len(entries) == 1 and script.combine:
        script.add(_FAST_PG_APPEND_ONE, _pg_params(_entry_values(entries[0], utcnow())))
        return
    script.run()
    record_many(entries, returning=False)


def _pg_params(values: dict[str, Any]) -> dict[str, Any]:
    tail = _DUMPS([values["at"].isoformat(timespec="microseconds"), values["actor_id"], values["actor_name"],
                   values["action"], values["object_type"], values["object_id"], values["ip"], values["data"],
                   values["summary"]])
    return {**values, "rest": "," + tail[1:], "genesis": GENESIS}


def _entry_values(item: dict[str, Any], at: datetime) -> dict[str, Any]:
    actor_id, actor_name = _actor_values(item.get("actor"))
    object_id = item.get("object_id")
    return {"at": at, "actor_id": actor_id, "actor_name": actor_name, "action": item["action"],
            "object_type": item.get("object_type"), "object_id": None if object_id is None else str(object_id),
            "ip": item.get("ip"), "data": _normalise(item.get("data")), "summary": item.get("summary")}


def _append_one_pg(connection, values: dict[str, Any]) -> dict[str, Any]:
    """One entry in one statement (PostgreSQL): its id, seq, prev_hash and hash."""
    row = _fetch_one(_FAST_PG_APPEND_ONE, connection, _pg_params(values))
    written = {"id": row[0], "seq": row[1], "prev_hash": row[2], "hash": row[3]}
    expected = _digest(written["prev_hash"], written["seq"], values["at"], values["actor_id"], values["actor_name"],
                       values["action"], values["object_type"], values["object_id"], values["ip"], values["data"],
                       values["summary"])
    if expected != written["hash"]:  # the database and Python must agree on the chain
        raise RuntimeError(f"audit entry {written['seq']}: the database computed a different hash")
    return written


def record(action: str, *, actor: Any = None, object_type: str | None = None,
           object_id: Any = None, data: dict[str, Any] | None = None, summary: str | None = None,
           ip: str | None = None) -> AuditEntry:
    """Append an entry in the current transaction (it commits with the change it records).

    Returns a detached copy of the entry as written (with its id, seq and hash).
    """
    return record_many([{"action": action, "actor": actor, "object_type": object_type, "object_id": object_id,
                         "data": data, "summary": summary, "ip": ip}])[0]


@dataclass
class VerifyResult:
    entries: int
    ok: bool
    first_bad: int | None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "ok": self.ok, "first_bad": self.first_bad}


def verify(batch_size: int = 5000) -> VerifyResult:
    """Walk the chain in seq order; `first_bad` is the id of the first entry that breaks it.

    Reads plain rows (not ORM objects), so what is checked is what the database holds now.
    """
    prev_hash, expected_seq, count, last_id = GENESIS, 1, 0, None
    query = (select(_ENTRY.c.id, *(_ENTRY.c[name] for name in _ENTRY_COLUMNS)).order_by(_ENTRY.c.seq)
             .execution_options(yield_per=batch_size))
    for entry in db.session.execute(query):
        count += 1
        if entry.seq != expected_seq:
            return VerifyResult(count, False, entry.id, f"sequence gap before seq {entry.seq}")
        if entry.prev_hash != prev_hash or _entry_digest(entry) != entry.hash:
            return VerifyResult(count, False, entry.id, f"hash mismatch at seq {entry.seq}")
        prev_hash, expected_seq, last_id = entry.hash, expected_seq + 1, entry.id
    head = db.session.execute(_READ_HEAD).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        # Entries were removed from the end (or the head was tampered with).
        return VerifyResult(count, False, last_id, "chain ends before the recorded head")
    return VerifyResult(count, True, None)
