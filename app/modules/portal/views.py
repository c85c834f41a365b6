from flask import render_template
from flask_login import current_user, login_required

from app.modules.portal import blueprint, pages, services


@blueprint.route("/")
@login_required
def home():
    return render_template("portal/home.html", summary=services.home_summary(current_user),
                           queues=pages.home_queues(current_user))
