"""Process studio pages (administrators, U2): list, create, import, edit in the bpmn-js modeler with
our properties panel, validate, save drafts, publish, retire, roll back, diff, export; and the
page of operations the hospital has enabled."""
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.scopes import require
from app.modules.studio import blueprint
from app.modules.studio import editor_texts, operation_service
from app.modules.studio import process_service as service
from app.workflow.layout import with_diagram
from app.workflow.errors import NotFound, PermissionDenied, ValidationFailed

PERMISSION = "processes.manage"


def _issues(issues) -> list[dict]:
    return [i.as_dict() if hasattr(i, "as_dict") else {"level": "error", "message": str(i)} for i in issues or ()]


def _versions_or_404(key: str):
    try:
        return service.versions(key)
    except NotFound:
        abort(404)


def _version_or_404(key: str, version_id: int):
    try:
        return service.get_version(key, version_id)
    except NotFound:
        abort(404)


def _xml_body() -> str:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("xml"), str):
        abort(400, description=_("Send a JSON object with the model's XML."))
    return data["xml"]


@blueprint.route("/processes")
@login_required
@require(PERMISSION)
def list_processes():
    q, module = request.args.get("q", "").strip(), request.args.get("module", "").strip()
    return render_template("studio/processes.html", rows=service.overview(q or None, module or None), q=q,
                           module=module, modules=service.modules(), errors={}, values={},
                           max_kb=current_app.config["STUDIO_MAX_MODEL_KB"])


@blueprint.route("/processes/new", methods=["POST"])
@login_required
@require(PERMISSION)
def create_process():
    values = {name: request.form.get(name, "").strip() for name in ("key", "name", "module")}
    try:
        draft = service.create(current_user, values["key"], values["name"], values["module"] or None)
    except PermissionDenied:
        abort(403)
    except service.InvalidFields as exc:
        return render_template("studio/processes.html", rows=service.overview(), q="", module="",
                               modules=service.modules(), errors=exc.fields, values=values, show_new=True,
                               max_kb=current_app.config["STUDIO_MAX_MODEL_KB"]), 422
    flash(_("Process %(key)s created as a draft: draw its steps, then validate and publish.", key=draft.key),
          "success")
    return redirect(url_for("studio.edit_process", key=draft.key, version=draft.id), code=303)


@blueprint.route("/processes/import", methods=["POST"])
@login_required
@require(PERMISSION)
def import_process():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a .bpmn file to import."), "warning")
        return redirect(url_for("studio.list_processes"), code=303)
    data = upload.stream.read(service.max_bytes() + 1)
    try:
        drafts = service.import_file(current_user, data, upload.filename)
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        flash(_("The file %(file)s was not imported: %(reason)s", file=upload.filename, reason=exc.reason),
              "warning")
        return redirect(url_for("studio.list_processes"), code=303)
    flash(_("Imported as draft: %(keys)s. Check the validation report, configure what it names, then publish.",
            keys=", ".join(f"{d.key} v{d.version}" for d in drafts)), "success")
    return redirect(url_for("studio.edit_process", key=drafts[0].key, version=drafts[0].id), code=303)


@blueprint.route("/processes/<key>")
@login_required
@require(PERMISSION)
def edit_process(key: str):
    versions = _versions_or_404(key)
    try:
        working = service.working_version(key, request.args.get("version", type=int))
    except NotFound:
        abort(404)
    published = next((v for v in versions if v.status == "published"), None)
    issues = service.report(working.bpmn_xml, key, working.filename)
    return render_template("studio/process.html", key=key, definition=working.definition, versions=versions,
                           working=working, published=published, running=service.running_counts(key),
                           issues=issues, issue_dicts=[issue.as_dict() for issue in issues],
                           options=service.panel_options(), max_kb=current_app.config["STUDIO_MAX_MODEL_KB"],
                           editor_texts=editor_texts.translations(editor_texts.BPMN))


