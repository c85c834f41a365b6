from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app.core import audit
from app.core.roles import SCOPES, shipped
from app.core.scopes import require
from app.core.web import paginate
from app.extensions import db
from app.modules.accounts import services
from app.modules.accounts.forms import ContactForm
from app.modules.accounts.models import ApiToken, Role, RoleGrant, User
from app.modules.admin import blueprint
from app.modules.org.models import Department

MAX_GRANT_ROWS = 12


@blueprint.route("/users")
@login_required
@require("accounts.manage")
def list_users():
    stmt = select(User).options(selectinload(User.grants).selectinload(RoleGrant.departments))
    q = request.args.get("q", "").strip()
    if q:
        stmt = stmt.where(or_(User.username.contains(q), User.display_name.contains(q)))
    role = request.args.get("role")
    if role:
        stmt = stmt.where(User.grants.any(RoleGrant.role.has(Role.code == role)))
    page = paginate(stmt.order_by(User.username))
    roles = db.session.scalars(select(Role).order_by(Role.id)).all()
    return render_template("admin/users.html", page=page, roles=roles, q=q, role=role)


def _grant_specs(form) -> list[services.GrantSpec]:
    specs = []
    for i in range(MAX_GRANT_ROWS):
        code = form.get(f"role_{i}", "").strip()
        if not code:
            continue
        departments = tuple(int(d) for d in form.getlist(f"departments_{i}") if d.isdigit())
        specs.append(services.GrantSpec(code, form.get(f"scope_{i}", ""), departments))
    return specs


@blueprint.route("/users/<int:user_id>", methods=["GET", "POST"])
@login_required
@require("accounts.manage")
def edit_user(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    error, contact_errors = None, {}
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "contacts":
                services.set_contacts(current_user, user, request.form, request.remote_addr)
            elif action == "grants":
                services.set_grants(current_user, user, _grant_specs(request.form), request.remote_addr)
            elif action == "unlock":
                services.unlock(current_user, user, request.remote_addr)
            elif action in ("enable", "disable"):
                services.set_active(current_user, user, action == "enable", request.remote_addr)
            elif action == "password":
                services.set_password(user, request.form.get("password", ""), actor=current_user,
                                      ip=request.remote_addr)
            else:
                abort(400)
        except services.ContactErrors as exc:
            error, contact_errors = _("Please correct the marked fields."), exc.errors
        except services.AccountError as exc:
            error = str(exc)
            db.session.rollback()
            user = db.session.get(User, user_id)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id), code=303)
    roles = db.session.scalars(select(Role).order_by(Role.id)).all()
    departments = db.session.execute(select(Department.id, Department.name)
                                     .order_by(Department.sort_order, Department.code)).all()
    status = 422 if error else 200
    contacts = ContactForm(formdata=request.form if contact_errors else None, data=services.contacts_of(user))
    for name, message in contact_errors.items():
        contacts[name].errors = [message]
    return render_template("admin/user.html", user=user, roles=roles, departments=departments,
                           scopes=SCOPES, rows=MAX_GRANT_ROWS, error=error, contacts=contacts,
                           staff_phone=user.staff.phone if user.staff else None), status


@blueprint.route("/roles")
@login_required
@require("accounts.manage")
def list_roles():
    holders = dict(db.session.execute(select(RoleGrant.role_id, func.count(func.distinct(
        RoleGrant.user_id))).group_by(RoleGrant.role_id)).all())
    roles = db.session.scalars(select(Role).order_by(Role.id)).all()
    return render_template("admin/roles.html", roles=roles, holders=holders,
                           permission_names=shipped()["permissions"])


@blueprint.route("/tokens", methods=["GET", "POST"])
@login_required
@require("tokens.manage")
def list_tokens():
    created_text, error = None, None
    if request.method == "POST":
        try:
            days = request.form.get("expires_days", "").strip()
            _token, created_text = services.create_token(
                current_user, request.form.get("name", ""), request.form.getlist("scopes"),
                int(days) if days.isdigit() else None, request.remote_addr)
        except services.AccountError as exc:
            error = str(exc)
    tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    return render_template("admin/tokens.html", tokens=tokens, created_text=created_text,
                           error=error, api_scopes=services.API_SCOPES), (422 if error else 200)


@blueprint.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
@require("tokens.manage")
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id) or abort(404)
    services.revoke_token(current_user, token, request.remote_addr)
    flash(_("The token was revoked."), "success")
    return redirect(url_for("admin.list_tokens"), code=303)


@blueprint.route("/audit")
@login_required
@require("audit.view")
def list_audit():
    stmt = select(audit.AuditEntry)
    action = request.args.get("action", "").strip()
    if action:
        stmt = stmt.where(audit.AuditEntry.action.startswith(action))
    actor = request.args.get("actor", "").strip()
    if actor:
        stmt = stmt.where(audit.AuditEntry.actor_name.contains(actor))
    page = paginate(stmt.order_by(audit.AuditEntry.seq.desc()))
    result = audit.verify() if request.args.get("verify") else None
    return render_template("admin/audit.html", page=page, action=action, actor=actor, result=result)
