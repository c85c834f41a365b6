"""The form studio's services: the form list with the processes that use each form, the JSON
editor's checks and live preview, drafts, publishing, retiring and rollback. Forms are versioned
like processes (draft → published → retired) through the kernel's registry, which checks the
schema again and writes the audit log."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from app.core import audit
from app.core.models import utcnow
from app.extensions import db
from app.modules.studio.process_service import InvalidFields, max_bytes, require_admin
from app.workflow import extensions, forms, parsing, registry
from app.workflow.errors import NotFound, ValidationFailed
from app.workflow.models import DRAFT, PUBLISHED, RETIRED, FormVersion, ProcessDefinition
from app.workflow.validation import Issue

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,119}$")


@dataclass
class Use:
    key: str
    name: str
    version: int
    status: str
    elements: list[str] = field(default_factory=list)  # names of the steps that show the form


@dataclass
class FormRow:
    name: str
    title: str
    module: str | None
    versions: int
    published: int | None
    drafts: int
    used_by: list[Use]
    changed_at: Any


def usage() -> dict[str, list[Use]]:
    """Form name → the processes (published version, and a newer draft) whose steps show it."""
    used: dict[str, list[Use]] = {}
    for definition in db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)):
        ordered = sorted(definition.versions, key=lambda v: v.version, reverse=True)
        published = next((v for v in ordered if v.status == PUBLISHED), None)
        draft = next((v for v in ordered if v.status == DRAFT and (published is None or v.version > published.version)),
                     None)
        for version in (v for v in (published, draft) if v is not None):
            try:
                process = extensions.read_definitions(parsing.read_xml(version.bpmn_xml)).get(definition.key)
            except Exception:  # noqa: BLE001,S112 -- a model that cannot be read uses no form
                continue
            steps: dict[str, list[str]] = {}
            for node in (process.nodes.values() if process else ()):
                if node.form:
                    steps.setdefault(node.form, []).append(node.name or node.id)
            for form_name, elements in steps.items():
                used.setdefault(form_name, []).append(Use(definition.key, definition.name, version.version,
                                                          version.status, elements))
    return used


def overview(q: str | None = None) -> list[FormRow]:
    used = usage()
    found: dict[str, list[FormVersion]] = {}
    stmt = select(FormVersion).order_by(FormVersion.name, FormVersion.version)
    for version in db.session.scalars(stmt):
        found.setdefault(version.name, []).append(version)
    rows = []
    for name, all_versions in found.items():
        latest = all_versions[-1]
        published = next((v for v in all_versions if v.status == PUBLISHED), None)
        rows.append(FormRow(name, title_of(published or latest), latest.module, len(all_versions),
                            published.version if published else None,
                            sum(1 for v in all_versions if v.status == DRAFT), used.get(name, []),
                            max(v.published_at or v.created_at for v in all_versions)))
    if q:
        needle = q.strip().lower()
        rows = [row for row in rows if needle in row.name.lower() or needle in row.title.lower()]
    return rows


def title_of(version: FormVersion) -> str:
    content = version.content if isinstance(version.content, dict) else {}
    return str(content.get("title") or (content.get("schema") or {}).get("title") or version.name)


def versions(name: str) -> list[FormVersion]:
    found = list(db.session.scalars(select(FormVersion).where(FormVersion.name == name)
                                    .order_by(FormVersion.version.desc())))
    if not found:
        raise NotFound(_("No form %(name)s.", name=name))
    return found


def get_version(name: str, version_id: int) -> FormVersion:
    version = db.session.get(FormVersion, version_id)
    if version is None or version.name != name:
        raise NotFound(_("No such version."))
    return version


def working_version(name: str, version_id: int | None = None) -> FormVersion:
    if version_id is not None:
        return get_version(name, version_id)
    all_versions = versions(name)
    published = next((v for v in all_versions if v.status == PUBLISHED), None)
    draft = next((v for v in all_versions if v.status == DRAFT), None)
    if draft is not None and (published is None or draft.version > published.version):
        return draft
    return published or all_versions[0]


def as_text(version: FormVersion) -> str:
    return json.dumps(version.content, ensure_ascii=False, indent=2)


# --- checking and preview --------------------------------------------------------------------

# What Python's JSON decoder says, in the words of the UI (other messages are shown as they are).
_JSON_ERRORS = {
    "Expecting property name enclosed in double quotes": _l("a field name in double quotes was expected"),
    "Expecting value": _l("a value was expected"),
    "Expecting ',' delimiter": _l("a comma was expected"),
    "Expecting ':' delimiter": _l("a colon was expected"),
    "Extra data": _l("there is text after the end of the JSON"),
    "Unterminated string starting at": _l("a string is not closed"),
    "Invalid control character at": _l("a string holds a line break or control character"),
    "Invalid \\escape": _l("a string holds an invalid backslash escape"),
    "Illegal trailing comma before end of object": _l("a comma before the closing brace is not allowed"),
    "Illegal trailing comma before end of array": _l("a comma before the closing bracket is not allowed"),
}


def parse(text: str, name: str = "form") -> tuple[dict | None, list[Issue]]:
    """The form file in `text` and its problems (JSON syntax with line and column, JSON Schema,
    fields and UI hints); the content is None when it cannot be used at all."""
    if not isinstance(text, str) or not text.strip():
        return None, [Issue("error", _("The form is empty."))]
    if len(text.encode("utf-8")) > max_bytes():
        return None, [Issue("error", _("The form is larger than %(limit)s KiB.", limit=max_bytes() // 1024))]
    try:
        content = json.loads(text)
    except ValueError as exc:
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        message = getattr(exc, "msg", str(exc))
        return None, [Issue("error", _("Not valid JSON at line %(line)s, column %(column)s: %(error)s", line=line,
                                       column=column, error=_JSON_ERRORS.get(message, message)))]
    if not isinstance(content, dict):
        return None, [Issue("error", _("A form is a JSON object with \"title\", \"schema\" and \"ui\"."))]
    try:
        form = forms.load_form(content, name)
        problems = forms.check_form(form)
    except forms.FormError as exc:
        return None, [Issue("error", str(exc))]
    unknown = sorted(set(content) - {"title", "schema", "ui", "name", "description"})
    issues = [Issue("error", problem) for problem in problems]
    if unknown:
        issues.append(Issue("warning", _("Unknown top-level keys are ignored: %(keys)s", keys=", ".join(unknown))))
    if not content.get("title"):
        issues.append(Issue("warning", _("The form has no title; the name is shown instead.")))
    return content, issues


def preview(text: str, name: str = "form") -> tuple[Markup | None, list[Issue]]:
    """The form rendered as a task page shows it (empty), or None when it cannot be rendered."""
    content, issues = parse(text, name)
    if content is None or any(issue.level == "error" for issue in issues):
        return None, issues
    try:
        return forms.render(forms.load_form(content, name), {}), issues
    except Exception as exc:  # noqa: BLE001 -- a preview reports, never crashes
        return None, [*issues, Issue("error", _("The form cannot be rendered: %(error)s", error=str(exc)))]


# --- versions --------------------------------------------------------------------------------

def _audit(action: str, actor: Any, version: FormVersion, **data: Any) -> None:
    audit.record(f"workflow.form.{action}", actor=actor, object_type="wf_form_version", object_id=version.id,
                 data={"name": version.name, "version": version.version, **data},
                 summary=f"{action} form {version.name} v{version.version}")


def create(actor: Any, name: str, title: str, module: str | None = None) -> FormVersion:
    require_admin(actor)
    name, title = (name or "").strip(), (title or "").strip()
    errors = {}
    if not NAME.match(name):
        errors["name"] = _("Use letters, digits, _ and - (starting with a letter), at most 120 characters.")
    elif db.session.scalar(select(FormVersion.id).where(FormVersion.name == name).limit(1)) is not None:
        errors["name"] = _("A form with this name exists already.")
    if not title:
        errors["title"] = _("Please fill in this field.")
    if module and not re.match(r"^[a-z][a-z0-9_]{0,39}$", module):
        errors["module"] = _("Use lowercase letters, digits and _, at most 40 characters.")
    if errors:
        raise InvalidFields(errors)
    content = {"title": title, "schema": {"type": "object", "required": ["opinion"], "properties": {
        "opinion": {"type": "string", "title": _("Approval opinion"), "maxLength": 2000}}},
        "ui": {"opinion": {"widget": "textarea"}}}
    version = registry.save_form_draft(actor, name, content, source="studio", module=module or None)
    _audit("draft", actor, version)
    return version


def save_draft(actor: Any, name: str, text: str) -> FormVersion:
    """The editor's JSON as the next draft; refused with the problems (nothing saved) when invalid."""
    require_admin(actor)
    current = versions(name)[0]
    content, issues = parse(text, name)
    errors = [issue for issue in issues if issue.level == "error"]
    if content is None or errors:
        raise ValidationFailed(_("The form has errors; nothing was saved."), errors)
    version = registry.save_form_draft(actor, name, content, source="studio", module=current.module)
    _audit("draft", actor, version)
    return version


