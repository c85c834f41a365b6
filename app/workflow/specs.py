"""Task spec classes our parser builds in place of SpiffWorkflow's defaults.

- `OperationTask` (service task) calls a registered domain operation.
- `DecisionTask` (business-rule task) evaluates a decision with our DMN evaluator, not Spiff's.
- `MtBoundaryEvent` reports timeouts (remind / auto-approve / escalate) to the runtime.
- The multi-instance classes give completion conditions the countersign counters and work around
  SpiffWorkflow refusing the second child of a multi-instance task that has an input item.

The specs stay stateless: what they need at run time comes from the `EngineHooks` object the
runtime sets on the workflow (`workflow.mt_hooks`), so one parsed spec serves every instance.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    NoneTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
    ServiceTask,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin
from SpiffWorkflow.util.task import TaskState

APPROVE, REJECT = "approve", "reject"
OUTCOME_KEY = "mt_outcome"  # internal data of a completed user task: the outcome chosen


class EngineHooks(Protocol):
    def run_operation(self, my_task) -> None: ...

    def run_decision(self, my_task) -> None: ...

    def boundary_fired(self, my_task) -> None: ...


def _hooks(my_task) -> EngineHooks:
    hooks = getattr(my_task.workflow.top_workflow, "mt_hooks", None)
    if hooks is None:
        raise WorkflowTaskException("this task needs the MedTech runtime (no hooks set)", task=my_task)
    return hooks


class AutoTask(NoneTask):
    """bpmn:task without a type: a placeholder the engine passes through (Spiff waits for a human)."""

    def __init__(self, wf_spec, bpmn_id, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class OperationTask(ServiceTask):
    """bpmn:serviceTask naming a registered operation (mt:operation)."""

    def _run_hook(self, my_task):
        _hooks(my_task).run_operation(my_task)
        return True


class DecisionTask(BpmnSpecMixin):
    """bpmn:businessRuleTask naming a decision (mt:decision or camunda:decisionRef)."""

    def _run_hook(self, my_task):
        _hooks(my_task).run_decision(my_task)
        return True


class MtBoundaryEvent(BoundaryEvent):
    """Tells the runtime when it fires: a one-off event runs; a cycle timer (R3/PT1H) instead
    grows a new path below the still-waiting event each time it fires."""

    def _run_hook(self, my_task):
        if not isinstance(self.event_definition, CycleTimerEventDefinition):
            _fired(my_task)
        return super()._run_hook(my_task)

    def _update_hook(self, my_task):
        before = len(my_task._children)
        result = super()._update_hook(my_task)
        if isinstance(self.event_definition, CycleTimerEventDefinition) and len(my_task._children) > before:
            _fired(my_task)
        return result


def _fired(my_task) -> None:
    hooks = getattr(my_task.workflow.top_workflow, "mt_hooks", None)
    if hooks is not None:
        hooks.boundary_fired(my_task)


# --- countersign ----------------------------------------------------------------------------

_COUNT = re.compile(r"^\d+$")
_RATIO = re.compile(r"^(\d+(?:\.\d+)?)%$|^0?\.\d+$")


@dataclass(frozen=True)
class Policy:
    """How a multi-instance approval (会签/或签/依次审批) decides.

    kind: all (everyone must approve), any (one approval is enough), veto (the first rejection ends
    it), sequential (in order; a rejection ends it), count (n approvals), ratio (a share, e.g. 60%).
    """

    kind: str
    value: float = 0.0

    @classmethod
    def parse(cls, text: str | None) -> Policy | None:
        """None for no text; raises ValueError for text that is not a policy."""
        if text is None:
            return None
        text = text.strip().lower()
        if text in ("all", "any", "veto", "sequential"):
            return cls(text)
        if _COUNT.match(text):
            if int(text) < 1:
                raise ValueError("a countersign count must be at least 1")
            return cls("count", int(text))
        match = _RATIO.match(text)
        if match:
            share = float(match.group(1)) / 100 if match.group(1) else float(text)
            if not 0 < share <= 1:
                raise ValueError("a countersign share must be above 0% and at most 100%")
            return cls("ratio", share)
        raise ValueError(f"unknown countersign policy {text!r}: use all, any, veto, sequential, "
                         "a number of approvals (2) or a share (60%)")

    def required(self, total: int) -> int:
        if self.kind == "any":
            return min(1, total)
        if self.kind == "count":
            return min(int(self.value), total)
        if self.kind == "ratio":
            return min(total, math.ceil(self.value * total - 1e-9))
        return total

    @property
    def condition(self) -> str | None:
        """The completion condition, in the counters the kernel provides; None: wait for all."""
        if self.kind == "all":
            return None
        if self.kind == "any":
            return "approved >= 1"
        if self.kind in ("veto", "sequential"):
            return "rejected >= 1"
        return "approved >= required or rejected > total - required"

    def outcome(self, approved: int, total: int) -> str:
        return APPROVE if approved >= self.required(total) else REJECT


def counters(mi_spec, my_task, policy: Policy | None) -> dict[str, Any]:
    """Counters of a multi-instance task (its children's outcomes so far)."""
    instances = [child for child in my_task.children if child.task_spec.name == mi_spec.task_spec]
    done = [child for child in instances if child.has_state(TaskState.COMPLETED)]
    outcomes = [child.internal_data.get(OUTCOME_KEY) for child in done]
    if isinstance(mi_spec, SequentialMultiInstanceTask):
        cardinality = my_task.internal_data.get("cardinality")
        total = cardinality if cardinality is not None else \
            len(instances) + len(my_task.internal_data.get("remaining", []))
    else:
        total = len(instances)
    approved, rejected = outcomes.count(APPROVE), outcomes.count(REJECT)
    values = {
        "approved": approved, "rejected": rejected, "completed": len(done), "total": total,
        "required": (policy or Policy("all")).required(total),
        # The names Camunda models use in completion conditions.
        "nrOfInstances": total, "nrOfCompletedInstances": len(done),
        "nrOfActiveInstances": len([c for c in instances if not c.has_state(TaskState.FINISHED_MASK)]),
    }
    return values


class _Countersign:
    """Mixed into both multi-instance classes (before SpiffWorkflow's in the MRO)."""

    policy: Policy | None = None
    result_variable: str | None = None

    def merge_child(self, workflow, child):
        my_task = child.parent
        values = counters(self, my_task, self.policy)
        # SpiffWorkflow evaluates the completion condition in the last child's data, and that
        # child's data is what flows on after the task: so the counters (and the provisional
        # outcome, final once the task completes) go there.
        child.data.update(values)
        outcome = (self.policy or Policy("all")).outcome(values["approved"], values["total"])
        if self.result_variable:
            child.data[self.result_variable] = outcome
        saved = {key: my_task.data[key] for key in values if key in my_task.data}
        super().merge_child(workflow, child)
        # The counters only mean something inside the task: restore what the process had.
        for key in values:
            my_task.data.pop(key, None)
        my_task.data.update(saved)
        if self.result_variable:
            my_task.data[self.result_variable] = outcome

    def create_child(self, my_task, item, key_or_index=None):
        # Merging a finished child copies its input item into the parent, after which Spiff
        # refuses to create the next child ("input item already exists"); the item only means
        # something inside a child.
        if self.input_item is not None:
            my_task.data.pop(self.input_item.bpmn_id, None)
        super().create_child(my_task, item, key_or_index)


class CountersignParallel(_Countersign, ParallelMultiInstanceTask):
    pass


class CountersignSequential(_Countersign, SequentialMultiInstanceTask):
    pass
