"""Rules studio pages (rule authors, U3): list, edit with dmn-js, validate, test, backtest, publish."""
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.scopes import require
from app.modules.studio import blueprint
from app.modules.studio import editor_texts
from app.modules.studio import rules_service as service
from app.workflow.errors import NotFound, PermissionDenied, ValidationFailed

MAX_XML = 2 * 1024 * 1024


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description=_("Send a JSON object."))
    xml = data.get("xml")
    if xml is not None and (not isinstance(xml, str) or len(xml) > MAX_XML):
        abort(400, description=_("The table must be DMN XML of at most 2 MB."))
    return data


def _versions_or_404(key: str):
    try:
        return service.versions(key)
    except NotFound:
        abort(404)


@blueprint.route("/rules")
@login_required
@require("rules.author")
def list_rules():
    return render_template("studio/rules.html", rows=service.overview())


@blueprint.route("/rules/<key>")
@login_required
@require("rules.author")
def edit_rule(key: str):
    versions = _versions_or_404(key)
    version_id = request.args.get("version", type=int)
    try:
        working = service.working_version(key, version_id)
    except NotFound:
        abort(404)
    return render_template("studio/rule.html", key=key, versions=versions, working=working,
                           inputs=service.inputs_of(working.dmn_xml, key),
                           problems=service.check(working.dmn_xml, key),
                           editor_texts=editor_texts.translations(editor_texts.DMN))


@blueprint.route("/rules/<key>/versions/<int:version_id>.dmn")
@login_required
@require("rules.author")
def download_rule(key: str, version_id: int):
    _versions_or_404(key)
    try:
        version = service.working_version(key, version_id)
    except NotFound:
        abort(404)
    return version.dmn_xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


@blueprint.route("/rules/<key>/check", methods=["POST"])
@login_required
@require("rules.author")
def check_rule(key: str):
    _versions_or_404(key)
    xml = _json_body().get("xml") or ""
    problems = service.check(xml, key)
    inputs = service.inputs_of(xml, key) if not any(p.level == "error" for p in problems) else []
    return jsonify({"problems": [p.as_dict() for p in problems], "inputs": inputs})


@blueprint.route("/rules/<key>/test", methods=["POST"])
@login_required
@require("rules.author")
def test_rule(key: str):
    _versions_or_404(key)
    body = _json_body()
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict):
        abort(400, description=_("Inputs must be an object."))
    try:
        return jsonify(service.test(body.get("xml") or "", key, inputs))
    except ValidationFailed as exc:
        return jsonify({"ok": False, "error": str(exc)}), 422


@blueprint.route("/rules/<key>/backtest", methods=["POST"])
@login_required
@require("rules.author")
def backtest_rule(key: str):
    _versions_or_404(key)
    body = _json_body()
    limit = body.get("limit") or service.BACKTEST_LIMIT
    if not isinstance(limit, int) or not 1 <= limit <= 5000:
        abort(400, description=_("Choose between 1 and 5000 logged decisions."))
    try:
        return jsonify(service.backtest(body.get("xml") or "", key, limit).as_dict())
    except ValidationFailed as exc:
        return jsonify({"error": str(exc)}), 422


@blueprint.route("/rules/<key>/drafts", methods=["POST"])
@login_required
@require("rules.author")
def save_rule(key: str):
    _versions_or_404(key)
    try:
        draft = service.save_draft(current_user, key, _json_body().get("xml") or "")
    except ValidationFailed as exc:
        problems = [p.as_dict() if hasattr(p, "as_dict") else {"level": "error", "message": str(p)}
                    for p in (exc.issues or [])]
        return jsonify({"error": str(exc), "problems": problems}), 422
    except PermissionDenied:
        abort(403)
    return jsonify({"version": draft.version, "id": draft.id,
                    "url": url_for("studio.edit_rule", key=key, version=draft.id)})


@blueprint.route("/rules/<key>/versions/<int:version_id>/<any(publish, rollback):action>", methods=["POST"])
@login_required
@require("rules.author")
def publish_rule(key: str, version_id: int, action: str):
    _versions_or_404(key)
    try:
        if action == "publish":
            version = service.publish(current_user, key, version_id)
            flash(_("Version %(n)s is published.", n=version.version), "success")
        else:
            version = service.rollback(current_user, key, version_id)
            flash(_("Rolled back: the table of the chosen version is published as version %(n)s.",
                    n=version.version), "success")
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        flash(str(exc), "warning")
        return redirect(url_for("studio.edit_rule", key=key, version=version_id), code=303)
    return redirect(url_for("studio.edit_rule", key=key), code=303)
