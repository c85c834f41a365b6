from flask import abort, jsonify, request
from flask_login import current_user, login_required

from app.modules.lookup import blueprint
from app.workflow import forms

MAX_LIMIT = 50


@blueprint.route("/<source>")
@login_required
def search_source(source: str):
    found = forms.get_source(source)
    if found is None:
        abort(404)
    query = request.args.get("q", "").strip()[:60]
    limit = request.args.get("limit", 20, type=int) or 20
    options = found.search(query, max(1, min(limit, MAX_LIMIT)), current_user)
    return jsonify([{"value": o["value"], "label": str(o["label"]),
                     **({"detail": str(o["detail"])} if o.get("detail") else {})} for o in options])
