"""The BPMN diagram of a record for the bpmn-js viewer: the XML plus which steps are done, current
and pending. States come from the instance's workflow (one deserialization); a process drawn
without diagram information (BPMN DI) gets the studio's generated layout so it still shows."""
from __future__ import annotations

import logging

from lxml import etree
from SpiffWorkflow.util.task import TaskState

from app.workflow import registry, store
from app.workflow.extensions import BPMN_NS
from app.workflow.layout import with_diagram
from app.workflow.models import OPEN_STATUSES, TASK_DONE, Instance, Task

log = logging.getLogger(__name__)

CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def diagram(instance: Instance) -> dict:
    version = instance.process_version
    done, current, failed = _states(instance, version)
    xml = with_layout(version.bpmn_xml)
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


def with_layout(xml: str) -> str:
    """The XML as is when it has diagram information, else with a generated layout (lanes included)."""
    return with_diagram(xml)
