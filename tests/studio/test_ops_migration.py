"""Migrating running instances to a newer process version (service level)."""
from __future__ import annotations

import itertools

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.extensions import db
from app.workflow import migration, registry, runtime
from app.workflow.errors import PermissionDenied
from app.workflow.models import Event, Instance, Task
from tests.workflow.conftest import bpmn_doc, make_user


@pytest.fixture()
def en(ctx):
    with force_locale("en"):
        yield ctx


def flow(key: str, steps: list[tuple[str, str]], *, tag: str = "userTask", extra: dict | None = None) -> str:
    """start → user tasks (id, name) → end; `extra` adds attributes to a step by id."""
    extra = extra or {}
    nodes = [f'<bpmn:{tag if sid == "a" and tag != "userTask" else "userTask"} id="{sid}" name="{name}" '
             f'mt:role="initiator" {extra.get(sid, "")}/>' for sid, name in steps]
    ids = ["start", *[sid for sid, _ in steps], "end"]
    flows = "".join(f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
                    for a, b in zip(ids, ids[1:]))
    return bpmn_doc('<bpmn:startEvent id="start"/>' + "".join(nodes) + '<bpmn:endEvent id="end"/>' + flows,
                    key, name=f"Flow {key}")


def publish(admin, xml: str):
    [draft] = registry.save_process_draft(admin, xml)
    return registry.publish_process(admin, draft)


def open_specs(instance_id: int) -> list[str]:
    return [t.spec for t in runtime.open_tasks(instance_id)]


def complete_all(user, instance_id: int) -> list[str]:
    done = []
    for _ in range(10):
        tasks = runtime.open_tasks(instance_id)
        if not tasks:
            break
        done.append(tasks[0].spec)
        runtime.complete(user, tasks[0].id, data={}, outcome="approve")
    return done


@pytest.fixture()
def admin(en):
    return make_user("admin", "hospital")


@pytest.fixture()
def key(en):
    return f"mig_{next(_n)}"


_n = itertools.count(1)


@pytest.mark.req("U2")
def test_safe_change_migrates_and_the_instance_finishes_on_the_new_version(admin, key):
    v1 = publish(admin, flow(key, [("a", "Step A"), ("b", "Step B")]))
    instance = runtime.start(admin, key)
    [row] = runtime.open_tasks(instance.id)
    v2 = publish(admin, flow(key, [("a", "Step A renamed"), ("b", "Step B"), ("c", "Step C")]))
    untouched = runtime.start(admin, key)  # started on v2: not a candidate

    check = migration.check(admin, instance.id, v2)
    assert check.ok, check.reasons
    before_version = instance.version
    migration.migrate(admin, instance.id, v2.id, comment="new step C")

    db.session.refresh(instance)
    assert instance.process_version_id == v2.id and instance.version == before_version + 1
    row = db.session.get(Task, row.id)
    assert (row.status, row.name, row.spec) == ("open", "Step A renamed", "a")
    event = db.session.scalar(select(Event).where(Event.instance_id == instance.id, Event.action == "migrate"))
    assert event.details["from_version"] == v1.version and event.details["to_version"] == v2.version
    assert event.comment == "new step C"
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "workflow.instance.migrate",
                                                       AuditEntry.object_id == str(instance.id)))
    assert audit is not None and audit.data["to_version"] == v2.version

    assert complete_all(admin, instance.id) == ["a", "b", "c"]
    db.session.refresh(instance)
    assert instance.status == "completed"
    assert migration.check(admin, untouched.id, v2).reasons  # already on v2


