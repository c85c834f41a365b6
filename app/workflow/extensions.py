"""Our BPMN extension attributes (namespace `mt`, see EXTENSIONS.md) and the Camunda ones we accept.

Read straight from the XML, independently of SpiffWorkflow's parser, so that validation can report
every problem of a file (not only the first one the parser trips over) and the runtime can look a
node's settings up by its BPMN id.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

MT_NS = "http://medtech.local/schema/bpmn/1.0"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# Camunda 7 writes the first; older Camunda/Activiti-derived models the second.
CAMUNDA_NAMESPACES = ("http://camunda.org/schema/1.0/bpmn", "http://camunda.org/bpmn")
NSMAP = {"bpmn": BPMN_NS, "mt": MT_NS}

USER_TASK_TAGS = frozenset({"userTask"})
FLOW_NODE_TAGS = frozenset({
    "userTask", "serviceTask", "businessRuleTask", "scriptTask", "task", "manualTask", "sendTask",
    "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess", "startEvent",
    "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
    "complexGateway",
})
TIMEOUT_ACTIONS = ("remind", "approve", "reject", "escalate")
DEFAULT_OUTCOME_VARIABLE = "outcome"


@dataclass
class NodeExt:
    """What our extensions (and Camunda's) say about one flow node."""

    id: str
    name: str | None
    tag: str
    form: str | None = None
    roles: list[str] = field(default_factory=list)  # node-level: mt:role / camunda:candidateGroups
    lane_role: str | None = None
    lane_name: str | None = None
    assignee: str | None = None  # expression giving a user id (or a list of them)
    candidates: str | None = None  # expression giving a list of user ids
    due: str | None = None  # ISO 8601 duration/date or expression
    skip_if_approved: bool = False
    countersign: str | None = None  # all | any | sequential | veto | <n> | <p>%
    result_variable: str | None = None
    operation: str | None = None
    params: dict[str, str] = field(default_factory=dict)  # name -> expression
    decision: str | None = None
    timeout_action: str | None = None
    correlation_key: str | None = None
    collection: str | None = None  # camunda:collection (an expression or variable name)
    element_variable: str | None = None
    attached_to: str | None = None  # boundary events

    @property
    def label(self) -> str:
        return f"'{self.name}' ({self.id})" if self.name else f"({self.id})"

    @property
    def effective_roles(self) -> list[str]:
        if self.roles:
            return list(self.roles)
        return [self.lane_role] if self.lane_role else []


@dataclass
class LaneExt:
    id: str
    name: str | None
    role: str | None
    node_ids: list[str]

    @property
    def label(self) -> str:
        return f"lane '{self.name}' ({self.id})" if self.name else f"lane ({self.id})"


@dataclass
class ProcessExt:
    id: str
    name: str | None
    executable: bool
    nodes: dict[str, NodeExt] = field(default_factory=dict)
    lanes: list[LaneExt] = field(default_factory=list)
    skip_approved: bool = False  # mt:skipApproved on the process: applies to every user task

    @property
    def label(self) -> str:
        return f"process '{self.name}' ({self.id})" if self.name else f"process ({self.id})"

    def node(self, bpmn_id: str | None) -> NodeExt | None:
        return self.nodes.get(bpmn_id) if bpmn_id else None


def local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def clean_name(text: str | None) -> str | None:
    """Element names as one line (modelers wrap long names in the diagram)."""
    return " ".join(text.split()) if text else text


def _attr(el, name: str, *, camunda: bool = False) -> str | None:
    value = el.get(f"{{{MT_NS}}}{name}")
    if value is None and camunda:
        for ns in CAMUNDA_NAMESPACES:
            value = el.get(f"{{{ns}}}{name}")
            if value is not None:
                break
    value = value.strip() if isinstance(value, str) else None
    return value or None


def _camunda(el, name: str) -> str | None:
    for ns in CAMUNDA_NAMESPACES:
        value = el.get(f"{{{ns}}}{name}")
        if value is not None and value.strip():
            return value.strip()
    return None


_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)
_JUEL_WORDS = ((r"&&", " and "), (r"\|\|", " or "), (r"!(?!=)", " not "), (r"\bnull\b", "None"),
               (r"\btrue\b", "True"), (r"\bfalse\b", "False"))


def is_juel(text: str | None) -> bool:
    return bool(text) and _JUEL.match(text) is not None


