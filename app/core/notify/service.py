"""Notify users: in-app rows and outbox messages written in the caller's transaction, sent by jobs
after it commits, at most once per key, recipient and channel, retried with backoff."""
from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Literal

from flask import current_app
from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.core import jobs
from app.core.fastsql import Fast, deferred_script, session_connection
from app.core.models import utcnow
from app.core.notify.channels import SENDERS, ChannelError, Outgoing
from app.core.notify.models import CHANNELS, Notification, NotifyAddress, OutboxMessage
from app.extensions import db

log = logging.getLogger(__name__)

INAPP = "inapp"
BACKOFF = (60, 300, 1800)  # seconds before the 2nd, 3rd and 4th attempt
MAX_ATTEMPTS = len(BACKOFF) + 1
LOST_AFTER = timedelta(minutes=5)  # a pending message never tried by then is picked up again
NOT_DUE_SLACK = timedelta(seconds=5)

Resolver = Callable[[int], "str | None"]
_RESOLVERS: dict[str, Resolver] = {}


class Notified:
    """What `notify` wrote: in-app notifications and outbox messages. In-app rows written in bulk
    are loaded only if the caller looks at them (most callers do not)."""

    def __init__(self, notifications: list[Notification] | None = None,
                 messages: list[OutboxMessage] | None = None, *, notification_ids: list[int] | None = None):
        self._notifications = notifications
        self._ids = notification_ids or []
        self.messages = messages or []

    @property
    def notifications(self) -> list[Notification]:
        if self._notifications is None:
            self._notifications = list(db.session.scalars(
                select(Notification).where(Notification.id.in_(self._ids)).order_by(Notification.id))) \
                if self._ids else []
        return self._notifications


_INSERT_NOTIFICATION = Fast(insert(Notification.__table__).returning(Notification.__table__.c.id))
_INSERT_NOTIFICATION_DEFERRED = Fast(insert(Notification.__table__))


# --- addresses --------------------------------------------------------------------------------

def register_address_resolver(channel: str, fn: Resolver) -> None:
    """Let `fn(user_id) -> address | None` find a user's address on `channel` (replaces the
    default, e.g. a WeCom directory lookup)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    _RESOLVERS[channel] = fn


def _stored(user_id: int, column: str) -> str | None:
    row = db.session.get(NotifyAddress, user_id)
    return getattr(row, column) if row is not None else None


def _staff_phone(user_id: int) -> str | None:
    from app.modules.accounts.models import User
    from app.modules.org.models import Staff

    return db.session.scalar(select(Staff.phone).join(User, User.staff_id == Staff.id)
                             .where(User.id == user_id))


_DEFAULT_RESOLVERS: dict[str, Resolver] = {
    "email": lambda user_id: _stored(user_id, "email"),
    "sms": lambda user_id: _stored(user_id, "mobile") or _staff_phone(user_id),
    "wecom": lambda user_id: _stored(user_id, "wecom_userid"),
}


def resolve_address(channel: str, user_id: int) -> str | None:
    fn = _RESOLVERS.get(channel) or _DEFAULT_RESOLVERS[channel]
    address = fn(user_id)
    return address.strip() if address and address.strip() else None


def set_addresses(user_id: int, **values: str | None) -> NotifyAddress:
    """Store a user's own e-mail, mobile or WeCom id (keys: email, mobile, wecom_userid)."""
    unknown = set(values) - {"email", "mobile", "wecom_userid"}
    if unknown:
        raise ValueError(f"unknown address fields: {sorted(unknown)}")
    row = db.session.get(NotifyAddress, user_id) or NotifyAddress(user_id=user_id)
    for name, value in values.items():
        setattr(row, name, (value or "").strip() or None)
    db.session.add(row)
    db.session.flush()
    return row


# --- writing ----------------------------------------------------------------------------------

def _is_relative(link: str) -> bool:
    return link.startswith("/") and not link.startswith(("//", "/\\"))


