"""Message events: instances wait for a message by name and correlation key.

The key of a waiting catch event is `mt:correlationKey` evaluated in its data, or else the
instance's business key. Waiting subscriptions are kept in `wf_message_subscription` so that
`send_message` finds its instances with one indexed query, without loading any workflow.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, select
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent

from app.extensions import db

from . import engine
from .errors import Conflict
from .models import PUBLISHED, RUNNING, Instance, MessageSubscription, ProcessDefinition, ProcessVersion
from .scripting import ExpressionError, evaluate

log = logging.getLogger(__name__)


def _definitions(task) -> list[MessageEventDefinition]:
    definition = getattr(task.task_spec, "event_definition", None)
    found = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return [item for item in found if isinstance(item, MessageEventDefinition)]


def waiting(run) -> set[tuple[str, str | None]]:
    """(message name, correlation key) pairs the workflow waits for."""
    pairs = set()
    for task in list(run.workflow.event_manager.tasks.values()):
        for definition in _definitions(task):
            node = run.parsed.node(getattr(task.task_spec, "bpmn_id", None))
            key = run.instance.business_key
            if node is not None and node.correlation_key:
                try:
                    value = evaluate(node.correlation_key, task.data)
                except ExpressionError as exc:
                    log.warning("instance %s: correlation key of %s: %s", run.instance.id, node.id, exc)
                    value = None
                key = None if value is None else str(value)
            pairs.add((definition.name, key))
    return pairs


def sync(run) -> None:
    now = waiting(run)
    if now == run.messages_before:
        return
    db.session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == run.instance.id))
    for name, key in sorted(now, key=lambda pair: (pair[0], pair[1] or "")):
        db.session.add(MessageSubscription(instance_id=run.instance.id, message=name, correlation_key=key))
    run.messages_before = now


def catch(run, name: str, data: dict | None) -> bool:
    """Give the workflow the message `name` (its data join the data of the event that catches it)."""
    return bool(run.workflow.event_manager.catch(
        BpmnEvent(MessageEventDefinition(name), payload=dict(data or {})), internal=False))


def start_names(parsed) -> frozenset[str]:
    """Messages the process starts on (its message start events), read once per parsed spec."""
    names = getattr(parsed, "mt_message_starts", None)
    if names is None:
        found = set()
        for spec in parsed.spec.task_specs.values():
            if isinstance(spec, StartEvent):
                found.update(definition.name for definition in _definitions_of(spec))
        names = parsed.mt_message_starts = frozenset(found)
    return names


def _definitions_of(spec) -> list[MessageEventDefinition]:
    definition = getattr(spec, "event_definition", None)
    found = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return [item for item in found if isinstance(item, MessageEventDefinition)]


_PUBLISHED = (select(ProcessDefinition.key, ProcessVersion.checksum).select_from(ProcessVersion)
              .join(ProcessDefinition, ProcessDefinition.id == ProcessVersion.definition_id)
              .where(ProcessVersion.status == PUBLISHED).order_by(ProcessDefinition.key))


def started_by(name: str) -> list[str]:
    """Keys of the published processes with a message start event for `name`."""
    from . import registry

    keys = []
    for key, checksum in db.session.execute(_PUBLISHED).all():
        parsed = registry.cached_process(checksum, key)
        if parsed is None:
            try:
                parsed = registry.load_process(registry.published_process(key), key)
            except Exception:  # noqa: BLE001 -- a process that does not load starts on nothing
                log.warning("process %s could not be loaded to look for message start events", key, exc_info=True)
                continue
        if name in start_names(parsed):
            keys.append(key)
    return keys


def send(name: str, key: Any, data: dict | None = None) -> int:
    """Deliver a message to every instance waiting for it under `key`; how many caught it."""
    key = None if key is None else str(key)
    ids = db.session.scalars(
        select(MessageSubscription.instance_id).join(Instance, Instance.id == MessageSubscription.instance_id)
        .where(MessageSubscription.message == name, MessageSubscription.correlation_key == key,
               Instance.status == RUNNING, Instance.suspended.is_(False))
        .distinct().order_by(MessageSubscription.instance_id))
    delivered = 0
    for instance_id in list(ids):
        def deliver(run):
            caught = catch(run, name, data)
            if caught:
                run.event("message", message=name, key=key)
                run.step()
            return caught

        try:
            delivered += 1 if engine.act(instance_id, None, deliver, background=True) else 0
        except Conflict:
            log.warning("message %s for instance %s: instance busy, not delivered", name, instance_id)
    return delivered