def normalize_expression(text: str | None) -> str | None:
    """A Python (sandbox) expression for what a modeler wrote.

    Camunda modelers wrap expressions as `${...}` (JUEL); the simple ones (comparisons, arithmetic,
    `&&`, `||`, `!`) mean the same in Python once unwrapped. Anything else is taken as Python.
    """
    if text is None:
        return None
    match = _JUEL.match(text)
    if not match:
        return text.strip()
    inner = match.group(1)
    for pattern, replacement in _JUEL_WORDS:
        inner = re.sub(pattern, replacement, inner)
    return " ".join(inner.split())


def _user_ref(text: str | None) -> str | None:
    """camunda:assignee / candidateUsers: `${expr}` or a literal list of user ids."""
    if text is None:
        return None
    if is_juel(text):
        return normalize_expression(text)
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if parts and all(part.isdigit() for part in parts):
        return repr([int(part) for part in parts]) if len(parts) > 1 else parts[0]
    return text.strip()


def _params(el) -> dict[str, str]:
    params: dict[str, str] = {}
    for param in el.xpath("./bpmn:extensionElements/mt:param", namespaces=NSMAP):
        name = (param.get("name") or "").strip()
        if name:
            params[name] = (param.get("value") or param.text or "").strip()
    for ns in CAMUNDA_NAMESPACES:
        for param in el.xpath("./bpmn:extensionElements/c:inputOutput/c:inputParameter",
                              namespaces={"bpmn": BPMN_NS, "c": ns}):
            name = (param.get("name") or "").strip()
            if name and name not in params:
                text = (param.text or "").strip()
                params[name] = normalize_expression(text) if is_juel(text) else repr(text)
    return params


def _node(el) -> NodeExt:
    tag = local(el)
    node = NodeExt(id=el.get("id"), name=clean_name(el.get("name")), tag=tag)
    node.form = _attr(el, "form") or _camunda(el, "formKey")
    roles = _attr(el, "role") or _camunda(el, "candidateGroups")
    node.roles = [part.strip() for part in roles.split(",") if part.strip()] if roles else []
    node.assignee = _attr(el, "assignee") or _user_ref(_camunda(el, "assignee"))
    node.candidates = _attr(el, "candidates") or _user_ref(_camunda(el, "candidateUsers"))
    due = _attr(el, "due") or _camunda(el, "dueDate")
    node.due = normalize_expression(due) if due else None
    node.skip_if_approved = (_attr(el, "skipIfApproved") or "").lower() == "true"
    node.countersign = _attr(el, "countersign")
    node.result_variable = _attr(el, "resultVariable") or _camunda(el, "resultVariable")
    node.operation = _attr(el, "operation")
    node.params = _params(el)
    node.decision = _attr(el, "decision") or _camunda(el, "decisionRef")
    node.timeout_action = _attr(el, "timeoutAction")
    node.correlation_key = normalize_expression(_attr(el, "correlationKey"))
    node.attached_to = el.get("attachedToRef")
    loop = el.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
    if loop is not None:
        collection = _camunda(loop, "collection")
        node.collection = normalize_expression(collection) if collection else None
        node.element_variable = _camunda(loop, "elementVariable")
    return node


def read_process(process) -> ProcessExt:
    ext = ProcessExt(id=process.get("id"), name=clean_name(process.get("name")),
                     executable=process.get("isExecutable", "true").strip().lower() != "false",
                     skip_approved=(_attr(process, "skipApproved") or "").lower() == "true")
    for el in process.iter():
        if local(el) in FLOW_NODE_TAGS and el.get("id"):
            ext.nodes[el.get("id")] = _node(el)
    # Document order visits outer lanes before the lanes nested in them, so the innermost lane
    # that names a role is the one that counts.
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        refs = [ref.text.strip() for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef") if ref.text]
        role = _attr(lane, "role")
        ext.lanes.append(LaneExt(lane.get("id"), clean_name(lane.get("name")), role, refs))
        for ref in refs:
            node = ext.nodes.get(ref)
            if node is not None and (role or node.lane_name is None):
                node.lane_name = clean_name(lane.get("name"))
                node.lane_role = role or node.lane_role
    return ext


def read_definitions(root) -> dict[str, ProcessExt]:
    """Every process of a BPMN document (executable or not), by process id."""
    return {process.get("id"): read_process(process)
            for process in root.iter(f"{{{BPMN_NS}}}process") if process.get("id")}
