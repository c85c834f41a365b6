"""The process studio's services: the process list, drafts (new, imported, saved from the modeler),
the validation report, publishing, retiring, rollback, version diffs, and the choices the modeler's
properties panel offers. Actors are explicit; versions go through the kernel's registry (which
validates again, retires the previous version and writes the audit log). Running instances keep
the version they started on: nothing here touches an instance.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from lxml import etree
from sqlalchemy import func, select

from app.core import audit
from app.core.models import utcnow
from app.extensions import db
from app.modules.studio import operation_service
from app.workflow import assignment, extensions, parsing, registry
from app.workflow.errors import NotFound, PermissionDenied, ValidationFailed
from app.workflow.extensions import BPMN_NS, MT_NS, local
from app.workflow.models import (ACTIVE_STATUSES, DRAFT, PUBLISHED, RETIRED, DecisionVersion, FormVersion, Instance,
                                 ProcessDefinition, ProcessVersion)
from app.workflow.permissions import is_admin
from app.workflow.scripting import is_iso_timer_literal
from app.workflow.validation import Issue, validate_bpmn

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,119}$")
TIMER_TAGS = ("timeDuration", "timeCycle", "timeDate")


class InvalidFields(ValidationFailed):
    """Bad input of a small form; `fields` maps field names to messages."""

    def __init__(self, fields: dict[str, str]):
        super().__init__(_("Please correct the marked fields."))
        self.fields = fields


def require_admin(actor: Any) -> None:
    if not is_admin(actor):
        raise PermissionDenied(_("Only administrators may change processes and forms."))


# --- list and versions -----------------------------------------------------------------------

@dataclass
class ProcessRow:
    key: str
    name: str
    module: str | None
    versions: int
    published: int | None
    drafts: int
    running: int
    changed_at: Any


def running_counts(key: str | None = None) -> dict:
    """Active instances by process key (or, with `key`, by version id)."""
    if key is None:
        return dict(db.session.execute(select(Instance.process_key, func.count(Instance.id))
                                       .where(Instance.status.in_(ACTIVE_STATUSES)).group_by(Instance.process_key)).all())
    return dict(db.session.execute(select(Instance.process_version_id, func.count(Instance.id))
                                   .where(Instance.process_key == key, Instance.status.in_(ACTIVE_STATUSES))
                                   .group_by(Instance.process_version_id)).all())


def overview(q: str | None = None, module: str | None = None) -> list[ProcessRow]:
    running = running_counts()
    stmt = select(ProcessDefinition).order_by(ProcessDefinition.module, ProcessDefinition.key)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(ProcessDefinition.key.ilike(like) | ProcessDefinition.name.ilike(like))
    if module:
        stmt = stmt.where(ProcessDefinition.module == module)
    definitions = list(db.session.scalars(stmt))
    # Version rows without their XML: the list must stay cheap with many versions.
    by_definition: dict[int, list] = {}
    for row in db.session.execute(select(ProcessVersion.definition_id, ProcessVersion.version, ProcessVersion.status,
                                         ProcessVersion.created_at, ProcessVersion.published_at)):
        by_definition.setdefault(row.definition_id, []).append(row)
    rows = []
    for found in definitions:
        versions = by_definition.get(found.id, [])
        if not versions:
            continue
        published = next((v.version for v in versions if v.status == PUBLISHED), None)
        rows.append(ProcessRow(found.key, found.name, found.module, len(versions), published,
                               sum(1 for v in versions if v.status == DRAFT), running.get(found.key, 0),
                               max(v.published_at or v.created_at for v in versions)))
    return rows


def modules() -> list[str]:
    return sorted(m for m in db.session.scalars(select(ProcessDefinition.module).distinct()) if m)


def definition(key: str) -> ProcessDefinition:
    found = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
    if found is None or not found.versions:
        raise NotFound(_("No process %(key)s.", key=key))
    return found


def versions(key: str) -> list[ProcessVersion]:
    return sorted(definition(key).versions, key=lambda v: v.version, reverse=True)


def get_version(key: str, version_id: int) -> ProcessVersion:
    version = db.session.get(ProcessVersion, version_id)
    if version is None or version.key != key:
        raise NotFound(_("No such version."))
    return version


def working_version(key: str, version_id: int | None = None) -> ProcessVersion:
    """The asked version, else the newest draft newer than the published one, else the published one."""
    if version_id is not None:
        return get_version(key, version_id)
    all_versions = versions(key)
    published = next((v for v in all_versions if v.status == PUBLISHED), None)
    draft = next((v for v in all_versions if v.status == DRAFT), None)
    if draft is not None and (published is None or draft.version > published.version):
        return draft
    return published or all_versions[0]


# --- reading uploads and drafts ------------------------------------------------------------

def max_bytes() -> int:
    return int(current_app.config["STUDIO_MAX_MODEL_KB"]) * 1024


@dataclass
class Parsed:
    xml: str
    root: Any
    processes: list[parsing.ProcessInfo]


def read_model(data: bytes | str) -> Parsed:
    """A BPMN document as text, or ValidationFailed with what is wrong with it (nothing is saved)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not raw or not raw.strip():
        raise _refused(_("The file is empty."))
    if len(raw) > max_bytes():
        raise _refused(_("The file is %(size)s KiB; the studio accepts at most %(limit)s KiB.",
                         size=len(raw) // 1024, limit=max_bytes() // 1024))
    try:
        root = parsing.read_xml(raw)
    except etree.XMLSyntaxError as exc:
        raise _refused(_("The file is not well-formed XML: %(error)s", error=parsing.xml_problem(exc))) from None
    except ValueError as exc:
        raise _refused(_("The file cannot be read as XML: %(error)s", error=str(exc))) from None
    name = etree.QName(root)
    if name.localname != "definitions":
        raise _refused(_("The file is not a BPMN model: its root element is <%(tag)s>, not <definitions>.",
                         tag=name.localname))
    if name.namespace != BPMN_NS:
        raise _refused(_("The file uses the namespace %(ns)s; a BPMN 2.0 model uses %(bpmn)s.",
                         ns=name.namespace or "-", bpmn=BPMN_NS))
    infos = [info for info in parsing.process_infos(root) if info.id]
    if not infos:
        raise _refused(_("The file holds no process."))
    for info in infos:
        if not KEY.match(info.id):
            raise _refused(_("The process id %(id)s cannot be used as a key (letters, digits, _ . - ; at most "
                             "120 characters).", id=info.id[:130]))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # another declared encoding: keep the parsed tree, as UTF-8 text
        text = etree.tostring(root, encoding="unicode")
    return Parsed(text, root, infos)


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, [Issue("error", message)])


def _new_draft(actor: Any, key: str, name: str | None, xml: str, filename: str | None, module: str | None,
               source: str = "studio", note: str | None = None) -> ProcessVersion:
    found = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
    if found is None:
        found = ProcessDefinition(key=key, name=(name or key)[:200], module=module)
        db.session.add(found)
        db.session.flush()
    number = (db.session.scalar(select(func.max(ProcessVersion.version))
                                .where(ProcessVersion.definition_id == found.id)) or 0) + 1
    version = ProcessVersion(definition_id=found.id, version=number, status=DRAFT, bpmn_xml=xml,
                             filename=filename or f"{key}.bpmn", checksum=parsing.checksum(xml), source=source,
                             author_id=getattr(actor, "id", None), note=note, warnings=[])
    db.session.add(version)
    db.session.flush()
    audit.record("workflow.process.draft", actor=actor, object_type="wf_process_version", object_id=version.id,
                 data={"key": key, "version": number, "source": source, "note": note},
                 summary=f"draft of process {key} v{number}")
    return version


def import_file(actor: Any, data: bytes, filename: str | None) -> list[ProcessVersion]:
    """A draft of every process in an uploaded .bpmn (from Camunda Modeler, bpmn.io, …). The
    published versions stay active; a file that cannot be read saves nothing."""
    require_admin(actor)
    parsed = read_model(data)
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or None
    drafts = []
    for info in parsed.processes:
        existing = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == info.id))
        drafts.append(_new_draft(actor, info.id, info.name, parsed.xml, filename,
                                 existing.module if existing else None, source="import",
                                 note=_("Imported from %(file)s", file=filename) if filename else None))
    audit.record("workflow.process.import", actor=actor, object_type="wf_process_version",
                 object_id=drafts[0].id, data={"file": filename, "keys": [d.key for d in drafts],
                                               "versions": [d.version for d in drafts]},
                 summary=f"imported {filename or 'a BPMN file'}: {', '.join(d.key for d in drafts)}")
    return drafts


