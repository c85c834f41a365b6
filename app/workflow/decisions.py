"""Business-rule tasks: our DMN evaluator on the task's data, every evaluation logged.

The decision is the published version of `mt:decision` / `camunda:decisionRef` at the moment the
task runs. The log keeps the variables the decision can read (so the rules studio can replay them
against a new version of the table), the matched rules and the result.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert

from app.core.fastsql import Fast, session_connection
from app.core.models import utcnow
from app.extensions import db

from . import registry
from .extensions import NodeExt
from .models import DecisionLog, DecisionVersion
from .rules import Definitions, EvaluationResult

_INSERT_LOG = Fast(insert(DecisionLog.__table__))
_IDENTIFIER = re.compile(r"[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*")
_names: dict[str, frozenset[str]] = {}
_names_lock = threading.Lock()


def _names_in(version: DecisionVersion) -> frozenset[str]:
    """Words of the DMN text: a superset of the variables its expressions can read."""
    with _names_lock:
        names = _names.get(version.checksum)
    if names is None:
        names = frozenset(_IDENTIFIER.findall(version.dmn_xml))
        with _names_lock:
            _names[version.checksum] = names
    return names


def _published(decision_key: str):
    """(reference row, definitions, names) of the published decision; its XML is read only when
    this content was not parsed yet."""
    ref = registry.published_decision_ref(decision_key)
    definitions = registry.cached_decision(ref.checksum)
    names = _names.get(ref.checksum)
    if definitions is None or names is None:
        version = registry.published_decision(decision_key)
        definitions, names = registry.load_decision(version), _names_in(version)
    return ref, definitions, names


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def evaluate(decision_key: str, data: Mapping[str, Any]) -> tuple[DecisionVersion, EvaluationResult]:
    version = registry.published_decision(decision_key)
    definitions: Definitions = registry.load_decision(version)
    return version, definitions.evaluate_detailed(decision_key, dict(data))


def run_for_task(node: NodeExt, data: dict[str, Any], *, instance_id: int | None,
                 spiff_task_id: str | None, log: bool = True) -> Any:
    """Evaluate the task's decision on `data`, write the result into `data`, log it; the result."""
    version, definitions, names = _published(node.decision)
    result = definitions.evaluate_detailed(node.decision, dict(data))
    if log:
        _INSERT_LOG.run(session_connection(db.session()), {
            "decision_key": version.key, "decision_version_id": version.id, "decision_version": version.version,
            "instance_id": instance_id, "task": node.id, "spiff_task_id": spiff_task_id,
            "inputs": _json_safe({key: value for key, value in data.items() if key in names}),
            "matched_rules": [{"id": rule_id, "index": index}
                              for rule_id, index in zip(result.matched_rules, result.matched_indexes)],
            "outputs": _json_safe(result.result), "at": utcnow()}).close()
    apply_result(node, data, result.result)
    return result.result


def apply_result(node: NodeExt, data: dict[str, Any], value: Any) -> None:
    if node.result_variable:
        data[node.result_variable] = value
    elif isinstance(value, Mapping):
        data.update(value)
    else:
        data[node.decision] = value
