"""Tables of the BPM kernel (prefix `wf_`).

Definitions: processes, decisions and forms by key and version (draft → published → retired).
Runtime: one `wf_instance` row per process instance (serialized SpiffWorkflow state, a `version`
counter for optimistic locking, the next timer due), the human-task projection the inbox reads
(`wf_task` + `wf_task_candidate`, kept only for open tasks), the event history, comments,
attachments, copies (抄送), message subscriptions and the decision log.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import utcnow
from app.extensions import db

DRAFT, PUBLISHED, RETIRED = "draft", "published", "retired"
VERSION_STATUSES = (DRAFT, PUBLISHED, RETIRED)

# instance statuses
RUNNING, COMPLETED, REJECTED, WITHDRAWN, CANCELLED, INCIDENT = (
    "running", "completed", "rejected", "withdrawn", "cancelled", "incident")
ACTIVE_STATUSES = (RUNNING, INCIDENT)

# task statuses
OPEN, DELEGATED = "open", "delegated"
TASK_DONE, TASK_CANCELLED, TASK_RETURNED, TASK_WITHDRAWN = "completed", "cancelled", "returned", "withdrawn"
OPEN_STATUSES = (OPEN, DELEGATED)

_USER = "user_account.id"


class _Versioned:
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=DRAFT, index=True)
    checksum: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16), default="studio")  # shipped | studio | api
    author_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    retired_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class ProcessDefinition(db.Model):
    __tablename__ = "wf_process_definition"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)  # the BPMN process id
    name: Mapped[str] = mapped_column(String(200))
    module: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[ProcessVersion]] = relationship(back_populates="definition",
                                                          order_by="ProcessVersion.version")


class ProcessVersion(_Versioned, db.Model):
    __tablename__ = "wf_process_version"
    __table_args__ = (UniqueConstraint("definition_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("wf_process_definition.id"), index=True)
    version: Mapped[int]
    bpmn_xml: Mapped[str] = mapped_column(Text)
    warnings: Mapped[list] = mapped_column(JSON, default=list)

    definition: Mapped[ProcessDefinition] = relationship(back_populates="versions")

    @property
    def key(self) -> str:
        return self.definition.key


class DecisionVersion(_Versioned, db.Model):
    __tablename__ = "wf_decision_version"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)  # the DMN decision id
    name: Mapped[str] = mapped_column(String(200))
    module: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int]
    dmn_xml: Mapped[str] = mapped_column(Text)


class FormVersion(_Versioned, db.Model):
    __tablename__ = "wf_form_version"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)  # file stem
    module: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int]
    content: Mapped[dict] = mapped_column(JSON)  # the form file: {"title", "schema", "ui"} (see forms.py)


class Instance(db.Model):
    __tablename__ = "wf_instance"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("wf_process_version.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(120), index=True)
    title: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(120), index=True)
    subject: Mapped[str | None] = mapped_column(String(200), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RUNNING, index=True)
    suspended: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(Text)  # SpiffWorkflow state without the spec (JSON)
    version: Mapped[int] = mapped_column(default=1)
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey(_USER), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    incident: Mapped[str | None] = mapped_column(Text)  # the error an administrator sees

    process_version: Mapped[ProcessVersion] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class Task(db.Model):
    """A human task as the inbox sees it (projected from the workflow state)."""

    __tablename__ = "wf_task"
    __table_args__ = (
        Index("ix_wf_task_assignee_status", "assignee_id", "status"),
        Index("ix_wf_task_instance_status", "instance_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"))
    spiff_id: Mapped[str] = mapped_column(String(36), index=True)
    spec: Mapped[str] = mapped_column(String(120))  # BPMN id of the user task
    name: Mapped[str] = mapped_column(String(200))
    process_key: Mapped[str] = mapped_column(String(120))
    form: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(40))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))  # who delegated it (委派)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    outcome: Mapped[str | None] = mapped_column(String(32))
    countersign_of: Mapped[str | None] = mapped_column(String(36))  # spiff id of a multi-instance parent
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey(_USER), index=True)
    comment: Mapped[str | None] = mapped_column(Text)
    urged_at: Mapped[datetime | None]

    instance: Mapped[Instance] = relationship()
    candidates: Mapped[list[TaskCandidate]] = relationship(cascade="all, delete-orphan",
                                                           back_populates="task")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TaskCandidate(db.Model):
    """Who may claim an open task: a user, or (when nobody holds the role yet) a role pool."""

    __tablename__ = "wf_task_candidate"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("wf_task.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey(_USER), index=True)
    role: Mapped[str | None] = mapped_column(String(40), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))

    task: Mapped[Task] = relationship(back_populates="candidates")


class Event(db.Model):
    __tablename__ = "wf_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("wf_task.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    action: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    comment: Mapped[str | None] = mapped_column(Text)
    data_before: Mapped[dict | None] = mapped_column(JSON)
    data_after: Mapped[dict | None] = mapped_column(JSON)
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    task: Mapped[Task | None] = relationship()


class Comment(db.Model):
    __tablename__ = "wf_comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("wf_task.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(db.Model):
    """A file of an instance; the bytes live under `instance/attachments/` by SHA-256."""

    __tablename__ = "wf_attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("wf_task.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    mime: Mapped[str] = mapped_column(String(120))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskCopy(db.Model):
    """抄送: a task (or instance) copied to someone for information."""

    __tablename__ = "wf_task_copy"
    __table_args__ = (Index("ix_wf_task_copy_user_read", "user_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("wf_task.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey(_USER))
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class MessageSubscription(db.Model):
    """An instance waiting for a message (name + correlation key)."""

    __tablename__ = "wf_message_subscription"
    __table_args__ = (Index("ix_wf_message_subscription_lookup", "message", "correlation_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    message: Mapped[str] = mapped_column(String(200))
    correlation_key: Mapped[str | None] = mapped_column(String(200))


class DecisionLog(db.Model):
    """Every decision evaluated by a business-rule task: what went in, which rules matched, what came
    out. The rules studio backtests new table versions against it."""

    __tablename__ = "wf_decision_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    decision_key: Mapped[str] = mapped_column(String(120), index=True)
    decision_version_id: Mapped[int | None] = mapped_column(ForeignKey("wf_decision_version.id"))
    decision_version: Mapped[int | None]
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    task: Mapped[str | None] = mapped_column(String(120))  # BPMN id of the business-rule task
    spiff_task_id: Mapped[str | None] = mapped_column(String(36))
    inputs: Mapped[dict] = mapped_column(JSON, default=dict)
    matched_rules: Mapped[list] = mapped_column(JSON, default=list)
    outputs: Mapped[dict | list | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
