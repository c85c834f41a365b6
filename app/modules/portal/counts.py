"""待办 / 待认领 counts for the navigation badge and the inbox tabs, computed once per request."""
from __future__ import annotations

import logging

from flask import g, has_request_context
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.exc import SQLAlchemyError

from . import inbox

log = logging.getLogger(__name__)


def task_counts() -> dict[str, int]:
    """{"todo": n, "claim": n} for the logged-in user (zeros when unavailable)."""
    if not has_request_context() or not current_user.is_authenticated:
        return {"todo": 0, "claim": 0}
    cached = g.get("_portal_task_counts")
    if cached is None:
        try:
            cached = {"todo": inbox.todo_count(current_user), "claim": inbox.claim_count(current_user)}
        except SQLAlchemyError:  # an error page after a database failure must still render
            log.warning("task counts unavailable", exc_info=True)
            cached = {"todo": 0, "claim": 0}
        g._portal_task_counts = cached
    return cached


class LazyCounts:
    """`task_counts.todo` in templates; queried only when a page shows it."""

    def __getattr__(self, name: str) -> int:
        counts = task_counts()
        if name not in counts:
            raise AttributeError(name)
        return counts[name]


class TasksLabel:
    """The navigation label of the inbox: its name plus a badge of open tasks (待办 + 待认领).

    base.html prints `item.label`; rendering this object adds the badge, so the counts show on
    every page without a template of their own."""

    def __init__(self, label):
        self.label = label

    def __str__(self) -> str:
        return str(self.label)

    def __html__(self) -> str:
        counts = task_counts()
        text = escape(str(self.label))
        total = counts["todo"] + counts["claim"]
        if not total:
            return str(text)
        title = escape(_("%(todo)d to do, %(claim)d to claim", todo=counts["todo"], claim=counts["claim"]))
        return str(Markup('{} <span class="badge rounded-pill text-bg-warning" id="task-badge" title="{}">{}</span>')
                   .format(text, title, total))
