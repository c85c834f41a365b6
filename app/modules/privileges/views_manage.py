"""Medical affairs' privilege pages: adjusting grants (R3.8), the OR scheduling list, grants by
department, emergency overrides to review, the anaesthesia mode and the rights dictionary."""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.core import audit
from app.core.exports import xlsx_response
from app.core.scopes import get_visible, require
from app.core.web import paginate
from app.extensions import db
from app.modules.org.models import Staff
from app.workflow.errors import PermissionDenied

from . import blueprint, grants, overrides, queries, settings, stamp
from .labels import OVERRIDE_STATUS_CLASSES, OVERRIDE_STATUS_LABELS
from .models import CheckOverride, Grant, PrivilegeRight
from .types import TYPES
from .views import LABELS


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@blueprint.route("/grants/<int:grant_id>/adjust", methods=["POST"])
@login_required
@require("privileges.manage")
def adjust_grant(grant_id: int):
    grant = get_visible(current_user, "privilege_grant", Grant, grant_id, permission="privileges.manage",
                        query=select(Grant).join(Staff, Staff.id == Grant.staff_id))
    given = request.form
    errors: dict[str, str] = {}
    effective_on = _day(given.get("effective_on")) if given.get("effective_on") else date.today()
    if given.get("effective_on") and effective_on is None:
        errors["effective_on"] = _("Enter a valid date (YYYY-MM-DD).")
    level = None
    if given.get("level", "").strip():
        if given["level"].strip().isdigit():
            level = int(given["level"])
        else:
            errors["level"] = _("Please enter a whole number.")
    if not errors:
        try:
            grants.adjust(current_user, grant, given.get("action", ""), given.get("reason", ""), effective_on,
                          level=level, scope=given.get("scope") if "scope" in given else None)
        except grants.GrantError as exc:
            errors = exc.errors or {"action": exc.message}
        except PermissionDenied:
            abort(403)
        else:
            flash(_("The grant was changed; the doctor is notified."), "success")
            return redirect(url_for("privileges.show_grant", grant_id=grant.id), code=303)
    db.session.rollback()
    grant = db.session.get(Grant, grant_id)
    from app.modules.portal.sources import names

    state = grants.current_state(grant)
    return render_template("privileges/grant.html", grant=grant, state=state,
                           people=names(c.actor_id for c in grant.changes if c.actor_id), application=None,
                           manage=True, renewable=False, today=date.today(), adjustments=grants.ADJUSTMENTS,
                           tiered=grant.right_code is not None or grant.item_key.startswith("anaes:"),
                           errors=errors, given=given, **LABELS), 422


# --- lists ---------------------------------------------------------------------------------------------

@blueprint.route("/authorised")
@login_required
@require("privileges.view")
def list_authorised():
    stmt, matches, chosen, on = queries.authorised(current_user, request.args)
    rows = db.session.execute(stmt).all() if stmt is not None else []
    entries = _valid_on(rows, on)
    return render_template("privileges/authorised.html", matches=matches, chosen=chosen, on=on, entries=entries,
                           args=request.args, **LABELS)


def _valid_on(rows, on: date) -> list:
    """(grant, staff, department name, state) of the rows whose grant is valid on `on`."""
    changes = grants.changes_of([grant.id for grant, _s, _d in rows if grant.has_changes])
    found = []
    for grant, staff, department in rows:
        state = grants.state_on(grant, changes.get(grant.id, ()), on)
        if state.valid:
            found.append((grant, staff, department, state))
    return found


@blueprint.route("/authorised.xlsx")
@login_required
@require("privileges.view")
def export_authorised():
    stmt, _matches, chosen, on = queries.authorised(current_user, request.args)
    if stmt is None:
        abort(404)
    entries = _valid_on(db.session.execute(stmt).all(), on)
    header = [_("Employee no."), _("Name"), _("Department"), _("Item"), _("Scope of the grant"), _("Valid from"),
              _("Valid until")]
    body = [[s.employee_no, s.name, d, g.item_name, state.scope or "", g.start_date, g.end_date]
            for g, s, d, state in entries]
    return xlsx_response(_("Authorised doctors"), header, body, "authorised.xlsx")


@blueprint.route("/departments")
@login_required
@require("privileges.view")
def by_department():
    return render_template("privileges/departments.html", rows=queries.by_department(current_user), **LABELS)


@blueprint.route("/departments.xlsx")
@login_required
@require("privileges.view")
def export_by_department():
    rows = queries.by_department(current_user)
    header = [_("Department")] + [str(t.label) for t in TYPES.values()] + [_("Total"), _("Ending within 90 days")]
    body = [[name] + [types.get(code, 0) for code in TYPES] + [total, expiring]
            for _id, name, types, total, expiring in rows]
    return xlsx_response(_("Grants by department"), header, body, "grants-by-department.xlsx")


@blueprint.route("/staff/<int:staff_id>")
@login_required
@require("privileges.view")
def show_staff(staff_id: int):
    staff = get_visible(current_user, "privilege_grant", Staff, staff_id,
                        query=select(Staff).options(joinedload(Staff.department), joinedload(Staff.title)))
    from . import tabs

    return render_template("privileges/staff.html", staff=staff,
                           authorizations=tabs.render_authorizations(staff, current_user),
                           archive=tabs.render_archive(staff, current_user), **LABELS)


