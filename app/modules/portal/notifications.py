"""The kernel's notification hook → in-app notifications linking to the task (or record) page."""
from __future__ import annotations

from flask import has_request_context, url_for
from flask_babel import lazy_gettext as _l

from app.core import notify
from app.extensions import db
from app.workflow.models import Task

TITLES = {
    "task_assigned": _l("New task: %(name)s"),
    "copy": _l("Copied to you: %(name)s"),
    "urge": _l("Please handle soon: %(name)s"),
    "remind": _l("Task due soon: %(name)s"),
    "escalate": _l("Escalated to you: %(name)s"),
    "returned": _l("Returned to you: %(name)s"),
    "rejected": _l("Rejected: %(name)s"),
    "completed": _l("Completed: %(name)s"),
}
IMPORTANT = {"urge", "escalate", "returned", "rejected"}
RECORD_KINDS = {"rejected", "completed"}  # about the whole process: link the record page


def _link(endpoint: str, **values) -> str:
    if has_request_context():
        return url_for(endpoint, **values)
    paths = {"portal.show_task": "/tasks/{task_id}", "portal.show_instance": "/instances/{instance_id}"}
    return paths[endpoint].format(**values)


def on_workflow_notify(user_ids: list[int], kind: str, task_id: int | None, text: str) -> None:
    task = db.session.get(Task, task_id) if task_id is not None else None
    if task is None:
        notify.notify(user_ids, f"workflow.{kind}", str(TITLES.get(kind, "%(name)s") % {"name": text}),
                      important=kind in IMPORTANT)
        return
    instance = task.instance
    if kind in RECORD_KINDS:
        link = _link("portal.show_instance", instance_id=instance.id)
        name = instance.title
    else:
        link = _link("portal.show_task", task_id=task.id)
        name = task.name
    body = instance.title if text in (task.name, instance.title) else f"{instance.title} — {text}"
    if instance.business_key:
        body = f"[{instance.business_key}] {body}"
    notify.notify(user_ids, f"workflow.{kind}", str(TITLES.get(kind, "%(name)s") % {"name": name}),
                  body=body, link=link, important=kind in IMPORTANT)
