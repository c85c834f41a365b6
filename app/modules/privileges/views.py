"""Privilege pages: home, applying (R3.1–R3.6), applications, grants and a grant's story."""
from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.core.scopes import can, get_visible, require
from app.core.web import paginate
from app.extensions import db
from app.modules.org.models import Staff
from app.workflow import registry
from app.workflow.errors import PermissionDenied, ProcessError

from . import applications as service
from . import blueprint, grants, items, queries, settings
from .labels import (APPLICATION_STATUS_CLASSES, APPLICATION_STATUS_LABELS, AUTO_CLASSES, AUTO_LABELS,
                     CHANGE_LABELS, FIELD_LABELS, GRANT_STATUS_CLASSES, GRANT_STATUS_LABELS)
from .models import Application, Grant
from .types import TYPES, VARIANT_LABELS, level_name

LABELS = dict(grant_status_labels=GRANT_STATUS_LABELS, grant_status_classes=GRANT_STATUS_CLASSES,
              application_status_labels=APPLICATION_STATUS_LABELS,
              application_status_classes=APPLICATION_STATUS_CLASSES, auto_labels=AUTO_LABELS,
              auto_classes=AUTO_CLASSES, change_labels=CHANGE_LABELS, field_labels=FIELD_LABELS, types=TYPES,
              level_name=level_name,
              variant_labels=VARIANT_LABELS)


@blueprint.route("/")
@login_required
@require("privileges.view")
def index():
    mine = []
    staff = getattr(current_user, "staff", None)
    if staff is not None:
        mine = queries.staff_grants(staff.id)
    return render_template("privileges/index.html", counts=queries.counts(current_user), mine=mine,
                           may_apply=can(current_user, "privileges.apply") and staff is not None,
                           manage=can(current_user, "privileges.manage"), today=date.today(), **LABELS)


# --- applying ----------------------------------------------------------------------------------------

@blueprint.route("/apply")
@login_required
@require("privileges.apply")
def choose_type():
    if getattr(current_user, "staff", None) is None:
        abort(403)
    return render_template("privileges/choose.html", mode=settings.anaesthesia_mode(), **LABELS)


def _rest_form(form):
    """The start form without the fields the apply page draws itself (items, computed history)."""
    from app.workflow.forms import FormDef

    schema = dict(form.schema)
    schema["properties"] = {k: v for k, v in form.schema["properties"].items() if k not in ("items", "history")}
    schema["required"] = [k for k in form.schema.get("required", []) if k in schema["properties"]]
    ui = {k: v for k, v in form.ui.items() if k.split(".")[0] not in ("items", "history")}
    if "" in ui:
        ui[""] = {**ui[""], "order": [k for k in ui[""].get("order", []) if k in schema["properties"]]}
    return FormDef(form.name, form.title, schema, ui)


@blueprint.route("/apply/<ptype>", methods=["GET", "POST"])
@login_required
@require("privileges.apply")
def apply(ptype: str):
    kind = TYPES.get(ptype)
    if kind is None:
        abort(404)
    if getattr(current_user, "staff", None) is None:
        abort(403)  # only staff apply (an administrator's account has no staff record)
    form = registry.published_form_def(kind.form)
    if form is None:
        abort(404)
    renewal = None
    renew_id = request.values.get("renewal_of", "")
    if renew_id.isdigit():
        renewal = db.session.get(Grant, int(renew_id))
        if renewal is None or renewal.staff_id != getattr(current_user, "staff_id", None) or renewal.ptype != ptype:
            abort(404)
    errors, refused, reason, data = {}, {}, None, {}
    chosen = request.form.getlist("items") if request.method == "POST" else (
        service.renewal_keys(renewal) if renewal else request.args.getlist("item"))
    if request.method == "POST":
        uploads = [_upload(name, f) for name, f in request.files.items(multi=True) if f and f.filename]
        try:
            instance = service.submit(current_user, ptype, request.form, uploads,
                                      limit_mb=current_app.config["MAX_UPLOAD_MB"])
        except service.Refused as exc:
            refused, reason = exc.reasons, _("Some items cannot be applied for; see the reasons below.")
        except PermissionDenied:
            abort(403)
        except ProcessError as exc:
            reason = exc.reason
        except Exception as exc:  # portal FormErrors: field errors of the rest of the form
            from app.modules.portal.actions import FormErrors

            if not isinstance(exc, FormErrors):
                raise
            errors, data, reason = exc.errors, exc.data, _("Please correct the marked fields.")
        else:
            application = db.session.scalar(select(Application).where(Application.instance_id == instance.id))
            status = service.status_of(application) if application else "pending"
            message = {"approved": _("Approved automatically: %(title)s.", title=instance.title),
                       "rejected": _("Rejected automatically: %(reason)s", reason=application.decision_note or "")
                       if application else ""}.get(status, _("Submitted: %(title)s (%(key)s).", title=instance.title,
                                                              key=instance.business_key))
            flash(message, "success" if status != "rejected" else "warning")
            target = url_for("privileges.show_application", application_id=application.id) if application else \
                url_for("portal.show_instance", instance_id=instance.id)
            return redirect(target, code=303)
        db.session.rollback()
        if not data:
            from app.workflow import forms as wf_forms

            data = wf_forms.coerce(form, request.form)
    query = (request.args.get("q") or "").strip()
    facts, offers = service.offers(current_user, ptype, evidence=True, query=query, renewal_of=renewal)
    if chosen:
        missing = [k for k in chosen if k not in {o.item.key for o in offers}]
        if missing:
            extra = service.offers(current_user, ptype, evidence=True, renewal_of=renewal, keys=missing)[1]
            offers = extra + offers
    if renewal is not None:
        data.setdefault("renewal_of", renewal.id)
    from app.modules.portal import story

    rest = _rest_form(form)
    form_html = story.render(rest, data, story.Files([]), current_user, readonly=False, errors=errors)
    status = 422 if reason else 200
    return render_template("privileges/apply.html", kind=kind, form=form, facts=facts, offers=offers,
                           chosen=set(chosen), refused=refused, reason=reason, form_html=form_html, query=query,
                           errors=errors, renewal=renewal, mode=settings.anaesthesia_mode(),
                           uses_catalog=items.uses_catalog(ptype), **LABELS), status


