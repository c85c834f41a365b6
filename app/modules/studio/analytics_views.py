"""Process analytics pages (流程分析, administrators): the processes with their counts, and per
process the monthly instances, step durations, overdue steps — ECharts charts, a table, xlsx."""
from flask import Response, abort, jsonify, render_template, request
from flask_login import current_user, login_required

from app.core.scopes import require
from app.modules.studio import analytics_service as service
from app.modules.studio import blueprint
from app.workflow.errors import NotFound, PermissionDenied

PERMISSION = "processes.manage"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _compute(key: str):
    try:
        return service.compute(current_user, key, service.Period.from_args(request.args))
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)


@blueprint.route("/analytics")
@login_required
@require(PERMISSION)
def analytics_index():
    try:
        rows = service.processes(current_user)
    except PermissionDenied:
        abort(403)
    return render_template("studio/analytics_index.html", rows=rows)


@blueprint.route("/analytics/<key>")
@login_required
@require(PERMISSION)
def analytics_process(key: str):
    result = _compute(key)
    from app.modules.portal.sources import names

    people = names({t.assignee_id for t in result.overdue_tasks})
    return render_template("studio/analytics_process.html", a=result, versions=service.version_counts(key),
                           people=people, p90_sample=service.P90_SAMPLE,
                           args={k: v for k, v in request.args.items() if k in ("date_from", "date_to")})


@blueprint.route("/analytics/<key>/data.json")
@login_required
@require(PERMISSION)
def analytics_data(key: str):
    response = jsonify(_compute(key).as_json())
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.route("/analytics/<key>/export.xlsx")
@login_required
@require(PERMISSION)
def analytics_export(key: str):
    result = _compute(key)
    filename = f"analytics-{key}-{result.period.date_from}-{result.period.date_to}.xlsx"
    return Response(service.xlsx(result), mimetype=XLSX,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})
