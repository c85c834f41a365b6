"""Notifications page: a user's in-app notifications, unread first, and the unread badge."""
import logging

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

blueprint = Blueprint("notifications", __name__, url_prefix="/notifications")

from app.modules.notifications import views  # noqa: E402,F401

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    from app.core import notify
    from app.core.web import register_nav

    register_nav("notifications.list_notifications", _l("Notifications"), "bell", None, order=10)

    @app.context_processor
    def _notification_badge():
        if not current_user.is_authenticated:
            return {"notification_unread": 0}
        try:
            return {"notification_unread": notify.unread_count(current_user)}
        except SQLAlchemyError:  # an error page after a database failure must still render
            log.warning("unread notification count unavailable", exc_info=True)
            return {"notification_unread": 0}
