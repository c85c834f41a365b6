"""Parsing BPMN into SpiffWorkflow specs with our task classes and extensions.

`parse_document` reads one file (any number of processes); `build_process` gives the runnable spec
of one process with its embedded and called subprocesses. Specs are cached by the checksum of the
XML, so every instance of a process version shares one parsed spec.
"""
from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import BoundaryEventParser
from SpiffWorkflow.bpmn.parser.task_parsers import ConditionalGatewayParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.defaults import (
    ExclusiveGateway,
    InclusiveGateway,
    ManualTask,
    UserTask,
)

from . import extensions
from .extensions import NodeExt, ProcessExt, normalize_expression
from .specs import (
    AutoTask,
    CountersignParallel,
    CountersignSequential,
    DecisionTask,
    MtBoundaryEvent,
    OperationTask,
    Policy,
)

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class MtTaskParser(TaskParser):
    PARALLEL_MI_CLASS = CountersignParallel
    SEQUENTIAL_MI_CLASS = CountersignSequential

    def _add_multiinstance_task(self, loop_characteristics):
        prefix = "./bpmn:multiInstanceLoopCharacteristics"
        standard = self.xpath(f"{prefix}/bpmn:loopCardinality") or self.xpath(f"{prefix}/bpmn:loopDataInputRef")
        node = self.process_parser.parser.node_ext(self.bpmn_id)
        if standard or node is None or not node.collection:
            super()._add_multiinstance_task(loop_characteristics)
        else:
            self._add_camunda_collection(loop_characteristics, node)
        task = self.task
        # Camunda models write `${...}`; our sandbox reads Python.
        task.cardinality = normalize_expression(task.cardinality)
        task.condition = normalize_expression(task.condition)
        if node is not None:
            try:
                task.policy = Policy.parse(node.countersign)
            except ValueError as exc:
                self.raise_validation_exception(str(exc))
            task.result_variable = node.result_variable or (f"{self.bpmn_id}_outcome" if task.policy else None)
            if task.condition is None and task.policy is not None:
                task.condition = task.policy.condition

    def _add_camunda_collection(self, loop_characteristics, node: NodeExt):
        """camunda:collection / camunda:elementVariable: the collection is the input."""
        condition = self.xpath("./bpmn:multiInstanceLoopCharacteristics/bpmn:completionCondition")
        original = self.spec.task_specs.pop(self.task.name)
        params = {
            "task_spec": "",
            "data_input": TaskDataReference(node.collection),
            "input_item": TaskDataReference(node.element_variable) if node.element_variable else None,
            "condition": condition[0].text if condition else None,
        }
        cls = self.SEQUENTIAL_MI_CLASS if loop_characteristics.get("isSequential") == "true" \
            else self.PARALLEL_MI_CLASS
        self.task = cls(self.spec, original.name, description="MultiInstance", **params)
        self._copy_task_attrs(original, loop_characteristics)


class MtConditionalGatewayParser(ConditionalGatewayParser):
    def parse_condition(self, sequence_flow):
        return normalize_expression(super().parse_condition(sequence_flow))


class MedtechParser(BpmnParser):
    """SpiffWorkflow's BPMN parser with our task classes; reads our extensions alongside."""

    OVERRIDE_PARSER_CLASSES = {
        full_tag("userTask"): (MtTaskParser, UserTask),
        full_tag("task"): (MtTaskParser, AutoTask),
        full_tag("manualTask"): (MtTaskParser, ManualTask),
        full_tag("serviceTask"): (MtTaskParser, OperationTask),
        full_tag("sendTask"): (MtTaskParser, OperationTask),
        full_tag("businessRuleTask"): (MtTaskParser, DecisionTask),
        full_tag("exclusiveGateway"): (MtConditionalGatewayParser, ExclusiveGateway),
        full_tag("inclusiveGateway"): (MtConditionalGatewayParser, InclusiveGateway),
        full_tag("boundaryEvent"): (BoundaryEventParser, MtBoundaryEvent),
    }

    def __init__(self):
        super().__init__()
        self.extensions: dict[str, ProcessExt] = {}
        self.nodes: dict[str, NodeExt] = {}

    def add_bpmn_xml(self, bpmn, filename=None):
        root = bpmn.getroot() if hasattr(bpmn, "getroot") else bpmn
        for process_id, ext in extensions.read_definitions(root).items():
            self.extensions[process_id] = ext
            self.nodes.update(ext.nodes)
        super().add_bpmn_xml(bpmn, filename)

    def node_ext(self, bpmn_id: str) -> NodeExt | None:
        return self.nodes.get(bpmn_id)


