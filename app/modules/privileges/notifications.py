"""Telling the applicant how the application ended (in-app, through the notification outbox)."""
from __future__ import annotations

from flask_babel import gettext as _

from app.core.notify import notify

from .models import Application
from .types import label


def _link(application: Application) -> str:
    try:
        from flask import url_for

        return url_for("privileges.show_application", application_id=application.id)
    except RuntimeError:
        return f"/privileges/applications/{application.id}"


def tell_applicant(application: Application, *, approved: bool) -> None:
    if application.applicant_id is None:
        return
    names = "、".join(item.item_name for item in application.items[:3])
    if approved:
        title = _("Privileges granted: %(type)s", type=label(application.ptype))
        body = _("Granted: %(items)s. %(note)s", items=names, note=application.decision_note or "").strip()
    else:
        title = _("Application not approved: %(type)s", type=label(application.ptype))
        body = _("%(items)s: %(note)s", items=names, note=application.decision_note or _("not approved"))
    notify([application.applicant_id], "privileges.application", title, body, link=_link(application),
           key=f"privileges.application:{application.id}:{'approved' if approved else 'closed'}")