BLANK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  xmlns:mt="http://medtech.local/schema/bpmn/1.0"
                  id="{key}_definitions" targetNamespace="http://medtech.local/processes">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    <bpmn:startEvent id="start" name="{start}"/>
    <bpmn:userTask id="submit" name="{submit}" mt:role="initiator"/>
    <bpmn:endEvent id="end" name="{end}"/>
    <bpmn:sequenceFlow id="to_submit" sourceRef="start" targetRef="submit"/>
    <bpmn:sequenceFlow id="to_end" sourceRef="submit" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def create(actor: Any, key: str, name: str, module: str | None = None) -> ProcessVersion:
    """A new process: start → the applicant's step → end, as a draft to edit in the modeler."""
    require_admin(actor)
    key, name = (key or "").strip(), (name or "").strip()
    errors = {}
    if not KEY.match(key):
        errors["key"] = _("Use letters, digits and _ . - (starting with a letter), at most 120 characters.")
    elif db.session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key)) is not None:
        errors["key"] = _("A process with this key exists already.")
    if not name:
        errors["name"] = _("Please fill in this field.")
    if module and not re.match(r"^[a-z][a-z0-9_]{0,39}$", module):
        errors["module"] = _("Use lowercase letters, digits and _, at most 40 characters.")
    if errors:
        raise InvalidFields(errors)
    from app.workflow.layout import with_diagram
    from markupsafe import escape

    xml = BLANK.format(key=key, name=escape(name), start=escape(_("Start")), submit=escape(_("Fill in the request")),
                       end=escape(_("End")))
    return _new_draft(actor, key, name, with_diagram(xml), f"{key}.bpmn", module or None)