def _row_key(key: str, channel: str, user_id: int) -> str:
    raw = f"{key}|{channel}|{user_id}"
    return raw if len(raw) <= 255 else "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def notify(user_ids: Iterable[int], kind: str, title: str, body: str = "", link: str | None = None,
           channels: Iterable[str] = (INAPP,), important: bool = False,
           key: str | None = None) -> Notified:
    """Notify users on `channels` ("inapp", "email", "wecom", "sms") in the current transaction.

    Channel messages are sent by the `notify.send_outbox` job after the commit. With `key`, calling
    again with the same key adds nothing for a recipient and channel already notified.
    `link` is a relative URL of the task or record the notification is about.
    """
    recipients = list(dict.fromkeys(int(user_id) for user_id in user_ids))
    wanted = list(dict.fromkeys(channels))
    unknown = set(wanted) - {INAPP, *CHANNELS}
    if unknown:
        raise ValueError(f"unknown notification channels: {sorted(unknown)}")
    if link is not None and not _is_relative(link):
        raise ValueError("a notification link must be a relative URL starting with /")
    if key is None and wanted == [INAPP]:
        # The common case (in-app only, no key): one INSERT for all recipients, no ORM objects.
        if not recipients:
            return Notified([], [])
        now = utcnow()
        script = deferred_script()
        if script is not None:  # written with the caller's other rows (their ids are not needed)
            script.add_many(_INSERT_NOTIFICATION_DEFERRED, [
                {"user_id": user_id, "kind": kind, "title": title[:200], "body": body or "", "link": link,
                 "important": important, "dedupe_key": None, "created_at": now, "read_at": None}
                for user_id in recipients])
            return Notified([], [])
        connection, ids = session_connection(db.session()), []
        for user_id in recipients:
            cursor = _INSERT_NOTIFICATION.run(connection, {
                "user_id": user_id, "kind": kind, "title": title[:200], "body": body or "", "link": link,
                "important": important, "dedupe_key": None, "created_at": now, "read_at": None})
            ids.append(cursor.fetchone()[0])
            cursor.close()
        return Notified(notification_ids=ids)
    base = key or uuid.uuid4().hex
    rows: list[Notification | OutboxMessage] = []
    for user_id in recipients:
        for channel in wanted:
            row_key = _row_key(base, channel, user_id)
            if channel == INAPP:
                rows.append(Notification(user_id=user_id, kind=kind, title=title[:200],
                                         body=body or "", link=link, important=important,
                                         dedupe_key=row_key if key else None))
            else:
                rows.append(OutboxMessage(channel=channel, user_id=user_id,
                                          address=resolve_address(channel, user_id),
                                          subject=title[:200], body=body or "",
                                          idempotency_key=row_key, status="pending", attempts=0))
    added = _add_rows(rows) if key else _add_all(rows)
    result = Notified([r for r in added if isinstance(r, Notification)],
                      [r for r in added if isinstance(r, OutboxMessage)])
    for message in result.messages:
        jobs.enqueue("notify.send_outbox", message.id)
    return result


def _add_all(rows: list) -> list:
    db.session.add_all(rows)
    db.session.flush()
    return rows


def _add_rows(rows: list) -> list:
    """Insert the rows whose key is new; a concurrent insert of the same key loses quietly."""
    inapp_keys = [r.dedupe_key for r in rows if isinstance(r, Notification)]
    outbox_keys = [r.idempotency_key for r in rows if isinstance(r, OutboxMessage)]
    seen = set()
    if inapp_keys:
        seen.update(db.session.scalars(select(Notification.dedupe_key)
                                       .where(Notification.dedupe_key.in_(inapp_keys))))
    if outbox_keys:
        seen.update(db.session.scalars(select(OutboxMessage.idempotency_key)
                                       .where(OutboxMessage.idempotency_key.in_(outbox_keys))))
    added = []
    for row in rows:
        row_key = row.dedupe_key if isinstance(row, Notification) else row.idempotency_key
        if row_key in seen:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            continue
        added.append(row)
    return added


# --- reading ----------------------------------------------------------------------------------

