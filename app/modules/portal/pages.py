"""What the portal's templates get: the inbox rows' names, the task and record pages' contexts,
and the words for refusals and confirmations."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from app.core.models import utcnow
from app.extensions import db
from app.modules.org.models import Department
from app.workflow import permissions, runtime
from app.workflow.models import OPEN_STATUSES, TASK_DONE, Instance, Task, TaskCopy

from . import access, actions, inbox, processes, sources, story
from .story import INSTANCE_STATUS_LABELS, STATUS_CLASSES, TASK_STATUS_LABELS

def _departments(ids) -> dict[int, str]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    return dict(db.session.execute(select(Department.id, Department.name).where(Department.id.in_(ids))).all())


def tab_counts(user) -> dict[str, int]:
    from .counts import task_counts

    counts = dict(task_counts())
    counts["copied"] = inbox.unread_copies(user)
    return counts


def inbox_context(tab: str, user, items: list) -> dict[str, Any]:
    if tab == "started":
        instances = items
    elif tab == "copied":
        wanted = sorted({copy.instance_id for copy in items})
        instances = list(db.session.scalars(select(Instance).where(Instance.id.in_(wanted)))) if wanted else []
    else:
        instances = [task.instance for task in items]
    steps = inbox.open_steps([i.id for i in instances]) if tab in ("started", "copied") else {}
    people = {i.started_by_id for i in instances}
    people.update(t.assignee_id for tasks in steps.values() for t in tasks)
    if tab == "copied":
        people.update(copy.from_user_id for copy in items)
    if tab == "queue":
        people.update(task.assignee_id for task in items)
    return {
        "counts": tab_counts(user),
        "show_queue": not access.oversight(user).empty,
        "queue_hospital": access.oversight(user).hospital,
        "names": sources.names(p for p in people if p),
        "departments": _departments(i.department_id for i in instances),
        "steps": steps,
        "instances": {i.id: i for i in instances},
        "now": utcnow(),
        "process_choices": inbox.process_choices(),
        "department_choices": inbox.department_choices(tab, user),
        "status_labels": {**TASK_STATUS_LABELS, **INSTANCE_STATUS_LABELS},
        "instance_status_labels": INSTANCE_STATUS_LABELS,
        "task_status_labels": TASK_STATUS_LABELS,
        "status_classes": STATUS_CLASSES,
    }


def mark_copies_read(user, instance_id: int) -> None:
    """Best effort, from a page view: on the embedded SQLite database a page view's transaction that
    has read cannot write once someone else committed meanwhile; the copy then stays unread until
    the next view, and the page shows anyway."""
    try:
        with db.session.begin_nested():
            db.session.execute(update(TaskCopy).where(TaskCopy.user_id == user.id, TaskCopy.instance_id == instance_id,
                                                      TaskCopy.read_at.is_(None)).values(read_at=utcnow())
                               .execution_options(synchronize_session=False))
    except OperationalError:
        if db.session.get_bind().dialect.name != "sqlite":
            raise


# --- refusals --------------------------------------------------------------------------------------

def handled_reason(task: Task) -> str:
    """Why an action on a task that is no longer open cannot happen."""
    if task.status == TASK_DONE and task.completed_by_id:
        name = sources.names([task.completed_by_id]).get(task.completed_by_id, "—")
        from app.core.i18n import format_datetime

        return _("This task was already handled by %(name)s at %(time)s.", name=name,
                 time=format_datetime(task.completed_at))
    return _("This task is no longer open (%(status)s).", status=TASK_STATUS_LABELS.get(task.status, task.status))


def explain(reason) -> str:
    """The kernel's reason as the page shows it (the kernel words and translates its refusals)."""
    return str(reason or "")


# --- after an action -----------------------------------------------------------------------------

def done_message(user, action: str, task: Task, given: actions.ActionInput) -> tuple[str, str]:
    """(flash message, where to go next)."""
    from flask import url_for

    inbox_url = url_for("portal.list_tasks")
    task_url = url_for("portal.show_task", task_id=task.id)
    record_url = url_for("portal.show_instance", instance_id=task.instance_id)
    who = sources.names(given.user_ids)
    names = "、".join(who.get(uid, str(uid)) for uid in given.user_ids)
    applicant = task.instance.started_by_id == user.id
    messages = {
        "complete": (_("Submitted.") if applicant else _("Approved."), inbox_url),
        "reject": (_("Rejected."), inbox_url),
        "draft": (_("Draft saved."), task_url),
        "claim": (_("Claimed: the task is now in your to-do list."), task_url),
        "unclaim": (_("Given back: others in the group can claim it now."), url_for("portal.list_tasks", tab="claim")),
        "transfer": (_("Transferred to %(names)s.", names=names), inbox_url),
        "delegate": (_("Delegated to %(names)s.", names=names), inbox_url),
        "resolve": (_("Handed back."), inbox_url),
        "return": (_("Returned to an earlier step."), inbox_url),
        "add_signers": (_("Signers added: %(names)s.", names=names), task_url),
        "remove_signers": (_("Signers removed."), task_url),
        "copy": (_("Copy sent to %(names)s.", names=names), task_url),
        "urge": (_("Reminder sent."), task_url),
        "withdraw": (_("Withdrawn."), record_url),
    }
    return messages[action]


# --- the task page and the record page ------------------------------------------------------------

ACTION_ORDER = ("complete", "reject", "claim", "unclaim", "resolve", "return", "transfer", "delegate",
                "add_signers", "remove_signers", "copy", "urge", "withdraw")


