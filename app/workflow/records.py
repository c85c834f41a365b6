"""Comments and attachments of an instance; who takes part in an instance.

Attachment bytes are stored once per content under `<instance>/attachments/<sha[:2]>/<sha256>`;
the row records the name, size and type the uploader gave.
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
import tempfile
from pathlib import Path
from typing import Any

import filetype
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import exists, or_, select

from app.extensions import db

from . import clock
from .errors import NotFound, PermissionDenied, ProcessError
from .models import OPEN_STATUSES, Attachment, Comment, Event, Instance, Task, TaskCandidate, TaskCopy
from .permissions import actor_id, is_admin, is_candidate


def _instance(instance: Instance | int) -> Instance:
    row = instance if isinstance(instance, Instance) else db.session.get(Instance, instance)
    if row is None:
        raise NotFound(_("No such process instance."))
    return row


def is_participant(actor: Any, instance: Instance | int) -> bool:
    """The applicant, anyone who has or had a task in it, anyone it was copied to, administrators,
    and anyone in the role pool of one of its open tasks (granted the role after the task was made)."""
    instance = _instance(instance)
    uid = actor_id(actor)
    if uid is None:
        return False
    if instance.started_by_id == uid or is_admin(actor):
        return True
    task_ids = select(Task.id).where(Task.instance_id == instance.id)
    if db.session.scalar(select(
            exists().where(Task.instance_id == instance.id,
                           or_(Task.assignee_id == uid, Task.completed_by_id == uid, Task.owner_id == uid))
            | exists().where(TaskCandidate.task_id.in_(task_ids), TaskCandidate.user_id == uid)
            | exists().where(TaskCopy.instance_id == instance.id, TaskCopy.user_id == uid))):
        return True
    pooled = db.session.scalars(select(Task).where(
        Task.instance_id == instance.id, Task.status.in_(OPEN_STATUSES), Task.assignee_id.is_(None),
        Task.id.in_(select(TaskCandidate.task_id).where(TaskCandidate.role.is_not(None)))))
    return any(is_candidate(task, uid) for task in pooled)


def _task_of(instance: Instance, task: Task | int | None) -> Task | None:
    if task is None:
        return None
    row = task if isinstance(task, Task) else db.session.get(Task, task)
    if row is None or row.instance_id != instance.id:
        raise NotFound(_("No such task."))
    return row


def add_comment(actor: Any, instance: Instance | int, body: str, *, task: Task | int | None = None,
                check: bool = True) -> Comment:
    instance = _instance(instance)
    if check and not is_participant(actor, instance):
        raise PermissionDenied(_("You do not take part in this process."))
    body = (body or "").strip()
    if not body:
        raise ProcessError(_("A comment cannot be empty."))
    task_row = _task_of(instance, task)
    comment = Comment(instance_id=instance.id, task_id=task_row.id if task_row else None,
                      author_id=actor_id(actor), body=body, created_at=clock.utcnow())
    db.session.add(comment)
    if check:
        db.session.add(Event(instance_id=instance.id, task_id=comment.task_id, actor_id=actor_id(actor),
                             action="comment", at=comment.created_at, comment=body, details={}))
    db.session.flush()
    return comment


def storage_dir() -> Path:
    return Path(current_app.instance_path) / "attachments"


def attachment_path(attachment: Attachment) -> Path:
    return storage_dir() / attachment.sha256[:2] / attachment.sha256


def _store(content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    target = storage_dir() / digest[:2] / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file, two writers of the same content
        # end with the same bytes.
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temp, target)
    return digest


def add_attachment(actor: Any, instance: Instance | int, name: str, content: bytes, mime: str | None = None,
                   *, task: Task | int | None = None) -> Attachment:
    instance = _instance(instance)
    if not is_participant(actor, instance):
        raise PermissionDenied(_("You do not take part in this process."))
    if not isinstance(content, (bytes, bytearray)):
        raise ProcessError(_("An attachment must be a file."))
    name = Path((name or "").replace("\\", "/")).name.strip()[:255]
    if not name:
        raise ProcessError(_("An attachment needs a file name."))
    limit = current_app.config.get("MAX_UPLOAD_MB", 20) * 1024 * 1024
    if len(content) > limit:
        raise ProcessError(_("The file is larger than %(mb)s MB.", mb=limit // (1024 * 1024)))
    kind = filetype.guess(bytes(content[:8192]))
    mime = mime or (kind.mime if kind else None) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    task_row = _task_of(instance, task)
    row = Attachment(instance_id=instance.id, task_id=task_row.id if task_row else None,
                     uploaded_by_id=actor_id(actor), name=name, size=len(content), mime=mime[:120],
                     sha256=_store(bytes(content)), created_at=clock.utcnow())
    db.session.add(row)
    db.session.add(Event(instance_id=instance.id, task_id=row.task_id, actor_id=actor_id(actor), action="attach",
                         at=row.created_at, details={"name": name, "size": len(content), "sha256": row.sha256}))
    db.session.flush()
    return row


def comments(instance_id: int) -> list[Comment]:
    return list(db.session.scalars(select(Comment).where(Comment.instance_id == instance_id).order_by(Comment.id)))


def attachments(instance_id: int) -> list[Attachment]:
    return list(db.session.scalars(select(Attachment).where(Attachment.instance_id == instance_id)
                                   .order_by(Attachment.id)))


def timeline(instance_id: int) -> list[Event]:
    return list(db.session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.id)))