def for_user(user):
    """Select a user's notifications, unread first, newest first."""
    return (select(Notification).where(Notification.user_id == user.id)
            .order_by(case((Notification.read_at.is_(None), 0), else_=1),
                      Notification.created_at.desc(), Notification.id.desc()))


def unread_count(user) -> int:
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return db.session.scalar(select(func.count(Notification.id))
                             .where(Notification.user_id == user.id,
                                    Notification.read_at.is_(None))) or 0


def get_own(user, notification_id: int) -> Notification | None:
    """The user's notification with that id; None for someone else's (answer 404)."""
    return db.session.scalar(select(Notification).where(Notification.id == notification_id,
                                                        Notification.user_id == user.id))


def mark_read(user, ids: Iterable[int] | Literal["all"]) -> int:
    """Mark the user's own notifications read (others' ids are ignored); returns how many."""
    stmt = update(Notification).where(Notification.user_id == user.id,
                                      Notification.read_at.is_(None))
    if ids != "all":
        wanted = [int(i) for i in ids]
        if not wanted:
            return 0
        stmt = stmt.where(Notification.id.in_(wanted))
    result = db.session.execute(stmt.values(read_at=utcnow())
                                .execution_options(synchronize_session="fetch"))
    return result.rowcount or 0


# --- sending ----------------------------------------------------------------------------------

@jobs.job("notify.send_outbox")
def send_outbox(message_id: int) -> str:
    """Send one outbox message: 'sent', 'retry', 'failed', or 'skipped' when there is nothing to do
    (already sent or failed, not due yet, or another worker has it)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.status != "pending":
        return "skipped"
    now = utcnow()
    if message.next_attempt_at is not None and message.next_attempt_at > now + NOT_DUE_SLACK:
        return "skipped"
    # Claim the attempt: a second worker holding a stale copy updates no row and stops.
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == "pending",
               OutboxMessage.attempts == message.attempts)
        .values(attempts=message.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        return "skipped"
    db.session.refresh(message)
    try:
        address = message.address or (resolve_address(message.channel, message.user_id)
                                      if message.user_id is not None else None)
        if not address:
            raise ChannelError(f"no {message.channel} address for the recipient", retry=False)
        message.address = address
        SENDERS[message.channel](current_app.config,
                                 Outgoing(message.channel, address, message.subject, message.body,
                                          message.idempotency_key))
    except ChannelError as exc:
        return _failed(message, str(exc), exc.retry)
    except Exception as exc:  # an adapter bug must not lose the message: retry like a network error
        log.exception("sending outbox message %s failed unexpectedly", message.id)
        return _failed(message, f"{type(exc).__name__}: {exc}", True)
    message.status, message.sent_at = "sent", utcnow()
    message.last_error, message.next_attempt_at = None, None
    db.session.flush()
    return "sent"


def _failed(message: OutboxMessage, error: str, retry: bool) -> str:
    message.last_error = error[:2000]
    if retry and message.attempts < MAX_ATTEMPTS:
        delay = BACKOFF[message.attempts - 1]
        message.next_attempt_at = utcnow() + timedelta(seconds=delay)
        db.session.flush()
        jobs.enqueue_in(delay, "notify.send_outbox", message.id)
        return "retry"
    message.status, message.next_attempt_at = "failed", None
    db.session.flush()
    log.warning("outbox message %s (%s) failed for good: %s", message.id, message.channel, error)
    return "failed"


@jobs.job("notify.retry_due", every_seconds=60)
def retry_due(limit: int = 500) -> int:
    """Queue pending messages whose retry is due, or that were never tried (a lost job)."""
    now = utcnow()
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending",
               or_(OutboxMessage.next_attempt_at <= now,
                   and_(OutboxMessage.next_attempt_at.is_(None),
                        OutboxMessage.created_at <= now - LOST_AFTER)))
        .order_by(OutboxMessage.id).limit(limit)).all()
    for message_id in ids:
        jobs.enqueue("notify.send_outbox", message_id)
    return len(ids)