def read_xml(source: str | bytes) -> etree._Element:
    """Parse XML safely (no entities, no network); raises etree.XMLSyntaxError."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    return etree.fromstring(data, parser=_XML_PARSER)


# libxml2's error code, a pattern over its English text naming what is wrong, and the problem in the
# UI language; codes not listed here keep libxml2's own words.
_XML_PROBLEMS = [
    (76, r"mismatch: (?P<open>\S+) line (?P<line>\d+) and (?P<close>[^\s,]+)",
     _l("the end tag </%(close)s> does not match the start tag <%(open)s> of line %(line)s")),
    (4, r"Document is empty", _l("the document is empty")),
    (4, r"Start tag expected", _l("the document does not start with an element ('<' not found)")),
    (5, r"Extra content", _l("there is more content after the end of the root element")),
    (39, r"", _l("the attribute value must be in quotes (\" or ')")),
    (40, r"", _l("the closing quote of the attribute value is missing")),
    (42, r"Attribute (?P<name>\S+) redefined", _l("the attribute %(name)s appears twice")),
    (26, r"Entity '(?P<name>[^']+)' not defined", _l("the entity &%(name)s; is not defined")),
    (201, r"prefix (?P<prefix>\S+) (?:for \S+ )?on (?P<element>\S+) is not defined",
     _l("the namespace prefix %(prefix)s (on <%(element)s>) is not declared")),
    (73, r"Start Tag (?P<name>\S+)", _l("the start tag <%(name)s> is not closed ('>' missing)")),
    (77, r"in tag (?P<name>\S+)", _l("the document ends before the element <%(name)s> is closed")),
    (9, r"Char value (?P<value>\d+)", _l("invalid character (code %(value)s)")),
    (38, r"", _l("'<' is not allowed in an attribute value (write &lt;)")),
    (45, r"", _l("a comment is not closed ('-->' missing)")),
    (68, r"invalid element name", _l("invalid element name")),
    (68, r"attribute name", _l("invalid attribute name")),
    (68, r"EntityRef: no name", _l("'&' starts no entity reference (write &amp; for the character &)")),
    (23, r"", _l("the entity reference has no closing ';'")),
    (41, r"for attribute (?P<name>\S+)", _l("the attribute %(name)s has no value")),
    (65, r"attributes construct error", _l("the attributes cannot be read (check each one's = and quotes)")),
]
_XML_WHERE = re.compile(r",? line (\d+), column (\d+)\s*$")


def xml_problem(exc: etree.XMLSyntaxError) -> str:
    """What is wrong with a document, in the UI language: "line 1, column 11: <problem>"
    (English outside a request: the CLIs)."""
    text = (exc.msg or str(exc)).strip()
    where = _XML_WHERE.search(text)
    line, column = exc.position if exc.position and exc.position[0] else (
        (int(where[1]), int(where[2])) if where else (None, None))
    problem = _XML_WHERE.sub("", text)
    for code, pattern, message in _XML_PROBLEMS:
        match = re.search(pattern, problem) if code == exc.code else None
        if match:
            problem = str(message) % match.groupdict()
            break
    if line is None:
        return problem
    return gettext("line %(line)s, column %(column)s: %(problem)s", line=line, column=column, problem=problem)


def checksum(source: str | bytes) -> str:
    data = source.encode("utf-8") if isinstance(source, str) else source
    return hashlib.sha256(data).hexdigest()


@dataclass
class ProcessInfo:
    id: str
    name: str | None
    executable: bool


def process_infos(root) -> list[ProcessInfo]:
    return [ProcessInfo(ext.id, ext.name, ext.executable) for ext in extensions.read_definitions(root).values()]


@dataclass
class ParsedProcess:
    """A runnable process: the spec, its subprocess specs and every node's extensions."""

    key: str
    name: str
    spec: object
    subprocess_specs: dict
    ext: ProcessExt
    nodes: dict[str, NodeExt] = field(default_factory=dict)
    checksum: str = ""

    def node(self, bpmn_id: str | None) -> NodeExt | None:
        return self.nodes.get(bpmn_id) if bpmn_id else None


def new_parser(sources: list[tuple[bytes | str, str | None]]) -> MedtechParser:
    """A parser loaded with documents (raises ValidationException / XMLSyntaxError)."""
    parser = MedtechParser()
    for source, filename in sources:
        parser.add_bpmn_xml(read_xml(source), filename)
    return parser


def build_from_parser(parser: MedtechParser, process_id: str, require_called: bool = True) -> ParsedProcess:
    ext = parser.extensions.get(process_id)
    if ext is None:
        raise ValidationException(f"there is no process with id '{process_id}'")
    if not ext.executable:
        raise ValidationException(f"{ext.label} is not executable (isExecutable=\"false\")")
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id, require_call_activity_specs=require_called)
    for each in (spec, *[sub for sub in subprocess_specs.values() if sub is not None]):
        _connect_loops(each)
    return ParsedProcess(process_id, ext.name or process_id, spec, subprocess_specs, ext, dict(parser.nodes))


def _connect_loops(spec) -> None:
    """Connect loop/multi-instance children to their parents now.

    SpiffWorkflow connects a child spec's `completed_event` when it creates the first child; a
    workflow restored onto a freshly parsed spec (our states carry no spec) would otherwise never
    merge a child that was created before the restore.
    """
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, LoopTask) and task_spec.task_spec in spec.task_specs:
            child = spec.task_specs[task_spec.task_spec]
            if not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)


_cache: OrderedDict[tuple, ParsedProcess] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def build_process(source: bytes | str, process_id: str, filename: str | None = None,
                  called: list[tuple[bytes | str, str | None]] = ()) -> ParsedProcess:
    """The runnable process `process_id` of a document; `called` are documents holding processes
    its call activities call. Cached by content."""
    key = (checksum(source), process_id, tuple(checksum(doc) for doc, _ in called))
    with _cache_lock:
        parsed = _cache.get(key)
        if parsed is not None:
            _cache.move_to_end(key)
            return parsed
    parser = new_parser([(source, filename), *called])
    parsed = build_from_parser(parser, process_id)
    parsed.checksum = key[0]
    with _cache_lock:
        _cache[key] = parsed
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return parsed
