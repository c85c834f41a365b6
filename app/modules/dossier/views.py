"""Dossier pages: my dossier, the list of dossiers, a person's dossier with its tabs, basic information."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from app.core.exports import xlsx_response
from app.core.scopes import can, descendant_ids, require, scope_filter
from app.core.web import paginate
from app.extensions import db
from app.modules.dossier import access, blueprint, tabs
from app.modules.dossier.forms import ProfileForm
from app.modules.dossier.labels import CHANGE_SOURCE_LABELS
from app.modules.dossier.models import Certificate, DossierChange, DossierProfile
from app.modules.dossier.services import profile as profiles
from app.modules.org.forms import LEVEL_LABELS, STAFF_TYPE_LABELS, STATUS_LABELS
from app.modules.org.models import Department, Staff, Title

EXPORT_LIMIT = 20_000


@blueprint.route("/")
@login_required
def my_dossier():
    own = access.own_staff_id(current_user)
    if own is not None:
        return redirect(url_for("dossier.show_person", person_id=own))
    if can(current_user, "dossier.view"):
        return redirect(url_for("dossier.list_people"))
    abort(404, description=_("Your account is not linked to a staff record, so it has no dossier."))


# --- the list -----------------------------------------------------------------------------------

def _people_query(args):
    stmt = (select(Staff).join(Staff.department).outerjoin(Staff.title)
            .options(joinedload(Staff.department), joinedload(Staff.title))
            .where(scope_filter(current_user, access.KIND)))
    staff_type = args.get("staff_type", "physician")
    if staff_type in STAFF_TYPE_LABELS:
        stmt = stmt.where(Staff.staff_type == staff_type)
    if args.get("department_id", "").isdigit():
        stmt = stmt.where(Staff.department_id.in_(descendant_ids({int(args["department_id"])})))
    if args.get("level") in LEVEL_LABELS:
        stmt = stmt.where(Title.level == args["level"])
    status = args.get("status", "active")
    if status in STATUS_LABELS:
        stmt = stmt.where(Staff.status == status)
    q = args.get("q", "").strip()
    if q:
        stmt = stmt.where(or_(Staff.name.contains(q, autoescape=True), Staff.employee_no.contains(q, autoescape=True),
                              Staff.practice_cert_no == q))
    order = {"name": Staff.name, "department": Department.sort_order,
             "hire_date": Staff.hire_date}.get(args.get("sort", ""), Staff.employee_no)
    return stmt.order_by(order, Staff.employee_no)


def _certificate_counts(staff_ids: list[int]) -> dict[int, dict]:
    from datetime import date, timedelta

    if not staff_ids:
        return {}
    today = date.today()
    soon = today + timedelta(days=90)
    rows = db.session.execute(
        select(Certificate.staff_id, func.count(Certificate.id),
               func.sum(db.case((Certificate.expires_on < today, 1), else_=0)),
               func.sum(db.case(((Certificate.expires_on >= today) & (Certificate.expires_on <= soon), 1), else_=0)))
        .where(Certificate.staff_id.in_(staff_ids)).group_by(Certificate.staff_id))
    return {sid: {"total": n, "expired": int(expired or 0), "expiring": int(expiring or 0)}
            for sid, n, expired, expiring in rows}


def _departments():
    return db.session.execute(select(Department.id, Department.name).where(scope_filter(
        current_user, "department", "dossier.view")).order_by(Department.sort_order, Department.code)).all()


@blueprint.route("/people")
@login_required
@require("dossier.view")
def list_people():
    page = paginate(_people_query(request.args))
    return render_template("dossier/list.html", page=page, args=request.args, departments=_departments(),
                           counts=_certificate_counts([s.id for s in page.items]), staff_types=STAFF_TYPE_LABELS,
                           levels=LEVEL_LABELS, statuses=STATUS_LABELS)


@blueprint.route("/people.xlsx")
@login_required
@require("dossier.view")
def export_people():
    people = db.session.scalars(_people_query(request.args).limit(EXPORT_LIMIT)).unique().all()
    profiles_by_staff = {p.staff_id: p for p in db.session.scalars(
        select(DossierProfile).where(DossierProfile.staff_id.in_([s.id for s in people])))}
    counts = _certificate_counts([s.id for s in people])
    keys = ("education", "degree", "graduated_from", "personnel_category", "practice_registered_on")
    header = [_("Employee no."), _("Name"), _("Gender"), _("Department"), _("Staff type"), _("Title"),
              _("Title obtained on"), _("Practice category"), _("Practice scope"), _("Practice certificate no."),
              *[str(profiles.SPECS[k].label) for k in keys], _("Joined the hospital on"), _("Certificates"),
              _("Expired"), _("Expiring within 90 days")]
    body = []
    for s in people:
        p = profiles_by_staff.get(s.id)
        c = counts.get(s.id, {})
        body.append([s.employee_no, s.name, profiles.display("gender", s.gender), s.department.name,
                     profiles.display("staff_type", s.staff_type), s.title.name if s.title else "", s.title_since,
                     s.practice_category or "", s.practice_scope or "", s.practice_cert_no or "",
                     *[(profiles.display(k, getattr(p, k)) if not k.endswith("_on") else getattr(p, k)) if p else ""
                       for k in keys],
                     s.hire_date, c.get("total", 0), c.get("expired", 0), c.get("expiring", 0)])
    return xlsx_response(_("Doctor dossiers"), header, body, "dossiers.xlsx")


# --- one person's dossier -----------------------------------------------------------------------

@blueprint.route("/<int:person_id>")
@login_required
def show_person(person_id: int):
    staff = access.get_person(current_user, person_id)
    visible = tabs.tabs_for(staff, current_user)
    if not visible:
        abort(404)
    active = next((t for t in visible if t.key == request.args.get("tab")), visible[0])
    content = tabs.render_tab(active, staff, current_user)
    return render_template("dossier/person.html", staff=staff, tabs=visible, active=active, content=content,
                           is_owner=access.is_owner(current_user, staff))


def _editable_keys(staff: Staff) -> tuple[str, ...]:
    if access.can_manage(current_user, staff):
        # Who sees the ID number masked cannot overwrite it either.
        hidden = () if access.can_see_identity(current_user, staff) else ("id_number",)
        return tuple(spec.key for spec in profiles.FIELDS if spec.key not in hidden)
    if access.is_owner(current_user, staff):
        return profiles.OWNER_KEYS
    return ()


@blueprint.route("/<int:person_id>/edit", methods=["GET", "POST"])
@login_required
def edit_profile(person_id: int):
    staff = access.get_person(current_user, person_id)
    keys = _editable_keys(staff)
    if not keys:
        abort(403)
    profile = profiles.profile_of(staff)
    form = ProfileForm(data=profiles.current_values(staff, profile))
    if form.validate_on_submit():
        try:
            rows = profiles.save(current_user, staff, form.values(keys), allowed=keys, ip=request.remote_addr)
        except profiles.ProfileRefused as exc:
            for key, message in exc.errors.items():
                if key in form:
                    form[key].errors = [*form[key].errors, message]
        else:
            flash(_("Saved: %(n)d field(s) changed.", n=len(rows)) if rows else _("Nothing was changed."),
                  "success")
            return redirect(url_for("dossier.show_person", person_id=staff.id), code=303)
    if not access.can_see_identity(current_user, staff):
        form.id_number.data = None  # never sent to whom it is masked
    return render_template("dossier/profile_form.html", form=form, staff=staff, editable=set(keys),
                           fields=profiles.FIELDS, manage=access.can_manage(current_user, staff),
                           masked_id=profiles.masked_id(current_user, staff, profile))


@blueprint.route("/<int:person_id>/changes")
@login_required
def list_changes(person_id: int):
    staff = access.get_person(current_user, person_id)
    stmt = (select(DossierChange).options(joinedload(DossierChange.actor))
            .where(DossierChange.staff_id == staff.id))
    if request.args.get("source") in CHANGE_SOURCE_LABELS:
        stmt = stmt.where(DossierChange.source == request.args["source"])
    if request.args.get("field") in profiles.SPECS:
        stmt = stmt.where(DossierChange.field == request.args["field"])
    page = paginate(stmt.order_by(DossierChange.changed_at.desc(), DossierChange.id.desc()))
    return render_template("dossier/changes.html", staff=staff, page=page, args=request.args,
                           sources=CHANGE_SOURCE_LABELS, specs=profiles.SPECS, display=profiles.display)


def expiry_state(cert, today) -> tuple[str, str]:
    """(css status class, text) of a certificate's validity."""
    left = cert.days_left(today)
    if left is None:
        return "active", _("No expiry date")
    if left < 0:
        return "expired", _("Expired on %(date)s", date=cert.expires_on.isoformat())
    if left <= 90:
        return "pending", _("Expires in %(n)d days", n=left)
    return "active", _("Valid until %(date)s", date=cert.expires_on.isoformat())


from app.modules.dossier import views_certs, views_imports, views_records  # noqa: E402,F401