def _upload(name, storage):
    from app.modules.portal.actions import Upload

    return Upload(name, storage.filename, storage.read())


# --- applications ------------------------------------------------------------------------------------

@blueprint.route("/applications")
@login_required
@require("privileges.view")
def list_applications():
    page = _paginate_rows(queries.applications(current_user, request.args))
    return render_template("privileges/applications.html", page=page, args=request.args, **LABELS)


def _paginate_rows(stmt):
    """Paginate a select of several columns (rows, not scalars)."""
    from sqlalchemy import func

    from app.core.web import Page

    per_page = current_app.config["PAGE_SIZE"]
    try:
        number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        number = 1
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.session.execute(stmt.limit(per_page).offset((number - 1) * per_page)).all()
    return Page(rows, number, per_page, total)


@blueprint.route("/applications/<int:application_id>")
@login_required
@require("privileges.view")
def show_application(application_id: int):
    from app.core.scopes import scope_filter
    from app.modules.portal import access
    from app.workflow import permissions
    from app.workflow.models import Instance, Task

    application = db.session.scalar(select(Application).where(Application.id == application_id)
                                     .options(joinedload(Application.staff)))
    if application is None:
        abort(404)
    instance = db.session.get(Instance, application.instance_id) if application.instance_id else None
    in_scope = db.session.scalar(select(Application.id).where(Application.id == application.id,
                                                              scope_filter(current_user, "privilege_application")))
    # Reviewers outside the scope (experts of other departments) take part in the process: they see it too.
    if in_scope is None and not (instance is not None and access.can_view_instance(current_user, instance)):
        abort(404)
    open_tasks = list(db.session.scalars(select(Task).where(Task.instance_id == instance.id,
                                                            Task.status.in_(("open", "delegated")))
                                         .order_by(Task.id))) if instance else []
    may_open_record = instance is not None and access.can_view_instance(current_user, instance)
    my_tasks = [t for t in open_tasks if permissions.may_act(t, current_user.id)]
    granted = {g.id: g for g in db.session.scalars(select(Grant).where(Grant.application_id == application.id))}
    return render_template("privileges/application.html", application=application, instance=instance,
                           status=service.status_of(application), open_tasks=open_tasks, my_tasks=my_tasks,
                           may_open_record=may_open_record, granted=granted, **LABELS)


# --- grants -------------------------------------------------------------------------------------------

@blueprint.route("/grants")
@login_required
@require("privileges.view")
def list_grants():
    stmt = queries.grants(current_user, request.args).options(joinedload(Grant.staff).joinedload(Staff.department))
    page = paginate(stmt)
    return render_template("privileges/grants.html", page=page, args=request.args,
                           departments=queries.departments(current_user), today=date.today(), **LABELS)


@blueprint.route("/grants.xlsx")
@login_required
@require("privileges.view")
def export_grants():
    from app.core.exports import xlsx_response

    stmt = queries.grants(current_user, request.args).options(joinedload(Grant.staff).joinedload(Staff.department))
    rows = db.session.scalars(stmt.limit(100_000)).all()
    header = [_("Employee no."), _("Name"), _("Department"), _("Privilege type"), _("Item"), _("Level"),
              _("Scope of the grant"), _("Valid from"), _("Valid until"), _("Status")]
    body = [[g.staff.employee_no, g.staff.name, g.staff.department.name, str(TYPES[g.ptype].label), g.item_name,
             level_name(g.level) if g.item_id else (g.level or ""), g.scope or "", g.start_date, g.end_date,
             str(GRANT_STATUS_LABELS.get(g.status, g.status))] for g in rows]
    return xlsx_response(_("Grants"), header, body, "grants.xlsx")


@blueprint.route("/grants/<int:grant_id>")
@login_required
@require("privileges.view")
def show_grant(grant_id: int):
    grant = get_visible(current_user, "privilege_grant", Grant, grant_id,
                        query=select(Grant).join(Staff, Staff.id == Grant.staff_id)
                        .options(joinedload(Grant.staff).joinedload(Staff.department)))
    state = grants.current_state(grant)
    from app.modules.portal.sources import names

    people = names(c.actor_id for c in grant.changes if c.actor_id)
    if grant.granted_by_id:
        people.update(names([grant.granted_by_id]))
    application = db.session.get(Application, grant.application_id) if grant.application_id else None
    holder = grant.staff_id == getattr(current_user, "staff_id", None)
    renewable = holder and can(current_user, "privileges.apply") and grant.status == "active" \
        and not grants.has_successor(grant)
    return render_template("privileges/grant.html", grant=grant, state=state, people=people, application=application,
                           manage=can(current_user, "privileges.manage"), renewable=renewable,
                           tiered=grant.right_code is not None or grant.item_key.startswith("anaes:"),
                           today=date.today(), adjustments=grants.ADJUSTMENTS, errors={}, given={}, **LABELS)
