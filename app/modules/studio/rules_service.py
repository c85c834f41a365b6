"""The rules studio's services: drafts, validation, a test bench, backtests against the decision
log, publishing and rollback. Actors are explicit; publishing goes through the kernel's registry
(which validates and writes the audit log)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.core import audit, scopes
from app.extensions import db
from app.workflow import registry
from app.workflow.errors import NotFound, ValidationFailed
from app.workflow.models import DRAFT, PUBLISHED, DecisionLog, DecisionVersion
from app.workflow.rules import DecisionError, load_definitions, validate_definitions

BACKTEST_LIMIT = 200


def register_author_check() -> None:
    """Rule authors may change decision tables (the kernel asks before any draft or publication)."""
    from app.workflow import permissions

    permissions.register_author_check("decision", lambda actor: scopes.can(actor, "rules.author"))


@dataclass
class DecisionRow:
    key: str
    name: str
    module: str | None
    versions: int
    published: int | None
    drafts: int
    evaluations: int
    last_evaluated: Any


def overview() -> list[DecisionRow]:
    stats = {key: (n, last) for key, n, last in db.session.execute(
        select(DecisionLog.decision_key, func.count(DecisionLog.id), func.max(DecisionLog.at))
        .group_by(DecisionLog.decision_key))}
    rows: dict[str, DecisionRow] = {}
    for version in db.session.scalars(select(DecisionVersion).order_by(DecisionVersion.key,
                                                                         DecisionVersion.version)):
        row = rows.get(version.key)
        if row is None:
            count, last = stats.get(version.key, (0, None))
            row = rows[version.key] = DecisionRow(version.key, version.name, version.module, 0, None, 0,
                                                  count, last)
        row.versions += 1
        row.name = version.name
        if version.status == PUBLISHED:
            row.published = version.version
        elif version.status == DRAFT:
            row.drafts += 1
    return list(rows.values())


def versions(key: str) -> list[DecisionVersion]:
    found = list(db.session.scalars(select(DecisionVersion).where(DecisionVersion.key == key)
                                    .order_by(DecisionVersion.version.desc())))
    if not found:
        raise NotFound(_("No decision %(key)s.", key=key))
    return found


def working_version(key: str, version_id: int | None = None) -> DecisionVersion:
    """The version to edit: the one asked for, else the newest draft newer than the published one,
    else the published one."""
    all_versions = versions(key)
    if version_id is not None:
        for version in all_versions:
            if version.id == version_id:
                return version
        raise NotFound(_("No such version."))
    published = next((v for v in all_versions if v.status == PUBLISHED), None)
    draft = next((v for v in all_versions if v.status == DRAFT), None)
    if draft is not None and (published is None or draft.version > published.version):
        return draft
    return published or all_versions[0]


@dataclass
class Problem:
    level: str
    message: str
    decision: str | None = None
    rule: str | None = None
    column: str | None = None

    def as_dict(self) -> dict:
        return {"level": self.level, "message": self.message, "decision": self.decision,
                "rule": self.rule, "column": self.column}


def check(xml: str, key: str) -> list[Problem]:
    """Every cell's syntax and types, UNIQUE overlaps as warnings, and the decision key present."""
    problems = [Problem(i.level, i.message, i.decision, i.rule, i.column)
                for i in validate_definitions(xml.encode("utf-8"))]
    if not any(p.level == "error" for p in problems):
        definitions = load_definitions(xml.encode("utf-8"))
        if key not in definitions.decisions:
            problems.append(Problem("error", _("The file no longer holds the decision %(key)s.", key=key), key))
    return problems


def _definitions(xml: str):
    try:
        return load_definitions(xml.encode("utf-8"))
    except DecisionError as exc:
        raise ValidationFailed(str(exc)) from None


