"""Form studio pages (administrators, U2): list with the processes that use each form, create, edit
the JSON schema with a live preview rendered by the server, save drafts, publish, retire, roll back."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.core.scopes import require
from app.modules.studio import blueprint
from app.modules.studio import form_service as service
from app.modules.studio.process_service import InvalidFields
from app.workflow.errors import NotFound, PermissionDenied, ValidationFailed

PERMISSION = "processes.manage"


def _versions_or_404(name: str):
    try:
        return service.versions(name)
    except NotFound:
        abort(404)


def _edit_page(name: str, working, text: str, issues, status: int = 200):
    versions = _versions_or_404(name)
    preview, _issues = service.preview(text, name)
    return render_template("studio/form.html", name=name, versions=versions, working=working, text=text,
                           issues=issues, preview=preview, used_by=service.usage().get(name, []),
                           title=service.title_of(working)), status


@blueprint.route("/forms")
@login_required
@require(PERMISSION)
def list_forms():
    q = request.args.get("q", "").strip()
    return render_template("studio/forms.html", rows=service.overview(q or None), q=q, errors={}, values={})


@blueprint.route("/forms/new", methods=["POST"])
@login_required
@require(PERMISSION)
def create_form():
    values = {name: request.form.get(name, "").strip() for name in ("name", "title", "module")}
    try:
        draft = service.create(current_user, values["name"], values["title"], values["module"] or None)
    except PermissionDenied:
        abort(403)
    except InvalidFields as exc:
        return render_template("studio/forms.html", rows=service.overview(), q="", errors=exc.fields,
                               values=values, show_new=True), 422
    flash(_("Form %(name)s created as a draft.", name=draft.name), "success")
    return redirect(url_for("studio.edit_form", name=draft.name, version=draft.id), code=303)


@blueprint.route("/forms/<name>")
@login_required
@require(PERMISSION)
def edit_form(name: str):
    _versions_or_404(name)
    try:
        working = service.working_version(name, request.args.get("version", type=int))
    except NotFound:
        abort(404)
    text = service.as_text(working)
    return _edit_page(name, working, text, service.parse(text, name)[1])


@blueprint.route("/forms/<name>/versions/<int:version_id>.json")
@login_required
@require(PERMISSION)
def download_form(name: str, version_id: int):
    try:
        version = service.get_version(name, version_id)
    except NotFound:
        abort(404)
    return service.as_text(version), 200, {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}_v{version.version}.json"'}


@blueprint.route("/forms/<name>/preview", methods=["POST"])
@login_required
@require(PERMISSION)
def preview_form(name: str):
    _versions_or_404(name)
    preview, issues = service.preview(request.form.get("content", ""), name)
    return render_template("studio/_form_preview.html", preview=preview, issues=issues)


@blueprint.route("/forms/<name>/drafts", methods=["POST"])
@login_required
@require(PERMISSION)
def save_form(name: str):
    versions = _versions_or_404(name)
    text = request.form.get("content", "")
    try:
        draft = service.save_draft(current_user, name, text)
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        flash(exc.reason, "warning")
        return _edit_page(name, versions[0], text, service.parse(text, name)[1], 422)
    flash(_("Saved as draft version %(n)s.", n=draft.version), "success")
    return redirect(url_for("studio.edit_form", name=name, version=draft.id), code=303)


ACTIONS = {"publish": service.publish, "retire": service.retire, "rollback": service.rollback,
           "discard": service.discard}


@blueprint.route("/forms/<name>/versions/<int:version_id>/<any(publish, retire, rollback, discard):action>",
                 methods=["POST"])
@login_required
@require(PERMISSION)
def change_form_version(name: str, version_id: int, action: str):
    try:
        version = ACTIONS[action](current_user, name, version_id)
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        flash(exc.reason, "warning")
        return redirect(url_for("studio.edit_form", name=name, version=version_id), code=303)
    messages = {
        "publish": _("Version %(n)s is published: task pages show it from now on.", n=version.version),
        "retire": _("Version %(n)s is retired.", n=version.version),
        "rollback": _("Rolled back: the schema of the chosen version is published as version %(n)s.",
                      n=version.version),
        "discard": _("Draft version %(n)s was discarded.", n=version.version),
    }
    flash(messages[action], "success")
    return redirect(url_for("studio.edit_form", name=name), code=303)
