"""Process records: the read-only record page, its diagram data, attachments and comments."""
from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.extensions import db
from app.modules.portal import access, actions, blueprint, diagram, pages
from app.workflow import records, runtime
from app.workflow.errors import PermissionDenied, ProcessError
from app.workflow.models import Attachment, Task


@blueprint.route("/instances/<int:instance_id>")
@login_required
def show_instance(instance_id: int):
    instance = access.get_instance(current_user, instance_id)
    pages.mark_copies_read(current_user, instance.id)
    return render_template("portal/instance.html", **pages.instance_context(current_user, instance))


@blueprint.route("/instances/<int:instance_id>/diagram.json")
@login_required
def show_diagram(instance_id: int):
    instance = access.get_instance(current_user, instance_id)
    response = jsonify(diagram.diagram(instance))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.route("/attachments/<int:attachment_id>")
@login_required
def download_attachment(attachment_id: int):
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        abort(404)
    access.get_instance(current_user, attachment.instance_id)
    path = records.attachment_path(attachment)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=attachment.mime, as_attachment=True, download_name=attachment.name,
                     max_age=0, conditional=True, etag=attachment.sha256)


def _back(instance_id: int) -> str:
    task_id = request.form.get("task_id", "")
    if task_id.isdigit():
        return url_for("portal.show_task", task_id=int(task_id))
    return url_for("portal.show_instance", instance_id=instance_id)


def _task_of(instance_id: int) -> Task | None:
    task_id = request.form.get("task_id", "")
    if not task_id.isdigit():
        return None
    task = db.session.get(Task, int(task_id))
    if task is None or task.instance_id != instance_id:
        abort(404)
    return task


@blueprint.route("/instances/<int:instance_id>/comments", methods=["POST"])
@login_required
def add_comment(instance_id: int):
    instance = access.get_instance(current_user, instance_id)
    body = request.form.get("body", "").strip()[:4000]
    if not body:
        flash(_("Write a comment first."), "warning")
        return redirect(_back(instance.id), code=303)
    try:
        runtime.add_comment(current_user, instance, body, task=_task_of(instance.id))
    except PermissionDenied:
        abort(403)
    flash(_("Comment added."), "success")
    return redirect(_back(instance.id) + "#comments", code=303)


@blueprint.route("/instances/<int:instance_id>/attachments", methods=["POST"])
@login_required
def upload_attachment(instance_id: int):
    instance = access.get_instance(current_user, instance_id)
    files = [actions.Upload("file", f.filename, f.read()) for f in request.files.getlist("file") if f and f.filename]
    if not files:
        flash(_("Choose a file first."), "warning")
        return redirect(_back(instance.id), code=303)
    try:
        checked = actions.check_uploads(files, current_app.config["MAX_UPLOAD_MB"])
        actions.store_uploads(current_user, instance, _task_of(instance.id), checked)
    except actions.FormErrors as exc:
        return render_template("errors/error.html", status=422, title=_("The file was not accepted"),
                               message=" ".join(exc.errors.values())), 422
    except PermissionDenied:
        abort(403)
    except ProcessError as exc:
        return render_template("errors/error.html", status=422, title=_("The file was not accepted"),
                               message=exc.reason), 422
    flash(_("File uploaded."), "success")
    return redirect(_back(instance.id) + "#attachments", code=303)
