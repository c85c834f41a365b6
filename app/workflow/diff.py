"""What changed between two versions of a process, element by element, and whether running instances
can move from the old version to the new one.

The basis is SpiffWorkflow's own spec diff (`SpiffWorkflow.bpmn.util.diff.SpecDiff`): it aligns the
task specs of both versions (by BPMN id, then by position in the flow) and compares their
serialized attributes — the same alignment `migration.py` uses to move instances. On top of that
come our extension attributes (form, role, operation, decision, due date, countersign …), which
live in the XML, not in the specs.

    diff = diff_versions(old_version, new_version)
    diff.added / diff.removed / diff.changed   # lists of Element (id, name, type, changes)
    diff.safe_to_migrate, diff.reasons          # whether every instance of `old` could move

`safe_to_migrate` speaks for all instances whatever step they are at; `migration.check` decides for
one instance at its actual position (an instance that has not reached a removed step may still move).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.task_spec import (
    BoundaryEventConverter,
    BpmnTaskSpecConverter,
    MultiInstanceTaskConverter,
)
from SpiffWorkflow.bpmn.util.diff import SpecDiff

from . import extensions, parsing, specs
from .extensions import NodeExt

# --- a serializer registry that knows our task spec classes ------------------------------------


class _CountersignConverter(MultiInstanceTaskConverter):
    """Multi-instance specs plus our countersign policy (so a changed policy counts as a change)."""

    def to_dict(self, spec):
        dct = super().to_dict(spec)
        policy = getattr(spec, "policy", None)
        dct["policy"] = None if policy is None else [policy.kind, policy.value]
        dct["result_variable"] = getattr(spec, "result_variable", None)
        return dct


def _spec_registry():
    config = dict(DEFAULT_CONFIG)
    config.update({
        specs.AutoTask: BpmnTaskSpecConverter,
        specs.OperationTask: BpmnTaskSpecConverter,
        specs.DecisionTask: BpmnTaskSpecConverter,
        specs.MtBoundaryEvent: BoundaryEventConverter,
        specs.CountersignParallel: _CountersignConverter,
        specs.CountersignSequential: _CountersignConverter,
    })
    return BpmnWorkflowSerializer.configure(config)


SPEC_REGISTRY = _spec_registry()


def spec_diff(old_spec, new_spec) -> SpecDiff:
    """SpiffWorkflow's alignment of two process specs (see `SpecDiff`)."""
    return SpecDiff(SPEC_REGISTRY, old_spec, new_spec)


# --- the result ----------------------------------------------------------------------------------

TYPE_LABELS = {
    "userTask": _l("User task"), "serviceTask": _l("Service task"), "sendTask": _l("Send task"),
    "businessRuleTask": _l("Business rule task"), "scriptTask": _l("Script task"), "task": _l("Task"),
    "manualTask": _l("Manual task"), "receiveTask": _l("Receive task"), "callActivity": _l("Call activity"),
    "subProcess": _l("Subprocess"), "transaction": _l("Transaction"), "adHocSubProcess": _l("Ad-hoc subprocess"),
    "startEvent": _l("Start event"), "endEvent": _l("End event"),
    "intermediateCatchEvent": _l("Intermediate catch event"),
    "intermediateThrowEvent": _l("Intermediate throw event"), "boundaryEvent": _l("Boundary event"),
    "exclusiveGateway": _l("Exclusive gateway"), "inclusiveGateway": _l("Inclusive gateway"),
    "parallelGateway": _l("Parallel gateway"), "eventBasedGateway": _l("Event-based gateway"),
    "complexGateway": _l("Complex gateway"), "multiInstance": _l("Multi-instance task (countersign)"),
    "loop": _l("Loop task"),
}

