"""The BPMN diagram of a record for the bpmn-js viewer: the XML plus which steps are done, current
and pending. States come from the instance's workflow (one deserialization); a process drawn
without diagram information (BPMN DI) gets a simple left-to-right layout so it still shows."""
from __future__ import annotations

import logging
from collections import deque

from lxml import etree
from SpiffWorkflow.util.task import TaskState

from app.workflow import registry, store
from app.workflow.extensions import BPMN_NS
from app.workflow.models import OPEN_STATUSES, TASK_DONE, Instance, Task

log = logging.getLogger(__name__)

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def diagram(instance: Instance) -> dict:
    version = instance.process_version
    done, current, failed = _states(instance, version)
    xml = with_layout(version.bpmn_xml, instance.process_key)
    nodes, flows = _graph(xml, instance.process_key)
    done -= current
    pending = sorted(set(nodes) - done - current - failed)
    flows_done = sorted(fid for fid, (source, target) in flows.items()
                        if source in done and (target in done or target in current))
    return {"xml": xml, "process": instance.process_key, "status": instance.status,
            "done": sorted(done & set(nodes)), "current": sorted(current & set(nodes)),
            "failed": sorted(failed & set(nodes)), "pending": pending, "flows_done": flows_done}


def _states(instance: Instance, version) -> tuple[set[str], set[str], set[str]]:
    done: set[str] = set()
    current: set[str] = set()
    failed: set[str] = set()
    try:
        workflow = store.load(instance.state, registry.load_process(version))
    except Exception:  # noqa: BLE001 -- a state we cannot read: fall back on the task table
        log.warning("instance %s: workflow state unreadable, diagram from the task table", instance.id,
                    exc_info=True)
        from sqlalchemy import select

        from app.extensions import db

        for spec, status in db.session.execute(select(Task.spec, Task.status).where(Task.instance_id == instance.id)):
            if status in OPEN_STATUSES:
                current.add(spec)
            elif status == TASK_DONE:
                done.add(spec)
        return done, current, failed
    workflows = [workflow, *workflow.subprocesses.values()]
    for each in workflows:
        for task in each.get_tasks():
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if not bpmn_id:
                continue
            if task.has_state(TaskState.COMPLETED):
                done.add(bpmn_id)
            elif task.has_state(CURRENT):
                current.add(bpmn_id)
            elif task.has_state(TaskState.ERROR):
                failed.add(bpmn_id)
    if instance.status in ("completed", "rejected", "withdrawn", "cancelled"):
        current.clear()
    return done, current, failed


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _process(root, process_id: str):
    for process in root.iter(_q(BPMN_NS, "process")):
        if process.get("id") == process_id:
            return process
    return None


def _graph(xml: str, process_id: str) -> tuple[list[str], dict[str, tuple[str, str]]]:
    root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    process = _process(root, process_id)
    if process is None:
        return [], {}
    flows = {el.get("id"): (el.get("sourceRef"), el.get("targetRef"))
             for el in process.iter(_q(BPMN_NS, "sequenceFlow"))}
    nodes = [el.get("id") for el in process.iter() if isinstance(el.tag, str) and el.get("id")
             and etree.QName(el).namespace == BPMN_NS and etree.QName(el).localname not in
             ("sequenceFlow", "lane", "laneSet", "process", "documentation", "multiInstanceLoopCharacteristics")]
    return nodes, flows


# --- layout for processes without DI -----------------------------------------------------------

SIZES = {"event": (36, 36), "gateway": (50, 50), "activity": (100, 80)}
COLUMN, ROW = 160, 130


def _shape_kind(tag: str) -> str | None:
    if tag.endswith("Event"):
        return "event"
    if tag.endswith("Gateway"):
        return "gateway"
    if tag.endswith("Task") or tag in ("task", "subProcess", "callActivity", "transaction", "adHocSubProcess"):
        return "activity"
    return None


