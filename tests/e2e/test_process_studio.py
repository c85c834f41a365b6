"""The process studio in a real browser (U2, R3.7): an administrator adds a step to a shipped approval
flow in the bpmn-js modeler, gives it a role and a form in our properties panel, validates, saves and
publishes; a new application then follows the new flow (the new step reaches its approver's inbox)
while one started before keeps the old flow. Every conformance model opens in the modeler."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

KEY = "example_review_chain"
STEP = "质控预审"
CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "bpmn"
MODELS = sorted(p for p in CONFORMANCE.rglob("*") if p.name.endswith((".bpmn", ".bpmn20.xml")))
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def _server(live_app, fn):
    from app.core import uow

    with live_app.test_request_context():
        result = fn()
        uow.commit()
        return result


def _log_in(page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/")


def _start_application(live_app, title: str) -> int:
    from app.workflow import runtime
    from tests.portal.conftest import user

    def start():
        doctor = user("doctor")
        return runtime.start(doctor, KEY, business_key=f"E2E-STUDIO-{title}", department_id=doctor.staff.department_id,
                             title=f"检查申请：{title}").id

    return _server(live_app, start)


def _submit(live_app, instance_id: int) -> list[tuple[int, str, str, int | None]]:
    """The applicant submits the request; returns the open tasks after it (id, spec, name, assignee)."""
    from app.workflow import runtime
    from tests.portal.conftest import user

    def submit():
        [task] = runtime.open_tasks(instance_id)
        runtime.complete(user("doctor"), task.id, data={"title": "MRI", "amount": 900}, outcome="submit")
        return [(t.id, t.spec, t.name, t.assignee_id) for t in runtime.open_tasks(instance_id)]

    return _server(live_app, submit)


@pytest.mark.req("U2")
@pytest.mark.req("R3.7")
def test_an_administrator_adds_a_step_and_new_applications_follow_it(new_page, live_app, screenshots):
    before = _start_application(live_app, "旧流程")
    page = new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    _log_in(page, "admin")
    page.goto("/studio/processes")
    page.locator(f"#process-list a[href='/studio/processes/{KEY}']").click()
    page.wait_for_selector("#studio[data-ready='1']")
    # The modeler's own texts are in the UI's language (palette tooltips come from our catalog).
    assert page.locator("#canvas .djs-palette [aria-label='创建开始事件']").count() == 1

    # Insert a step after 「Fill in the request」, then name it and give it a role and a form.
    page.locator("#canvas [data-element-id='submit']").click()
    page.locator("#insert-step").click()
    name = page.locator("#props input[data-prop='name']")
    name.fill(STEP)
    name.press("Tab")
    page.locator("#props select").nth(0).select_option("example_review")
    page.locator("#props select").nth(1).select_option("dept_qc")
    expect(page.locator("#canvas .djs-element.selected")).to_contain_text(STEP)

    page.locator("#validate-button").click()
    expect(page.locator("#studio")).to_have_attribute("data-validated", "1")
    expect(page.locator("#report li.text-success")).to_be_visible()
    page.screenshot(path=str(screenshots / "studio-process-1280.png"), full_page=True)

    page.locator("#save-button").click()
    page.wait_for_url("**version=*")
    page.wait_for_selector("#studio[data-ready='1']")
    expect(page.locator("#canvas")).to_contain_text(STEP)  # the saved draft holds the new step
    page.locator("#versions tr[data-version='2'] form[action$='/publish'] button").click()
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("#versions tr[data-version='2'] .status-active")).to_be_visible()
    expect(page.locator("#versions tr[data-version='1'] .status-expired")).to_be_visible()

    # A new application follows the new flow: after the request, the QC officer's step.
    after = _start_application(live_app, "新流程")
    [(task_id, spec, task_name, assignee)] = _submit(live_app, after)
    assert task_name == STEP and spec != "dept_review"
    qc = new_page()
    _log_in(qc, "qcofficer")
    qc.goto("/tasks" if assignee else "/tasks?tab=claim")
    expect(qc.locator(f"[data-task-id='{task_id}']")).to_contain_text(STEP)
    # The application started before keeps the old flow: straight to the department head.
    [(old_task, old_spec, _name, _assignee)] = _submit(live_app, before)
    assert old_spec == "dept_review"
    head = new_page()
    _log_in(head, "head")
    head.goto("/tasks" if _assignee else "/tasks?tab=claim")
    expect(head.locator(f"[data-task-id='{old_task}']")).to_be_visible()

    # The diff shows the added step; roll back so that other browser tests see the shipped flow.
    page.goto(f"/studio/processes/{KEY}")
    page.locator("#versions tr[data-version='2'] a.diff-link").click()
    page.wait_for_selector("#diff[data-ready='1']")
    expect(page.locator(".diff-added-list")).to_contain_text(STEP)
    assert page.locator("#new-canvas .diff-added").count() >= 1
    page.goto(f"/studio/processes/{KEY}")
    page.locator("#versions tr[data-version='1'] form[action$='/rollback'] button").click()
    expect(page.locator("#versions tr[data-version='3'] .status-active")).to_be_visible()
    for each in (page, qc, head):
        assert not each.problems, each.problems


@pytest.mark.req("U2")
def test_the_process_list_works_on_a_phone(new_page, screenshots):
    page = new_page(mobile=True)
    _log_in(page, "admin")
    page.goto("/studio/processes")
    expect(page.locator("#process-list")).to_be_visible()
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    page.goto(f"/studio/processes/{KEY}")
    page.wait_for_selector("#studio[data-ready='1']")
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    page.screenshot(path=str(screenshots / "studio-process-375.png"), full_page=True)
    assert not page.problems, page.problems


@pytest.mark.req("U2")
def test_every_conformance_model_opens_in_the_modeler(new_page, live_app):
    from app.modules.studio import process_service
    from tests.portal.conftest import user

    keys = []
    for path in MODELS:
        imported = _server(live_app, lambda path=path: [d.key for d in process_service.import_file(
            user("admin"), path.read_bytes(), path.name)])
        keys.extend((path.name, key) for key in imported)
    page = new_page()
    _log_in(page, "admin")
    for name, key in keys:
        page.goto(f"/studio/processes/{key}")
        page.wait_for_selector("#studio[data-ready]")
        assert page.locator("#studio").get_attribute("data-ready") == "1", f"{name}: the modeler could not show it"
        assert page.locator("#canvas .djs-element").count() > 1, name
        assert page.locator("#report li").count() >= 1, name
        if key == "requestDocument_en":  # the report's problems are marked on the diagram
            expect(page.locator("#canvas [data-element-id='SendTask_RequestDocument']")).to_have_class(
                re.compile("studio-error"))
            expect(page.locator("#canvas .studio-badge-error").first).to_be_visible()
    assert not page.problems, page.problems