CHANGE_LABELS = {
    "id": _l("ID"), "name": _l("Name"), "type": _l("Type"), "lane": _l("Lane"), "role": _l("Role"),
    "assignee": _l("Assignee"), "form": _l("Form"), "operation": _l("Operation"),
    "params": _l("Operation parameters"), "decision": _l("Decision"), "condition": _l("Condition"),
    "timer": _l("Timer"), "event": _l("Event"), "due": _l("Due date"), "countersign": _l("Countersign"),
    "timeout": _l("Timeout action"), "skip": _l("Skip if approved"), "flow": _l("Sequence flows"),
    "script": _l("Script"), "data": _l("Data mapping"), "documentation": _l("Documentation"),
    "subprocess": _l("Called process"), "correlation": _l("Correlation key"),
}


@dataclass
class Change:
    what: str  # a key of CHANGE_LABELS
    old: str | None = None
    new: str | None = None

    @property
    def label(self) -> str:
        return str(CHANGE_LABELS.get(self.what, self.what))

    def as_dict(self) -> dict:
        return {"what": self.what, "label": self.label, "old": self.old, "new": self.new}


@dataclass
class Element:
    id: str
    name: str | None
    type: str  # the BPMN tag: userTask, exclusiveGateway …
    changes: list[Change] = field(default_factory=list)
    new_id: str | None = None  # when SpiffWorkflow aligned this element with one of another id

    @property
    def type_label(self) -> str:
        return str(TYPE_LABELS.get(self.type, self.type))

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id

    def changed(self, what: str) -> bool:
        return any(change.what == what for change in self.changes)

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "type": self.type, "type_label": self.type_label,
                "new_id": self.new_id, "changes": [change.as_dict() for change in self.changes]}


@dataclass
class VersionDiff:
    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[Element] = field(default_factory=list)
    safe_to_migrate: bool = True
    reasons: list[str] = field(default_factory=list)
    old_version: int | None = None
    new_version: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def element(self, element_id: str) -> Element | None:
        for element in (*self.changed, *self.removed, *self.added):
            if element.id == element_id:
                return element
        return None

    def as_dict(self) -> dict:
        return {"old_version": self.old_version, "new_version": self.new_version,
                "added": [e.as_dict() for e in self.added], "removed": [e.as_dict() for e in self.removed],
                "changed": [e.as_dict() for e in self.changed], "safe_to_migrate": self.safe_to_migrate,
                "reasons": list(self.reasons)}


# --- computing it --------------------------------------------------------------------------------

def diff_versions(old, new) -> VersionDiff:
    """The difference between two versions of a process (`ProcessVersion` rows, any status).

    A version SpiffWorkflow cannot parse (a broken draft) is still compared by its extension
    attributes, and is reported as unsafe to migrate to.
    """
    key = old.key
    old_nodes, new_nodes = _nodes(old.bpmn_xml, key), _nodes(new.bpmn_xml, new.key)
    result = VersionDiff(old_version=old.version, new_version=new.version)
    if old.key != new.key:
        result.reasons.append(_("The versions belong to different processes (%(old)s, %(new)s).",
                                old=old.key, new=new.key))
    parsed_old = parsed_new = None
    try:
        parsed_old = _parse(old)
        parsed_new = _parse(new)
    except Exception as exc:  # noqa: BLE001 -- a broken draft is a finding, not a crash
        result.reasons.append(_("The version cannot be run: %(error)s", error=" ".join(str(exc).split())))
    if parsed_old is not None and parsed_new is not None:
        compare_parsed(parsed_old, parsed_new, result)
        _unreachable(old_nodes, new_nodes, result)
    else:
        _compare_nodes_only(old_nodes, new_nodes, result)
    return result


def _parse(version) -> parsing.ParsedProcess:
    from . import registry

    return registry.load_process(version, version.key)


def _nodes(xml: str, key: str) -> dict[str, NodeExt]:
    try:
        definitions = extensions.read_definitions(parsing.read_xml(xml))
    except Exception:  # noqa: BLE001 -- not XML: nothing to compare
        return {}
    nodes: dict[str, NodeExt] = {}
    # The process itself first, then any other (called) process of the same file.
    for process_id in sorted(definitions, key=lambda pid: pid != key):
        for node_id, node in definitions[process_id].nodes.items():
            nodes.setdefault(node_id, node)
    return nodes


