"""Clinical data in (R15.1): HIS/EMR records, dictionaries, imports, and doctor metrics (R1.5–R1.7)."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

blueprint = Blueprint("clinical", __name__, url_prefix="/clinical")

from app.modules.clinical import views  # noqa: E402,F401


def init_app(app):
    from sqlalchemy import select, union

    from app.core.scopes import register_kind
    from app.core.sync import register_sync
    from app.core.web import register_nav
    from app.demo import register_step
    from app.modules.clinical import api, demo, jobs  # noqa: F401  (routes and jobs register on import)
    from app.modules.clinical.dictionaries import sync_dictionaries
    from app.modules.clinical.models import DoctorMonthMetric, Operation, Prescription, Stay
    from app.modules.org.models import Staff

    # A stay belongs to its discharge department and to its attending and responsible doctors; a
    # surgeon sees the stays of the patients they operated on (their surgical figures count them).
    # (One IN over a union, so that each part uses its own index.)
    register_kind("clinical_stay", permission="clinical.view",
                  department_column=lambda: Stay.discharge_department_id,
                  self_clause=lambda staff_id: Stay.id.in_(union(
                      select(Stay.id).where(Stay.attending_id == staff_id),
                      select(Stay.id).where(Stay.responsible_id == staff_id),
                      select(Operation.stay_id).where(Operation.surgeon_id == staff_id))))
    # An operation: the department of its stay, and its surgeon (术者).
    register_kind("clinical_operation", permission="clinical.view",
                  department_column=lambda: Operation.department_id,
                  self_clause=lambda staff_id: Operation.surgeon_id == staff_id)
    register_kind("clinical_prescription", permission="clinical.view",
                  department_column=lambda: Prescription.department_id,
                  self_clause=lambda staff_id: Prescription.prescriber_id == staff_id)
    # Whose metrics a user may see: the doctors of their departments, or themselves.
    register_kind("clinical_doctor", permission="clinical.view",
                  department_column=lambda: Staff.department_id,
                  self_clause=lambda staff_id: Staff.id == staff_id)
    register_kind("clinical_metric", permission="clinical.view",
                  department_column=lambda: DoctorMonthMetric.department_id,
                  self_clause=lambda staff_id: DoctorMonthMetric.staff_id == staff_id)
    register_sync("clinical_dictionaries", sync_dictionaries)
    register_step("clinical", demo.build)
    register_nav("clinical.metrics_home", _l("Doctor metrics"), "bar-chart-line", "clinical.view", order=60)
    register_nav("clinical.list_stays", _l("Inpatient stays"), "clipboard2-pulse", "clinical.view", order=61)
    register_nav("clinical.list_imports", _l("Data imports"), "cloud-upload", "clinical.import", order=62)
