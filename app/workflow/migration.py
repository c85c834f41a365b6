"""Moving running instances to a newer version of their process.

SpiffWorkflow aligns the old and new specs (`diff.spec_diff`, its `SpecDiff`) and the instance's
tasks with them (`WorkflowDiff`); `migrate_workflow` then points every task at its new spec and
re-predicts what lies ahead of the waiting tasks. We refuse — with the reasons, changing nothing —
when the instance could not go on correctly:

- it has ended, is the wrong process, or the target is not a newer published/retired version;
- a step it is at (waiting user task, timer, running countersign or subprocess) was removed, changed
  its type, or changed what decides who does it (role, assignee, countersign rules, called process);
- a step it has already passed was removed (its history could not be restored on the new version);
- the migrated state does not restore on the new version, or the open tasks would change.

A migration is one unit of work on the instance (engine.act): the version reference, the serialized
state, the open task rows (name, form) and the version counter change together, with a
`migrate` event and an audit entry.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from app.extensions import db

from . import engine, registry, store
from .diff import SPEC_REGISTRY
from .errors import Conflict, NotFound, PermissionDenied
from .models import ACTIVE_STATUSES, DRAFT, Instance, ProcessVersion
from .parsing import ParsedProcess
from .permissions import is_admin

log = logging.getLogger(__name__)

AT_MASK = TaskState.READY | TaskState.WAITING | TaskState.STARTED
RESET_MASK = TaskState.READY | TaskState.WAITING
_PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE
# Spec attributes that decide how a running multi-instance task, a waiting event or a running
# subprocess goes on: such a task cannot move when one of them changed.
_BLOCKING_WHILE_RUNNING = {
    "typename", "cardinality", "data_input", "data_output", "input_item", "output_item", "condition",
    "policy", "result_variable", "event_definition", "cancel_activity", "spec", "task_spec",
}


class MigrationRefused(Conflict):
    """The instance cannot move to that version; `reasons` says why (nothing was changed)."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


@dataclass
class Check:
    instance_id: int
    target_version: int | None
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


def _require_admin(actor: Any) -> None:
    if not is_admin(actor):
        raise PermissionDenied(_("Only administrators may migrate process instances."))


def _version(version: ProcessVersion | int) -> ProcessVersion:
    row = version if isinstance(version, ProcessVersion) else db.session.get(ProcessVersion, version)
    if row is None:
        raise NotFound(_("No such version."))
    return row


def newer_versions(instance: Instance) -> list[ProcessVersion]:
    """Versions an instance may move to: later published or retired versions of its process."""
    current = instance.process_version
    return list(db.session.scalars(select(ProcessVersion).where(
        ProcessVersion.definition_id == current.definition_id, ProcessVersion.version > current.version,
        ProcessVersion.status != DRAFT).order_by(ProcessVersion.version.desc())))


def _basic_reasons(instance: Instance, target: ProcessVersion) -> list[str]:
    current = instance.process_version
    reasons = []
    if instance.status not in ACTIVE_STATUSES:
        reasons.append(_("The instance has ended (%(status)s); only running instances can move.",
                         status=instance.status))
    if target.definition_id != current.definition_id:
        reasons.append(_("Version %(version)s belongs to another process.", version=target.version))
    elif target.version <= current.version:
        reasons.append(_("The instance is already on version %(current)s; choose a newer version.",
                         current=current.version))
    if target.status == DRAFT:
        reasons.append(_("Version %(version)s is a draft; publish it first.", version=target.version))
    return reasons


def _label(task) -> str:
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None)
    bpmn_id = getattr(spec, "bpmn_id", None) or spec.name
    return f"{name} ({bpmn_id})" if name else bpmn_id


def _is_at(task) -> bool:
    return task.has_state(AT_MASK)


def _open_ids(workflow) -> set[str]:
    return {str(task.id) for task in workflow.get_tasks(state=TaskState.READY, manual=True)}


