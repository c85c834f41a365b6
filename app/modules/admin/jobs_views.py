"""The jobs console: recent and failed background jobs with retry, and the JSON status of a tracked
run for progress bars (/jobs/<run_id>, visible to the user who started it and to administrators)."""
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.core import jobs
from app.core.notify.models import JobRun
from app.core.scopes import can, require
from app.core.web import paginate
from app.extensions import db
from app.modules.admin import blueprint

JOB_STATUSES = ("queued", "running", "done", "failed")


@blueprint.route("/jobs")
@login_required
@require("jobs.manage")
def list_jobs():
    status = request.args.get("status", "")
    stmt = select(JobRun)
    if status in JOB_STATUSES:
        stmt = stmt.where(JobRun.status == status)
    page = paginate(stmt.order_by(JobRun.id.desc()))
    rq_failed, rq_error = [], None
    try:
        rq_failed = jobs.failed_rq_jobs()
    except Exception as exc:  # Redis down: the page still shows what the database knows
        rq_error = str(exc)
    return render_template("admin/jobs.html", page=page, status=status, statuses=JOB_STATUSES,
                           rq_failed=rq_failed, rq_error=rq_error,
                           redis=bool(current_app.config["REDIS_URL"]))


@blueprint.route("/jobs/runs/<int:run_id>/retry", methods=["POST"])
@login_required
@require("jobs.manage")
def retry_job_run(run_id: int):
    db.session.get(JobRun, run_id) or abort(404)
    if jobs.retry_run(run_id, actor=current_user, ip=request.remote_addr):
        flash(_("The job was queued again."), "success")
    else:
        flash(_("Only a failed job can be retried."), "warning")
    return redirect(url_for("admin.list_jobs"), code=303)


@blueprint.route("/jobs/rq/<rq_job_id>/retry", methods=["POST"])
@login_required
@require("jobs.manage")
def retry_rq_job(rq_job_id: str):
    if not jobs.requeue_rq(rq_job_id, actor=current_user, ip=request.remote_addr):
        abort(404)
    flash(_("The job was queued again."), "success")
    return redirect(url_for("admin.list_jobs"), code=303)


@login_required
def show_job_run(run_id: int):
    run = db.session.get(JobRun, run_id)
    if run is None or not (run.created_by_id == current_user.id or can(current_user, "jobs.manage")):
        abort(404)
    return jsonify(jobs.run_status(run))


# /jobs/<id> sits outside /admin: any user may follow the progress of a job they started.
blueprint.record_once(lambda state: state.app.add_url_rule(
    "/jobs/<int:run_id>", "admin.show_job_run", show_job_run))