def save_draft(actor: Any, key: str, xml: str) -> ProcessVersion:
    """The modeler's XML as the next draft of `key` (checked to be BPMN holding the process)."""
    require_admin(actor)
    current = definition(key)
    parsed = read_model(xml)
    info = next((i for i in parsed.processes if i.id == key), None)
    if info is None:
        raise _refused(_("The model no longer holds the process %(key)s.", key=key))
    if info.name and info.name != current.name:
        current.name = info.name[:200]
    latest = max(current.versions, key=lambda v: v.version)
    return _new_draft(actor, key, None, parsed.xml, latest.filename, current.module)


# --- validation ------------------------------------------------------------------------------

def _executable_copy(root, key: str) -> str:
    copy = etree.fromstring(etree.tostring(root))
    for process in copy.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") == key:
            process.set("isExecutable", "true")
    return etree.tostring(copy, encoding="unicode")


def report(xml: str, key: str, filename: str | None = None) -> list[Issue]:
    """Every problem of process `key` in `xml`: the kernel's validation (forms, roles, decisions,
    operations, expressions in the sandbox, what the engine cannot run) plus the studio's own checks
    (executable, operations the hospital has enabled, timers). Never raises on bad input."""
    try:
        parsed = read_model(xml)
    except ValidationFailed as exc:
        return list(exc.issues)
    info = next((i for i in parsed.processes if i.id == key), None)
    if info is None:
        return [Issue("error", _("The model no longer holds the process %(key)s.", key=key))]
    issues: list[Issue] = []
    source = parsed.xml
    if not info.executable:
        issues.append(Issue("error", _("The process is not executable (isExecutable=\"false\"): tick "
                                       "\"Executable\" in the process properties to run it."),
                            key, info.name, key))
        source = _executable_copy(parsed.root, key)
    try:
        kernel = validate_bpmn(source, filename or f"{key}.bpmn", registry.catalog()).issues
    except Exception as exc:  # noqa: BLE001 -- a report, never a crash
        kernel = [Issue("error", f"cannot validate the model: {type(exc).__name__}: {exc}")]
    names = _element_names(parsed.root, key)
    for issue in kernel:
        if issue.process_id not in (None, key) or "is not executable" in issue.message:
            continue
        if issue.element_id is None:
            issue = _locate(issue, names)
        issues.append(_in_ui_language(issue))
    issues.extend(_studio_checks(parsed.root, key))
    return _unique(issues)


