"""Processes, decisions and forms by key and version: shipped sync, drafts, publishing, lookups.

Keys are the BPMN process id, the DMN decision id and the form name (file stem). The shipped files
under `processes/`, `rules/` and `forms/` are synced by `medtech db upgrade` as version 1 (a
changed shipped file becomes the next version). An edit in the studio is a draft; publishing
validates it — a process that fails is refused with its reasons and the published version stays
active — and retires the previous version. Running instances keep the version they started on.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import defer

from app.config import PROJECT_ROOT
from app.core import audit
from app.core.fastsql import Fast, session_connection
from app.core.models import utcnow
from app.core.roles import role_codes
from app.extensions import db

from . import assignment, forms, operations, parsing
from .extensions import BPMN_NS
from .errors import NotFound, PermissionDenied, ValidationFailed
from .models import DRAFT, PUBLISHED, RETIRED, DecisionVersion, FormVersion, ProcessDefinition, ProcessVersion
from .permissions import is_admin, may_author
from .rules import Definitions, load_definitions, validate_definitions
from .validation import Catalog, Issue, validate_bpmn

log = logging.getLogger(__name__)

PROCESS_SUFFIXES = (".bpmn", ".bpmn20.xml")
DMN_SUFFIXES = (".dmn",)


# --- lookups ---------------------------------------------------------------------------------

# The XML loads when used (to parse a version not parsed yet): starting an instance needs only the row.
_PUBLISHED_PROCESS = (select(ProcessVersion).join(ProcessDefinition)
                      .where(ProcessDefinition.key == bindparam("key"), ProcessVersion.status == PUBLISHED)
                      .options(defer(ProcessVersion.bpmn_xml)))


_PUBLISHED_PROCESS_REF = (select(ProcessVersion.id, ProcessVersion.version, ProcessVersion.checksum)
                          .join(ProcessDefinition)
                          .where(ProcessDefinition.key == bindparam("key"), ProcessVersion.status == PUBLISHED))


class ProcessRef(NamedTuple):
    id: int
    version: int
    checksum: str


class DecisionRef(NamedTuple):
    id: int
    key: str
    version: int
    checksum: str


def published_process_ref(key: str) -> ProcessRef:
    """(id, version, checksum) of the published version of a process, without loading the row."""
    found = _FAST_PUBLISHED_PROCESS_REF.rows(session_connection(db.session()), {"key": key})
    if not found:
        raise NotFound(_("No published process '%(key)s'.", key=key))
    return ProcessRef(*found[0])


def published_process(key: str) -> ProcessVersion:
    version = db.session.scalar(_PUBLISHED_PROCESS, {"key": key})
    if version is None:
        raise NotFound(_("No published process '%(key)s'.", key=key))
    return version


_PUBLISHED_DECISION_REF = select(DecisionVersion.id, DecisionVersion.key, DecisionVersion.version,
                                 DecisionVersion.checksum).where(DecisionVersion.key == bindparam("key"),
                                                                 DecisionVersion.status == PUBLISHED)


_FAST_PUBLISHED_PROCESS_REF = Fast(_PUBLISHED_PROCESS_REF)
_FAST_PUBLISHED_DECISION_REF = Fast(_PUBLISHED_DECISION_REF)


def published_decision_ref(key: str) -> DecisionRef:
    """(id, key, version, checksum) of the published version of a decision, without its XML."""
    found = _FAST_PUBLISHED_DECISION_REF.rows(session_connection(db.session()), {"key": key})
    if not found:
        raise NotFound(_("No published decision '%(key)s'.", key=key))
    return DecisionRef(*found[0])


def cached_decision(checksum: str) -> Definitions | None:
    """The parsed decisions of this content when already parsed (else None: `load_decision`)."""
    return _decisions.get(checksum)


def published_decision(key: str) -> DecisionVersion:
    version = db.session.scalar(select(DecisionVersion).where(DecisionVersion.key == key,
                                                              DecisionVersion.status == PUBLISHED))
    if version is None:
        raise NotFound(_("No published decision '%(key)s'.", key=key))
    return version


def published_form(name: str) -> FormVersion:
    version = db.session.scalar(select(FormVersion).where(FormVersion.name == name,
                                                          FormVersion.status == PUBLISHED))
    if version is None:
        raise NotFound(_("No published form '%(name)s'.", name=name))
    return version


_form_defs: OrderedDict[str, forms.FormDef] = OrderedDict()
_FORM_CHECKSUM = select(FormVersion.checksum).where(FormVersion.name == bindparam("name"),
                                                    FormVersion.status == PUBLISHED)


_UNKNOWN = object()


def published_form_def(name: str, *, checksum: Any = _UNKNOWN) -> forms.FormDef | None:
    """The published form as a FormDef (None when none is published); parsed once per content.

    `checksum`: the published version's checksum when the caller read it already (None: no
    published version), which spares the lookup.
    """
    if checksum is _UNKNOWN:
        found = db.session.execute(_FORM_CHECKSUM, {"name": name}).first()
        checksum = found.checksum if found is not None else None
    if checksum is None:
        return None
    key = f"{name}:{checksum}"
    form = _form_defs.get(key)
    if form is None:
        version = published_form(name)
        form = _form_defs[key] = forms.load_form(version.content, version.name)
        while len(_form_defs) > 256:
            _form_defs.popitem(last=False)
    return form


_validators: dict[int, Any] = {}


def form_validator(form: forms.FormDef):
    """A JSON-schema validator of the form, built once per parsed form (forms.validate gives the
    readable messages when it fails)."""
    validator = _validators.get(id(form))
    if validator is None or validator[0] is not form:
        from jsonschema import Draft202012Validator

        validator = _validators[id(form)] = (form, Draft202012Validator(
            form.schema, format_checker=Draft202012Validator.FORMAT_CHECKER))
        if len(_validators) > 512:
            _validators.clear()
    return validator[1]


def form_names() -> set[str]:
    return set(db.session.scalars(select(FormVersion.name).where(FormVersion.status == PUBLISHED)))


def decision_keys() -> set[str]:
    return set(db.session.scalars(select(DecisionVersion.key).where(DecisionVersion.status == PUBLISHED)))


def _find_published_process(process_id: str) -> tuple[bytes, str] | None:
    try:
        version = published_process(process_id)
    except NotFound:
        return None
    return version.bpmn_xml.encode("utf-8"), version.filename or f"{process_id}.bpmn"


def catalog() -> Catalog:
    """What published processes may refer to (forms and decisions in the database)."""
    return Catalog(forms=form_names(), decisions=decision_keys(),
                   roles=role_codes() | assignment.resolver_roles(), operations=operations.registered(),
                   find_process=_find_published_process)


_processes: OrderedDict[tuple[str, str], tuple[tuple[str, ...], parsing.ParsedProcess]] = OrderedDict()
_processes_lock = threading.Lock()


def cached_process(checksum: str, key: str) -> parsing.ParsedProcess | None:
    """The parsed spec of this content if it is cached and needs no re-resolving (else None: call
    `load_process` with the version)."""
    cached = _processes.get((checksum, key))
    if cached is not None and not cached[0]:
        return cached[1]
    return None


def load_process(version: ProcessVersion, key: str | None = None) -> parsing.ParsedProcess:
    """The runnable spec of a version (parsed once per content; called processes resolved).

    Kept by content checksum: an instance's step then needs neither the XML nor a parse. A version
    whose call activities call processes of other files is re-resolved each time, since those
    resolve to whichever version of the called process is published.
    """
    key = key or version.key
    with _processes_lock:
        cached = _processes.get((version.checksum, key))
        if cached is not None and not cached[0]:
            _processes.move_to_end((version.checksum, key))
            return cached[1]
    root = parsing.read_xml(version.bpmn_xml)
    own = {el.get("id") for el in root.iter(f"{{{BPMN_NS}}}process")}
    targets = tuple(dict.fromkeys(call.get("calledElement") for call in root.iter(f"{{{BPMN_NS}}}callActivity")
                                  if call.get("calledElement") and call.get("calledElement") not in own))
    called = [found for target in targets if (found := _find_published_process(target)) is not None]
    parsed = parsing.build_process(version.bpmn_xml, key, version.filename, called)
    with _processes_lock:
        _processes[(version.checksum, key)] = (targets, parsed)
        while len(_processes) > 256:
            _processes.popitem(last=False)
    return parsed


_decisions: OrderedDict[str, Definitions] = OrderedDict()
_decisions_lock = threading.Lock()


def load_decision(version: DecisionVersion) -> Definitions:
    with _decisions_lock:
        definitions = _decisions.get(version.checksum)
        if definitions is not None:
            return definitions
    definitions = load_definitions(version.dmn_xml.encode("utf-8"))
    with _decisions_lock:
        _decisions[version.checksum] = definitions
        while len(_decisions) > 128:
            _decisions.popitem(last=False)
    return definitions


# --- versions --------------------------------------------------------------------------------

def _require_admin(actor: Any) -> None:
    if actor is not None and not is_admin(actor):
        raise PermissionDenied(_("Only administrators may change processes, decisions and forms."))


def _require_author(actor: Any, kind: str) -> None:
    if actor is not None and not may_author(actor, kind):
        raise PermissionDenied(_("You may not change %(kind)s versions.", kind=kind))


def _next_version(column, value) -> int:
    """The next version number of a key (`column == value`), counting drafts and retired ones."""
    model = column.class_
    return (db.session.scalar(select(func.max(model.version)).where(column == value)) or 0) + 1


def _definition(key: str, name: str | None, module: str | None) -> ProcessDefinition:
    definition = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
    if definition is None:
        definition = ProcessDefinition(key=key, name=name or key, module=module)
        db.session.add(definition)
        db.session.flush()
    elif name:
        definition.name = name
    return definition


def save_process_draft(actor: Any, xml: str, filename: str | None = None, *, source: str = "studio",
                       module: str | None = None) -> list[ProcessVersion]:
    """A draft version of every executable process in the file."""
    _require_admin(actor)
    try:
        root = parsing.read_xml(xml)
    except Exception as exc:
        raise ValidationFailed(_("The file is not BPMN XML: %(error)s", error=str(exc)),
                               [Issue("error", str(exc))]) from None
    infos = [info for info in parsing.process_infos(root) if info.executable]
    if not infos:
        raise ValidationFailed(_("The file holds no executable process."),
                               [Issue("warning", "no executable process in this file")])
    drafts = []
    for info in infos:
        definition = _definition(info.id, info.name, module)
        version = ProcessVersion(definition_id=definition.id, version=_next_version(
            ProcessVersion.definition_id, definition.id), status=DRAFT, bpmn_xml=xml,
            filename=filename or f"{info.id}.bpmn", checksum=parsing.checksum(xml), source=source,
            author_id=getattr(actor, "id", None))
        db.session.add(version)
        drafts.append(version)
    db.session.flush()
    return drafts


def validate_process_version(version: ProcessVersion):
    return validate_bpmn(version.bpmn_xml, version.filename or version.key, catalog())


def publish_process(actor: Any, version: ProcessVersion | int) -> ProcessVersion:
    _require_admin(actor)
    version = _get(ProcessVersion, version)
    report = validate_process_version(version)
    if not report.ok:
        raise ValidationFailed(_("Process %(key)s version %(version)s fails validation.",
                                 key=version.key, version=version.version), report.issues)
    previous = db.session.scalars(select(ProcessVersion).where(
        ProcessVersion.definition_id == version.definition_id, ProcessVersion.status == PUBLISHED,
        ProcessVersion.id != version.id))
    _publish(actor, version, list(previous), "process", version.key)
    version.warnings = [issue.as_dict() for issue in report.warnings]
    return version


def _publish(actor: Any, version, previous: list, kind: str, key: str) -> None:
    now = utcnow()
    for old in previous:
        old.status, old.retired_at = RETIRED, now
    version.status, version.published_at = PUBLISHED, now
    version.published_by_id = getattr(actor, "id", None)
    db.session.flush()
    audit.record(f"workflow.{kind}.publish", actor=actor, object_type=f"wf_{kind}_version",
                 object_id=version.id, data={"key": key, "version": version.version,
                                             "retired": [old.version for old in previous]},
                 summary=f"published {kind} {key} v{version.version}")


def retire(actor: Any, version) -> None:
    """Stop a published version (no new instances or evaluations; running instances go on)."""
    _require_admin(actor)
    if version.status != PUBLISHED:
        return
    version.status, version.retired_at = RETIRED, utcnow()
    kind = {ProcessVersion: "process", DecisionVersion: "decision", FormVersion: "form"}[type(version)]
    key = version.key if kind != "form" else version.name
    db.session.flush()
    audit.record(f"workflow.{kind}.retire", actor=actor, object_type=f"wf_{kind}_version",
                 object_id=version.id, data={"key": key, "version": version.version},
                 summary=f"retired {kind} {key} v{version.version}")


def _get(model, version):
    if isinstance(version, model):
        return version
    row = db.session.get(model, version)
    if row is None:
        raise NotFound(_("No such version."))
    return row


def save_decision_draft(actor: Any, xml: str, filename: str | None = None, *, source: str = "studio",
                        module: str | None = None) -> list[DecisionVersion]:
    _require_author(actor, "decision")
    try:
        definitions = load_definitions(xml.encode("utf-8"))
    except Exception as exc:
        raise ValidationFailed(str(exc), [Issue("error", str(exc))]) from None
    drafts = []
    for decision in definitions.decisions.values():
        version = DecisionVersion(key=decision.id, name=decision.name or decision.id, module=module,
                                  version=_next_version(DecisionVersion.key, decision.id), status=DRAFT,
                                  dmn_xml=xml, filename=filename or f"{decision.id}.dmn",
                                  checksum=parsing.checksum(xml), source=source,
                                  author_id=getattr(actor, "id", None))
        db.session.add(version)
        drafts.append(version)
    db.session.flush()
    return drafts


def publish_decision(actor: Any, version: DecisionVersion | int) -> DecisionVersion:
    _require_author(actor, "decision")
    version = _get(DecisionVersion, version)
    errors = [issue for issue in validate_definitions(version.dmn_xml.encode("utf-8")) if issue.level == "error"]
    if errors:
        raise ValidationFailed(_("Decision %(key)s version %(version)s fails validation.", key=version.key,
                                 version=version.version), [Issue("error", e.message, version.key) for e in errors])
    previous = db.session.scalars(select(DecisionVersion).where(
        DecisionVersion.key == version.key, DecisionVersion.status == PUBLISHED, DecisionVersion.id != version.id))
    _publish(actor, version, list(previous), "decision", version.key)
    return version


def save_form_draft(actor: Any, name: str, content: dict, *, source: str = "studio",
                    module: str | None = None) -> FormVersion:
    """A draft of form `name`; `content` is a form file ({"title", "schema", "ui"}, see forms.py)."""
    _require_admin(actor)
    _check_form(name, content)
    text = json.dumps(content, sort_keys=True, ensure_ascii=False)
    version = FormVersion(name=name, module=module, version=_next_version(FormVersion.name, name), status=DRAFT,
                          content=content, checksum=parsing.checksum(text), source=source,
                          filename=f"{name}.json", author_id=getattr(actor, "id", None))
    db.session.add(version)
    db.session.flush()
    return version


def _check_form(name: str, content: Any) -> None:
    if not name or "/" in name or not isinstance(content, dict):
        raise ValidationFailed(_("A form needs a name and a JSON object."))
    try:
        problems = forms.check_form(forms.load_form(content, name))
    except forms.FormError as exc:
        problems = [str(exc)]
    if problems:
        raise ValidationFailed(_("Form %(name)s is not valid: %(error)s", name=name, error="; ".join(problems)),
                               [Issue("error", problem, name) for problem in problems])


def publish_form(actor: Any, version: FormVersion | int) -> FormVersion:
    _require_admin(actor)
    version = _get(FormVersion, version)
    _check_form(version.name, version.content)
    previous = db.session.scalars(select(FormVersion).where(
        FormVersion.name == version.name, FormVersion.status == PUBLISHED, FormVersion.id != version.id))
    _publish(actor, version, list(previous), "form", version.name)
    return version


# --- shipped files ---------------------------------------------------------------------------

def _module(path: Path, base: Path) -> str | None:
    parts = path.relative_to(base).parts
    return parts[0] if len(parts) > 1 else None


def _files(base: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))


def _ship(model, existing: list, checksum: str, **fields: Any) -> int:
    """Add a shipped version unless the latest shipped one has this content. Returns rows changed."""
    shipped = [v for v in existing if v.source == "shipped"]
    if shipped and max(shipped, key=lambda v: v.version).checksum == checksum:
        return 0
    published = [v for v in existing if v.status == PUBLISHED]
    version = model(version=max((v.version for v in existing), default=0) + 1, checksum=checksum,
                    source="shipped", **fields)
    # An administrator's published edit wins over a changed shipped file, which waits as a draft.
    if published and any(v.source != "shipped" for v in published):
        version.status = DRAFT
    else:
        version.status, version.published_at = PUBLISHED, utcnow()
        for old in published:
            old.status, old.retired_at = RETIRED, utcnow()
    db.session.add(version)
    db.session.flush()
    return 1


def sync_shipped(root: Path | None = None) -> int:
    """Sync `forms/`, `rules/` and `processes/` (in this order: processes refer to the others)."""
    root = root or PROJECT_ROOT
    return _sync_forms(root / "forms") + _sync_decisions(root / "rules") + _sync_processes(root / "processes")


def _sync_forms(base: Path) -> int:
    changed, seen = 0, set()
    for path in _files(base, (".json",)):
        name = path.stem
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
            _check_form(name, content)
        except (ValueError, ValidationFailed) as exc:
            log.error("shipped form %s skipped: %s", path, getattr(exc, "reason", exc))
            continue
        if name in seen:
            log.error("shipped form %s skipped: another form is named %s", path, name)
            continue
        seen.add(name)
        text = json.dumps(content, sort_keys=True, ensure_ascii=False)
        existing = list(db.session.scalars(select(FormVersion).where(FormVersion.name == name)))
        changed += _ship(FormVersion, existing, parsing.checksum(text), name=name, module=_module(path, base),
                         content=content, filename=str(path.relative_to(base)))
    return changed


def _sync_decisions(base: Path) -> int:
    changed = 0
    for path in _files(base, DMN_SUFFIXES):
        xml = path.read_text(encoding="utf-8")
        errors = [i for i in validate_definitions(xml.encode("utf-8")) if i.level == "error"]
        if errors:
            log.error("shipped decisions %s skipped: %s", path, "; ".join(i.message for i in errors))
            continue
        for decision in load_definitions(xml.encode("utf-8")).decisions.values():
            existing = list(db.session.scalars(select(DecisionVersion).where(DecisionVersion.key == decision.id)))
            changed += _ship(DecisionVersion, existing, parsing.checksum(xml), key=decision.id,
                             name=decision.name or decision.id, module=_module(path, base), dmn_xml=xml,
                             filename=str(path.relative_to(base)))
    return changed


def _sync_processes(base: Path) -> int:
    changed, seen = 0, set()
    for path in _files(base, PROCESS_SUFFIXES):
        xml = path.read_text(encoding="utf-8")
        report = validate_bpmn(xml, str(path.relative_to(base)), catalog())
        if not report.ok:
            log.error("shipped processes %s skipped: %s", path, "; ".join(i.message for i in report.errors))
            continue
        for info in parsing.process_infos(parsing.read_xml(xml)):
            if not info.executable:
                continue
            if info.id in seen:
                log.error("shipped process %s in %s skipped: the id is used by another file", info.id, path)
                continue
            seen.add(info.id)
            definition = _definition(info.id, info.name, _module(path, base))
            existing = list(definition.versions)
            changed += _ship(ProcessVersion, existing, parsing.checksum(xml), definition_id=definition.id,
                             bpmn_xml=xml, filename=str(path.relative_to(base)),
                             warnings=[i.as_dict() for i in report.warnings])
    return changed
