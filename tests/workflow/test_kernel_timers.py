"""Timers (reminders, escalation, auto-approval, conformance model), messages, incidents."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.extensions import db
from app.workflow import clock, operations, registry, runtime
from app.workflow.models import Event, Instance, Task
from tests.factories import create_department
from tests.workflow.conftest import bpmn_doc, chain, make_user

pytestmark = [pytest.mark.req("R3.7"), pytest.mark.usefixtures("wf")]
CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "bpmn"


def _kinds(notes, kind, instance):
    mine = set(db.session.scalars(select(Task.id).where(Task.instance_id == instance.id)))
    return [users for users, k, task_id, _ in notes if k == kind and task_id in mine]


def _ticked(instance, when) -> bool:
    """Tick at `when`; whether it advanced this instance (the demo data may have timers of its own)."""
    db.session.refresh(instance)
    before = instance.version
    runtime.tick(when)
    db.session.refresh(instance)
    return instance.version != before


def _review_chain():
    department = create_department()
    head = make_user("dept_head", departments=[department])
    leader = make_user("leader", "hospital")
    applicant = make_user(departments=[department])
    instance = runtime.start(applicant, "example_review_chain", department_id=department.id)
    [submit] = runtime.open_tasks(instance.id)
    runtime.complete(applicant, submit.id, data={"title": "MRI", "amount": 9}, outcome="submit")
    return instance, head, leader


def test_reminders_escalation_and_auto_approval(notes):
    start = clock.utcnow()
    instance, head, leader = _review_chain()
    [review] = runtime.open_tasks(instance.id)
    assert abs(review.due_at - (start + timedelta(days=2))) < timedelta(minutes=1)
    db.session.refresh(instance)
    assert abs(instance.next_timer_at - (start + timedelta(hours=24))) < timedelta(minutes=1)
    assert not _ticked(instance, start + timedelta(hours=1))  # nothing due yet
    assert _ticked(instance, start + timedelta(hours=25))
    assert _kinds(notes, "remind", instance) == [[head.id]]
    assert not _ticked(instance, start + timedelta(hours=25))  # fired once
    assert _ticked(instance, start + timedelta(hours=49))  # the second reminder and the escalation
    assert _kinds(notes, "remind", instance) == [[head.id], [head.id]]
    assert _kinds(notes, "escalate", instance) == [[head.id]]
    followup = next(t for t in runtime.open_tasks(instance.id) if t.spec == "leader_followup")
    assert leader.id in ([followup.assignee_id] + [c.user_id for c in followup.candidates])
    runtime.complete(head, review.id, data={"opinion": "late but fine"})
    office = next(t for t in runtime.open_tasks(instance.id) if t.spec == "office_review")
    db.session.refresh(instance)
    assert office.due_at is not None and instance.next_timer_at == office.due_at
    assert _ticked(instance, office.due_at + timedelta(minutes=1))  # "PT72H", quoted in the model
    db.session.refresh(office)
    assert (office.status, office.outcome, office.comment) == ("completed", "approve", "timed out")
    note = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "workflow.note",
                                                      AuditEntry.object_id == str(instance.id)))
    assert note.summary == "approved: MRI"
    assert [t.spec for t in runtime.open_tasks(instance.id)] == ["leader_followup"]


def test_a_camunda_model_with_a_boundary_timer_on_a_multi_instance_task():
    admin = make_user("admin", "hospital")
    xml = (CONFORMANCE / "camunda-bpm-platform" / "MultiInstanceTest.testParallelUserTasksWithTimer.bpmn20.xml"
           ).read_text(encoding="utf-8")
    [draft] = registry.save_process_draft(admin, xml, "MultiInstanceTest.testParallelUserTasksWithTimer.bpmn20.xml")
    registry.publish_process(admin, draft)
    start = clock.utcnow()
    instance = runtime.start(admin, "miParallelUserTasksWithTimer")
    assert [t.spec for t in runtime.open_tasks(instance.id)] == ["miTasks"] * 3  # ${5-2}
    assert _ticked(instance, start + timedelta(hours=2, minutes=1))
    assert [t.spec for t in runtime.open_tasks(instance.id)] == ["taskAfterTimer"]


def test_messages_correlate_by_name_and_key():
    applicant = make_user()
    clerk = make_user("medaffairs_staff", "hospital")
    waiting = runtime.start(applicant, "example_message", data={"specimen": "S-1"})
    other = runtime.start(applicant, "example_message", data={"specimen": "S-2"})
    for instance in (waiting, other):
        [submit] = runtime.open_tasks(instance.id)
        runtime.complete(applicant, submit.id, data={"title": "Culture", "amount": 1}, outcome="submit")
    assert runtime.send_message("lab_result", "S-9", {"value": 1}) == 0
    assert runtime.send_message("lab_results", "S-1", {"value": 1}) == 0
    assert runtime.send_message("lab_result", "S-1", {"growth": "none"}) == 1
    [review] = runtime.open_tasks(waiting.id)
    assert review.spec == "review" and clerk.id in [c.user_id for c in review.candidates]
    assert runtime.task_data(review.id)["growth"] == "none"
    assert runtime.open_tasks(other.id) == []
    assert runtime.send_message("lab_result", "S-1", {"growth": "again"}) == 0  # no longer waiting


def _incident_process(unique: str, operation: str) -> str:
    admin = make_user("admin", "hospital")
    xml = bpmn_doc(chain(
        '<bpmn:userTask id="ask" name="Ask" mt:form="example_review" mt:role="initiator"/>',
        f'<bpmn:serviceTask id="call" name="Call the registry" mt:operation="{operation}">'
        '<bpmn:extensionElements><mt:param name="who" value="opinion"/></bpmn:extensionElements></bpmn:serviceTask>',
        '<bpmn:userTask id="after" name="After" mt:form="example_review" mt:role="initiator"/>'),
        f"incident_{unique}")
    registry.publish_process(admin, registry.save_process_draft(admin, xml)[0])
    return admin


def test_a_failing_operation_is_an_incident_and_can_be_retried(unique):
    from app.core import audit

    calls = {"fail": True}

    def flaky(ctx, who):
        audit.record("test.flaky", summary=f"called for {who}")  # undone when the call fails
        if calls["fail"]:
            raise RuntimeError("registry offline")
        return {"registered": who}

    operations.register_operation(f"test.flaky_{unique}", flaky, {"type": "object", "required": ["who"]})
    try:
        admin = _incident_process(unique, f"test.flaky_{unique}")
        applicant = make_user()
        instance = runtime.start(applicant, f"incident_{unique}")
        [ask] = runtime.open_tasks(instance.id)
        runtime.complete(applicant, ask.id, data={"opinion": "Dr Li"})  # the approval itself stands
        db.session.refresh(instance)
        assert instance.status == "incident" and "registry offline" in instance.incident
        assert "Call the registry" in instance.incident
        assert db.session.get(Task, ask.id).status == "completed"
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "test.flaky")) is None
        calls["fail"] = False
        runtime.retry(admin, instance.id)
        db.session.refresh(instance)
        assert (instance.status, instance.incident) == ("running", None)
        assert runtime.variables(instance)["registered"] == "Dr Li"
        assert [t.spec for t in runtime.open_tasks(instance.id)] == ["after"]
    finally:
        operations.unregister_operation(f"test.flaky_{unique}")


def test_a_broken_condition_refuses_the_action_and_changes_nothing(unique):
    admin = make_user("admin", "hospital")
    body = """
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="ask" name="Ask" mt:form="example_review" mt:role="initiator"/>
    <bpmn:exclusiveGateway id="gw" name="Big?" default="f4"/>
    <bpmn:endEvent id="big"/><bpmn:endEvent id="small"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask"/>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="gw"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="big">
      <bpmn:conditionExpression>int(opinion) &gt; 10</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="small"/>"""
    registry.publish_process(admin, registry.save_process_draft(admin, bpmn_doc(body, f"cond_{unique}"))[0])
    instance = runtime.start(admin, f"cond_{unique}")
    [ask] = runtime.open_tasks(instance.id)
    version = db.session.get(Instance, instance.id).version
    with pytest.raises(runtime.ProcessError, match="Big\\?"):
        runtime.complete(admin, ask.id, data={"opinion": "many"})
    assert db.session.get(Instance, instance.id).version == version
    assert db.session.get(Task, ask.id).status == "open"
    runtime.complete(admin, ask.id, data={"opinion": "12"})
    assert db.session.get(Instance, instance.id).status == "completed"


def test_the_tick_job_is_registered_for_the_scheduler():
    from app.core import jobs

    assert jobs.periodic()["workflow.tick"].every_seconds == 60
    assert "workflow.tick" in jobs.registered()


def test_due_instances_use_the_index_only(unique):
    from app.workflow import timers

    instance, _head, _leader = _review_chain()
    db.session.refresh(instance)
    assert instance.id not in timers.due_instances(clock.utcnow())
    assert instance.id in timers.due_instances(instance.next_timer_at)
    admin = make_user("admin", "hospital")
    runtime.suspend(admin, instance.id)
    assert instance.id not in timers.due_instances(instance.next_timer_at)


def test_timer_chain_in_a_private_process(unique):
    """Durations written bare, quoted and as an expression all set the due time."""
    admin = make_user("admin", "hospital")
    body = chain(
        '<bpmn:intermediateCatchEvent id="w1" name="Wait bare"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
        '<bpmn:intermediateCatchEvent id="w2" name="Wait quoted"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>"PT2H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
        '<bpmn:intermediateCatchEvent id="w3" name="Wait computed"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>timedelta(hours=hours)</bpmn:timeDuration></bpmn:timerEventDefinition>'
        '</bpmn:intermediateCatchEvent>',
        '<bpmn:userTask id="done" name="Done" mt:form="example_review" mt:role="initiator"/>')
    registry.publish_process(admin, registry.save_process_draft(admin, bpmn_doc(body, f"timers_{unique}"))[0])
    start = clock.utcnow()
    instance = runtime.start(admin, f"timers_{unique}", data={"hours": 3})
    moments = []
    for _ in range(3):
        db.session.refresh(instance)
        moments.append(instance.next_timer_at)
        assert _ticked(instance, instance.next_timer_at + timedelta(seconds=1))
    assert [round((b - a).total_seconds() / 3600) for a, b in zip([start, *moments], moments)] == [1, 2, 3]
    assert [t.spec for t in runtime.open_tasks(instance.id)] == ["done"]


@pytest.mark.req("R3.7")
def test_a_message_start_event_starts_an_instance_and_a_catch_event_correlates_by_business_key(unique):
    admin = make_user("admin", "hospital")
    clerk = make_user("medaffairs_staff", "hospital")
    ordered, resulted = f"order_{unique}", f"result_{unique}"
    outside = (f'<bpmn:message id="m_order" name="{ordered}"/>'
               f'<bpmn:message id="m_result" name="{resulted}"/>')
    body = chain(
        '<bpmn:userTask id="check" name="Check the order" mt:form="example_review" mt:role="medaffairs_staff"/>',
        '<bpmn:intermediateCatchEvent id="wait" name="Result arrives">'
        '<bpmn:messageEventDefinition messageRef="m_result"/></bpmn:intermediateCatchEvent>',
        '<bpmn:userTask id="read" name="Read the result" mt:form="example_review" mt:role="medaffairs_staff"/>',
        start="order")
    body = body.replace('<bpmn:startEvent id="order"/>',
                        '<bpmn:startEvent id="order"><bpmn:messageEventDefinition messageRef="m_order"/>'
                        '</bpmn:startEvent>')
    registry.publish_process(admin, registry.save_process_draft(
        admin, bpmn_doc(body, f"lab_{unique}", outside=outside))[0])
    assert runtime.send_message(f"nothing_{unique}", "K-1", {}) == 0
    assert runtime.send_message(ordered, "K-1", {"specimen": "S-77"}) == 1  # a new instance
    instance = db.session.scalar(select(Instance).where(Instance.process_key == f"lab_{unique}"))
    assert (instance.business_key, instance.started_by_id, instance.status) == ("K-1", None, "running")
    [check] = runtime.open_tasks(instance.id)
    assert check.spec == "check" and clerk.id in [check.assignee_id] + [c.user_id for c in check.candidates]
    assert runtime.task_data(check.id)["specimen"] == "S-77"
    runtime.complete(clerk, check.id, data={"opinion": "ok"})
    assert runtime.open_tasks(instance.id) == []  # waiting for the result
    assert runtime.send_message(resulted, "K-2", {"growth": "none"}) == 0  # another key
    assert runtime.send_message(resulted, "K-1", {"growth": "none"}) == 1  # the instance's business key
    [read] = runtime.open_tasks(instance.id)
    assert read.spec == "read" and runtime.task_data(read.id)["growth"] == "none"
    events = [e.action for e in db.session.scalars(select(Event).where(Event.instance_id == instance.id))]
    assert events[0] == "start" and "message" in events
