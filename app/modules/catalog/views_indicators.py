"""Pages of restricted-technology quality control (R2.4): the technologies with their figures, one
technology by month and department with its national indicators, and the cases behind every figure."""
from __future__ import annotations

from datetime import date

from flask import abort, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.core.exports import xlsx_response
from app.core.scopes import require
from app.core.web import Page
from app.extensions import db
from app.modules.catalog import blueprint, indicators
from app.modules.catalog.labels import MEASURE_LABELS
from app.modules.catalog.models import CatalogItem
from app.modules.clinical import queries as clinical_queries
from app.modules.clinical.labels import DISCHARGE_METHOD_LABELS
from app.modules.org.models import Department

EXPORT_LIMIT = 50_000


def _technology(item_id: int) -> CatalogItem:
    item = db.session.scalar(select(CatalogItem).where(CatalogItem.id == item_id, CatalogItem.kind == "restricted")
                             .options(selectinload(CatalogItem.codes), selectinload(CatalogItem.indicators)))
    return item or abort(404)


def _filters():
    """(start, end, department_id, departments) from the URL; a department outside the viewer's clinical
    scope is ignored (figures are scoped anyway)."""
    start, end = clinical_queries.period(request.args)
    departments = clinical_queries.departments(current_user)
    value = request.args.get("department_id", "")
    department_id = int(value) if value.isdigit() and int(value) in {d.id for d in departments} else None
    return start, end, department_id, departments


def _month(value: date) -> str:
    return value.strftime("%Y-%m")


def _period_args(start: date, end: date, department_id: int | None) -> dict:
    args = {"from": _month(start), "to": _month(end)}
    if department_id:
        args["department_id"] = department_id
    return args


def percent(numerator: int | None, denominator: int) -> str:
    if numerator is None:
        return "—"
    if not denominator:
        return "—"
    return f"{numerator / denominator * 100:.1f}%"


@blueprint.app_template_global("catalog_percent")
def _percent_global(numerator, denominator) -> str:
    return percent(numerator, denominator)


@blueprint.route("/restricted")
@login_required
@require("catalog.view")
def list_restricted():
    start, end, department_id, departments = _filters()
    items = indicators.restricted_items()
    figures = indicators.totals_by_item(current_user, items, start, end, department_id)
    return render_template("catalog/restricted.html", items=items, figures=figures, start=start, end=end,
                           department_id=department_id, departments=departments, args=request.args,
                           period_args=_period_args(start, end, department_id))


@blueprint.route("/restricted.xlsx")
@login_required
@require("catalog.view")
def export_restricted():
    start, end, department_id, _departments = _filters()
    items = indicators.restricted_items()
    figures = indicators.totals_by_item(current_user, items, start, end, department_id)
    header = [_("Item code"), _("Restricted technology"), _("Procedure codes"), _("Cases"), _("Complications"),
              _("Complication rate"), _("Deaths"), _("Mortality"), _("Unplanned reoperations")]
    body = []
    for item in items:
        f = figures[item.id]
        body.append([item.code, item.name, ",".join(item.code_list), f.cases, f.complications,
                     percent(f.complications, f.cases), f.deaths, percent(f.deaths, f.cases), f.reoperations])
    return xlsx_response(_("Restricted technologies"), header, body,
                         f"restricted-technologies-{_month(start)}-{_month(end)}.xlsx")


@blueprint.route("/restricted/<int:item_id>")
@login_required
@require("catalog.view")
def show_restricted(item_id: int):
    item = _technology(item_id)
    start, end, department_id, departments = _filters()
    result = indicators.breakdown(current_user, item, start, end, department_id)
    names = dict(db.session.execute(select(Department.id, Department.name).where(
        Department.id.in_(list(result.by_department)))).all())
    active = [i for i in item.indicators if i.active]
    return render_template("catalog/restricted_item.html", item=item, result=result, start=start, end=end,
                           department_id=department_id, departments=departments, department_names=names,
                           indicators=active, measures=MEASURE_LABELS, args=request.args,
                           period_args=_period_args(start, end, department_id),
                           data_url=url_for("catalog.restricted_data", item_id=item.id,
                                            **_period_args(start, end, department_id)))


@blueprint.route("/restricted/<int:item_id>/data.json")
@login_required
@require("catalog.view")
def restricted_data(item_id: int):
    """Monthly series for the charts, with a drill-down URL per series (`__M__` = the month)."""
    item = _technology(item_id)
    start, end, department_id, _departments = _filters()
    result = indicators.breakdown(current_user, item, start, end, department_id)
    from app.modules.clinical.services.metrics import months_between

    months = months_between(start, end)
    base = _period_args(start, end, department_id)
    base.pop("from"), base.pop("to")

    def series(label: str, field: str, flag: str | None):
        args = {**base, "month": "__M__", **({"flag": flag} if flag else {})}
        return {"label": label, "values": [getattr(result.by_month.get(m), field, 0) if m in result.by_month else 0
                                           for m in months],
                "url": url_for("catalog.list_cases", item_id=item.id, **args)}

    return jsonify({"months": [_month(m) for m in months],
                    "series": {"cases": series(_("Cases"), "cases", None),
                               "complications": series(_("Complications"), "complications", "complication"),
                               "deaths": series(_("Deaths"), "deaths", "death"),
                               "reoperations": series(_("Unplanned reoperations"), "reoperations", "reoperation")}})


