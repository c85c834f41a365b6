"""The dossier's own tabs, registered through the same registry other modules use."""
from __future__ import annotations

from datetime import date

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.scopes import scope_filter
from app.extensions import db
from app.modules.dossier import access
from app.modules.dossier.labels import ADVERSE_CATEGORIES, ADVERSE_SOURCE_LABELS, CERT_TYPES, CHANGE_SOURCE_LABELS
from app.modules.dossier.models import DossierChange
from app.modules.dossier.services import adverse as adverse_records
from app.modules.dossier.services import certificates as certs
from app.modules.dossier.services import history
from app.modules.dossier.services import profile as profiles
from app.modules.dossier.tabs import register_tab
from app.modules.org.forms import LEVEL_LABELS
from app.modules.org.models import Staff

GROUPS = (
    (_l("Identity"), ("employee_no", "name", "gender", "birth_date", "id_number", "ethnicity")),
    (_l("Employment"), ("department_id", "staff_type", "personnel_category", "post", "hire_date", "status")),
    (_l("Education"), ("education", "degree", "graduated_from", "major", "graduated_on")),
    (_l("Title and practice registration"), ("title_code", "title_since", "practice_category", "practice_scope",
                                             "practice_cert_no", "qualification_cert_no", "practice_registered_on",
                                             "practice_institution")),
    (_l("Contacts"), ("phone", "office_phone", "email")),
)


def _value(staff: Staff, profile, key: str, actor) -> str:
    if key == "id_number":
        return profiles.masked_id(actor, staff, profile)
    if key == "department_id":
        return staff.department.name
    if key == "title_code":
        return f"{staff.title.name}（{LEVEL_LABELS[staff.title.level]}）" if staff.title else "—"
    holder = staff if profiles.SPECS[key].target == "staff" else profile
    value = getattr(holder, key) if holder is not None else None
    if isinstance(value, date):
        return value.isoformat()
    return profiles.display(key, value)


def render_basic(staff: Staff, actor):
    profile = profiles.profile_of(staff)
    groups = [(title, [(profiles.SPECS[k].label, _value(staff, profile, k, actor)) for k in keys])
              for title, keys in GROUPS]
    changes = db.session.scalars(select(DossierChange).where(DossierChange.staff_id == staff.id)
                                 .order_by(DossierChange.changed_at.desc(), DossierChange.id.desc()).limit(8)).all()
    return render_template("dossier/_tab_basic.html", staff=staff, groups=groups, changes=changes,
                           specs=profiles.SPECS, sources=CHANGE_SOURCE_LABELS, display=profiles.display,
                           can_edit=access.can_edit(actor, staff))


def render_certificates(staff: Staff, actor):
    from app.modules.dossier.views import expiry_state

    today = date.today()
    items = certs.of_person(staff.id)
    return render_template("dossier/_tab_certificates.html", staff=staff, certificates=items, cert_types=CERT_TYPES,
                           can_edit=access.can_edit(actor, staff), today=today, expiry_state=expiry_state)


def render_history(staff: Staff, actor):
    return render_template("dossier/_tab_history.html", staff=staff, work=history.of_person(staff.id, "work"),
                           training=history.of_person(staff.id, "training"), period=history.period,
                           can_edit=access.can_edit(actor, staff))


def metrics_visible(staff: Staff, actor) -> bool:
    if staff.staff_type != "physician":
        return False
    from app.core.scopes import can

    if not can(actor, "clinical.view"):
        return False
    return db.session.scalar(select(Staff.id).where(Staff.id == staff.id,
                                                    scope_filter(actor, "clinical_doctor"))) is not None


def render_metrics(staff: Staff, actor):
    # The clinical module's figures and links, as its own dashboard shows them (R1.5–R1.7).
    from app.modules.clinical import queries
    from app.modules.clinical.services import metrics
    from app.modules.clinical.views import drill_url

    start, end = queries.period(request.args)
    totals = metrics.totals(staff.id, start, end)
    ranks = metrics.ranks_for(staff.id, start, end, metrics.SUMMARY_KEYS)
    cards = [dict(metric=metrics.METRICS[key], value=metrics.value_of(metrics.METRICS[key], totals),
                  url=drill_url(metrics.METRICS[key], staff.id, start, end), rank=ranks.get(key))
             for key in metrics.SUMMARY_KEYS]
    return render_template("dossier/_tab_metrics.html", staff=staff, cards=cards, start=start, end=end,
                           dashboard=url_for("clinical.show_doctor", staff_id=staff.id,
                                             **{"from": start.strftime("%Y-%m"), "to": end.strftime("%Y-%m")}))


def render_adverse(staff: Staff, actor):
    records = adverse_records.of_person(staff.id)
    return render_template("dossier/_tab_adverse.html", staff=staff, records=records, categories=ADVERSE_CATEGORIES,
                           sources=ADVERSE_SOURCE_LABELS, can_record=access.can_record_adverse(actor, staff),
                           can_change=lambda r: adverse_records.can_change(actor, r))


def register() -> None:
    register_tab("basic", _l("Basic information and identity"), render_basic, order=10)
    register_tab("certificates", _l("Certificates"), render_certificates, order=20)
    register_tab("history", _l("Work and training history"), render_history, order=30)
    register_tab("metrics", _l("Workload, efficiency and quality"), render_metrics, order=40,
                 visible=metrics_visible)
    register_tab("adverse", _l("Adverse practice records"), render_adverse, order=60)
