"""Conformance models in the studio: every BPMN model under `../shared/conformance/bpmn/` (copied with its
licence into tests/conformance/bpmn: BPMN MIWG reference models, CC BY 3.0; Camunda engine test models,
Apache-2.0) imports as a draft, gets a diagram the modeler can show, and a validation report that names
what must be configured to run it — never a crash. C.9.1 (timers written `R6/P1D`) and the Camunda
multi-instance models run once their roles, forms and operations are set and they are published."""
from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.extensions import db
from app.modules.studio import process_service as service
from app.workflow import clock, parsing, runtime
from app.workflow.models import COMPLETED, DRAFT, Instance
from tests.portal.conftest import user

pytestmark = pytest.mark.req("U2")

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "bpmn"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "bpmn"
MODELS = sorted(p for p in CONFORMANCE.rglob("*") if p.name.endswith((".bpmn", ".bpmn20.xml")))
CAMUNDA = CONFORMANCE / "camunda-bpm-platform"


def _import(client, csrf, path: Path):
    return client.post("/studio/processes/import", data={"csrf_token": csrf(), "file": (
        io.BytesIO(path.read_bytes()), path.name)}, content_type="multipart/form-data")


def test_every_shared_conformance_model_is_copied_here():
    if not SHARED.is_dir():
        pytest.skip("no ../shared/conformance/bpmn beside the repository")
    shared = {p.relative_to(SHARED) for p in SHARED.rglob("*") if p.name.endswith((".bpmn", ".bpmn20.xml"))}
    assert shared and shared <= {p.relative_to(CONFORMANCE) for p in MODELS}
    for folder in {p.parent for p in MODELS}:
        assert any(f.name.upper().startswith("LICENSE") for f in folder.iterdir()), folder


@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_a_conformance_model_imports_renders_and_gets_a_report(client, login, csrf, ctx, path):
    login("admin")
    response = _import(client, csrf, path)
    assert response.status_code == 303 and "/studio/processes/" in response.headers["Location"], \
        client.get("/studio/processes").get_data(as_text=True)[-3000:]
    ids = [info.id for info in parsing.process_infos(parsing.read_xml(path.read_bytes()))]
    assert ids
    for key in ids:
        [draft] = service.versions(key)
        assert draft.status == DRAFT and draft.bpmn_xml.strip()
        assert client.get(f"/studio/processes/{key}").status_code == 200
        xml = client.get(f"/studio/processes/{key}/versions/{draft.id}.bpmn").get_data(as_text=True)
        assert "BPMNPlane" in xml  # the modeler can draw it
        with force_locale("en"):
            issues = service.report(draft.bpmn_xml, key, draft.filename)
        assert issues, f"{path.name} {key}: every conformance model needs something configured"
        for issue in issues:
            assert issue.level in ("error", "warning") and issue.message
        named = [i for i in issues if i.element_id]
        assert named, f"{path.name} {key}: the report names elements"
        if not service.errors_of(issues):
            continue
        # what blocks publishing is said in words an administrator can act on
        assert all(len(issue.message) > 20 for issue in service.errors_of(issues))


def _publish(admin, key: str, xml: str):
    draft = service.save_draft(admin, key, xml)
    with force_locale("en"):
        problems = service.errors_of(service.report(draft.bpmn_xml, key))
    assert problems == [], problems
    return service.publish(admin, key, draft.id)


def _configure(path: Path, settings: dict[str, dict], params: dict[str, dict] | None = None) -> str:
    xml = path.read_text(encoding="utf-8")
    for element_id, attributes in settings.items():
        xml = service.set_attributes(xml, element_id, attributes, (params or {}).get(element_id))
    return xml


REVIEW = {"form": "example_review", "role": "medaffairs_staff"}