def _all_specs(parsed: parsing.ParsedProcess) -> dict[str, Any]:
    """Top-level spec plus embedded/called subprocess specs, by spec name."""
    found = {"": parsed.spec}
    for name, sub in (parsed.subprocess_specs or {}).items():
        if sub is not None:
            found[name] = sub
    return found


def compare_parsed(old: parsing.ParsedProcess, new: parsing.ParsedProcess, result: VersionDiff) -> VersionDiff:
    """Fill `result` from two parsed processes (SpiffWorkflow's alignment + our extensions)."""
    old_specs, new_specs = _all_specs(old), _all_specs(new)
    seen: set[str] = set()
    for name, old_spec in old_specs.items():
        new_spec = new_specs.get(name)
        if new_spec is None:
            for task_spec in old_spec.task_specs.values():
                _add_once(result.removed, _element(task_spec, old.nodes), seen, "-")
            continue
        diff = spec_diff(old_spec, new_spec)
        for task_spec in diff.added:
            _add_once(result.added, _element(task_spec, new.nodes), seen, "+")
        for task_spec in diff.removed:
            _add_once(result.removed, _element(task_spec, old.nodes), seen, "-")
        for old_ts, new_ts in diff.alignment.items():
            if new_ts is None or getattr(old_ts, "bpmn_id", None) is None:
                continue
            element = _element(old_ts, old.nodes)
            if element is None or f"~{element.id}" in seen:
                continue
            changes = _spec_changes(old_ts, new_ts, diff.comparisons.get(old_ts) or [])
            changes += _ext_changes(old.nodes.get(old_ts.bpmn_id), new.nodes.get(new_ts.bpmn_id))
            if old_ts.bpmn_id != new_ts.bpmn_id:
                element.new_id = new_ts.bpmn_id
                changes.insert(0, Change("id", old_ts.bpmn_id, new_ts.bpmn_id))
            changes = _merge(changes)
            if changes:
                seen.add(f"~{element.id}")
                existing = next((e for e in result.changed if e.id == element.id), None)
                if existing is None:
                    element.changes = changes
                    result.changed.append(element)
                else:
                    existing.changes = _merge(existing.changes + changes)
    for name, new_spec in new_specs.items():
        if name not in old_specs:
            for task_spec in new_spec.task_specs.values():
                _add_once(result.added, _element(task_spec, new.nodes), seen, "+")
    _lane_changes(old, new, result)
    _order(result)
    _judge(result)
    return result


def _add_once(target: list[Element], element: Element | None, seen: set[str], mark: str) -> None:
    if element is not None and f"{mark}{element.id}" not in seen:
        seen.add(f"{mark}{element.id}")
        target.append(element)


def _element(task_spec, nodes: dict[str, NodeExt]) -> Element | None:
    """The BPMN element of a task spec (None for SpiffWorkflow's control specs and MI children)."""
    bpmn_id = getattr(task_spec, "bpmn_id", None)
    if bpmn_id is None or task_spec.name != bpmn_id:
        return None
    node = nodes.get(bpmn_id)
    tag = node.tag if node is not None else _tag_of(task_spec)
    name = node.name if node is not None else getattr(task_spec, "bpmn_name", None)
    return Element(bpmn_id, name, tag)


def _type_label(tag: str) -> str:
    return str(TYPE_LABELS.get(tag, tag))


_CLASS_TAGS = {"OperationTask": "serviceTask", "DecisionTask": "businessRuleTask", "AutoTask": "task",
               "NoneTask": "task", "MtBoundaryEvent": "boundaryEvent", "CountersignParallel": "multiInstance",
               "CountersignSequential": "multiInstance", "ParallelMultiInstanceTask": "multiInstance",
               "SequentialMultiInstanceTask": "multiInstance", "StandardLoopTask": "loop"}


def _tag_of(task_spec) -> str:
    name = type(task_spec).__name__
    return _CLASS_TAGS.get(name) or name[0].lower() + name[1:]


