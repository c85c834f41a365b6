"""Privileges (医疗资质授权, R3.1–R3.8): applying by type and item, rule-driven approval processes,
grants with terms and their dynamic adjustment, reminders and renewal, the dossier's authorization
tabs (R1.3, R1.9), working lists, and the live check API for HIS."""
import functools

from flask import Blueprint
from flask_babel import lazy_gettext as _l

blueprint = Blueprint("privileges", __name__, url_prefix="/privileges")

from app.modules.privileges import views, views_manage  # noqa: E402,F401

DEPT_HEAD_ROLE = "privileges_dept_head"


def _dept_head(context) -> list[int]:
    """The applicant's department head(s), never the applicant; medical affairs when there is none."""
    from app.modules.accounts.resolvers import users_with_role

    heads = [uid for uid in users_with_role("dept_head", context.department_id) if uid != context.started_by_id]
    if heads:
        return heads
    office = users_with_role("medaffairs_staff", None) + users_with_role("medaffairs_admin", None)
    return [uid for uid in office if uid != context.started_by_id]


def _apply_page(ptype: str, user) -> str | None:
    from flask import url_for

    from app.core.scopes import can

    if getattr(user, "staff", None) is None or not can(user, "privileges.apply"):
        return None
    return url_for("privileges.apply", ptype=ptype)


def init_app(app):
    from app.core.scopes import register_kind
    from app.core.sync import register_sync
    from app.core.web import register_nav
    from app.demo import register_step
    from app.modules.clinical.services.ceiling import register_level_ceiling
    from app.modules.org.models import Staff
    from app.modules.privileges import api, jobs, sources, stamp, tabs  # noqa: F401  (routes and jobs register)
    from app.modules.privileges.applications import register_operations
    from app.modules.privileges.ceiling import level_ceiling
    from app.modules.privileges.demo import build as build_demo
    from app.modules.privileges.models import Application, CheckOverride
    from app.modules.portal.processes import register_start_page
    from app.modules.privileges.rights import sync_rights
    from app.modules.privileges.types import TYPES
    from app.workflow import assignment

    # Grant lists join the holder (Staff): the department is the holder's, "self" is the holder.
    register_kind("privilege_grant", permission="privileges.view", department_column=lambda: Staff.department_id,
                  self_clause=lambda staff_id: Staff.id == staff_id)
    register_kind("privilege_application", permission="privileges.view",
                  department_column=lambda: Application.department_id,
                  self_clause=lambda staff_id: Application.staff_id == staff_id)
    register_kind("privilege_override", permission="privileges.view",
                  department_column=lambda: CheckOverride.department_id,
                  self_clause=lambda staff_id: CheckOverride.staff_id == staff_id)
    register_operations()
    for kind in TYPES.values():  # applied for on the module's page: item checks and computed history
        register_start_page(kind.process_key, functools.partial(_apply_page, kind.code))
    assignment.register_resolver(DEPT_HEAD_ROLE, _dept_head)
    sources.register()
    stamp.watch()
    register_level_ceiling(level_ceiling)
    register_sync("privilege_rights", sync_rights)
    register_step("privileges", build_demo)
    tabs.register()
    from app.modules.catalog import services as catalog_services
    from app.modules.privileges.queries import capable_doctors

    catalog_services.register_capable_doctors(capable_doctors)
    register_nav("privileges.index", _l("Privileges"), "shield-check", "privileges.view", order=40)
