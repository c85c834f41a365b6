"""Doctor technical dossier (R1.1, R1.2, R1.4, R1.8; shows R1.5–R1.7 from the clinical module).

Other modules add tabs to the dossier page with `app.modules.dossier.tabs.register_tab`.
"""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

blueprint = Blueprint("dossier", __name__, url_prefix="/dossier")

from app.modules.dossier import views  # noqa: E402,F401


def init_app(app):
    from app.core.scopes import register_kind
    from app.core.web import register_nav
    from app.demo import register_step
    from app.modules.dossier import api, demo, jobs, sources, tabs_builtin  # noqa: F401  (register on import)
    from app.modules.org.models import Staff

    # Whose dossier a user may open beyond their own: the staff of the departments (with their wards)
    # or the hospital their `dossier.view` reaches.
    register_kind("dossier", permission="dossier.view",
                  department_column=lambda: Staff.department_id,
                  self_clause=lambda staff_id: Staff.id == staff_id)
    tabs_builtin.register()
    register_step("dossier", demo.build)
    register_nav("dossier.my_dossier", _l("My dossier"), "person-vcard", "dossier.own", order=30)
    register_nav("dossier.list_people", _l("Doctor dossiers"), "person-lines-fill", "dossier.view", order=31)
    register_nav("dossier.gallery", _l("Certificate overview"), "card-image", "dossier.manage", order=32)