@blueprint.route("/restricted/<int:item_id>.xlsx")
@login_required
@require("catalog.view")
def export_restricted_item(item_id: int):
    item = _technology(item_id)
    start, end, department_id, _departments = _filters()
    result = indicators.breakdown(current_user, item, start, end, department_id)
    names = dict(db.session.execute(select(Department.id, Department.name).where(
        Department.id.in_(list(result.by_department)))).all())
    active = [i for i in item.indicators if i.active]
    computed = [i for i in active if i.measure]
    header = [_("Month"), _("Department"), _("Cases"), _("Complications"), _("Deaths"), _("Unplanned reoperations"),
              *[i.name for i in computed]]

    def line(month_text, dept_text, f):
        return [month_text, dept_text, f.cases, f.complications, f.deaths, f.reoperations,
                *[percent(f.numerator(i), f.cases) for i in computed]]

    body = [line(_month(m), _("All departments"), result.by_month[m]) for m in sorted(result.by_month)]
    body += [line(f"{_month(start)}–{_month(end)}", names.get(d, str(d)), f)
             for d, f in sorted(result.by_department.items(), key=lambda kv: names.get(kv[0], ""))]
    body.append(line(f"{_month(start)}–{_month(end)}", _("Total"), result.total))
    body.append([])
    body.append([_("Indicator"), _("Numerator"), _("Denominator"), _("Target"), _("Source document")])
    body += [[i.name, i.numerator, i.denominator, i.target or "", i.source or ""] for i in active]
    return xlsx_response(item.name, header, body, f"restricted-{item.code}-{_month(start)}-{_month(end)}.xlsx")


# --- cases -------------------------------------------------------------------------------------

def _case_query(item: CatalogItem):
    start, end, department_id, departments = _filters()
    month = clinical_queries.parse_month(request.args.get("month"))
    flag = request.args.get("flag") if request.args.get("flag") in indicators.CASE_FLAGS else None
    indicator = None
    if request.args.get("indicator", "").isdigit():
        indicator = next((i for i in item.indicators if i.id == int(request.args["indicator"]) and i.measure), None)
    stmt = indicators.case_list(current_user, item, start, end, department_id=department_id, month=month,
                                flag=flag, indicator=indicator)
    return stmt, dict(start=start, end=end, department_id=department_id, departments=departments, month=month,
                      flag=flag, indicator=indicator)


def _page(stmt) -> Page:
    """A page of (stay, operation) pairs (`app.core.web.paginate` pages single entities)."""
    per_page = current_app.config["PAGE_SIZE"]
    try:
        number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        number = 1
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((number - 1) * per_page)).all()
    return Page(rows, number, per_page, total or 0)


@blueprint.route("/restricted/<int:item_id>/cases")
@login_required
@require("catalog.view")
def list_cases(item_id: int):
    item = _technology(item_id)
    stmt, context = _case_query(item)
    page = _page(stmt)
    complications = indicators.complications_of([stay.id for stay, _op in page.items])
    return render_template("catalog/cases.html", item=item, page=page, complications=complications,
                           discharge_methods=DISCHARGE_METHOD_LABELS, args=request.args,
                           flags={"complication": _("With complications"), "death": _("Died"),
                                  "reoperation": _("Unplanned reoperation")}, **context)


@blueprint.route("/restricted/<int:item_id>/cases.xlsx")
@login_required
@require("catalog.view")
def export_cases(item_id: int):
    item = _technology(item_id)
    stmt, _context = _case_query(item)
    rows = db.session.execute(stmt.limit(EXPORT_LIMIT)).all()
    complications = indicators.complications_of([stay.id for stay, _op in rows])
    header = [_("Stay no."), _("Patient"), _("Department"), _("Operation date"), _("Procedure code"), _("Procedure"),
              _("Surgeon"), _("Discharged"), _("Discharge method"), _("Complications")]
    body = [[stay.source_id, stay.patient.name, stay.discharge_department.name,
             op.performed_at.strftime("%Y-%m-%d %H:%M"), op.code, op.name, op.surgeon.name,
             stay.discharged_at.strftime("%Y-%m-%d"),
             str(DISCHARGE_METHOD_LABELS.get(stay.discharge_method, stay.discharge_method)),
             "；".join(f"{c.code} {c.name or ''}".strip() for c in complications.get(stay.id, []))]
            for stay, op in rows]
    return xlsx_response(_("Cases"), header, body, f"restricted-{item.code}-cases.xlsx")