def migrate_state(workflow, old: ParsedProcess, new: ParsedProcess) -> list[str]:
    """Move a (deserialized) workflow onto the new version's specs, in place; the reasons why not.

    When reasons come back the workflow may be half-changed: throw it away.
    """
    try:
        top, subs = diff_workflow(SPEC_REGISTRY, workflow, new.spec, new.subprocess_specs or {})
    except Exception as exc:  # noqa: BLE001 -- SpiffWorkflow could not align the versions
        log.info("diff of instance state failed", exc_info=True)
        return [_("SpiffWorkflow cannot align this instance with the new version: %(error)s",
                  error=" ".join(str(exc).split()))]
    reasons: list[str] = []
    pairs = [(workflow, top)]
    for sp_id, sub_diff in subs.items():
        sub = workflow.subprocesses[sp_id]
        if sub_diff is None:
            reasons.append(_("The subprocess %(name)s the instance is in no longer exists in the new version.",
                             name=sub.spec.name))
            continue
        pairs.append((sub, sub_diff))
    for _wf, wdiff in pairs:
        reasons += _task_reasons(wdiff, old, new)
    if reasons:
        return list(dict.fromkeys(reasons))
    open_before = _open_ids(workflow)
    for wf, wdiff in pairs:
        spec = new.spec if wf is workflow else new.subprocess_specs[wf.spec.name]
        _migrate_keeping_data(wdiff, wf, spec)
    return _verify(workflow, new, open_before)


def _task_reasons(wdiff, old: ParsedProcess, new: ParsedProcess) -> list[str]:
    reasons = []
    for task in wdiff.removed:
        if task.has_state(TaskState.FINISHED_MASK):
            reasons.append(_("Step %(step)s, which the instance has already passed, was removed: its history "
                             "could not be kept.", step=_label(task)))
        elif _is_at(task):
            reasons.append(_("The instance is at step %(step)s, which was removed in the new version.",
                             step=_label(task)))
    changed = set(id(task) for task in wdiff.changed)
    for task in list(wdiff.alignment):
        if not _is_at(task):
            continue
        new_spec = wdiff.alignment.get(task)
        if new_spec is None:
            continue
        old_id = getattr(task.task_spec, "bpmn_id", None)
        if old_id is not None and getattr(new_spec, "bpmn_id", None) not in (None, old_id):
            reasons.append(_("The instance is at step %(step)s, which the new version replaces with %(other)s.",
                             step=_label(task), other=new_spec.bpmn_name or new_spec.bpmn_id))
            continue
        if id(task) in changed:
            keys = set(SpiffCompare.keys(task.task_spec, new_spec))
            if "typename" in keys:
                reasons.append(_("The instance is at step %(step)s, which changed its type in the new version.",
                                 step=_label(task)))
                continue
            blocking = keys & _BLOCKING_WHILE_RUNNING
            if blocking and not task.has_state(TaskState.READY):
                reasons.append(_("The instance is at step %(step)s, whose %(what)s changed in the new version.",
                                 step=_label(task), what=", ".join(sorted(blocking))))
                continue
        if task.has_state(TaskState.READY) and getattr(task.task_spec, "manual", False):
            reasons += _user_task_reasons(task, new_spec, old, new)
        elif task.has_state(TaskState.STARTED):
            reasons += _running_container_reasons(task, new_spec, old, new)
    return reasons


class SpiffCompare:
    """SpiffWorkflow's attribute comparison of two task specs (the one `SpecDiff` uses)."""

    @staticmethod
    def keys(old_spec, new_spec) -> list[str]:
        s1, s2 = SPEC_REGISTRY.convert(old_spec), SPEC_REGISTRY.convert(new_spec)
        if s1.get("typename") != s2.get("typename"):
            return ["typename"]
        return [key for key, value in s1.items() if s2.get(key) != value]


