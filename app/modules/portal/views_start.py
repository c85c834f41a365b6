"""Starting a process: the published processes a user may start, and each one's start form."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.extensions import db
from app.modules.portal import blueprint, processes, starting, story
from app.workflow.errors import NotFound, PermissionDenied, ProcessError

from . import actions


@blueprint.route("/processes/start")
@login_required
def list_processes():
    return render_template("portal/processes.html", processes=processes.startable(current_user))


@blueprint.route("/processes/start/<key>", methods=["GET", "POST"])
@login_required
def start_process(key: str):
    if processes.has_start_page(key):  # the module starts it, with its own checks
        page = processes.start_page(key, current_user)
        if page is None:
            abort(404)
        return redirect(page, code=303 if request.method == "POST" else 302)
    try:
        version, info, form = processes.get_startable(current_user, key)
    except NotFound:
        abort(404)
    errors, data, reason = {}, {}, None
    if request.method == "POST":
        uploads = [actions.Upload(name, f.filename, f.read()) for name, f in request.files.items(multi=True)
                   if f and f.filename]
        try:
            instance = starting.start(current_user, version, info, form, request.form, uploads,
                                      limit_mb=current_app.config["MAX_UPLOAD_MB"])
        except actions.FormErrors as exc:
            errors, data, reason = exc.errors, exc.data, _("Please correct the marked fields.")
        except PermissionDenied:
            abort(403)
        except ProcessError as exc:
            data, reason = starting.read_back(form, request.form), exc.reason
        else:
            flash(_("Submitted: %(title)s (%(key)s).", title=instance.title, key=instance.business_key), "success")
            return redirect(url_for("portal.show_instance", instance_id=instance.id), code=303)
        db.session.rollback()
    form_html = story.render(form, data, story.Files([]), current_user, readonly=False, errors=errors)
    status = 422 if reason else 200
    return render_template("portal/start.html", version=version, info=info, form=form, form_html=form_html,
                           reason=reason), status