def with_layout(xml: str, process_id: str) -> str:
    """The XML as is when it has diagram information for the process, else with a generated one."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False,
                                                                             no_network=True))
    except etree.XMLSyntaxError:
        return xml
    process = _process(root, process_id)
    if process is None or root.find(f".//{_q(BPMNDI_NS, 'BPMNPlane')}") is not None:
        return xml
    kinds = {}
    for el in process:
        if isinstance(el.tag, str) and etree.QName(el).namespace == BPMN_NS:
            kind = _shape_kind(etree.QName(el).localname)
            if kind:
                kinds[el.get("id")] = (kind, el)
    flows = [(el.get("id"), el.get("sourceRef"), el.get("targetRef")) for el in process
             if isinstance(el.tag, str) and etree.QName(el).localname == "sequenceFlow"]
    boundary = {node_id for node_id, (_kind, el) in kinds.items() if etree.QName(el).localname == "boundaryEvent"}
    columns = _columns([n for n in kinds if n not in boundary], flows, kinds)
    positions: dict[str, tuple[float, float, float, float]] = {}
    rows: dict[int, int] = {}
    for node_id in sorted(columns, key=lambda n: (columns[n], list(kinds).index(n))):
        column = columns[node_id]
        row = rows.get(column, 0)
        rows[column] = row + 1
        width, height = SIZES[kinds[node_id][0]]
        cx, cy = 100 + column * COLUMN + 50, 100 + row * ROW + 40
        positions[node_id] = (cx - width / 2, cy - height / 2, width, height)
    for node_id in boundary:
        host = positions.get(kinds[node_id][1].get("attachedToRef"))
        if host:
            positions[node_id] = (host[0] + host[2] - 30, host[1] + host[3] - 18, 36, 36)
    nsmap = {"bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS}
    diagram_el = etree.SubElement(root, _q(BPMNDI_NS, "BPMNDiagram"), nsmap=nsmap, id=f"{process_id}_auto_diagram")
    plane = etree.SubElement(diagram_el, _q(BPMNDI_NS, "BPMNPlane"), id=f"{process_id}_auto_plane",
                             bpmnElement=process_id)
    for node_id, (x, y, width, height) in positions.items():
        shape = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNShape"), id=f"{node_id}_auto_di", bpmnElement=node_id)
        if kinds[node_id][0] == "activity" and etree.QName(kinds[node_id][1]).localname == "subProcess":
            shape.set("isExpanded", "false")
        etree.SubElement(shape, _q(DC_NS, "Bounds"), x=f"{x:g}", y=f"{y:g}", width=f"{width:g}", height=f"{height:g}")
    for flow_id, source, target in flows:
        if source not in positions or target not in positions:
            continue
        edge = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNEdge"), id=f"{flow_id}_auto_di", bpmnElement=flow_id)
        for x, y in _waypoints(positions[source], positions[target]):
            etree.SubElement(edge, _q(DI_NS, "waypoint"), x=f"{x:g}", y=f"{y:g}")
    return etree.tostring(root, encoding="unicode")


def _columns(node_ids: list[str], flows, kinds) -> dict[str, int]:
    """Column = longest distance from a start (back edges of loops ignored)."""
    outgoing: dict[str, list[str]] = {n: [] for n in node_ids}
    incoming: dict[str, int] = {n: 0 for n in node_ids}
    for _fid, source, target in flows:
        if source in outgoing and target in incoming:
            outgoing[source].append(target)
    # drop back edges found by a depth-first search from the starts
    starts = [n for n in node_ids if etree.QName(kinds[n][1]).localname == "startEvent"] or node_ids[:1]
    back, state = set(), {}

    def visit(node: str) -> None:
        stack = [(node, iter(outgoing[node]))]
        state[node] = 1
        while stack:
            current, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[current] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((current, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(outgoing[child])))

    for start in starts:
        if start not in state:
            visit(start)
    for node in node_ids:
        if node not in state:
            visit(node)
    for source, targets in outgoing.items():
        outgoing[source] = [t for t in targets if (source, t) not in back]
        for target in outgoing[source]:
            incoming[target] += 1
    column = {n: 0 for n in node_ids}
    queue = deque(n for n in node_ids if incoming[n] == 0)
    while queue:
        node = queue.popleft()
        for target in outgoing[node]:
            column[target] = max(column[target], column[node] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                queue.append(target)
    return column


def _waypoints(a, b) -> list[tuple[float, float]]:
    ax, ay = a[0] + a[2], a[1] + a[3] / 2
    bx, by = b[0], b[1] + b[3] / 2
    if bx <= ax:  # going back: over the top
        top = min(a[1], b[1]) - 30
        return [(a[0] + a[2] / 2, a[1]), (a[0] + a[2] / 2, top), (b[0] + b[2] / 2, top), (b[0] + b[2] / 2, b[1])]
    if abs(ay - by) < 1:
        return [(ax, ay), (bx, by)]
    mid = (ax + bx) / 2
    return [(ax, ay), (mid, ay), (mid, by), (bx, by)]
