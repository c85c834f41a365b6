"""The dossier's authorization tabs: R1.3 (every granted technique, the surgery catalog scope, grant
time and validity) and R1.9 (the surgeon's archive: each authorised procedure with grant date, term,
status and the history of its adjustments). Registered with the dossier when it is installed."""
from __future__ import annotations

from datetime import date

from flask import render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from app.core.scopes import scope_filter
from app.extensions import db
from app.modules.org.models import Staff

from . import queries
from .labels import CHANGE_LABELS, GRANT_STATUS_CLASSES, GRANT_STATUS_LABELS
from .models import Application, Grant, GrantChange
from .types import CEILING_TYPES, TYPES


def visible(staff: Staff, actor) -> bool:
    """The actor may see this person's grants (their privileges.view scope covers them)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    return db.session.scalar(select(Staff.id).where(Staff.id == staff.id, scope_filter(actor, "privilege_grant"))
                             .select_from(Staff).limit(1)) is not None


def _grouped(grants: list[Grant]) -> list[tuple]:
    groups: dict[str, list[Grant]] = {}
    for grant in grants:
        groups.setdefault(grant.ptype, []).append(grant)
    return [(TYPES[code], groups[code]) for code in TYPES if code in groups]


def _term_years(grant: Grant) -> str:
    if grant.end_date is None:
        return "—"
    days = (grant.end_date - grant.start_date).days + 1
    return f"{round(days / 365.25, 1):g}"


def render_authorizations(staff: Staff, actor) -> Markup:
    grants = queries.staff_grants(staff.id)
    surgery_scope = [g for g in grants if g.ptype in CEILING_TYPES and g.status == "active"]
    return Markup(render_template("privileges/_tab_authorizations.html", staff=staff, groups=_grouped(grants),
                                  surgery_scope=surgery_scope, today=date.today(),
                                  status_labels=GRANT_STATUS_LABELS, status_classes=GRANT_STATUS_CLASSES,
                                  term_years=_term_years))


def render_archive(staff: Staff, actor) -> Markup:
    grants = queries.staff_grants(staff.id, CEILING_TYPES)
    changes: dict[int, list[GrantChange]] = {}
    if grants:
        for change in db.session.scalars(select(GrantChange).where(GrantChange.grant_id.in_([g.id for g in grants]))
                                         .order_by(GrantChange.effective_on, GrantChange.id)):
            changes.setdefault(change.grant_id, []).append(change)
    applications = list(db.session.scalars(select(Application).where(Application.staff_id == staff.id,
                                                                     Application.ptype.in_(CEILING_TYPES))
                                           .order_by(Application.created_at.desc()).limit(50)))
    return Markup(render_template("privileges/_tab_archive.html", staff=staff, grants=grants, changes=changes,
                                  applications=applications, today=date.today(), status_labels=GRANT_STATUS_LABELS,
                                  status_classes=GRANT_STATUS_CLASSES, change_labels=CHANGE_LABELS,
                                  term_years=_term_years, types=TYPES))


def register() -> bool:
    """Add the tabs to the dossier (False when the dossier module is not installed)."""
    try:
        from app.modules.dossier.tabs import register_tab
    except ImportError:
        return False
    register_tab("authorizations", _l("Authorizations"), render_authorizations, order=50, visible=visible)
    register_tab("surgeon_archive", _l("Surgeon authorization archive"), render_archive, order=55, visible=visible)
    return True
