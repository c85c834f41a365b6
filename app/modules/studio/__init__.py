"""Studio: where rule authors edit, test, backtest and publish decision tables (and, later,
administrators edit processes and forms)."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

blueprint = Blueprint("studio", __name__, url_prefix="/studio")

from app.modules.studio import rules_views  # noqa: E402,F401


def init_app(app):
    from app.core.web import register_nav
    from app.modules.studio.rules_service import register_author_check

    register_author_check()
    register_nav("studio.list_rules", _l("Rules"), "table", "rules.author", order=80)