# --- emergency overrides ---------------------------------------------------------------------------------

@blueprint.route("/overrides")
@login_required
@require("privileges.view")
def list_overrides():
    stmt = queries.overrides(current_user, request.args).options(joinedload(CheckOverride.staff))
    return render_template("privileges/overrides.html", page=paginate(stmt), args=request.args,
                           status_labels=OVERRIDE_STATUS_LABELS, status_classes=OVERRIDE_STATUS_CLASSES,
                           may_review=_can_manage(), **LABELS)


def _can_manage() -> bool:
    from app.core.scopes import can

    return can(current_user, "privileges.manage")


@blueprint.route("/overrides/<int:override_id>/review", methods=["POST"])
@login_required
@require("privileges.manage")
def review_override(override_id: int):
    row = get_visible(current_user, "privilege_override", CheckOverride, override_id, permission="privileges.manage")
    try:
        overrides.review(current_user, row, request.form.get("outcome", ""), request.form.get("note", ""))
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("privileges.list_overrides", status="open"), code=303)
    flash(_("Review recorded."), "success")
    return redirect(url_for("privileges.list_overrides", status="open"), code=303)


# --- settings and the rights dictionary -------------------------------------------------------------------

@blueprint.route("/settings", methods=["GET", "POST"])
@login_required
@require("privileges.manage")
def edit_settings():
    errors: dict[str, str] = {}
    if request.method == "POST":
        effective_from = _day(request.form.get("effective_from"))
        if effective_from is None:
            errors["effective_from"] = _("Enter a valid date (YYYY-MM-DD).")
        else:
            try:
                settings.set_value(current_user, settings.ANAESTHESIA_MODE, request.form.get("mode", ""),
                                   effective_from, request.form.get("note"))
            except settings.SettingError as exc:
                errors["mode"] = str(exc)
            else:
                flash(_("Saved: the mode applies from %(date)s.", date=effective_from.isoformat()), "success")
                return redirect(url_for("privileges.edit_settings"), code=303)
        db.session.rollback()
    return render_template("privileges/settings.html", modes=settings.MODES, current=settings.anaesthesia_mode(),
                           history=settings.history(settings.ANAESTHESIA_MODE), errors=errors, given=request.form,
                           today=date.today(), **LABELS), (422 if errors else 200)


RIGHT_TYPES = tuple(code for code, t in TYPES.items() if t.source != "catalog")


@blueprint.route("/rights", methods=["GET", "POST"])
@login_required
@require("privileges.view")
def list_rights():
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not _can_manage():
            abort(403)
        errors = _save_right(request.form)
        if not errors:
            flash(_("Saved."), "success")
            return redirect(url_for("privileges.list_rights"), code=303)
        db.session.rollback()
    rows = db.session.scalars(select(PrivilegeRight).order_by(PrivilegeRight.ptype, PrivilegeRight.sort_order,
                                                              PrivilegeRight.code)).all()
    return render_template("privileges/rights.html", rows=rows, errors=errors, given=request.form,
                           right_types=RIGHT_TYPES, may_edit=_can_manage(), **LABELS), (422 if errors else 200)


def _save_right(form) -> dict[str, str]:
    import re

    errors: dict[str, str] = {}
    code = (form.get("code") or "").strip()
    row = db.session.scalar(select(PrivilegeRight).where(PrivilegeRight.code == code)) if code else None
    if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)?", code):
        errors["code"] = _("Use lower-case letters, digits, _ and one dot, e.g. equipment.pet.")
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = _("Please fill in this field.")
    ptype = form.get("ptype") if row is None else row.ptype
    if ptype not in RIGHT_TYPES:
        errors["ptype"] = _("Please choose from the list.")
    rank_text = (form.get("rank") or "1").strip()
    if not rank_text.isdigit() or not 1 <= int(rank_text) <= 9:
        errors["rank"] = _("Enter a whole number from 1 to 9.")
    if errors:
        return errors
    before = None
    if row is None:
        group = code.split(".")[0]
        prefix = {"capability": "cap", "anaesthesia": "anaes"}.get(ptype, "rx")
        row = PrivilegeRight(code=code, ptype=ptype, group_key="anaes:level" if ptype == "anaesthesia"
                             else f"{prefix}:{group}", sort_order=500)
        db.session.add(row)
    else:
        before = {"name": row.name, "rank": row.rank, "active": row.active, "requirement": row.requirement}
    row.name, row.rank = name[:120], int(rank_text)
    row.requirement = (form.get("requirement") or "").strip() or None
    row.evidence_required = form.get("evidence_required") == "on"
    row.active = form.get("active") == "on"
    db.session.flush()
    audit.record("privileges.right.save", actor=current_user, object_type="privilege_right", object_id=row.id,
                 data={"code": row.code, "before": before, "name": row.name, "rank": row.rank, "active": row.active},
                 summary=f"right {row.code} saved")
    stamp.bump()
    return {}