def _readonly(form, key: str) -> bool:
    hints = form.hints((key,))
    return bool(hints.get("readonly")) or hints.get("widget") == "readonly"


def _merge(*parts: dict | None) -> dict:
    merged: dict = {}
    for part in parts:
        merged.update(part or {})
    return merged


def task_context(user, task: Task, *, failed_action: str | None = None, reason: str | None = None,
                 errors: dict | None = None, data: dict | None = None,
                 given: actions.ActionInput | None = None) -> dict[str, Any]:
    instance = task.instance
    record = story.load(instance)
    allowed = runtime.allowed_actions(user, task) if task.is_open or task.status == TASK_DONE else []
    targets = actions.return_targets(task) if "return" in allowed else []
    if not targets and "return" in allowed:
        allowed.remove("return")
    form = processes.task_form(task.form)
    editable = "complete" in allowed
    draft = story.latest_draft(task, user.id) if editable else None
    comment = given.comment if given is not None else (draft.comment if draft is not None else "")
    form_html = None
    if form is not None and editable:
        current = runtime.task_data(task.id)
        if data is None:
            data = _merge(current, draft.data_after if draft is not None else None)
        else:  # a refused submission: what was posted, with the read-only fields as they were
            data = _merge({k: v for k, v in current.items() if _readonly(form, k)}, data)
        form_html = story.render(form, data, record.files, user, readonly=False, errors=errors)
    elif form is not None and task.status == TASK_DONE:
        done = record.snapshots().get(task.id)
        if done:
            form_html = story.render(form, done, record.files, user, readonly=True)
    open_tasks = [t for t in record.tasks if t.status in OPEN_STATUSES]
    signers = actions.signers(task) if {"add_signers", "remove_signers"} & set(allowed) else []
    record.names.update(sources.names(t.assignee_id for t in signers if t.assignee_id not in record.names))
    context = {
        "task": task, "instance": instance, "record": record,
        "sections": record.sections(user, skip_task_id=task.id),
        "timeline": record.timeline(),
        "allowed": [a for a in ACTION_ORDER if a in allowed],
        "editable": editable, "form": form, "form_html": form_html, "draft": draft, "comment": comment or "",
        "return_targets": targets, "signers": signers, "open_tasks": open_tasks,
        "is_applicant": instance.started_by_id == user.id,
        "countersign": task.countersign_of is not None,
        "overdue": inbox.is_overdue(task), "now": utcnow(),
        "failed_action": failed_action, "reason": reason, "errors": errors or {},
        "department": _departments([instance.department_id]).get(instance.department_id),
        "status_classes": STATUS_CLASSES, "task_status_labels": TASK_STATUS_LABELS,
        "instance_status_labels": INSTANCE_STATUS_LABELS, "outcome_labels": story.OUTCOME_LABELS,
    }
    context["ctx"] = context  # what the action dialogs read
    return context


INSTANCE_ACTIONS = ("urge", "copy", "withdraw")


def instance_context(user, instance: Instance) -> dict[str, Any]:
    record = story.load(instance)
    open_tasks = [t for t in record.tasks if t.status in OPEN_STATUSES]
    per_task = {t.id: [a for a in runtime.allowed_actions(user, t) if a in INSTANCE_ACTIONS] for t in open_tasks}
    withdraw_task = next((t for t in open_tasks if "withdraw" in per_task[t.id]), None)
    copy_task = next((t for t in open_tasks if "copy" in per_task[t.id]), None)
    mine = [t for t in open_tasks if permissions.may_act(t, user.id)]
    return {
        "instance": instance, "record": record, "sections": record.sections(user),
        "timeline": record.timeline(), "open_tasks": open_tasks, "per_task": per_task,
        "withdraw_task": withdraw_task, "copy_task": copy_task, "my_tasks": mine,
        "department": _departments([instance.department_id]).get(instance.department_id),
        "status_classes": STATUS_CLASSES, "task_status_labels": TASK_STATUS_LABELS,
        "instance_status_labels": INSTANCE_STATUS_LABELS, "outcome_labels": story.OUTCOME_LABELS,
        "is_applicant": instance.started_by_id == user.id,
    }


def home_queues(user, limit: int = 5) -> dict[str, Any]:
    """The top of the user's own inbox, recent applications, and the oversight queue if any."""
    todo = list(db.session.scalars(inbox.query("todo", user, inbox.Filters(sort="due")).limit(limit)))
    started = list(db.session.scalars(inbox.query("started", user, inbox.Filters()).limit(limit)))
    scope = access.oversight(user)
    queue, queue_total, queue_overdue = [], 0, 0
    if not scope.empty:
        rows = inbox.query("queue", user, inbox.Filters(sort="due"))
        queue = list(db.session.scalars(rows.limit(limit * 2)))
        queue_total = inbox.count(rows)
        queue_overdue = inbox.count(inbox.query("queue", user, inbox.Filters(overdue=True)))
    instances = [t.instance for t in todo + queue] + started
    steps = inbox.open_steps([i.id for i in started])
    people = {i.started_by_id for i in instances} | {t.assignee_id for t in queue}
    people.update(t.assignee_id for tasks in steps.values() for t in tasks)
    return {"todo": todo, "started": started, "queue": queue, "queue_total": queue_total,
            "queue_overdue": queue_overdue, "queue_hospital": scope.hospital, "steps": steps,
            "names": sources.names(p for p in people if p), "now": utcnow(),
            "departments": _departments(i.department_id for i in instances),
            "status_classes": STATUS_CLASSES, "instance_status_labels": INSTANCE_STATUS_LABELS}
