"""A process record's story: what each step entered (read-only form sections), the timeline of
every event with actor and time, attachments and comments — read from the kernel's tables."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from app.extensions import db
from app.workflow import forms, records
from app.workflow.forms import FormDef
from app.workflow.models import (TASK_DONE, TASK_RETURNED, Attachment, Comment, Event, Instance,
                                 ProcessVersion, Task)

from . import processes, sources

EVENT_LABELS = {
    "start": _l("Submitted"), "complete": _l("Step done"), "reject": _l("Rejected"),
    "claim": _l("Claimed"), "unclaim": _l("Gave back"), "transfer": _l("Transferred"),
    "delegate": _l("Delegated"), "resolve": _l("Handed back"), "return": _l("Returned"),
    "withdraw": _l("Withdrew"), "copy": _l("Copied"), "urge": _l("Urged"),
    "add_signers": _l("Added signers"), "remove_signers": _l("Removed signers"),
    "comment": _l("Commented"), "attach": _l("Attached a file"), "end": _l("Process ended"),
    "suspend": _l("Suspended"), "resume": _l("Resumed"), "cancel": _l("Cancelled"),
    "timer": _l("Timer fired"), "incident": _l("Incident"), "retry": _l("Retried"),
    "auto_approve": _l("Approved automatically"), "message": _l("Message received"),
}
OUTCOME_LABELS = {"approve": _l("Approved"), "reject": _l("Rejected"), "return": _l("Returned"),
                  "removed": _l("Removed")}
TASK_STATUS_LABELS = {"open": _l("Pending"), "delegated": _l("Delegated"), "completed": _l("Done"),
                      "cancelled": _l("Cancelled"), "returned": _l("Returned"), "withdrawn": _l("Withdrawn"),
                      "suspended": _l("Suspended")}
INSTANCE_STATUS_LABELS = {"running": _l("In progress"), "completed": _l("Completed"), "rejected": _l("Rejected"),
                          "withdrawn": _l("Withdrawn"), "cancelled": _l("Cancelled"), "incident": _l("Incident")}
# UI.md status colours: pending / approved / rejected / suspended / expired
STATUS_CLASSES = {"running": "warning", "open": "warning", "delegated": "info", "completed": "success",
                  "rejected": "danger", "returned": "secondary", "withdrawn": "secondary",
                  "cancelled": "secondary", "incident": "danger", "suspended": "secondary"}
# Kept in the table but not part of the story: drafts (who saved what, when) and service-task steps
# (the system's own work; the operations console shows them).
HIDDEN_EVENTS = {"draft", "operation"}
DRAFT = "draft"


# --- attachments as form values ----------------------------------------------------------------

class Files:
    """An instance's attachments, found by the value a file field holds: the attachment id, or
    "sha256:<digest>" for files uploaded with the start form (before the instance existed)."""

    def __init__(self, attachments: Iterable[Attachment]):
        self.items = list(attachments)
        self.by_id = {str(a.id): a for a in self.items}
        self.by_sha = {a.sha256: a for a in self.items}

    def find(self, value: Any) -> Attachment | None:
        text = str(value)
        if text.startswith("sha256:"):
            return self.by_sha.get(text[7:])
        return self.by_id.get(text)

    def url(self, value: Any) -> str | None:
        found = self.find(value)
        return url_for("portal.download_attachment", attachment_id=found.id) if found else None

    def labels(self, form: FormDef, data: dict | None) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for path, values in file_values(form, data or {}):
            names = {str(v): found.name for v in values if (found := self.find(v)) is not None}
            if names:
                out[path] = names
        return out


def field_values(form: FormDef, data: dict, want, path: tuple = (), ui_path: tuple = (), schema: dict | None = None):
    """(dotted path, hints, [values]) of every filled field whose hints satisfy `want(hints)`."""
    schema = form.schema if schema is None else schema
    if not isinstance(data, dict):
        return
    for key, sub in (schema.get("properties") or {}).items():
        value = data.get(key)
        if value is None or not isinstance(sub, dict):
            continue
        hints = form.hints((*ui_path, key))
        if want(hints):
            yield ".".join(str(p) for p in (*path, key)), hints, value if isinstance(value, list) else [value]
        elif sub.get("type") == "object":
            yield from field_values(form, value, want, (*path, key), (*ui_path, key), sub)
        elif sub.get("type") == "array" and isinstance(value, list) and \
                (sub.get("items") or {}).get("type") == "object":
            for i, row in enumerate(value):
                yield from field_values(form, row, want, (*path, key, i), (*ui_path, key), sub["items"])


def file_values(form: FormDef, data: dict):
    for path, _hints, values in field_values(form, data, lambda hints: hints.get("widget") == "file"):
        yield path, values


def _department_names(values) -> dict:
    from app.modules.org.models import Department

    ids = [int(v) for v in values if str(v).isdigit()]
    return dict(db.session.execute(select(Department.id, Department.name).where(Department.id.in_(ids))).all()) \
        if ids else {}


# Sources whose labels a record shows to everyone who may read it (who took part, which department),
# whatever the reader could have chosen in the typeahead.
DISPLAY_NAMES = {"users": lambda values: sources.names(int(v) for v in values if str(v).isdigit()),
                 "departments": _department_names}


def display_labels(form: FormDef, data: dict | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for path, hints, values in field_values(form, data or {}, lambda h: h.get("source") in DISPLAY_NAMES):
        names = DISPLAY_NAMES[hints["source"]](values)
        out[path] = {str(k): str(v) for k, v in names.items()}
    return out


def render(form: FormDef, data: dict | None, files: Files, user, *, readonly: bool,
           errors: dict | None = None) -> Markup:
    labels = files.labels(form, data)
    if readonly:
        labels.update(display_labels(form, data))
    return forms.render(form, data or {}, errors=errors, readonly=readonly, user=user, labels=labels,
                        file_url=files.url)


# --- sections: what earlier steps entered ------------------------------------------------------

@dataclass
class Section:
    title: str
    actor: str | None = None
    at: datetime | None = None
    outcome: str | None = None
    comment: str | None = None
    html: Markup | None = None
    task: Task | None = None


def _plain(data: dict | None) -> dict:
    return {k: v for k, v in (data or {}).items() if k != "outcome"}


@dataclass
class Story:
    instance: Instance
    events: list[Event]
    tasks: list[Task]
    files: Files
    comments: list[Comment]
    names: dict[int, str] = field(default_factory=dict)

    def name(self, user_id: int | None) -> str:
        return self.names.get(user_id, "—") if user_id is not None else "—"

    def sections(self, user, *, skip_task_id: int | None = None) -> list[Section]:
        """The start form and every completed step with a form, read-only, in order."""
        found: list[Section] = []
        start = next((e for e in self.events if e.action == "start"), None)
        info = processes.start_info(db.session.get(ProcessVersion, self.instance.process_version_id))
        start_form = processes.task_form(info.form)
        if start is not None:
            found.append(Section(str(_l("Application")), self.name(start.actor_id), start.at, None, None,
                                 render(start_form, start.data_after, self.files, user, readonly=True)
                                 if start_form and start.data_after else None))
        snapshots = self.snapshots()
        for task in self.tasks:
            if task.id == skip_task_id or task.status not in (TASK_DONE, TASK_RETURNED):
                continue
            form = processes.task_form(task.form)
            data = snapshots.get(task.id)
            html = render(form, data, self.files, user, readonly=True) if form and data else None
            found.append(Section(task.name, self.name(task.completed_by_id), task.completed_at, task.outcome,
                                 task.comment, html, task))
        return found

    def snapshots(self) -> dict[int, dict]:
        """The process data as each step left it ({task id: data}): what the applicant and the
        steps before entered, with the step's own entries on top — so a step's read-only fields
        show what they showed then."""
        running: dict = {}
        found: dict[int, dict] = {}
        for event in self.events:
            if event.action == "start":
                running.update(event.data_after or {})
            elif event.action == "complete" and event.task_id:
                running.update(_plain(event.data_after))
                found[event.task_id] = dict(running)
        return found

    def timeline(self) -> list[dict]:
        entries = []
        tasks = {t.id: t for t in self.tasks}
        for event in self.events:
            if event.action in HIDDEN_EVENTS:
                continue
            task = tasks.get(event.task_id) if event.task_id else None
            label = EVENT_LABELS.get(event.action, event.action)
            if event.action == "complete":
                outcome = (event.data_after or {}).get("outcome")
                label = OUTCOME_LABELS.get(outcome, label)
            entries.append({"event": event, "label": str(label), "actor": self.name(event.actor_id)
                            if event.actor_id else None, "task": task.name if task else None,
                            "detail": self._detail(event)})
        return entries

    def _detail(self, event: Event) -> str:
        details = event.details or {}
        people = [details.get(k) for k in ("to_user", "delegate") if details.get(k)]
        people += list(details.get("users") or [])
        if people:
            return "、".join(self.name(p) for p in people)
        if event.action == "return" and details.get("target"):
            target = next((t.name for t in self.tasks if t.spec == details["target"]), details["target"])
            return str(_l("to “%(step)s”", step=target))
        if event.action == "attach" and details.get("name"):
            return str(details["name"])
        return ""


def load(instance: Instance) -> Story:
    events = records.timeline(instance.id)
    tasks = list(db.session.scalars(select(Task).where(Task.instance_id == instance.id)
                                    .order_by(Task.completed_at.is_(None), Task.completed_at, Task.id)))
    story = Story(instance, events, tasks, Files(records.attachments(instance.id)), records.comments(instance.id))
    people: set[int | None] = {instance.started_by_id}
    for event in events:
        people.add(event.actor_id)
        details = event.details or {}
        people.update(v for k, v in details.items() if k in ("to_user", "delegate", "from_user", "owner")
                      and isinstance(v, int))
        people.update(v for v in details.get("users") or [] if isinstance(v, int))
    for task in tasks:
        people.update((task.assignee_id, task.completed_by_id, task.owner_id))
    people.update(c.author_id for c in story.comments)
    people.update(a.uploaded_by_id for a in story.files.items)
    story.names = sources.names(p for p in people if p is not None)
    return story


def latest_draft(task: Task, user_id: int) -> Event | None:
    return db.session.scalar(select(Event).where(Event.task_id == task.id, Event.action == DRAFT,
                                                 Event.actor_id == user_id).order_by(Event.id.desc()).limit(1))
