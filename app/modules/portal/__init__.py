"""Portal: each role's home page, the task inbox, task and record pages, starting processes (U1).

Pages use the BPM kernel through `app.workflow.runtime` and read its task projection for lists;
the kernel's notifications reach users as in-app notifications linking to the task page.
"""
from flask import Blueprint

blueprint = Blueprint("portal", __name__)

from app.modules.portal import views, views_records, views_start, views_tasks  # noqa: E402,F401


def init_app(app):
    from flask_babel import lazy_gettext as _l

    from app.core.web import register_nav
    from app.modules.portal import counts, notifications, sources  # noqa: F401  (sources register on import)
    from app.workflow import hooks

    register_nav("portal.list_tasks", counts.TasksLabel(_l("Tasks")), "inbox", None, order=5)
    register_nav("portal.list_processes", _l("Start a process"), "play-circle", None, order=6)
    hooks.register_notify_handler(notifications.on_workflow_notify)

    @app.context_processor
    def _task_counts():
        return {"task_counts": counts.LazyCounts()}