def test_c91_with_daily_reminders_runs_after_configuration(ctx):
    """C.9.1 from Camunda Web Modeler: a request, daily reminders (`R6/P1D`), a call after a week."""
    admin, clerk = user("admin"), user("medclerk")
    path = CONFORMANCE / "bpmn-miwg-reference" / "C.9.1.bpmn"
    drafts = service.import_file(admin, path.read_bytes(), path.name)
    key = drafts[0].key
    with force_locale("en"):
        before = service.report(drafts[0].bpmn_xml, key)
    blocking = {issue.element_id for issue in service.errors_of(before)}
    assert {"SendTask_RequestDocument", "SendTask_SendReminderEmail"} <= blocking
    xml = _configure(path, {
        "SendTask_RequestDocument": {"operation": "audit.note"},
        "SendTask_SendReminderEmail": {"operation": "audit.note"},
        "UserTask_CallCustomer": REVIEW,
    }, {"SendTask_RequestDocument": {"text": "'document requested'", "action": "'c91.request'"},
        "SendTask_SendReminderEmail": {"text": "'reminder sent'", "action": "'c91.reminder'"}})
    _publish(admin, key, xml)
    start = clock.utcnow()
    instance = runtime.start(admin, key, business_key="DOC-1")
    assert runtime.open_tasks(instance.id) == []  # waiting for the document
    for day in range(1, 8):
        runtime.tick(start + timedelta(days=day, minutes=day))
    notes = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("c91.%"),
                                                                   AuditEntry.object_id == str(instance.id))))
    assert notes.count("c91.request") == 1 and notes.count("c91.reminder") == 6  # R6: six daily reminders
    [call] = runtime.open_tasks(instance.id)
    assert call.spec == "UserTask_CallCustomer" and call.form == "example_review"
    runtime.complete(clerk, call.id, data={"opinion": "called"})
    assert db.session.get(Instance, instance.id).status == COMPLETED
    # a second request is answered in time: the message ends it
    other = runtime.start(admin, key, business_key="DOC-2")
    assert runtime.send_message("MESSAGE_documentReceived", "DOC-2") == 1
    assert db.session.get(Instance, other.id).status == COMPLETED


def test_camunda_multi_instance_with_a_completion_condition_runs(ctx):
    admin, clerk = user("admin"), user("medclerk")
    path = CAMUNDA / "MultiInstanceTest.testParallelUserTasksCompletionCondition.bpmn20.xml"
    key = service.import_file(admin, path.read_bytes(), path.name)[0].key
    _publish(admin, key, _configure(path, {"miTasks": REVIEW}))
    instance = runtime.start(admin, key)
    tasks = runtime.open_tasks(instance.id)
    assert [t.spec for t in tasks] == ["miTasks"] * 5  # ${5}
    for task in tasks[:3]:  # ${nrOfCompletedInstances/nrOfInstances >= 0.5}
        runtime.complete(clerk, task.id, data={"opinion": "ok"})
    assert runtime.open_tasks(instance.id) == []
    assert db.session.get(Instance, instance.id).status == COMPLETED


def test_camunda_multi_instance_with_a_timer_runs(ctx):
    admin, clerk = user("admin"), user("medclerk")
    path = CAMUNDA / "MultiInstanceTest.testParallelUserTasksWithTimer.bpmn20.xml"
    key = service.import_file(admin, path.read_bytes(), path.name)[0].key
    _publish(admin, key, _configure(path, {"miTasks": REVIEW, "taskAfterTimer": REVIEW}))
    finished = runtime.start(admin, key)
    for task in runtime.open_tasks(finished.id):  # ${5-2}
        runtime.complete(clerk, task.id, data={"opinion": "ok"})
    assert db.session.get(Instance, finished.id).status == COMPLETED
    start = clock.utcnow()
    late = runtime.start(admin, key)
    assert len(runtime.open_tasks(late.id)) == 3
    runtime.tick(start + timedelta(hours=2, minutes=1))
    [after] = runtime.open_tasks(late.id)
    assert after.spec == "taskAfterTimer" and after.role == "medaffairs_staff"
    runtime.complete(clerk, after.id, data={"opinion": "late"})
    assert db.session.get(Instance, late.id).status == COMPLETED