def _user_task_reasons(task, new_spec, old: ParsedProcess, new: ParsedProcess) -> list[str]:
    """A waiting user task: whoever holds it must still be the right person on the new version."""
    before, after = old.node(task.task_spec.bpmn_id), new.node(new_spec.bpmn_id)
    if before is None or after is None:
        return []
    reasons = []
    if before.effective_roles != after.effective_roles:
        reasons.append(_("The instance is waiting at step %(step)s, whose role changed (%(old)s → %(new)s); "
                         "it would stay with the wrong people.", step=_label(task),
                         old=", ".join(before.effective_roles) or "-", new=", ".join(after.effective_roles) or "-"))
    if (before.assignee, before.candidates) != (after.assignee, after.candidates):
        reasons.append(_("The instance is waiting at step %(step)s, whose assignee rule changed.", step=_label(task)))
    if before.countersign != after.countersign or before.result_variable != after.result_variable:
        reasons.append(_("The instance is waiting at step %(step)s, whose countersign rule changed.",
                         step=_label(task)))
    return reasons


def _running_container_reasons(task, new_spec, old: ParsedProcess, new: ParsedProcess) -> list[str]:
    before = old.node(getattr(task.task_spec, "bpmn_id", None))
    after = new.node(getattr(new_spec, "bpmn_id", None))
    if before is None or after is None:
        return []
    if (before.countersign, before.collection, before.element_variable, before.effective_roles,
            before.assignee) != (after.countersign, after.collection, after.element_variable,
                                 after.effective_roles, after.assignee):
        return [_("The instance is at the countersign %(step)s, whose rules changed in the new version.",
                  step=_label(task))]
    return []


def _migrate_keeping_data(wdiff, wf, spec) -> None:
    """SpiffWorkflow's `migrate_workflow`, keeping what the waiting tasks hold.

    `migrate_workflow` resets the READY and WAITING tasks to re-predict their paths: that would
    copy their data from the parent again (a countersign signer would lose the item it signs) and
    clear their internal data (a waiting timer would start over). Both are put back.
    """
    kept = {task.id: (task.data, task.internal_data)
            for task in wf.get_tasks(state=RESET_MASK, skip_subprocesses=True)}
    migrate_workflow(wdiff, wf, spec)
    for task_id, (data, internal) in kept.items():
        task = wf.tasks.get(task_id)
        if task is not None:
            task.data, task.internal_data = data, internal
    for task in wf.get_tasks(state=TaskState.STARTED, skip_subprocesses=True):
        if isinstance(task.task_spec, LoopTask | SubWorkflowTask):
            _repredict_outputs(task)


def _repredict_outputs(task) -> None:
    """A running countersign or subprocess predicted what follows it on the old version; SpiffWorkflow's
    reset only covers READY and WAITING tasks, so predict its outputs again on the new one."""
    spec = task.task_spec
    outputs = list(spec.outputs)
    inner = getattr(spec, "task_spec", None)  # the multi-instance child spec name
    for child in list(task.children):
        if child.task_spec.name == inner or child.task_spec in outputs:
            continue
        if child.has_state(_PREDICTED):
            task.workflow._remove_task(child.id)
    present = {child.task_spec for child in task.children}
    for output in outputs:
        if output not in present:
            child = task._add_child(output, TaskState.FUTURE)
            output._predict(child, mask=_PREDICTED)


def _verify(workflow, new: ParsedProcess, open_before: set[str]) -> list[str]:
    known = [new.spec, *[sub for sub in (new.subprocess_specs or {}).values() if sub is not None]]
    for task in workflow.get_tasks():
        name = task.task_spec.name
        if not any(spec.task_specs.get(name) is task.task_spec for spec in known):
            return [_("Step %(step)s of this instance has no place in the new version.", step=_label(task))]
    open_after = _open_ids(workflow)
    if open_after != open_before:
        return [_("The open tasks of the instance would change; finish the current step first.")]
    try:
        state = store.dump(workflow)
        restored = store.load(state, new)
    except Exception as exc:  # noqa: BLE001 -- any failure means: not safe
        log.info("migrated state does not restore", exc_info=True)
        return [_("The migrated state cannot be restored on the new version: %(error)s",
                  error=" ".join(str(exc).split()))]
    if _open_ids(restored) != open_before:
        return [_("The open tasks of the instance would change; finish the current step first.")]
    return []