def publish(actor: Any, name: str, version_id: int) -> FormVersion:
    require_admin(actor)
    version = get_version(name, version_id)
    if version.status != DRAFT:
        raise ValidationFailed(_("Only a draft can be published; to publish an earlier version again, roll back "
                                 "to it."))
    return registry.publish_form(actor, version)


def retire(actor: Any, name: str, version_id: int) -> FormVersion:
    require_admin(actor)
    version = get_version(name, version_id)
    if version.status != PUBLISHED:
        raise ValidationFailed(_("Only the published version can be retired."))
    registry.retire(actor, version)
    return version


def discard(actor: Any, name: str, version_id: int) -> FormVersion:
    require_admin(actor)
    version = get_version(name, version_id)
    if version.status != DRAFT:
        raise ValidationFailed(_("Only a draft can be discarded."))
    version.status, version.retired_at = RETIRED, utcnow()
    db.session.flush()
    _audit("discard", actor, version)
    return version


def rollback(actor: Any, name: str, version_id: int) -> FormVersion:
    require_admin(actor)
    old = get_version(name, version_id)
    if old.status == PUBLISHED:
        raise ValidationFailed(_("This version is the published one already."))
    draft = registry.save_form_draft(actor, name, old.content, source="studio", module=old.module)
    draft.note = _("Rollback to version %(version)s", version=old.version)
    _audit("draft", actor, draft)
    published = registry.publish_form(actor, draft)
    _audit("rollback", actor, published, to_version=old.version)
    return published
