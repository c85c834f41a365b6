"""Pages of doctor metrics (R1.5–R1.7) and of the clinical records behind them."""
from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.core.exports import xlsx_response
from app.core.scopes import get_visible, reach, require, scope_filter
from app.core.web import paginate
from app.extensions import db
from app.modules.clinical import blueprint, queries
from app.modules.clinical.labels import (DISCHARGE_METHOD_LABELS, EVENT_LABELS, LEVEL_LABELS, OPERATION_FLAGS,
                                         SETTING_LABELS, STAY_FLAGS, TITLE_LEVEL_LABELS)
from app.modules.clinical.models import (Complication, Operation, OrRegistration, Prescription, RecordEvent, Stay,
                                         StayDiagnosis)
from app.modules.clinical.services import metrics
from app.modules.org.models import Department, Staff

EXPORT_LIMIT = 100_000


def _month_text(value) -> str:
    return value.strftime("%Y-%m")


def drill_url(metric: metrics.Metric, staff_id: int, start, end, month=None) -> str:
    """The list of rows behind one figure of one doctor (for a month, or the period)."""
    args = {"from": _month_text(month or start), "to": _month_text(month or end), **dict(metric.drill_args)}
    if metric.drill == "operations":
        return url_for("clinical.list_operations", staff_id=staff_id, **args)
    if metric.drill == "surgical":
        return url_for("clinical.list_stays", surgeon_id=staff_id, **args)
    return url_for("clinical.list_stays", staff_id=staff_id, **args)


def _format(metric: metrics.Metric, value) -> str:
    if value is None:
        return "—"
    if metric.kind == "money":
        return f"¥{value:,.2f}"
    if metric.kind in ("share", "rate"):
        return f"{float(value) * 100:.1f}%"
    if metric.kind == "days":
        return f"{float(value):.1f}"
    return f"{int(value):,}"


@blueprint.app_template_filter("clinical_without")
def _without_filter(args: dict, *names: str) -> dict:
    return {k: v for k, v in args.items() if k not in names}


@blueprint.app_template_filter("metric_value")
def _metric_value_filter(value, key: str) -> str:
    return _format(metrics.METRICS[key], value)


@blueprint.route("/")
@login_required
@require("clinical.view")
def metrics_home():
    r = reach(current_user, "clinical.view")
    if not r.hospital and not r.department_ids and r.staff_id is not None:
        return redirect(url_for("clinical.show_doctor", staff_id=r.staff_id))
    return redirect(url_for("clinical.rankings"))


# --- rankings ---------------------------------------------------------------------------------

def ranking_rows(user, args):
    """(metric, start, end, select of ranked doctors within `user`'s scope) for the rankings page."""
    metric = metrics.METRICS.get(args.get("metric", ""), metrics.METRICS["discharges"])
    start, end = queries.period(args)
    ranked = metrics.ranking_query(metric, start, end)
    stmt = (select(ranked, Staff.name, Staff.employee_no, Department.name.label("department_name"))
            .join(Staff, Staff.id == ranked.c.staff_id).join(Department, Department.id == Staff.department_id)
            .where(scope_filter(user, "clinical_doctor")))
    if args.get("department_id", "").isdigit():
        from app.core.scopes import descendant_ids

        stmt = stmt.where(Staff.department_id.in_(descendant_ids({int(args["department_id"])})))
    if args.get("title_level", "") in ("1", "2", "3", "4"):
        stmt = stmt.where(ranked.c.title_level == int(args["title_level"]))
    q = args.get("q", "").strip()
    if q:
        stmt = stmt.where((Staff.name.contains(q)) | (Staff.employee_no == q))
    order = {"department": ranked.c.rank_department, "title": ranked.c.rank_title}.get(
        args.get("sort", ""), ranked.c.rank_hospital)
    return metric, start, end, stmt.order_by(order, Staff.employee_no)