_IGNORED = {"description", "manual", "lookahead", "task_spec", "extensions", "typename", "bpmn_id"}
_SPEC_KEYS = {
    "name": "id", "bpmn_name": "name", "lane": "lane", "inputs": "flow", "outputs": "flow",
    "cond_task_specs": "condition", "default_task_spec": "condition", "choice": "condition",
    "script": "script", "documentation": "documentation", "io_specification": "data",
    "data_input_associations": "data", "data_output_associations": "data", "spec": "subprocess",
    "cardinality": "countersign", "data_input": "countersign", "data_output": "countersign",
    "input_item": "countersign", "output_item": "countersign", "condition": "countersign",
    "policy": "countersign", "result_variable": "countersign", "cancel_activity": "event",
    "event_definition": "event", "prescript": "script", "postscript": "script",
}


def _spec_changes(old_ts, new_ts, keys: list[str]) -> list[Change]:
    if "typename" in keys:
        return [Change("type", _type_label(_tag_of(old_ts)), _type_label(_tag_of(new_ts)))]
    old_d, new_d = SPEC_REGISTRY.convert(old_ts), SPEC_REGISTRY.convert(new_ts)
    changes = []
    for key in keys:
        if key in _IGNORED:
            continue
        what = _SPEC_KEYS.get(key, key)
        if what == "id":
            continue  # reported with the element's new id
        if _same_collection(old_d.get(key), new_d.get(key)):
            continue  # the same flows or inputs listed in another order (a modeler re-saving the file)
        if what == "event" and key == "event_definition" and _is_timer(old_d.get(key), new_d.get(key)):
            what = "timer"
        changes.append(Change(what, _show(key, old_d.get(key)), _show(key, new_d.get(key))))
    return changes


def _same_collection(old: Any, new: Any) -> bool:
    """Two lists with the same items in another order (BPMN gives sequence flows no order)."""
    if not (isinstance(old, list) and isinstance(new, list)) or len(old) != len(new):
        return False

    def key(item: Any) -> str:
        return json.dumps(item, sort_keys=True, default=str)

    return sorted(map(key, old)) == sorted(map(key, new))


def _is_timer(*definitions) -> bool:
    return any(isinstance(d, dict) and "Timer" in str(d.get("typename", "")) for d in definitions)


