"""The inbox (/tasks), the task page (/tasks/<id>) and its actions (POST /tasks/<id>/<action>)."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.web import paginate
from app.extensions import db
from app.modules.portal import actions, blueprint, inbox, pages
from app.workflow.errors import Conflict, NotFound, PermissionDenied, ProcessError

from . import access


@blueprint.route("/tasks")
@login_required
def list_tasks():
    tab = request.args.get("tab", "todo")
    if tab not in inbox.TABS or (tab == "queue" and access.oversight(current_user).empty):
        tab = "todo"
    filters = inbox.Filters.from_args(request.args)
    page = paginate(inbox.query(tab, current_user, filters))
    return render_template("portal/tasks.html", tab=tab, page=page, filters=filters,
                           **pages.inbox_context(tab, current_user, page.items))


@blueprint.route("/tasks/<int:task_id>")
@login_required
def show_task(task_id: int):
    task = access.get_task(current_user, task_id)
    pages.mark_copies_read(current_user, task.instance_id)
    return render_template("portal/task.html", **pages.task_context(current_user, task))


def _action_input(action: str) -> actions.ActionInput:
    form = request.form
    ids = [int(v) for v in form.getlist("user_ids") if v.strip().isdigit() and len(v.strip()) < 12]
    uploads = [actions.Upload(name, f.filename, f.read()) for name, f in request.files.items(multi=True)
               if f and f.filename]
    return actions.ActionInput(comment=_comment(form, action), user_ids=ids,
                               target=form.get("target") or None, formdata=form, uploads=uploads)


def _comment(form, action: str) -> str:
    """The opinion: the approve and reject dialogs each have their own field in the task form (a
    draft keeps what was typed in the approve dialog); other dialogs post `comment`."""
    names = [f"comment_{action}", "comment_complete" if action == "draft" else "", "comment"]
    return next((form[name] for name in names if name and form.get(name)), "")[:2000]


def _back(default: str) -> str:
    back = request.form.get("back", "")
    if back.startswith("/") and not back.startswith(("//", "/\\")):
        return back
    return default


@blueprint.route("/tasks/<int:task_id>/<action>", methods=["POST"])
@login_required
def perform_action(task_id: int, action: str):
    task = access.get_task(current_user, task_id)
    if action not in actions.ACTIONS:
        abort(404)
    if action in actions.NEEDS_OPEN and not task.is_open:
        return _refused(task, action, 409, pages.handled_reason(task))
    given = _action_input(action)
    try:
        actions.perform(current_user, task, action, given,
                                 limit_mb=current_app.config["MAX_UPLOAD_MB"])
    except actions.FormErrors as exc:
        return _refused(task, action, 422, _("Please correct the marked fields."), exc.errors, exc.data, given)
    except PermissionDenied:
        abort(403)
    except NotFound:
        abort(404)
    except Conflict as exc:
        return _refused(task, action, 409, pages.explain(exc.reason))
    except ProcessError as exc:
        return _refused(task, action, 422, pages.explain(exc.reason))
    message, default = pages.done_message(current_user, action, task, given)
    flash(message, "success")
    return redirect(_back(default), code=303)


def _refused(task, action: str, status: int, reason: str, errors=None, data=None, given=None):
    """The task page again with the reason (and field errors). The unit of work is rolled back first
    (a refused request leaves nothing behind), so the page shows what is really stored."""
    db.session.rollback()
    context = pages.task_context(current_user, task, failed_action=action, reason=reason, errors=errors,
                                 data=data, given=given)
    return render_template("portal/task.html", **context), status
