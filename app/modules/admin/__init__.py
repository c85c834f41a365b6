"""Administration: users and their role grants, roles, API tokens, the audit log."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

from app.modules.admin import views  # noqa: E402,F401


def init_app(app):
    from app.core.web import register_nav

    register_nav("admin.list_users", _l("Users"), "person-gear", "accounts.manage", order=90)
    register_nav("admin.list_tokens", _l("API tokens"), "key", "tokens.manage", order=91)
    register_nav("admin.list_audit", _l("Audit log"), "journal-check", "audit.view", order=92)
    register_nav("admin.list_jobs", _l("Background jobs"), "cpu", "jobs.manage", order=93)
from app.modules.admin import jobs_views  # noqa: E402,F401
