"""Outward hooks of the kernel: notifications (抄送, 催办, reminders, new tasks).

The kernel does not know how people are reached; the notifications module registers a handler.
Without one, `notify` does nothing, so the kernel runs (and is tested) on its own.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

# kinds: "task_assigned", "copy", "urge", "remind", "escalate", "returned", "rejected", "completed"
NotifyHandler = Callable[[list[int], str, "int | None", str], None]
_handlers: list[NotifyHandler] = []


def register_notify_handler(handler: NotifyHandler) -> None:
    if handler not in _handlers:
        _handlers.append(handler)


def unregister_notify_handler(handler: NotifyHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def notify(user_ids: Iterable[int], kind: str, task_id: int | None, text: str) -> None:
    """Tell `user_ids` about `kind` for a task (a `wf_task` id, or None for an instance-level note).

    Called inside the unit of work: a handler that writes outbox rows commits with the action.
    """
    recipients = sorted({int(uid) for uid in user_ids if uid is not None})
    if not recipients:
        return
    for handler in list(_handlers):
        handler(recipients, kind, task_id, text)
