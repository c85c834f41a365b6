"""The BPM kernel: processes, decisions and forms by version; instances; the human-task inbox.

It knows nothing about hospitals: domain modules register operations (`operations.register_operation`),
role resolvers (`assignment.register_resolver`) and notification handlers (`hooks`) into it, and use
it through `runtime`. `create_app` calls `init_app`.
"""
from __future__ import annotations

import logging

from . import models  # noqa: F401  (the wf_ tables are part of the metadata wherever the kernel is used)

log = logging.getLogger(__name__)


def init_app(app) -> None:
    from app.core.sync import register_sync

    from . import operations, registry, timers  # noqa: F401  (built-in operations, the periodic tick)

    register_sync("workflow", registry.sync_shipped)
    if _serving(app):
        timers.start_ticker(app._get_current_object() if hasattr(app, "_get_current_object") else app)
        log.info("periodic jobs (workflow timers, notification retries, …): in-process ticker started")


def _serving(app) -> bool:
    """True inside `medtech run` in the embedded mode (and in the reloader's serving child only)."""
    if app.config.get("REDIS_URL") or app.config.get("TESTING"):
        return False
    try:
        import click
        from werkzeug.serving import is_running_from_reloader
    except ImportError:  # pragma: no cover
        return False
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.info_name != "run":
        return False
    reload = ctx.params.get("reload")
    if reload is None:
        reload = app.debug
    return not reload or is_running_from_reloader()
