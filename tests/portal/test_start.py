"""Starting a process: any published process whose start form is published, for the people its
start event allows; the applicant's department and a business key are set (U1)."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.workflow import registry
from app.workflow.models import Instance
from tests.conftest import csrf_token
from tests.portal.conftest import DATA

pytestmark = pytest.mark.req("U1")


def _publish(xml: str, name: str) -> None:
    registry.publish_process(None, registry.save_process_draft(None, xml, f"{name}.bpmn")[0])


def test_the_list_shows_startable_processes_only(flow, client, login, app):
    xml = (DATA / "portal_application.bpmn").read_text(encoding="utf-8")
    _publish(xml.replace('id="portal_application"', 'id="portal_heads_only"')
             .replace('mt:form="portal_apply"/>', 'mt:form="portal_apply" mt:role="dept_head"/>'), "heads_only")
    _publish(xml.replace('id="portal_application"', 'id="portal_no_form"')
             .replace(' mt:form="portal_apply"/>', "/>"), "no_form")
    login("doctor")
    body = client.get("/processes/start").get_data(as_text=True)
    assert 'data-process="portal_application"' in body
    assert 'data-process="portal_heads_only"' not in body and 'data-process="portal_no_form"' not in body
    assert client.get("/processes/start/portal_heads_only").status_code == 404
    assert client.get("/processes/start/portal_no_form").status_code == 404
    assert client.get("/processes/start/countersign_all").status_code == 404  # shipped, but no start form
    assert client.get("/processes/start/nope").status_code == 404
    head = app.test_client()  # the start event names dept_head: heads may start it
    login("head", on=head)
    assert 'data-process="portal_heads_only"' in head.get("/processes/start").get_data(as_text=True)
    assert head.get("/processes/start/portal_heads_only").status_code == 200


def test_starting_sets_department_title_and_business_key(flow, client, login):
    login("doctor")
    response = client.post("/processes/start/portal_application", data={
        "csrf_token": csrf_token(client), "title": "ERAS 快速康复", "amount": "3000", "members-0-name": "王五",
        "members-0-duty": "lead", "members-1-name": "", "sites": ["main", "east"]})
    assert response.status_code == 303
    instance = db.session.get(Instance, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert instance.department_id == flow.surgery.id and instance.started_by_id == flow.doctor.id
    assert instance.title.endswith("ERAS 快速康复")
    assert instance.business_key and len(instance.business_key) == 15
    from app.workflow import runtime

    data = runtime.variables(instance.id)
    assert data["members"] == [{"name": "王五", "duty": "lead"}] and data["sites"] == ["main", "east"]
    assert data["amount"] == 3000
    assert flow.head_task(instance).assignee_id == flow.head.id
