"""Workflow state in and out of the database, and the cache of hot (deserialized) instances.

The state column holds SpiffWorkflow's serialization *without* the spec: the spec comes from the
process version (parsed once per content), so a state row stays small and every instance of a
version shares one spec.

Hot cache: deserializing is the expensive part of an action, so after a commit the kernel keeps the
workflow object it just saved, keyed by instance, with the row's `version` and `updated_at`. A
later action uses it only when the row still has exactly that version and timestamp — anything
else (another process acted, the transaction was rolled back, a test database was rolled back)
means a reload. An action takes the object out of the cache while it works on it, and it goes
back only after the commit, so a failed or rolled-back action can never leave a half-changed
object behind.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .scripting import ExpressionError, SandboxScriptEngine, timer_expression_value


class KernelScriptEngine(SandboxScriptEngine):
    """The sandbox engine; timer expressions may also give dates or durations (not only ISO text)."""

    def evaluate(self, task, expression, external_context=None):
        definition = getattr(task.task_spec, "event_definition", None)
        definitions = definition.event_definitions if isinstance(definition, MultipleEventDefinition) \
            else [definition]
        if any(isinstance(d, TimerEventDefinition) and d.expression == expression for d in definitions):
            try:
                return timer_expression_value(expression, task.data)
            except ExpressionError as err:
                raise WorkflowTaskException(f"timer '{expression}': {err}", task=task, exception=err) from err
        return super().evaluate(task, expression, external_context)


SCRIPT_ENGINE = KernelScriptEngine()


class _StateConverter(BpmnWorkflowConverter):
    """Serializes a top-level workflow without its spec; restores it onto a given spec."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry = BpmnWorkflowSerializer.configure()
_StateConverter(BpmnWorkflow, _registry)
_serializer = BpmnWorkflowSerializer(_registry)


def new_workflow(parsed) -> BpmnWorkflow:
    workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=SCRIPT_ENGINE)
    return workflow


def dump(workflow: BpmnWorkflow) -> str:
    return _serializer.serialize_json(workflow)


def load(state: str, parsed) -> BpmnWorkflow:
    dct = json.loads(state)
    _serializer.migrate(dct)
    workflow = _registry.restore(dct, spec=parsed.spec, subprocess_specs=parsed.subprocess_specs)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow


class HotCache:
    def __init__(self, size: int = 2048):
        self.size = size
        self._items: OrderedDict[tuple, tuple[int, datetime, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: tuple, version: int, updated_at: datetime) -> BpmnWorkflow | None:
        """The cached workflow if it is exactly this version of the row (removed from the cache)."""
        with self._lock:
            item = self._items.pop(key, None)
        if item is None or item[0] != version or item[1] != updated_at:
            return None
        return item[2]

    def put(self, key: tuple, version: int, updated_at: datetime, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._items[key] = (version, updated_at, workflow)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, key: tuple) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


hot = HotCache()
