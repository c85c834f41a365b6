from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core import notify
from app.core.web import paginate
from app.modules.notifications import blueprint


@blueprint.route("")
@login_required
def list_notifications():
    page = paginate(notify.for_user(current_user))
    return render_template("notifications/list.html", page=page,
                           unread=notify.unread_count(current_user))


@blueprint.route("/<int:notification_id>/read", methods=["POST"])
@login_required
def read_notification(notification_id: int):
    notification = notify.get_own(current_user, notification_id)
    if notification is None:
        abort(404)
    notify.mark_read(current_user, [notification.id])
    if request.form.get("open") and notification.link:
        return redirect(notification.link, code=303)
    return redirect(_back(), code=303)


@blueprint.route("/read-all", methods=["POST"])
@login_required
def read_all_notifications():
    count = notify.mark_read(current_user, "all")
    flash(_("%(n)d notifications marked as read.", n=count), "success")
    return redirect(_back(), code=303)


def _back() -> str:
    page = request.form.get("page", "")
    if page.isdigit() and int(page) > 1:
        return url_for("notifications.list_notifications", page=page)
    return url_for("notifications.list_notifications")
