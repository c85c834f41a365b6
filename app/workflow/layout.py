"""Diagram information (BPMN DI) for models written without it, so that bpmn-js can show them.

Shipped processes are written by hand and carry no DI. The studio lays them out before the modeler
opens them, and the portal before its viewer shows a record's diagram: columns by the longest path
from a start event, one horizontal band per lane (a pool with lanes, as Camunda Modeler draws them),
steps sharing a column and a lane stacked. The semantics are untouched; saving a draft keeps the
layout, and the administrator may move things.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from lxml import etree

from app.workflow.extensions import BPMN_NS, local

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"

SIZES = {"event": (36, 36), "gateway": (50, 50), "activity": (100, 80)}
COLUMN, ROW = 150, 120
POOL_X, POOL_HEADER, LANE_MIN = 60, 30, 140
LEFT = 40  # space between a lane's left edge and its first column


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _kind(tag: str) -> str | None:
    if tag.endswith("Event"):
        return "event"
    if tag.endswith("Gateway"):
        return "gateway"
    if tag.endswith("Task") or tag in ("task", "subProcess", "callActivity", "transaction", "adHocSubProcess"):
        return "activity"
    return None


@dataclass
class _Lane:
    el: object
    children: list[_Lane] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    y: float = 0
    height: float = 0
    depth: int = 0


def has_diagram(root) -> bool:
    return root.find(f".//{_q(BPMNDI_NS, 'BPMNPlane')}") is not None


def with_diagram(xml: str) -> str:
    """`xml` as is when it has diagram information, else with a generated layout."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return xml
    if etree.QName(root).namespace != BPMN_NS or has_diagram(root):
        return xml
    processes = [p for p in root.findall(_q(BPMN_NS, "process")) if p.get("id")]
    if not processes:
        return xml
    layouts = [_layout_process(process) for process in processes]
    pooled = len(processes) > 1 or any(layout.lanes for layout in layouts)
    collaboration = root.find(_q(BPMN_NS, "collaboration"))
    if pooled and collaboration is None:
        collaboration = etree.Element(_q(BPMN_NS, "collaboration"), id=f"{processes[0].get('id')}_collaboration")
        root.insert(list(root).index(processes[0]), collaboration)
    nsmap = {"bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS}
    diagram = etree.SubElement(root, _q(BPMNDI_NS, "BPMNDiagram"), nsmap=nsmap,
                               id=f"{processes[0].get('id')}_diagram")
    plane = etree.SubElement(diagram, _q(BPMNDI_NS, "BPMNPlane"), id=f"{processes[0].get('id')}_plane",
                             bpmnElement=collaboration.get("id") if pooled else processes[0].get("id"))
    top = 40.0
    for process, layout in zip(processes, layouts):
        offset_x = POOL_X + POOL_HEADER if pooled else 0
        if pooled:
            participant = _participant(collaboration, process)
            width = layout.width + POOL_HEADER
            _shape(plane, participant.get("id"), POOL_X, top, width, layout.height, horizontal=True)
            for lane in layout.all_lanes():
                _shape(plane, lane.el.get("id"), POOL_X + POOL_HEADER + lane.depth * POOL_HEADER, top + lane.y,
                       width - POOL_HEADER - lane.depth * POOL_HEADER, lane.height, horizontal=True)
        layout.draw(plane, offset_x, top)
        top += layout.height + 40
    return etree.tostring(root, encoding="unicode")


def _participant(collaboration, process):
    for participant in collaboration.findall(_q(BPMN_NS, "participant")):
        if participant.get("processRef") == process.get("id"):
            return participant
    return etree.SubElement(collaboration, _q(BPMN_NS, "participant"), id=f"{process.get('id')}_participant",
                            name=process.get("name") or process.get("id"), processRef=process.get("id"))


def _shape(plane, element_id: str, x: float, y: float, width: float, height: float, *,
           horizontal: bool = False, expanded: bool | None = None):
    shape = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNShape"), id=f"{element_id}_di", bpmnElement=element_id)
    if horizontal:
        shape.set("isHorizontal", "true")
    if expanded is not None:
        shape.set("isExpanded", "true" if expanded else "false")
    etree.SubElement(shape, _q(DC_NS, "Bounds"), x=f"{x:g}", y=f"{y:g}", width=f"{width:g}", height=f"{height:g}")
    return shape


class _Layout:
    def __init__(self, process):
        self.process = process
        self.kinds: dict[str, tuple[str, object]] = {}
        for el in process:
            if isinstance(el.tag, str) and etree.QName(el).namespace == BPMN_NS:
                kind = _kind(local(el))
                if kind and el.get("id"):
                    self.kinds[el.get("id")] = (kind, el)
        self.flows = [(el.get("id"), el.get("sourceRef"), el.get("targetRef")) for el in process
                      if isinstance(el.tag, str) and local(el) == "sequenceFlow" and el.get("id")]
        self.boundary = {n for n, (_k, el) in self.kinds.items() if local(el) == "boundaryEvent"}
        self.lanes = [_lane_tree(lane) for laneset in process.findall(_q(BPMN_NS, "laneSet"))
                      for lane in laneset.findall(_q(BPMN_NS, "lane"))]
        self.positions: dict[str, tuple[float, float, float, float]] = {}
        self.width = 0.0
        self.height = 0.0

    def all_lanes(self):
        stack = [(lane, 0) for lane in reversed(self.lanes)]
        while stack:
            lane, depth = stack.pop()
            lane.depth = depth
            yield lane
            stack.extend((child, depth + 1) for child in reversed(lane.children))

    def draw(self, plane, offset_x: float, top: float) -> None:
        for node_id, (x, y, width, height) in self.positions.items():
            kind, el = self.kinds[node_id]
            expanded = False if local(el) in ("subProcess", "transaction", "adHocSubProcess") else None
            _shape(plane, node_id, x + offset_x, y + top, width, height, expanded=expanded)
        for flow_id, source, target in self.flows:
            if source in self.positions and target in self.positions:
                edge = etree.SubElement(plane, _q(BPMNDI_NS, "BPMNEdge"), id=f"{flow_id}_di", bpmnElement=flow_id)
                a, b = self.positions[source], self.positions[target]
                for x, y in _waypoints((a[0] + offset_x, a[1] + top, a[2], a[3]),
                                       (b[0] + offset_x, b[1] + top, b[2], b[3]), source in self.boundary):
                    etree.SubElement(edge, _q(DI_NS, "waypoint"), x=f"{x:g}", y=f"{y:g}")


def _lane_tree(el) -> _Lane:
    lane = _Lane(el, nodes=[ref.text.strip() for ref in el.findall(_q(BPMN_NS, "flowNodeRef")) if ref.text])
    child_set = el.find(_q(BPMN_NS, "childLaneSet"))
    if child_set is not None:
        lane.children = [_lane_tree(child) for child in child_set.findall(_q(BPMN_NS, "lane"))]
    return lane


def _layout_process(process) -> _Layout:
    layout = _Layout(process)
    main = [n for n in layout.kinds if n not in layout.boundary]
    columns = _columns(main, layout.flows, layout.kinds)
    leaves = [lane for lane in layout.all_lanes() if not lane.children]
    band_of: dict[str, int] = {}
    for index, lane in enumerate(leaves):
        for node_id in lane.nodes:
            band_of.setdefault(node_id, index)
    # Events and gateways outside every lane are drawn in the lane they follow from (an activity
    # outside every lane stays visibly outside: it has no lane role).
    predecessors: dict[str, list[str]] = {}
    for _fid, source, target in layout.flows:
        host = layout.kinds[source][1].get("attachedToRef") if source in layout.boundary else source
        predecessors.setdefault(target, []).append(host)
    for node_id in sorted(main, key=lambda n: columns[n]):
        if node_id not in band_of and layout.kinds[node_id][0] != "activity":
            band = next((band_of[p] for p in predecessors.get(node_id, []) if p in band_of), None)
            if band is not None:
                band_of[node_id] = band
    bands = len(leaves) + (1 if any(n not in band_of for n in main) or not leaves else 0)
    stacked: dict[tuple[int, int], int] = {}
    rows_in_band = [1] * bands
    slot: dict[str, tuple[int, int]] = {}
    order = {n: i for i, n in enumerate(layout.kinds)}
    for node_id in sorted(main, key=lambda n: (columns[n], order[n])):
        band = band_of.get(node_id, len(leaves))
        row = stacked.get((band, columns[node_id]), 0)
        stacked[(band, columns[node_id])] = row + 1
        rows_in_band[band] = max(rows_in_band[band], row + 1)
        slot[node_id] = (band, row)
    band_top, y = [], 0.0
    for band in range(bands):
        band_top.append(y)
        y += max(LANE_MIN, rows_in_band[band] * ROW + 20)
    layout.height = y
    for node_id, (band, row) in slot.items():
        width, height = SIZES[layout.kinds[node_id][0]]
        cx = LEFT + 50 + columns[node_id] * COLUMN
        cy = band_top[band] + 20 + row * ROW + ROW / 2 - 10
        layout.positions[node_id] = (cx - width / 2, cy - height / 2, width, height)
    hosts: dict[str, int] = {}
    for node_id in sorted(layout.boundary, key=order.get):
        host = layout.positions.get(layout.kinds[node_id][1].get("attachedToRef"))
        if host is None:
            continue
        n = hosts[layout.kinds[node_id][1].get("attachedToRef")] = \
            hosts.get(layout.kinds[node_id][1].get("attachedToRef"), -1) + 1
        layout.positions[node_id] = (host[0] + host[2] - 28 - n * 40, host[1] + host[3] - 18, 36, 36)
    layout.width = LEFT + (max(columns.values(), default=0) + 1) * COLUMN + 20
    # lane bands: a leaf lane is its band; a parent lane spans its children
    for index, lane in enumerate(leaves):
        lane.y = band_top[index]
        lane.height = (band_top[index + 1] if index + 1 < len(band_top) else layout.height) - lane.y
    for lane in reversed(list(layout.all_lanes())):
        if lane.children:
            lane.y = min(child.y for child in lane.children)
            lane.height = max(child.y + child.height for child in lane.children) - lane.y
    return layout


def _columns(node_ids: list[str], flows, kinds) -> dict[str, int]:
    """Column = longest distance from a start (back edges of loops ignored)."""
    outgoing: dict[str, list[str]] = {n: [] for n in node_ids}
    for _fid, source, target in flows:
        if source in outgoing and target in outgoing:
            outgoing[source].append(target)
    starts = [n for n in node_ids if local(kinds[n][1]) == "startEvent"]
    back, state = set(), {}
    for root in starts + node_ids:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(outgoing[root]))]
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
    incoming = {n: 0 for n in node_ids}
    for source in outgoing:
        outgoing[source] = [t for t in outgoing[source] if (source, t) not in back]
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


def _waypoints(a, b, from_boundary: bool) -> list[tuple[float, float]]:
    if from_boundary:  # leave a boundary event downwards, then go right
        sx, sy = a[0] + a[2] / 2, a[1] + a[3]
        tx, ty = b[0], b[1] + b[3] / 2
        if ty > sy:
            return [(sx, sy), (sx, ty), (tx, ty)]
        return [(sx, sy), (sx, sy + 20), (tx - 20, sy + 20), (tx - 20, ty), (tx, ty)]
    ax, ay = a[0] + a[2], a[1] + a[3] / 2
    bx, by = b[0], b[1] + b[3] / 2
    if bx <= ax:  # going back: over the top
        top = min(a[1], b[1]) - 25
        return [(a[0] + a[2] / 2, a[1]), (a[0] + a[2] / 2, top), (b[0] + b[2] / 2, top), (b[0] + b[2] / 2, b[1])]
    if abs(ay - by) < 1:
        return [(ax, ay), (bx, by)]
    mid = (ax + bx) / 2
    return [(ax, ay), (mid, ay), (mid, by), (bx, by)]
