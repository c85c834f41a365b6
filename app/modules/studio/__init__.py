"""Studio: where rule authors edit, test, backtest and publish decision tables (and, later,
administrators edit processes and forms)."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

blueprint = Blueprint("studio", __name__, url_prefix="/studio")

from app.modules.studio import rules_views  # noqa: E402,F401
from app.modules.studio import form_views, models, process_views  # noqa: E402,F401
from app.modules.studio import analytics_views, ops_views  # noqa: E402,F401


# Shipped processes, forms and rules sit in a folder per module; the lists name the module.
MODULE_LABELS = {"catalog": _l("Technology catalog"), "privileges": _l("Privileges"), "examples": _l("Examples"),
                 "dossier": _l("Doctor dossiers"), "clinical": _l("Doctor metrics"), "portal": _l("Tasks")}


@blueprint.app_template_filter("module_label")
def module_label(module: str | None) -> str:
    """The module's name in the UI's language ("" for studio-made models, which have none)."""
    if not module:
        return ""
    return str(MODULE_LABELS.get(module, module))


def init_app(app):
    from app.core.web import register_nav
    from app.modules.studio.rules_service import register_author_check

    register_author_check()
    register_nav("studio.list_rules", _l("Rules"), "table", "rules.author", order=80)
    register_nav("studio.list_processes", _l("Process management"), "diagram-3", "processes.manage", order=82)
    register_nav("studio.list_forms", _l("Form management"), "ui-checks", "processes.manage", order=83)
    register_nav("studio.ops_instances", _l("Process operations"), "activity", "processes.manage", order=84)
    register_nav("studio.analytics_index", _l("Process analytics"), "bar-chart", "processes.manage", order=85)