_KINDS = {"user task": _l("User task"), "service task": _l("Service task"), "send task": _l("Send task"),
          "business rule task": _l("Business rule task"), "boundary event": _l("Boundary event"), "lane": _l("Lane")}
_KERNEL_MESSAGES = [  # the kernel's validation speaks English; the studio shows these in the UI language
    (r"^(?P<what>.+) has no form \(mt:form\)$", _l("%(what)s has no form: choose one in the properties panel.")),
    (r"^(?P<what>.+): form '(?P<name>[^']+)' not found$", _l("%(what)s: the form %(name)s is not published.")),
    (r"^(?P<what>.+): unknown role '(?P<name>[^']+)'$", _l("%(what)s: there is no role %(name)s.")),
    (r"^(?P<what>.+) has no role, assignee or candidates: it waits until an administrator transfers it$",
     _l("%(what)s has no role, assignee or candidates: it would wait until an administrator transfers it. "
        "Choose a role for the step or its lane.")),
    (r"^(?P<what>.+) names no operation \(mt:operation\)$",
     _l("%(what)s names no operation: choose one in the properties panel.")),
    (r"^(?P<what>.+): unknown operation '(?P<name>[^']+)'$", _l("%(what)s: no operation %(name)s is registered.")),
    (r"^(?P<what>.+): operation '(?P<name>[^']+)' needs parameter\(s\) (?P<detail>.+)$",
     _l("%(what)s: the operation %(name)s needs the parameter(s) %(detail)s.")),
    (r"^(?P<what>.+) names no decision \(mt:decision or camunda:decisionRef\)$",
     _l("%(what)s names no decision: choose one in the properties panel.")),
    (r"^(?P<what>.+): decision '(?P<name>[^']+)' not found$", _l("%(what)s: the decision %(name)s is not published.")),
    (r"^(?P<what>.+): unsafe or invalid expression: (?P<detail>.+)$",
     _l("%(what)s: unsafe or invalid expression (refused by the sandbox): %(detail)s")),
]


def _in_ui_language(issue: Issue) -> Issue:
    for pattern, message in _KERNEL_MESSAGES:
        match = re.match(pattern, issue.message)
        if match:
            values = match.groupdict()
            what = values.get("what", "")
            for kind, label in _KINDS.items():
                if what.startswith(kind + " "):
                    what = f"{label} {what[len(kind) + 1:]}"
                    break
            text = str(message) % {"what": what, "name": values.get("name", ""), "detail": values.get("detail", "")}
            return Issue(issue.level, text, issue.element_id, issue.element_name, issue.process_id)
    return issue


def _unique(issues: list[Issue]) -> list[Issue]:
    seen, out = set(), []
    for issue in issues:
        if (issue.level, issue.message, issue.element_id) not in seen:
            seen.add((issue.level, issue.message, issue.element_id))
            out.append(issue)
    return out


