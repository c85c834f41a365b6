"""Validation of BPMN files: on load, on publish and from `medtech processes validate`.

Every finding names the element (id and name). Errors block publishing; warnings (a process that is
not executable, a user task without a form) do not. Validation never raises on bad input: a file
that is not XML at all still gives a report.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity

from . import extensions, operations, parsing
from .extensions import BPMN_NS, TIMEOUT_ACTIONS, NodeExt, ProcessExt, clean_name
from .scripting import check_expression, check_process_spec, is_iso_timer_literal
from .specs import Policy


@dataclass(frozen=True)
class Issue:
    level: str  # "error" | "warning"
    message: str
    element_id: str | None = None
    element_name: str | None = None
    process_id: str | None = None

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"

    def as_dict(self) -> dict:
        return {"level": self.level, "message": self.message, "element_id": self.element_id,
                "element_name": self.element_name, "process_id": self.process_id}


@dataclass
class Report:
    filename: str
    issues: list[Issue] = field(default_factory=list)
    processes: list[parsing.ProcessInfo] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def executable_ids(self) -> list[str]:
        return [info.id for info in self.processes if info.executable]


@dataclass
class Catalog:
    """What a process may refer to; None for a kind means "do not check"."""

    forms: set[str] | None = None
    decisions: set[str] | None = None
    roles: set[str] | None = None
    operations: dict[str, operations.Operation] | None = None
    # process id -> (xml, filename) of a document holding it, for call activities
    find_process: Callable[[str], tuple[bytes, str] | None] | None = None


class _Collector:
    def __init__(self, report: Report):
        self.report = report

    def error(self, message: str, node=None, process: ProcessExt | None = None) -> None:
        self._add("error", message, node, process)

    def warning(self, message: str, node=None, process: ProcessExt | None = None) -> None:
        self._add("warning", message, node, process)

    def _add(self, level: str, message: str, node, process: ProcessExt | None) -> None:
        issue = Issue(level, message, getattr(node, "id", None) or None,
                      clean_name(getattr(node, "name", None)) or None, process.id if process else None)
        if issue not in self.report.issues:
            self.report.issues.append(issue)


_KIND = {"userTask": "user task", "serviceTask": "service task", "sendTask": "send task",
         "businessRuleTask": "business rule task", "boundaryEvent": "boundary event"}


def _what(node: NodeExt) -> str:
    return f"{_KIND.get(node.tag, node.tag)} {node.label}"


def validate_bpmn(source: bytes | str, filename: str = "<bpmn>", catalog: Catalog | None = None) -> Report:
    report = Report(filename)
    out = _Collector(report)
    catalog = catalog or Catalog()
    try:
        root = parsing.read_xml(source)
    except etree.XMLSyntaxError as exc:
        out.error(f"not well-formed XML: {parsing.xml_problem(exc)}")
        return report
    except (ValueError, TypeError) as exc:
        out.error(f"cannot read the file: {exc}")
        return report
    if etree.QName(root).namespace != BPMN_NS or etree.QName(root).localname != "definitions":
        out.error("not a BPMN 2.0 document (expected a bpmn:definitions root element)")
        return report
    exts = extensions.read_definitions(root)
    report.processes = [parsing.ProcessInfo(ext.id, ext.name, ext.executable) for ext in exts.values()]
    if not exts:
        out.error("the file holds no process")
        return report
    executable = [ext for ext in exts.values() if ext.executable]
    for ext in exts.values():
        if not ext.executable:
            out.warning(f"{ext.label} is not executable (isExecutable=\"false\"): not checked, cannot run",
                        process=ext)
    if not executable:
        out.warning("no executable process in this file")
        return report
    for ext in executable:
        _check_extensions(ext, catalog, out)
    _check_with_parser(root, source, filename, executable, catalog, out)
    return report


def _check_extensions(process: ProcessExt, catalog: Catalog, out: _Collector) -> None:
    roles = catalog.roles
    for lane in process.lanes:
        if lane.role and roles is not None and lane.role not in roles:
            out.error(f"{lane.label}: unknown role '{lane.role}'", node=lane, process=process)
    for node in process.nodes.values():
        if node.tag == "userTask":
            _check_user_task(node, process, catalog, out)
        elif node.tag in ("serviceTask", "sendTask"):
            _check_operation(node, process, catalog, out)
        elif node.tag == "businessRuleTask":
            if not node.decision:
                out.error(f"{_what(node)} names no decision (mt:decision or camunda:decisionRef)",
                          node=node, process=process)
            elif catalog.decisions is not None and node.decision not in catalog.decisions:
                out.error(f"{_what(node)}: decision '{node.decision}' not found", node=node, process=process)
        elif node.tag == "boundaryEvent" and node.timeout_action:
            if node.timeout_action not in TIMEOUT_ACTIONS:
                out.error(f"{_what(node)}: unknown mt:timeoutAction '{node.timeout_action}' "
                          f"(use {', '.join(TIMEOUT_ACTIONS)})", node=node, process=process)
        if node.correlation_key:
            _expression(node, process, out, "correlation key", node.correlation_key)
        if node.countersign and node.tag != "userTask":
            out.error(f"{_what(node)}: mt:countersign only applies to user tasks", node=node, process=process)


def _check_user_task(node: NodeExt, process: ProcessExt, catalog: Catalog, out: _Collector) -> None:
    if not node.form:
        out.warning(f"{_what(node)} has no form (mt:form)", node=node, process=process)
    elif catalog.forms is not None and node.form not in catalog.forms:
        out.error(f"{_what(node)}: form '{node.form}' not found", node=node, process=process)
    for role in node.roles:
        if catalog.roles is not None and role not in catalog.roles:
            out.error(f"{_what(node)}: unknown role '{role}'", node=node, process=process)
    if not node.effective_roles and not node.assignee and not node.candidates:
        out.warning(f"{_what(node)} has no role, assignee or candidates: it waits until an administrator "
                    "transfers it", node=node, process=process)
    for what, text in (("assignee", node.assignee), ("candidates", node.candidates)):
        if text:
            _expression(node, process, out, what, text)
    if node.due and not is_iso_timer_literal(node.due):
        _expression(node, process, out, "due date", node.due)
    if node.countersign:
        try:
            Policy.parse(node.countersign)
        except ValueError as exc:
            out.error(f"{_what(node)}: {exc}", node=node, process=process)


def _check_operation(node: NodeExt, process: ProcessExt, catalog: Catalog, out: _Collector) -> None:
    if not node.operation:
        out.error(f"{_what(node)} names no operation (mt:operation)", node=node, process=process)
        return
    for name, text in node.params.items():
        _expression(node, process, out, f"parameter '{name}'", text)
    if catalog.operations is None:
        return
    operation = catalog.operations.get(node.operation)
    if operation is None:
        out.error(f"{_what(node)}: unknown operation '{node.operation}'", node=node, process=process)
        return
    missing = operation.required_params() - set(node.params)
    if missing:
        out.error(f"{_what(node)}: operation '{node.operation}' needs parameter(s) "
                  f"{', '.join(sorted(missing))}", node=node, process=process)
    known = operation.known_params()
    if known is not None:
        for extra in sorted(set(node.params) - known):
            out.error(f"{_what(node)}: operation '{node.operation}' has no parameter '{extra}'",
                      node=node, process=process)


def _expression(node: NodeExt, process: ProcessExt, out: _Collector, what: str, text: str) -> None:
    for problem in check_expression(text):
        out.error(f"{_what(node)}: {what} `{text}`: {problem}", node=node, process=process)


def _check_with_parser(root, source, filename: str, executable: list[ProcessExt], catalog: Catalog,
                       out: _Collector) -> None:
    called = _called_documents(root, catalog)
    try:
        parser = parsing.new_parser([(source, filename), *called])
    except ValidationException as exc:
        out.error(_spiff_message(exc), node=exc)
        return
    except Exception as exc:  # the parser's own bugs must not crash a validation report
        out.error(f"cannot parse the process model: {type(exc).__name__}: {exc}")
        return
    for ext in executable:
        try:
            parsed = parsing.build_from_parser(parser, ext.id, require_called=False)
        except ValidationException as exc:
            out.error(f"{ext.label}: {_spiff_message(exc)}", node=exc if exc.id else None, process=ext)
            continue
        except Exception as exc:
            out.error(f"{ext.label}: cannot build the process: {type(exc).__name__}: {exc}", process=ext)
            continue
        for spec in (parsed.spec, *[s for s in parsed.subprocess_specs.values() if s is not None]):
            for problem in check_process_spec(spec):
                out.error(f"{ext.label}: unsafe or invalid expression: {problem}", process=ext)
            _check_specs(spec, ext, parsed, out)


def _check_specs(spec, ext: ProcessExt, parsed: parsing.ParsedProcess, out: _Collector) -> None:
    for task_spec in spec.task_specs.values():
        node = parsed.node(getattr(task_spec, "bpmn_id", None))
        if isinstance(task_spec, CallActivity) and parsed.subprocess_specs.get(task_spec.spec) is None:
            out.error(f"call activity {node.label if node else task_spec.name}: process "
                      f"'{task_spec.spec}' not found", node=node, process=ext)
        if not isinstance(task_spec, MultiInstanceTask) or node is None:
            continue
        policy = getattr(task_spec, "policy", None)
        if policy is not None and policy.kind == "sequential" and \
                not isinstance(task_spec, SequentialMultiInstanceTask):
            out.error(f"{_what(node)}: countersign 'sequential' needs isSequential=\"true\"", node=node,
                      process=ext)
        if policy is not None and task_spec.condition != policy.condition and policy.condition:
            out.warning(f"{_what(node)}: the completion condition written in the model replaces the one "
                        f"of countersign '{node.countersign}'", node=node, process=ext)
    for node in ext.nodes.values():
        if node.countersign and node.tag == "userTask":
            task_spec = spec.task_specs.get(node.id)
            if task_spec is not None and not isinstance(task_spec, MultiInstanceTask):
                out.error(f"{_what(node)}: mt:countersign needs multi-instance loop characteristics",
                          node=node, process=ext)


def _called_documents(root, catalog: Catalog) -> list[tuple[bytes, str]]:
    if catalog.find_process is None:
        return []
    own = {process.get("id") for process in root.iter(f"{{{BPMN_NS}}}process")}
    documents, seen = [], set()
    for call in root.iter(f"{{{BPMN_NS}}}callActivity"):
        target = call.get("calledElement")
        if not target or target in own or target in seen:
            continue
        seen.add(target)
        found = catalog.find_process(target)
        if found is not None:
            documents.append(found)
    return documents


def _spiff_message(exc: ValidationException) -> str:
    message = str(exc).split("\n")[0].strip().rstrip(".")
    message = re.sub(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>", r"\1", message)
    tag = getattr(exc, "tag", "") or ""
    element = ""
    if getattr(exc, "id", ""):
        name = f" '{clean_name(exc.name)}'" if getattr(exc, "name", "") else ""
        element = f"{tag.replace('bpmn:', '')}{name} ({exc.id}): ".lstrip()
    line = f" [line {exc.line_number}]" if getattr(exc, "line_number", "") else ""
    return f"{element}{message}{line}"


def format_issues(issues: Iterable[Issue]) -> list[str]:
    return [str(issue) for issue in issues]
