"""Task actions as the portal offers them (同意, 驳回, 退回, 转办, 委派, 加签/减签, 撤回, 催办, 抄送,
认领, drafts), mapped onto the kernel's runtime. Services: the caller parses the request.

Form submissions: uploads are checked first (type by content, size), then stored as attachments of
the instance, then the form is coerced, validated (schema + data sources) and completed; any error
raises `FormErrors` and the request's transaction is rolled back, so nothing is saved.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.workflow import forms, permissions, runtime
from app.workflow.errors import Conflict, FormInvalid
from app.workflow.forms import FormDef
from app.workflow.models import OPEN_STATUSES, TASK_DONE, Event, Instance, Task
from app.workflow.specs import APPROVE, REJECT

from . import processes, sources, uploads
from .story import DRAFT

ACTIONS = ("complete", "reject", "claim", "unclaim", "transfer", "delegate", "resolve", "return",
           "add_signers", "remove_signers", "copy", "urge", "withdraw", "draft")
# Actions that need the task to be open; the others concern a process that goes on.
NEEDS_OPEN = {"complete", "reject", "claim", "unclaim", "transfer", "delegate", "resolve", "return",
              "add_signers", "remove_signers", "draft"}
CHOOSE_AGAIN = _l("Please choose the file again.")


class FormErrors(Exception):
    """Field errors of a submitted form ({path: message}); the data to show again."""

    def __init__(self, errors: dict[str, str], data: dict):
        super().__init__("form errors")
        self.errors, self.data = errors, data


@dataclass
class Upload:
    input_name: str  # the HTML input's name, e.g. "evidence" or "members-0-photo"
    filename: str
    content: bytes


@dataclass
class ActionInput:
    comment: str | None = None
    user_ids: list[int] = field(default_factory=list)
    target: str | None = None
    formdata: Any = None  # a MultiDict of the task form (complete, reject in a countersign, draft)
    uploads: list[Upload] = field(default_factory=list)


def field_path(input_name: str) -> str:
    return ".".join(input_name.split("-"))


def check_uploads(items: list[Upload], limit_mb: int) -> list[tuple[Upload, uploads.Checked]]:
    """Every upload checked (type by content, size) before anything is stored; FormErrors if any fails."""
    errors, checked = {}, []
    for item in items:
        try:
            checked.append((item, uploads.check(item.filename, item.content, limit_mb)))
        except uploads.UploadRefused as exc:
            errors[field_path(item.input_name)] = str(exc)
    if errors:
        raise FormErrors(errors, {})
    return checked


def _collect(pairs) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        previous = found.get(name)
        found[name] = value if previous is None else \
            [*(previous if isinstance(previous, list) else [previous]), value]
    return found


def digest_refs(checked: list[tuple[Upload, uploads.Checked]]) -> dict[str, Any]:
    """{input name: "sha256:<digest>"} for files of a start form (stored once the instance exists)."""
    return _collect((item.input_name, "sha256:" + hashlib.sha256(ok.content).hexdigest()) for item, ok in checked)


def store_uploads(actor, instance: Instance, task: Task | None,
                  checked: list[tuple[Upload, uploads.Checked]]) -> dict[str, Any]:
    """Store checked uploads as attachments; {input name: attachment id(s)} for `forms.coerce`."""
    return _collect((item.input_name, str(runtime.add_attachment(actor, instance, ok.name, ok.content, ok.mime,
                                                                 task=task).id)) for item, ok in checked)


def read_form(actor, form: FormDef, formdata, attachments: dict[str, Any], *, validate: bool = True) -> dict:
    data = forms.coerce(form, formdata, attachments=attachments)
    if validate:
        errors = forms.validate(form, data)
        for path, message in forms.check_sources(form, data, actor).items():
            errors.setdefault(path, message)
        if errors:
            raise FormErrors(errors, data)
    return data


def _submitted(actor, task: Task, given: ActionInput, limit_mb: int, *, validate: bool = True) -> dict:
    form = processes.task_form(task.form)
    checked = check_uploads(given.uploads, limit_mb)
    stored = store_uploads(actor, task.instance, task, checked) if checked else {}
    if form is None or given.formdata is None:
        return {}
    try:
        return read_form(actor, form, given.formdata, stored, validate=validate)
    except FormErrors as exc:
        # The new files go with the refused request: show the form without them and say so.
        exc.data = forms.coerce(form, given.formdata)
        for name in stored:
            exc.errors.setdefault(field_path(name), str(CHOOSE_AGAIN))
        raise


def save_draft(actor, task: Task, given: ActionInput, limit_mb: int) -> Event:
    """Keep what the user entered so far (not validated); the task page shows it again."""
    data = _submitted(actor, task, given, limit_mb, validate=False)
    event = Event(instance_id=task.instance_id, task_id=task.id, actor_id=actor.id, action=DRAFT,
                  comment=given.comment, data_after=data, details={})
    db.session.add(event)
    db.session.flush()
    return event


def _complete(actor, task: Task, given: ActionInput, limit_mb: int, outcome: str) -> Task:
    data = _submitted(actor, task, given, limit_mb)
    try:
        return runtime.complete(actor, task.id, data=data, outcome=outcome, comment=given.comment)
    except FormInvalid as exc:  # the published form changed since the page was drawn
        raise FormErrors(exc.errors, data) from exc


def return_targets(task: Task) -> list[tuple[str, str]]:
    """(BPMN id, name) of the earlier user steps of the instance this task could go back to."""
    rows = db.session.scalars(select(Task).where(Task.instance_id == task.instance_id, Task.status == TASK_DONE,
                                                 Task.countersign_of.is_(None), Task.spec != task.spec)
                              .order_by(Task.completed_at, Task.id))
    return list(dict.fromkeys((row.spec, row.name) for row in rows))


def signers(task: Task) -> list[Task]:
    """The open tasks of the countersign this task belongs to (people who have not signed yet)."""
    if task.countersign_of is None:
        return []
    return list(db.session.scalars(select(Task).where(Task.instance_id == task.instance_id,
                                                      Task.countersign_of == task.countersign_of,
                                                      Task.status.in_(OPEN_STATUSES)).order_by(Task.id)))


def _people(actor, user_ids: list[int], *, one: bool = False) -> list[int]:
    """The chosen people, if the actor could have chosen them (the `users` source's scope)."""
    known = sources.resolve_users(user_ids, actor)
    chosen = [uid for uid in dict.fromkeys(user_ids) if uid in known]
    if not chosen or len(chosen) != len(set(user_ids)) or (one and len(chosen) != 1):
        raise FormErrors({"user_ids": _("Please choose a person from the list.")}, {})
    return chosen


def perform(actor, task: Task, action: str, given: ActionInput, *, limit_mb: int) -> Any:
    """Do `action`; raises the kernel's errors (PermissionDenied, Conflict, ProcessError, NotFound)
    or FormErrors. Returns what the kernel returned."""
    comment = (given.comment or "").strip() or None
    given.comment = comment
    # Who may act is checked before the form is read, for every action: an outsider learns nothing
    # from it (not the people or steps it would accept), and is refused (403) whatever was posted.
    permissions.check_task_action(actor, task, "complete" if action == "draft" else action)
    if action == "complete":
        return _complete(actor, task, given, limit_mb, APPROVE)
    if action == "reject":
        if task.countersign_of is not None:
            # In a countersign 驳回 is this signer's vote; the countersign's policy decides the result.
            return _complete(actor, task, given, limit_mb, REJECT)
        return runtime.reject(actor, task.id, comment)
    if action == "draft":
        return save_draft(actor, task, given, limit_mb)
    if action == "claim":
        return runtime.claim(actor, task.id)
    if action == "unclaim":
        return runtime.unclaim(actor, task.id)
    if action == "transfer":
        return runtime.transfer(actor, task.id, _people(actor, given.user_ids, one=True)[0], comment)
    if action == "delegate":
        return runtime.delegate(actor, task.id, _people(actor, given.user_ids, one=True)[0], comment)
    if action == "resolve":
        return runtime.resolve_delegation(actor, task.id, comment)
    if action == "return":
        targets = dict(return_targets(task))
        if given.target not in targets:
            raise FormErrors({"target": _("Please choose the step to return to.")}, {})
        return runtime.return_to(actor, task.id, given.target, comment)
    if action == "add_signers":
        return runtime.add_signers(actor, task.id, _people(actor, given.user_ids))
    if action == "remove_signers":
        if not given.user_ids:
            raise FormErrors({"user_ids": _("Please choose whom to remove.")}, {})
        return runtime.remove_signers(actor, task.id, given.user_ids)
    if action == "copy":
        return runtime.copy_to(actor, task.id, _people(actor, given.user_ids), comment)
    if action == "urge":
        return runtime.urge(actor, task.id, comment)
    if action == "withdraw":
        if task.completed_by_id == actor.id and task.status == TASK_DONE:
            return runtime.withdraw(actor, f"task:{task.id}", comment)
        return runtime.withdraw(actor, task.instance_id, comment)
    raise Conflict(_("Unknown action."))
