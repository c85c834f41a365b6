"""One append-only, hash-chained audit log that every module writes to.

Each entry carries `seq` (1, 2, 3 … with no gaps) and `hash = sha256(prev_hash + canonical entry)`.
A single `audit_head` row holds the last seq and hash; appending locks it (SELECT … FOR UPDATE on
PostgreSQL, SQLite serialises writers anyway), so concurrent writers cannot fork the chain, and
`verify()` detects an edited, removed (also at the tail) or reordered entry.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import utcnow
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


def _digest(prev_hash: str, seq: int, at: datetime, actor_id: int | None, actor_name: str | None,
            action: str, object_type: str | None, object_id: str | None, ip: str | None,
            data: dict, summary: str | None) -> str:
    payload = json.dumps(
        [seq, at.isoformat(timespec="microseconds"), actor_id, actor_name, action, object_type,
         object_id, ip, data, summary],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def _entry_digest(entry: AuditEntry) -> str:
    return _digest(entry.prev_hash, entry.seq, entry.at, entry.actor_id, entry.actor_name,
                   entry.action, entry.object_type, entry.object_id, entry.ip, entry.data or {},
                   entry.summary)


def _normalise(data: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip through JSON so that what is hashed is exactly what the database returns later.
    return json.loads(json.dumps(data or {}, ensure_ascii=False, sort_keys=True, default=str))


def record(action: str, *, actor: Any = None, object_type: str | None = None,
           object_id: Any = None, data: dict[str, Any] | None = None, summary: str | None = None,
           ip: str | None = None) -> AuditEntry:
    """Append an entry in the current transaction (it commits with the change it records)."""
    head = db.session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        db.session.add(head)
    at = utcnow()
    seq = head.seq + 1
    actor_id = getattr(actor, "id", None)
    actor_name = getattr(actor, "display_name", None) or getattr(actor, "username", None)
    entry = AuditEntry(
        seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action,
        object_type=object_type, object_id=None if object_id is None else str(object_id),
        ip=ip, data=_normalise(data), summary=summary, prev_hash=head.hash,
    )
    entry.hash = _entry_digest(entry)
    head.seq, head.hash = seq, entry.hash
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass
class VerifyResult:
    entries: int
    ok: bool
    first_bad: int | None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "ok": self.ok, "first_bad": self.first_bad}


def verify(batch_size: int = 5000) -> VerifyResult:
    """Walk the chain in seq order; `first_bad` is the id of the first entry that breaks it."""
    prev_hash, expected_seq, count, last_id = GENESIS, 1, 0, None
    query = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch_size)
    for entry in db.session.scalars(query):
        count += 1
        if entry.seq != expected_seq:
            return VerifyResult(count, False, entry.id, f"sequence gap before seq {entry.seq}")
        if entry.prev_hash != prev_hash or _entry_digest(entry) != entry.hash:
            return VerifyResult(count, False, entry.id, f"hash mismatch at seq {entry.seq}")
        prev_hash, expected_seq, last_id = entry.hash, expected_seq + 1, entry.id
    head = db.session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        # Entries were removed from the end (or the head was tampered with).
        return VerifyResult(count, False, last_id, "chain ends before the recorded head")
    return VerifyResult(count, True, None)