def _show(key: str, value: Any) -> str | None:
    """A short readable form of a serialized spec attribute."""
    if value is None or value == [] or value == {}:
        return None
    if key in ("inputs", "outputs"):
        return ", ".join(str(v) for v in value)
    if key == "cond_task_specs":
        return "; ".join(f"{c.get('condition') or '(default)'} → {c.get('task_spec')}" for c in value)
    if key == "event_definition" and isinstance(value, dict):
        text = value.get("expression") or value.get("name") or value.get("typename")
        return str(text)
    if isinstance(value, dict):
        return str(value.get("bpmn_id") or value.get("name") or value.get("typename") or value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


_EXT_FIELDS = (
    ("name", "name"), ("form", "form"), ("roles", "role"), ("lane_role", "role"), ("assignee", "assignee"),
    ("candidates", "assignee"), ("due", "due"), ("countersign", "countersign"), ("result_variable", "countersign"),
    ("collection", "countersign"), ("element_variable", "countersign"), ("operation", "operation"),
    ("params", "params"), ("decision", "decision"), ("timeout_action", "timeout"), ("skip_if_approved", "skip"),
    ("correlation_key", "correlation"), ("lane_name", "lane"),
)


def _ext_changes(old: NodeExt | None, new: NodeExt | None) -> list[Change]:
    if old is None or new is None:
        return []
    if old.tag != new.tag:
        return [Change("type", _type_label(old.tag), _type_label(new.tag))]
    changes = []
    for attr, what in _EXT_FIELDS:
        before, after = getattr(old, attr), getattr(new, attr)
        if attr == "roles":
            before, after = old.effective_roles, new.effective_roles
        elif attr == "lane_role":
            continue  # part of effective_roles
        if before != after and (before or after):
            changes.append(Change(what, _ext_show(before), _ext_show(after)))
    return changes


def _ext_show(value: Any) -> str | None:
    if value is None or value in ([], {}, ""):
        return None
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _merge(changes: list[Change]) -> list[Change]:
    """One change per kind: the spec's and the extension's view of the same thing collapse."""
    merged: dict[str, Change] = {}
    for change in changes:
        current = merged.get(change.what)
        if current is None:
            merged[change.what] = change
        elif change.what != "type" and (change.old, change.new) != (current.old, current.new):
            # Prefer the extension view for names/roles (readable); keep both for others.
            if change.what not in ("name", "role", "lane", "countersign"):
                current.old = "; ".join(filter(None, (current.old, change.old))) or None
                current.new = "; ".join(filter(None, (current.new, change.new))) or None
            else:
                merged[change.what] = change
    return list(merged.values())


def _lane_changes(old: parsing.ParsedProcess, new: parsing.ParsedProcess, result: VersionDiff) -> None:
    """Nodes of a lane whose role changed, when the node itself did not show it (no spec change)."""
    for node_id, node in new.nodes.items():
        before = old.nodes.get(node_id)
        if before is None or node.tag != "userTask" or before.effective_roles == node.effective_roles:
            continue
        if any(e.id == node_id for e in (*result.added, *result.removed)):
            continue
        element = next((e for e in result.changed if e.id == node_id), None)
        if element is None:
            element = Element(node_id, node.name, node.tag)
            result.changed.append(element)
        if not element.changed("role"):
            element.changes.append(Change("role", _ext_show(before.effective_roles),
                                          _ext_show(node.effective_roles)))


def _unreachable(old_nodes: dict[str, NodeExt], new_nodes: dict[str, NodeExt], result: VersionDiff) -> None:
    """Elements SpiffWorkflow leaves out of its specs (not connected to the flow) still count."""
    listed = {e.id for e in (*result.added, *result.removed, *result.changed)} | \
        {e.new_id for e in result.changed if e.new_id}
    for node_id, node in new_nodes.items():
        if node_id not in old_nodes and node_id not in listed:
            result.added.append(Element(node_id, node.name, node.tag))
    for node_id, node in old_nodes.items():
        if node_id not in new_nodes and node_id not in listed:
            result.removed.append(Element(node_id, node.name, node.tag))
    _order(result)


def _compare_nodes_only(old_nodes: dict[str, NodeExt], new_nodes: dict[str, NodeExt], result: VersionDiff) -> None:
    for node_id, node in new_nodes.items():
        if node_id not in old_nodes:
            result.added.append(Element(node_id, node.name, node.tag))
    for node_id, node in old_nodes.items():
        if node_id not in new_nodes:
            result.removed.append(Element(node_id, node.name, node.tag))
            continue
        changes = _ext_changes(node, new_nodes[node_id])
        if changes:
            result.changed.append(Element(node_id, node.name, node.tag, changes))
    _order(result)
    _judge(result)


_ORDER = {tag: i for i, tag in enumerate(TYPE_LABELS)}


def _order(result: VersionDiff) -> None:
    for elements in (result.added, result.removed, result.changed):
        elements.sort(key=lambda e: (_ORDER.get(e.type, 99), e.id))


# Changes that make an instance positioned at (or inside) the element impossible to move.
BLOCKING_AT = ("type", "countersign", "role", "assignee", "subprocess")


def _judge(result: VersionDiff) -> None:
    """Reasons why not every instance of the old version can move to the new one."""
    for element in result.removed:
        result.reasons.append(_("%(type)s %(element)s was removed: instances that have reached it cannot move.",
                                type=element.type_label, element=element.label))
    for element in result.changed:
        if element.changed("type"):
            change = next(c for c in element.changes if c.what == "type")
            result.reasons.append(_("%(element)s changed its type (%(old)s → %(new)s): instances that have reached "
                                    "it cannot move.", element=element.label, old=change.old, new=change.new))
            continue
        for what in BLOCKING_AT[1:]:
            if element.changed(what):
                result.reasons.append(_("%(what)s of %(element)s changed: instances waiting at it cannot move.",
                                        what=CHANGE_LABELS[what], element=element.label))
    result.safe_to_migrate = not result.reasons