def _process_el(root, key: str):
    return next((p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id") == key), None)


def _element_names(root, key: str) -> dict[str, str]:
    """id → name of every element of the process with an id (flows included)."""
    process = _process_el(root, key)
    if process is None:
        return {}
    return {el.get("id"): extensions.clean_name(el.get("name")) or "" for el in process.iter()
            if isinstance(el.tag, str) and el.get("id")}


def _locate(issue: Issue, names: dict[str, str]) -> Issue:
    """Kernel messages about expressions name the element (`owner: what: problem`); find its id."""
    for element_id, name in names.items():
        if re.search(rf"(?<![\w-]){re.escape(element_id)}(?![\w-])", issue.message) or \
                (name and f"{name}:" in issue.message):
            return Issue(issue.level, issue.message, element_id, name or None, issue.process_id)
    return issue


def _studio_checks(root, key: str) -> list[Issue]:
    process = _process_el(root, key)
    if process is None:
        return []
    ext = extensions.read_process(process)
    disabled = operation_service.disabled_names()
    issues = []
    for node in ext.nodes.values():
        if node.operation and node.operation in disabled:
            issues.append(Issue("error", _("%(what)s: the operation %(op)s is disabled in this hospital (enable it "
                                           "under Operations, or choose another).", what=node.label, op=node.operation),
                                node.id, node.name, key))
    for el in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        owner = el.getparent()
        for child in el:
            if isinstance(child.tag, str) and local(child) in TIMER_TAGS:
                text = (child.text or "").strip()
                name = extensions.clean_name(owner.get("name"))
                if not text:
                    issues.append(Issue("error", _("Timer %(what)s has no value: write an ISO 8601 duration "
                                                   "(PT2H), cycle (R3/P1D) or date.", what=name or owner.get("id")),
                                        owner.get("id"), name, key))
                elif not is_iso_timer_literal(text.strip('"\'')):
                    issues.append(Issue("warning", _("Timer %(what)s: %(text)s is not ISO 8601; it is evaluated as an "
                                                     "expression when the timer starts.", what=name or owner.get("id"),
                                                     text=text), owner.get("id"), name, key))
    return issues


def errors_of(issues: list[Issue]) -> list[Issue]:
    return [issue for issue in issues if issue.level == "error"]


# --- publishing ------------------------------------------------------------------------------

def publish(actor: Any, key: str, version_id: int) -> ProcessVersion:
    """Publish a draft: refused with the reasons (and nothing changed) unless it passes every check."""
    require_admin(actor)
    version = get_version(key, version_id)
    if version.status != DRAFT:
        raise ValidationFailed(_("Only a draft can be published; to publish an earlier version again, roll back "
                                 "to it."))
    problems = errors_of(report(version.bpmn_xml, key, version.filename))
    if problems:
        raise ValidationFailed(_("Process %(key)s version %(version)s cannot be published: %(n)s problem(s).",
                                 key=key, version=version.version, n=len(problems)), problems)
    return registry.publish_process(actor, version)


def retire(actor: Any, key: str, version_id: int) -> ProcessVersion:
    """Stop the published version: no new instances; running ones go on on it."""
    require_admin(actor)
    version = get_version(key, version_id)
    if version.status != PUBLISHED:
        raise ValidationFailed(_("Only the published version can be retired."))
    registry.retire(actor, version)
    return version


def discard(actor: Any, key: str, version_id: int) -> ProcessVersion:
    """Set a draft aside (it becomes retired without ever having run)."""
    require_admin(actor)
    version = get_version(key, version_id)
    if version.status != DRAFT:
        raise ValidationFailed(_("Only a draft can be discarded."))
    version.status, version.retired_at = RETIRED, utcnow()
    db.session.flush()
    audit.record("workflow.process.discard", actor=actor, object_type="wf_process_version", object_id=version.id,
                 data={"key": key, "version": version.version}, summary=f"discarded draft {key} v{version.version}")
    return version


def rollback(actor: Any, key: str, version_id: int) -> ProcessVersion:
    """Publish an earlier version's model again, as a new version (history is never rewritten)."""
    require_admin(actor)
    old = get_version(key, version_id)
    if old.status == PUBLISHED:
        raise ValidationFailed(_("This version is the published one already."))
    draft = _new_draft(actor, key, None, old.bpmn_xml, old.filename, old.definition.module,
                       note=_("Rollback to version %(version)s", version=old.version))
    published = publish(actor, key, draft.id)
    audit.record("workflow.process.rollback", actor=actor, object_type="wf_process_version", object_id=published.id,
                 data={"key": key, "to_version": old.version, "as_version": published.version},
                 summary=f"rolled back process {key} to v{old.version} as v{published.version}")
    return published


# --- diff ------------------------------------------------------------------------------------

def diff(key: str, old_id: int, new_id: int):
    """The kernel's version diff (app/workflow/diff.py), or None where it is not available."""
    old, new = get_version(key, old_id), get_version(key, new_id)
    try:
        from app.workflow.diff import diff_versions
    except ImportError:
        return None
    return diff_versions(old, new)


# --- the properties panel's choices ----------------------------------------------------------

def panel_options() -> dict:
    """Published forms, roles, enabled operations (with their parameters) and published decisions."""
    from app.modules.accounts.models import Role

    english = str(get_locale() or "").startswith("en")
    forms_ = {}
    for version in db.session.scalars(select(FormVersion).where(FormVersion.status == PUBLISHED)
                                      .order_by(FormVersion.name)):
        title = (version.content or {}).get("title") if isinstance(version.content, dict) else None
        forms_[version.name] = title or version.name
    roles = [{"code": role.code, "name": role.name_en if english else role.name}
             for role in db.session.scalars(select(Role).order_by(Role.id))]
    known = {role["code"] for role in roles}
    roles += [{"code": code, "name": _("Applicant (who started it)") if code == "initiator" else code}
              for code in sorted(assignment.resolver_roles() - known)]
    decisions = {v.key: v.name for v in db.session.scalars(select(DecisionVersion).where(
        DecisionVersion.status == PUBLISHED).order_by(DecisionVersion.key))}
    return {"forms": [{"name": n, "title": t} for n, t in forms_.items()], "roles": roles,
            "operations": [row.as_option() for row in operation_service.rows() if row.enabled],
            "decisions": [{"key": k, "name": n} for k, n in decisions.items()]}


# --- programmatic edits (tests, scripts) -----------------------------------------------------

def set_attributes(xml: str, element_id: str, attributes: dict[str, str | None],
                   params: dict[str, str] | None = None) -> str:
    """`xml` with mt: attributes set (None removes) on the element with `element_id`, and with
    `params` as its operation parameters (`mt:param`); "isExecutable" is set without a namespace.
    What the properties panel does, for scripts and tests."""
    root = parsing.read_xml(xml)
    if MT_NS not in root.nsmap.values():
        root = _with_mt_namespace(root)
    found = next((el for el in root.iter() if isinstance(el.tag, str) and el.get("id") == element_id), None)
    if found is None:
        raise NotFound(_("No element %(id)s in the model.", id=element_id))
    for name, value in attributes.items():
        attr = name if name == "isExecutable" else f"{{{MT_NS}}}{name}"
        if value is None:
            found.attrib.pop(attr, None)
        else:
            found.set(attr, str(value))
    if params is not None:
        holder = found.find(f"{{{BPMN_NS}}}extensionElements")
        if holder is None:
            holder = etree.Element(f"{{{BPMN_NS}}}extensionElements")
            found.insert(0, holder)
        for old in holder.findall(f"{{{MT_NS}}}param"):
            holder.remove(old)
        for name, value in params.items():
            etree.SubElement(holder, f"{{{MT_NS}}}param", name=name, value=value)
    return etree.tostring(root, encoding="unicode")


def _with_mt_namespace(root):
    nsmap = {**root.nsmap, "mt": MT_NS}
    clone = etree.Element(root.tag, nsmap=nsmap, attrib=dict(root.attrib))
    clone.text = root.text
    for child in root:
        clone.append(child)
    return clone