def inputs_of(xml: str, key: str) -> list[dict]:
    """The input columns of a decision (and of the decisions it requires), for the test panel."""
    definitions = _definitions(xml)
    if key not in definitions.decisions:
        return []
    seen: dict[str, dict] = {}
    produced = {d.name for d in definitions.decisions.values()} | set(definitions.decisions)
    stack = [definitions.decisions[key]]
    while stack:
        decision = stack.pop()
        stack.extend(definitions.decisions[r] for r in decision.required)
        for column in decision.inputs:
            if column.text not in seen and column.text not in produced:
                seen[column.text] = {"label": column.label, "expression": column.text,
                                     "type": column.type_info.name or None}
    return list(seen.values())


def test(xml: str, key: str, inputs: dict[str, Any]) -> dict:
    definitions = _definitions(xml)
    try:
        result = definitions.evaluate_detailed(key, dict(inputs))
    except DecisionError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "result": _plain(result.result),
            "matched": [{"id": rule_id, "index": index}
                        for rule_id, index in zip(result.matched_rules, result.matched_indexes)]}


@dataclass
class BacktestRow:
    log_id: int
    instance_id: int | None
    at: Any
    inputs: dict
    before: Any
    before_rules: list
    after: Any
    after_rules: list
    error: str | None = None


@dataclass
class Backtest:
    checked: int = 0
    changed: list[BacktestRow] = field(default_factory=list)
    errors: int = 0

    def as_dict(self) -> dict:
        return {"checked": self.checked, "errors": self.errors, "changed": [
            {"log_id": r.log_id, "instance_id": r.instance_id, "at": r.at.isoformat() if r.at else None,
             "inputs": r.inputs, "before": r.before, "before_rules": r.before_rules, "after": r.after,
             "after_rules": r.after_rules, "error": r.error} for r in self.changed]}


def backtest(xml: str, key: str, limit: int = BACKTEST_LIMIT) -> Backtest:
    """Replay the inputs of the last `limit` logged decisions on the draft; list what would change."""
    definitions = _definitions(xml)
    logs = db.session.scalars(select(DecisionLog).where(DecisionLog.decision_key == key)
                              .order_by(DecisionLog.at.desc(), DecisionLog.id.desc()).limit(limit))
    report = Backtest()
    for log in logs:
        report.checked += 1
        before_rules = [m.get("id") for m in (log.matched_rules or [])]
        try:
            result = definitions.evaluate_detailed(key, dict(log.inputs or {}))
        except DecisionError as exc:
            report.errors += 1
            report.changed.append(BacktestRow(log.id, log.instance_id, log.at, log.inputs, log.outputs,
                                              before_rules, None, [], str(exc)))
            continue
        after = _plain(result.result)
        if after != log.outputs:
            report.changed.append(BacktestRow(log.id, log.instance_id, log.at, log.inputs, log.outputs,
                                              before_rules, after, list(result.matched_rules)))
    return report


def save_draft(actor, key: str, xml: str) -> DecisionVersion:
    problems = check(xml, key)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise ValidationFailed(_("The table has errors; nothing was saved."), errors)
    current = versions(key)[0]
    drafts = registry.save_decision_draft(actor, xml, current.filename, source="studio", module=current.module)
    draft = next(d for d in drafts if d.key == key)
    audit.record("workflow.decision.draft", actor=actor, object_type="wf_decision_version",
                 object_id=draft.id, data={"key": key, "version": draft.version})
    return draft


def publish(actor, key: str, version_id: int) -> DecisionVersion:
    version = working_version(key, version_id)
    return registry.publish_decision(actor, version)


def rollback(actor, key: str, version_id: int) -> DecisionVersion:
    """Publish an earlier version's table again, as a new version (history is never rewritten)."""
    old = working_version(key, version_id)
    if old.status == PUBLISHED:
        raise ValidationFailed(_("This version is the published one already."))
    draft = save_draft(actor, key, old.dmn_xml)
    draft.note = _("Rollback to version %(version)s", version=old.version)
    published = registry.publish_decision(actor, draft)
    audit.record("workflow.decision.rollback", actor=actor, object_type="wf_decision_version",
                 object_id=published.id, data={"key": key, "to_version": old.version,
                                               "as_version": published.version})
    return published


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