def page_of_rows(rows: list):
    """A page of an already fetched list (rankings hold one row per doctor: fetched in one query)."""
    from flask import current_app

    from app.core.web import Page

    per_page = current_app.config["PAGE_SIZE"]
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    page = min(page, max(1, -(-len(rows) // per_page)))
    return Page(rows[(page - 1) * per_page:page * per_page], page, per_page, len(rows))


@blueprint.route("/rankings")
@login_required
@require("clinical.view")
def rankings():
    metric, start, end, stmt = ranking_rows(current_user, request.args)
    page = page_of_rows(db.session.execute(stmt).all())
    return render_template("clinical/rankings.html", page=page, metric=metric, start=start, end=end,
                           metrics=metrics.METRICS, departments=queries.departments(current_user),
                           title_levels=TITLE_LEVEL_LABELS, args=request.args, drill_url=drill_url)


@blueprint.route("/rankings.xlsx")
@login_required
@require("clinical.view")
def export_rankings():
    metric, start, end, stmt = ranking_rows(current_user, request.args)
    rows = db.session.execute(stmt.limit(EXPORT_LIMIT)).all()
    header = [_("Employee no."), _("Name"), _("Department"), _("Title level"), str(metric.label),
              _("Rank in hospital"), _("Rank in department"), _("Rank among same title")]
    body = [[r.employee_no, r.name, r.department_name, str(TITLE_LEVEL_LABELS.get(r.title_level, "")),
             _format(metric, r.value), f"{r.rank_hospital}/{r.n_hospital}", f"{r.rank_department}/{r.n_department}",
             f"{r.rank_title}/{r.n_title}"] for r in rows]
    return xlsx_response(_("Rankings"), header, body, "rankings.xlsx")


# --- a doctor's dashboard ---------------------------------------------------------------------

def _visible_doctor(staff_id: int) -> Staff:
    return get_visible(current_user, "clinical_doctor", Staff, staff_id,
                       query=select(Staff).options(joinedload(Staff.department), joinedload(Staff.title)))


@blueprint.route("/doctors/<int:staff_id>")
@login_required
@require("clinical.view")
def show_doctor(staff_id: int):
    doctor = _visible_doctor(staff_id)
    start, end = queries.period(request.args)
    totals = metrics.totals(staff_id, start, end)
    ranks = metrics.ranks_for(staff_id, start, end, metrics.SUMMARY_KEYS)
    cards = []
    for key in metrics.SUMMARY_KEYS:
        metric = metrics.METRICS[key]
        cards.append(dict(metric=metric, value=_format(metric, metrics.value_of(metric, totals)),
                          url=drill_url(metric, staff_id, start, end), rank=ranks.get(key)))
    return render_template("clinical/doctor.html", doctor=doctor, start=start, end=end, cards=cards,
                           data_url=url_for("clinical.doctor_data", staff_id=staff_id, **{
                               "from": _month_text(start), "to": _month_text(end)}))


CHART_KEYS = ("discharges", "operations", "ops_level1", "ops_level2", "ops_level3", "ops_level4", "avg_los",
              "avg_cost", "deaths", "unplanned_readmissions", "ops_above_level", "complications", "long_stays")


def _chart_queries() -> dict[str, str]:
    from urllib.parse import urlencode

    return {key: urlencode({"from": "__M__", "to": "__M__", **dict(metrics.METRICS[key].drill_args)})
            for key in CHART_KEYS}


CHART_QUERIES = _chart_queries()
_LABELS: dict[str, dict[str, str]] = {}  # locale → chart labels


def _chart_labels() -> dict[str, str]:
    from flask_babel import get_locale

    locale = str(get_locale())
    labels = _LABELS.get(locale)
    if labels is None:
        labels = _LABELS[locale] = {key: str(metrics.METRICS[key].label) for key in CHART_KEYS}
    return labels


def dashboard_data(staff_id: int, start, end) -> dict:
    """What the charts draw, with a drill-down URL template per series (`__M__` = the month)."""
    rows = metrics.series(staff_id, start, end)
    bases = {"stays": url_for("clinical.list_stays", staff_id=staff_id),
             "operations": url_for("clinical.list_operations", staff_id=staff_id),
             "surgical": url_for("clinical.list_stays", surgeon_id=staff_id)}
    labels = _chart_labels()
    series = {}
    for key in CHART_KEYS:
        metric = metrics.METRICS[key]
        values = []
        for r in rows:
            value = metrics.value_of(metric, r)
            values.append(None if value is None else round(float(value), 2))
        series[key] = {"label": labels[key], "values": values, "url": f"{bases[metric.drill]}&{CHART_QUERIES[key]}"}
    return {"months": [_month_text(r["month"]) for r in rows], "series": series}


@blueprint.route("/doctors/<int:staff_id>/data.json")
@login_required
@require("clinical.view")
def doctor_data(staff_id: int):
    _visible_doctor(staff_id)
    start, end = queries.period(request.args)
    return jsonify(dashboard_data(staff_id, start, end))


@blueprint.route("/doctors/<int:staff_id>/metrics.xlsx")
@login_required
@require("clinical.view")
def export_doctor(staff_id: int):
    doctor = _visible_doctor(staff_id)
    start, end = queries.period(request.args)
    rows = metrics.series(staff_id, start, end)
    keys = metrics.SUMMARY_KEYS
    header = [_("Month"), *[str(metrics.METRICS[k].label) for k in keys]]
    body = [[_month_text(r["month"]), *[_format(metrics.METRICS[k], metrics.value_of(metrics.METRICS[k], r))
                                        for k in keys]] for r in rows]
    totals = metrics.totals(staff_id, start, end)
    body.append([_("Total"), *[_format(metrics.METRICS[k], metrics.value_of(metrics.METRICS[k], totals))
                               for k in keys]])
    return xlsx_response(doctor.name, header, body, f"doctor-{doctor.employee_no}-metrics.xlsx")


# --- stays and operations (drill-down targets) -----------------------------------------------

def _list_context(kind: str) -> dict:
    staff = None
    for name in ("staff_id", "surgeon_id"):
        if request.args.get(name, "").isdigit():
            staff = db.session.scalar(select(Staff).where(Staff.id == int(request.args[name]))
                                      .where(scope_filter(current_user, "clinical_doctor")))
    return dict(args=request.args, departments=queries.departments(current_user), filter_staff=staff,
                discharge_methods=DISCHARGE_METHOD_LABELS, levels=LEVEL_LABELS,
                flags=STAY_FLAGS if kind == "stays" else OPERATION_FLAGS)


@blueprint.route("/stays")
@login_required
@require("clinical.view")
def list_stays():
    page = paginate(queries.stays(current_user, request.args))
    return render_template("clinical/stays.html", page=page, **_list_context("stays"))


@blueprint.route("/stays.xlsx")
@login_required
@require("clinical.view")
def export_stays():
    rows = db.session.scalars(queries.stays(current_user, request.args).limit(EXPORT_LIMIT)).unique().all()
    header = [_("Stay no."), _("Admission no."), _("Patient"), _("Department"), _("Attending doctor"),
              _("Admitted"), _("Discharged"), _("Length of stay"), _("Total cost"), _("Discharge method"),
              _("Main diagnosis")]
    body = [[s.source_id, s.admission_no, s.patient.name, s.discharge_department.name, s.attending.name,
             s.admitted_at.strftime("%Y-%m-%d %H:%M"), s.discharged_at.strftime("%Y-%m-%d %H:%M"), s.los_days,
             float(s.total_cost), str(DISCHARGE_METHOD_LABELS.get(s.discharge_method, s.discharge_method)),
             f"{s.main_diagnosis_code or ''} {s.main_diagnosis_name or ''}".strip()] for s in rows]
    return xlsx_response(_("Inpatient stays"), header, body, "stays.xlsx")


@blueprint.route("/stays/<int:stay_id>")
@login_required
@require("clinical.view")
def show_stay(stay_id: int):
    stay = get_visible(current_user, "clinical_stay", Stay, stay_id)
    operations = db.session.scalars(select(Operation).where(Operation.stay_id == stay.id)
                                    .options(joinedload(Operation.surgeon), joinedload(Operation.assistant1),
                                             joinedload(Operation.assistant2), joinedload(Operation.anesthetist))
                                    .order_by(Operation.performed_at, Operation.seq)).all()
    registrations = db.session.scalars(select(OrRegistration).where(OrRegistration.stay_id == stay.id)
                                       .options(joinedload(OrRegistration.scheduled_surgeon),
                                                joinedload(OrRegistration.actual_surgeon))
                                       .order_by(OrRegistration.scheduled_at)).all()
    events = db.session.scalars(select(RecordEvent).where(RecordEvent.stay_id == stay.id)
                                .options(joinedload(RecordEvent.chair)).order_by(RecordEvent.occurred_at)).all()
    complications = db.session.scalars(select(Complication).where(Complication.stay_id == stay.id)
                                       .order_by(Complication.occurred_on)).all()
    diagnoses = db.session.scalars(select(StayDiagnosis).where(StayDiagnosis.stay_id == stay.id)
                                   .order_by(StayDiagnosis.seq)).all()
    prescriptions = db.session.scalars(select(Prescription).where(Prescription.stay_id == stay.id)
                                       .options(joinedload(Prescription.prescriber))
                                       .order_by(Prescription.prescribed_on, Prescription.id).limit(200)).all()
    from app.modules.clinical.models import Drug

    drug_names = dict(db.session.execute(select(Drug.code, Drug.name).where(
        Drug.code.in_({p.drug_code for p in prescriptions}))).all())
    return render_template("clinical/stay.html", stay=stay, operations=operations, registrations=registrations,
                           events=events, complications=complications, diagnoses=diagnoses,
                           prescriptions=prescriptions, drug_names=drug_names,
                           discharge_methods=DISCHARGE_METHOD_LABELS, event_labels=EVENT_LABELS,
                           settings=SETTING_LABELS, levels=LEVEL_LABELS)


@blueprint.route("/operations")
@login_required
@require("clinical.view")
def list_operations():
    page = paginate(queries.operations(current_user, request.args))
    return render_template("clinical/operations.html", page=page, **_list_context("operations"))


@blueprint.route("/operations.xlsx")
@login_required
@require("clinical.view")
def export_operations():
    rows = db.session.scalars(queries.operations(current_user, request.args).limit(EXPORT_LIMIT)).unique().all()
    header = [_("Operation date"), _("Procedure code"), _("Procedure"), _("Surgery level"), _("Surgeon"),
              _("Patient"), _("Stay no."), _("Emergency"), _("Above the surgeon's level"),
              _("Unplanned reoperation")]
    yes, no = _("Yes"), _("No")
    body = [[o.performed_at.strftime("%Y-%m-%d %H:%M"), o.code, o.name, o.level, o.surgeon.name,
             o.stay.patient.name, o.stay.source_id, yes if o.emergency else no, yes if o.above_level else no,
             yes if o.unplanned_reoperation else no] for o in rows]
    return xlsx_response(_("Operations"), header, body, "operations.xlsx")


from app.modules.clinical import views_imports  # noqa: E402,F401