@blueprint.route("/processes/<key>/versions/<int:version_id>.bpmn")
@login_required
@require(PERMISSION)
def download_process(key: str, version_id: int):
    version = _version_or_404(key, version_id)
    headers = {"Content-Type": "application/xml; charset=utf-8"}
    if request.args.get("download"):
        filename = f"{key}_v{version.version}.bpmn"
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return version.bpmn_xml, 200, headers
    # The modeler needs diagram information; hand-written models get a layout.
    return with_diagram(version.bpmn_xml), 200, headers


@blueprint.route("/processes/<key>/validate", methods=["POST"])
@login_required
@require(PERMISSION)
def validate_process(key: str):
    _versions_or_404(key)
    issues = service.report(_xml_body(), key)
    return jsonify({"issues": _issues(issues), "ok": not service.errors_of(issues)})


@blueprint.route("/processes/<key>/drafts", methods=["POST"])
@login_required
@require(PERMISSION)
def save_process(key: str):
    _versions_or_404(key)
    try:
        draft = service.save_draft(current_user, key, _xml_body())
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        return jsonify({"error": exc.reason, "issues": _issues(exc.issues)}), 422
    return jsonify({"id": draft.id, "version": draft.version,
                    "url": url_for("studio.edit_process", key=key, version=draft.id)})


ACTIONS = {"publish": service.publish, "retire": service.retire, "rollback": service.rollback,
           "discard": service.discard}


@blueprint.route("/processes/<key>/versions/<int:version_id>/<any(publish, retire, rollback, discard):action>",
                 methods=["POST"])
@login_required
@require(PERMISSION)
def change_process_version(key: str, version_id: int, action: str):
    _version_or_404(key, version_id)
    try:
        version = ACTIONS[action](current_user, key, version_id)
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        flash(exc.reason, "warning")
        for issue in exc.issues[:20]:
            flash(getattr(issue, "message", str(issue)), "warning")
        return redirect(url_for("studio.edit_process", key=key, version=version_id), code=303)
    messages = {
        "publish": _("Version %(n)s is published: new applications follow it; running ones keep their version.",
                     n=version.version),
        "retire": _("Version %(n)s is retired: no new applications; running ones go on.", n=version.version),
        "rollback": _("Rolled back: the model of the chosen version is published as version %(n)s.",
                      n=version.version),
        "discard": _("Draft version %(n)s was discarded.", n=version.version),
    }
    flash(messages[action], "success")
    return redirect(url_for("studio.edit_process", key=key), code=303)


@blueprint.route("/processes/<key>/diff")
@login_required
@require(PERMISSION)
def diff_process(key: str):
    versions = _versions_or_404(key)
    by_id = {v.id: v for v in versions}
    new_id = request.args.get("new", type=int)
    old_id = request.args.get("old", type=int)
    new = by_id.get(new_id) or versions[0]
    old = by_id.get(old_id) or next((v for v in versions if v.version < new.version), None)
    if (old_id and old_id not in by_id) or (new_id and new_id not in by_id):
        abort(404)
    result = service.diff(key, old.id, new.id) if old is not None else None
    return render_template("studio/process_diff.html", key=key, definition=new.definition, versions=versions,
                           old=old, new=new, diff=result)


@blueprint.route("/operations")
@login_required
@require(PERMISSION)
def list_operations():
    return render_template("studio/operations.html", rows=operation_service.rows())


@blueprint.route("/operations/<name>/<any(enable, disable):action>", methods=["POST"])
@login_required
@require(PERMISSION)
def toggle_operation(name: str, action: str):
    try:
        operation_service.set_enabled(current_user, name, action == "enable", request.form.get("note"))
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    flash(_("Operation %(name)s is enabled.", name=name) if action == "enable" else
          _("Operation %(name)s is disabled: processes that use it can no longer be published.", name=name),
          "success")
    return redirect(url_for("studio.list_operations"), code=303)