@pytest.mark.req("U2")
def test_removed_current_step_is_refused_with_the_reason_and_nothing_changes(admin, key):
    publish(admin, flow(key, [("a", "Step A"), ("b", "Step B")]))
    instance = runtime.start(admin, key)
    state, version, pv = instance.state, instance.version, instance.process_version_id
    v2 = publish(admin, flow(key, [("b", "Step B")]))

    check = migration.check(admin, instance.id, v2)
    assert not check.ok
    assert any("Step A (a)" in reason and "removed" in reason for reason in check.reasons)
    with pytest.raises(migration.MigrationRefused) as refused:
        migration.migrate(admin, instance.id, v2.id)
    assert any("removed" in reason for reason in refused.value.reasons)
    db.session.refresh(instance)
    assert (instance.state, instance.version, instance.process_version_id) == (state, version, pv)
    assert not db.session.scalar(select(Event).where(Event.instance_id == instance.id, Event.action == "migrate"))
    assert open_specs(instance.id) == ["a"]
    # The instance still runs on its own version.
    assert complete_all(admin, instance.id) == ["a", "b"]


@pytest.mark.req("U2")
def test_passed_step_removed_type_changed_and_role_changed_are_refused(admin, key):
    publish(admin, flow(key, [("a", "Step A"), ("b", "Step B")]))
    at_b = runtime.start(admin, key)
    runtime.complete(admin, runtime.open_tasks(at_b.id)[0].id, data={})
    at_a = runtime.start(admin, key)
    without_a = publish(admin, flow(key, [("b", "Step B"), ("c", "Step C")]))
    reasons = migration.check(admin, at_b.id, without_a).reasons
    assert any("already passed" in r for r in reasons)

    typed = publish(admin, flow(key, [("a", "Step A"), ("b", "Step B")], tag="manualTask"))
    assert any("changed its type" in r for r in migration.check(admin, at_a.id, typed).reasons)
    # A step it has not reached yet may change its type.
    assert migration.check(admin, at_b.id, typed).ok

    role = publish(admin, flow(key, [("a", "Step A"), ("b", "Step B")],
                               extra={"b": 'mt:candidates="[1]"'}))
    assert any("assignee rule" in r for r in migration.check(admin, at_b.id, role).reasons)
    assert migration.check(admin, at_a.id, role).ok


def test_only_administrators_migrate(admin, key):
    publish(admin, flow(key, [("a", "Step A")]))
    instance = runtime.start(admin, key)
    v2 = publish(admin, flow(key, [("a", "Step A"), ("b", "Step B")]))
    clerk = make_user()
    with pytest.raises(PermissionDenied):
        migration.migrate(clerk, instance.id, v2.id)
    with pytest.raises(PermissionDenied):
        migration.check(clerk, instance.id, v2.id)
    assert db.session.get(Instance, instance.id).process_version_id != v2.id


def test_countersign_in_progress_keeps_its_signers_after_a_safe_migration(admin, key):
    signers = [make_user() for _ in range(2)]
    review = ('<bpmn:userTask id="r" name="Review" mt:assignee="reviewer" mt:countersign="all">'
              '<bpmn:multiInstanceLoopCharacteristics isSequential="false">'
              '<bpmn:loopDataInputRef>reviewers</bpmn:loopDataInputRef>'
              '<bpmn:inputDataItem id="reviewer" name="reviewer"/></bpmn:multiInstanceLoopCharacteristics>'
              '</bpmn:userTask>')

    def doc(after: str = ""):
        nodes = review + (f'<bpmn:userTask id="z" name="{after}" mt:role="initiator"/>' if after else "")
        ids = ["start", "r", *(["z"] if after else []), "end"]
        flows = "".join(f'<bpmn:sequenceFlow id="g_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
                        for a, b in zip(ids, ids[1:]))
        return bpmn_doc(f'<bpmn:startEvent id="start"/>{nodes}<bpmn:endEvent id="end"/>{flows}', key)

    publish(admin, doc())
    instance = runtime.start(admin, key, data={"reviewers": [s.id for s in signers]})
    first = [t for t in runtime.open_tasks(instance.id) if t.assignee_id == signers[0].id][0]
    runtime.complete(signers[0], first.id, data={})
    v2 = publish(admin, doc("Archive"))
    migration.migrate(admin, instance.id, v2.id)
    [left] = runtime.open_tasks(instance.id)
    assert left.assignee_id == signers[1].id
    runtime.complete(signers[1], left.id, data={})
    assert open_specs(instance.id) == ["z"]
    data = runtime.variables(instance.id)
    assert data["reviewers"] == [s.id for s in signers]
