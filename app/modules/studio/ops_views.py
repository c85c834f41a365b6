"""Operations console pages (流程运维, administrators): the instance list with filters, an instance's
detail with its actions, single and bulk migration with a progress bar."""
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core import jobs
from app.core.scopes import require
from app.core.web import paginate
from app.modules.studio import blueprint
from app.modules.studio import ops_service as service
from app.workflow import subjects
from app.workflow.errors import NotFound, PermissionDenied, WorkflowError
from app.workflow.migration import MigrationRefused

PERMISSION = "processes.manage"


def _labels() -> dict:
    from app.modules.portal.story import (EVENT_LABELS, INSTANCE_STATUS_LABELS, OUTCOME_LABELS, STATUS_CLASSES,
                                          TASK_STATUS_LABELS)

    return {"event_labels": {**EVENT_LABELS, "migrate": _("Migrated"), "operation": _("System step")},
            "outcome_labels": OUTCOME_LABELS, "instance_status_labels": INSTANCE_STATUS_LABELS,
            "task_status_labels": TASK_STATUS_LABELS,
            "status_classes": STATUS_CLASSES, "status_filters": service.STATUS_FILTERS,
            "action_labels": service.ACTION_LABELS}


def _names(user_ids) -> dict[int, str]:
    from app.modules.portal.sources import names

    return names(user_ids)


@blueprint.route("/ops")
@login_required
@require(PERMISSION)
def ops_instances():
    filters = service.Filters.from_args(request.args)
    try:
        page = paginate(service.query(current_user, filters))
    except PermissionDenied:
        abort(403)
    steps = service.open_steps([i.id for i in page.items])
    people = _names({t.assignee_id for tasks in steps.values() for t in tasks} |
                    {i.started_by_id for i in page.items})
    return render_template(
        "studio/ops_instances.html", page=page, filters=filters, steps=steps, people=people,
        subject_labels=subjects.labels(i.subject for i in page.items),
        processes=service.process_choices(), versions=service.version_choices(filters.process),
        targets=service.migration_targets(filters.process), counts=service.status_counts(current_user, filters.process),
        published=service.published_version(filters.process), **_labels())


def _detail_or_404(instance_id: int):
    try:
        return service.detail(current_user, instance_id)
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)


@blueprint.route("/ops/instances/<int:instance_id>")
@login_required
@require(PERMISSION)
def ops_instance(instance_id: int):
    detail = _detail_or_404(instance_id)
    user_ids = {t.assignee_id for t in (*detail.open_tasks, *detail.other_tasks)} | \
        {t.completed_by_id for t in detail.other_tasks} | {e.actor_id for e in detail.events} | \
        {detail.instance.started_by_id}
    failed = request.args.get("failed")
    return render_template("studio/ops_instance.html", d=detail, people=_names(user_ids), pretty=service.pretty,
                           failed=failed, subject_labels=subjects.labels([detail.instance.subject]), **_labels())


def _back(instance_id: int, failed: str | None = None):
    return redirect(url_for("studio.ops_instance", instance_id=instance_id, **({"failed": failed} if failed else {}))
                    + ("#actions" if failed else ""), code=303)


@blueprint.route("/ops/instances/<int:instance_id>/<any(suspend, resume, cancel, retry):action>", methods=["POST"])
@login_required
@require(PERMISSION)
def ops_act(instance_id: int, action: str):
    try:
        service.act(current_user, instance_id, action, request.form.get("reason"))
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except service.OpsError as exc:
        flash(exc.message, "warning")
        return _back(instance_id, action)
    except WorkflowError as exc:
        flash(_("%(action)s refused: %(reason)s", action=service.ACTION_LABELS[action], reason=exc.reason), "warning")
        return _back(instance_id)
    flash(_("%(action)s: done.", action=service.ACTION_LABELS[action]), "success")
    return _back(instance_id)


@blueprint.route("/ops/tasks/<int:task_id>/reassign", methods=["POST"])
@login_required
@require(PERMISSION)
def ops_reassign(task_id: int):
    from app.extensions import db
    from app.workflow.models import Task

    task = db.session.get(Task, task_id) or abort(404)
    instance_id = task.instance_id
    try:
        service.reassign(current_user, task_id, request.form.get("user_ids"), request.form.get("reason"))
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except service.OpsError as exc:
        flash(exc.message, "warning")
        return _back(instance_id, f"reassign-{task_id}")
    except WorkflowError as exc:
        flash(_("%(action)s refused: %(reason)s", action=service.ACTION_LABELS["reassign"], reason=exc.reason),
              "warning")
        return _back(instance_id)
    flash(_("The task was reassigned."), "success")
    return _back(instance_id)


@blueprint.route("/ops/instances/<int:instance_id>/migrate", methods=["POST"])
@login_required
@require(PERMISSION)
def ops_migrate(instance_id: int):
    try:
        instance = service.migrate(current_user, instance_id, request.form.get("target"), request.form.get("reason"))
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except service.OpsError as exc:
        flash(exc.message, "warning")
        return _back(instance_id, "migrate")
    except MigrationRefused as exc:
        flash(_("Migration refused: %(reasons)s", reasons="；".join(exc.reasons)), "warning")
        return _back(instance_id)
    except WorkflowError as exc:
        flash(_("Migration refused: %(reasons)s", reasons=exc.reason), "warning")
        return _back(instance_id)
    flash(_("Migrated to version %(version)s.", version=instance.process_version.version), "success")
    return _back(instance_id)


@blueprint.route("/ops/migrations", methods=["POST"])
@login_required
@require(PERMISSION)
def ops_migrate_bulk():
    form = request.form
    scope = form.get("scope")
    ids = form.getlist("instance_ids") if scope == "selected" else None
    back = form.get("back") or url_for("studio.ops_instances")
    if not back.startswith("/studio/ops"):
        back = url_for("studio.ops_instances")
    try:
        run_id = service.start_bulk(current_user, form.get("target"), form.get("reason"), instance_ids=ids,
                                    from_version=form.get("from_version") if scope != "selected" else None)
    except PermissionDenied:
        abort(403)
    except service.OpsError as exc:
        flash(exc.message, "warning")
        return redirect(back, code=303)
    flash(_("The migration runs in the background; this page shows its progress."), "info")
    return redirect(url_for("studio.ops_migration", run_id=run_id), code=303)


@blueprint.route("/ops/migrations/<int:run_id>")
@login_required
@require(PERMISSION)
def ops_migration(run_id: int):
    try:
        run, result, started = service.bulk_result(current_user, run_id)
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    if request.accept_mimetypes.best == "application/json":
        return jsonify({**jobs.run_status(run), "finished": result is not None})
    return render_template("studio/ops_migration.html", run=run, result=result, started=started,
                           state=jobs.run_status(run))