# --- the public API ------------------------------------------------------------------------------

def check(actor: Any, instance: Instance | int, target: ProcessVersion | int) -> Check:
    """Whether the instance can move to `target` now (nothing is changed)."""
    _require_admin(actor)
    instance = instance if isinstance(instance, Instance) else db.session.get(Instance, instance)
    if instance is None:
        raise NotFound(_("No such process instance."))
    target = _version(target)
    result = Check(instance.id, target.version, _basic_reasons(instance, target))
    if result.reasons:
        return result
    try:
        old = registry.load_process(instance.process_version, instance.process_key)
        new = registry.load_process(target, instance.process_key)
    except Exception as exc:  # noqa: BLE001 -- a version that does not parse is a reason
        result.reasons.append(_("The version cannot be run: %(error)s", error=" ".join(str(exc).split())))
        return result
    workflow = store.load(instance.state, old)
    result.reasons = migrate_state(workflow, old, new)
    return result


def migrate(actor: Any, instance_id: int, target: ProcessVersion | int, *, comment: str | None = None,
            expected_version: int | None = None) -> Instance:
    """Move one instance to version `target`; raises MigrationRefused with the reasons."""
    _require_admin(actor)
    target = _version(target)

    def act(run):
        instance = run.instance
        reasons = _basic_reasons(instance, target)
        if reasons:
            raise MigrationRefused(reasons)
        old_version = instance.process_version
        try:
            new = registry.load_process(target, instance.process_key)
        except Exception as exc:  # noqa: BLE001
            raise MigrationRefused([_("The version cannot be run: %(error)s",
                                      error=" ".join(str(exc).split()))]) from exc
        reasons = migrate_state(run.workflow, run.parsed, new)
        if reasons:
            raise MigrationRefused(reasons)
        run.parsed = new
        db.session.execute(update(Instance.__table__).where(Instance.__table__.c.id == instance.id)
                           .values(process_version_id=target.id))
        set_committed_value(instance, "process_version_id", target.id)
        set_committed_value(instance, "process_version", target)
        renamed = _update_open_rows(run, new)
        run.event("migrate", comment=comment, from_version=old_version.version, to_version=target.version,
                  from_version_id=old_version.id, to_version_id=target.id, tasks=renamed)
        run.audit("instance.migrate", instance,
                  f"{instance.process_key}: v{old_version.version} → v{target.version}",
                  process=instance.process_key, from_version=old_version.version, to_version=target.version,
                  comment=comment)
        return instance

    return engine.act(instance_id, actor, act, expected_version=expected_version)


def _update_open_rows(run, new: ParsedProcess) -> list[dict]:
    """Open task rows take the new version's name, id and form of their step."""
    changed = []
    for row in run.open_rows().values():
        task = engine.find_task(run.workflow, row.spiff_id)
        if task is None:
            continue
        spec = task.task_spec
        bpmn_id = getattr(spec, "bpmn_id", None) or spec.name
        node = new.node(bpmn_id)
        name = (getattr(spec, "bpmn_name", None) or bpmn_id)[:200]
        form = node.form if node is not None else row.form
        before = {"spec": row.spec, "name": row.name, "form": row.form}
        row.spec, row.name, row.form = bpmn_id, name, form
        after = {"spec": row.spec, "name": row.name, "form": row.form}
        if before != after:
            changed.append({"task": row.id, "before": before, "after": after})
    return changed
