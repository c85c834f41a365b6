"""The task portal in a real browser (U1, R3.7): an application from the applicant through the
department head to a 3-person countersign; a form error beside its field; two sessions completing
the same task; every approval action once; screenshots of the inbox and a task page on a desktop
and a 375 px phone."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.browser

NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a730000"
                    "001649444154789c633c2127c7c0c0c0c4c0c0c0c0c000000d0401087d71ca660000000049454e44ae426082")
SIGNERS = ("会签专家甲", "会签专家乙", "会签专家丙")


@dataclass
class World:
    signers: list[str]  # usernames
    signer_ids: list[int]
    surgery_id: int
    vascular_id: int


@pytest.fixture(scope="module")
def world(live_app) -> World:
    """The fixture process and forms published; three experts in 普通外科 to countersign; a second
    department (血管外科) with two heads, so its reviews wait in a pool to be claimed."""
    from sqlalchemy import select

    from app.core import uow
    from app.extensions import db
    from app.modules.org.models import Department
    from tests import factories
    from tests.portal.conftest import publish_fixtures

    with live_app.test_request_context():
        publish_fixtures()
        surgery = db.session.scalar(select(Department).where(Department.name == "普通外科"))
        users = [factories.create_user("physician", departments=(surgery,), username=f"e2e_signer{i}",
                                       staff=factories.create_staff(department=surgery, name=name))
                 for i, name in enumerate(SIGNERS, 1)]
        vascular = factories.create_department(name="血管外科（E2E）")
        for i in (1, 2):
            factories.create_user("dept_head", departments=(vascular,), username=f"e2e_vhead{i}",
                                  staff=factories.create_staff(department=vascular, name=f"血管外科主任{i}"))
        factories.create_user("physician", departments=(vascular,), username="e2e_vdoc",
                              staff=factories.create_staff(department=vascular, name="血管外科医师"))
        uow.commit()
        return World([u.username for u in users], [u.id for u in users], surgery.id, vascular.id)


def _translated(app, message: str, **values) -> str:
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale(app.config["DEFAULT_LOCALE"]):
        return gettext(message, **values)


def _log_in(page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/")


def _no_horizontal_scroll(page, width: int, what: str) -> None:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page.evaluate(NO_HORIZONTAL_SCROLL) and inner_width == width, \
        f"{what}: horizontal scrolling at {width} px (scrollWidth {scroll_width}, innerWidth {inner_width})"


def _start(live_app, username: str, title: str, department_id: int | None = None) -> tuple[int, int]:
    """An application started on the server (the browser tests act on it): (instance, first task)."""
    from app.core import uow
    from app.workflow import runtime
    from tests.portal.conftest import PROCESS, user

    with live_app.test_request_context():
        applicant = user(username)
        instance = runtime.start(applicant, PROCESS, business_key=f"E2E-{title}",
                                 department_id=department_id or applicant.staff.department_id,
                                 data={"title": title, "amount": 8000}, title=f"新技术开展申请（测试）：{title}")
        task_id = runtime.open_tasks(instance.id)[0].id
        uow.commit()
        return instance.id, task_id


def _server(live_app, fn):
    from app.core import uow

    with live_app.test_request_context():
        result = fn()
        uow.commit()
        return result


def _open_tasks(live_app, instance_id: int) -> list[tuple[int, str, int | None, str]]:
    from app.workflow import runtime

    return _server(live_app, lambda: [(t.id, t.spec, t.assignee_id, t.status)
                                      for t in runtime.open_tasks(instance_id)])


def _instance_status(live_app, instance_id: int) -> str:
    from app.extensions import db
    from app.workflow.models import Instance

    return _server(live_app, lambda: db.session.get(Instance, instance_id).status)


def _choose_people(page, box: str, names: list[str]) -> None:
    """Type into a people picker and pick each person from the typeahead list."""
    field = page.locator(box)
    for name in names:
        field.fill(name[:4])
        option = page.locator(f"#{field.get_attribute('aria-controls')} [role=option]", has_text=name)
        option.first.click()


def _act(page, action: str, *, people=(), target: str | None = None, opinion: str | None = None,
         checks=()) -> None:
    """Open the action's dialog from the bar (or its "More" menu), fill it in and confirm."""
    bar = page.locator(".portal-actionbar")
    button = bar.locator(f"[data-action={action}]")
    if not button.is_visible():
        bar.locator("[data-action=more]").click()
    button.click()
    dialog = page.locator(f"#modal-{action}")
    dialog.wait_for(state="visible")
    if people:
        _choose_people(page, f"#people-{action}", list(people))
    if target:
        dialog.locator("select[name=target]").select_option(label=target)
    for value in checks:
        dialog.locator(f"input[name=user_ids][value='{value}']").check()
    if opinion:
        dialog.locator("textarea").first.fill(opinion)
    with page.expect_navigation():
        dialog.locator(f"[data-confirm-action={action}]").click()


def _flash(page) -> str:
    return page.locator("main .alert[role=status]").first.inner_text()


@pytest.mark.req("U1")
@pytest.mark.req("R3.7")
def test_application_goes_through_head_and_countersign(new_page, live_app, live_server, screenshots, world):
    from playwright.sync_api import expect

    # The applicant starts the process from its start form, on a desktop.
    doctor = new_page()
    _log_in(doctor, "doctor")
    doctor.goto("/processes/start")
    doctor.locator("[data-process=portal_application]").click()
    form = doctor.locator("#start-form")
    form.locator("#f-title").fill("达芬奇机器人辅助胰十二指肠切除术")
    form.locator("#f-amount").fill("150000")
    form.locator("#f-start_date").fill("2025-03-01")
    form.locator("#f-level").select_option(label="四级")
    form.locator("input[name=sites][value=main]").check()
    form.locator("#f-department").fill("普通")
    doctor.locator("#f-department-list [role=option]").first.click()
    expect(form.locator("[data-field=novelty]")).to_be_hidden()
    form.locator("#f-is_new").check()  # a conditional field appears
    expect(form.locator("[data-field=novelty]")).to_be_visible()
    form.locator("#f-novelty").fill("国内首例机器人辅助术式")
    form.locator("[data-row-add]").click()
    form.locator("input[name='members-0-name']").fill("李四")
    form.locator("select[name='members-0-duty']").select_option("assist")
    evidence = form.locator("#f-evidence")
    assert evidence.get_attribute("capture") == "environment"  # phones take the photo with the camera
    evidence.set_input_files(files=[{"name": "资质证明.png", "mimeType": "image/png", "buffer": PNG}])
    form.locator("#f-reason").fill("提高手术精度，缩短住院日。")
    with doctor.expect_navigation():
        doctor.locator("[data-action=start]").click()
    expect(doctor).to_have_url(re.compile(r"/instances/\d+$"))
    instance_id = int(doctor.url.rsplit("/", 1)[1])
    expect(doctor.locator("main")).to_contain_text("达芬奇机器人辅助胰十二指肠切除术")
    expect(doctor.locator("#attachments")).to_contain_text("资质证明.png")

    # The department head finds it in 待办 (the navigation badge counts it) and approves, naming 3 experts.
    head = new_page()
    _log_in(head, "head")
    expect(head.locator("#task-badge")).to_be_visible()
    head.goto("/tasks")
    head.locator(".portal-list a:has-text('达芬奇机器人辅助')").first.click()
    expect(head.locator("main h1")).to_have_text(re.compile("科主任审核"))
    expect(head.locator("[data-section]").first).to_contain_text("国内首例机器人辅助术式")  # what the applicant entered
    expect(head.locator("#task-form")).to_contain_text("150000")  # read-only fields of this step
    _choose_people(head, "#f-signers", list(SIGNERS))
    head.locator("#f-assessment").select_option("ready")
    _act(head, "complete", opinion="科室条件具备，同意开展。")
    assert _translated(live_app, "Approved.") in _flash(head)

    # Each expert approves: two on a desktop, one on a phone.
    for i, username in enumerate(world.signers):
        page = new_page(mobile=(i == 2))
        _log_in(page, username)
        page.goto("/tasks")
        page.locator(".portal-list a:has-text('达芬奇机器人辅助')").first.click()
        expect(page.locator("main h1")).to_have_text(re.compile("专家会签"))
        page.locator("#f-remarks").fill(f"专家{i + 1}：同意")
        if i == 2:
            page.screenshot(path=str(screenshots / "portal-task-countersign-375.png"), full_page=True)
            _no_horizontal_scroll(page, 375, "countersign task page")
        _act(page, "complete", opinion="同意")
        assert not page.problems, page.problems

    # The process has ended: the applicant sees it completed, with every step on the timeline.
    assert _instance_status(live_app, instance_id) == "completed"
    doctor.goto(f"/instances/{instance_id}")
    expect(doctor.locator("[data-instance-status]")).to_have_attribute("data-instance-status", "completed")
    expect(doctor.locator("#timeline [data-event=complete]")).to_have_count(4)
    expect(doctor.locator("#timeline [data-event=end]")).to_have_count(1)
    expect(doctor.locator("#diagram")).to_have_attribute("data-diagram-ready", "true")
    assert "approved" in doctor.locator("#diagram").get_attribute("data-done").split()
    doctor.screenshot(path=str(screenshots / "portal-record-1280.png"), full_page=True)
    for page in (doctor, head):
        assert not page.problems, page.problems


def _problems(page, *allowed_statuses: int) -> list[str]:
    """Page problems, leaving out the refusals the test provoked on purpose."""
    expected = [f"{status} for " for status in allowed_statuses]
    expected += [f"console error: Failed to load resource: the server responded with a status of {status} "
                 for status in allowed_statuses]
    return [p for p in page.problems if not any(p.startswith(prefix) for prefix in expected)]


@pytest.mark.req("U1")
def test_a_form_error_shows_beside_its_field(new_page, live_app, world):
    from playwright.sync_api import expect

    page = new_page(mobile=True)
    _log_in(page, "doctor")
    page.goto("/processes/start/portal_application")
    page.locator("#f-amount").fill("-3")
    with page.expect_navigation():
        page.locator("[data-action=start]").click()
    expect(page.locator("#f-title-error")).to_have_text(_translated(live_app, "Please fill in this field."))
    expect(page.locator("#f-amount-error")).to_have_text(_translated(live_app, "Must not be less than %(n)s.", n="0"))
    expect(page.locator("#f-amount")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-amount")).to_have_value("-3")  # what was typed stays
    _no_horizontal_scroll(page, 375, "start form with errors")
    page.screenshot(path=str(screenshots_dir() / "portal-form-error-375.png"), full_page=True)

    # On a task: approving without naming the experts puts the message under that field.
    _instance, task_id = _start(live_app, "doctor", "表单校验")
    head = new_page()
    _log_in(head, "head")
    head.goto(f"/tasks/{task_id}")
    _act(head, "complete")
    expect(head.locator("#f-signers-error")).to_have_text(_translated(live_app, "Choose at least %(n)s.", n="1"))
    expect(head.locator("#action-error")).to_be_visible()
    assert [t[3] for t in _open_tasks(live_app, _instance)] == ["open"]
    assert not _problems(page, 422) and not _problems(head, 422)


def screenshots_dir():
    from tests.plugins.browser import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.mark.req("U1")
def test_two_sessions_complete_the_same_task(new_page, live_app, world):
    from playwright.sync_api import expect

    instance_id, task_id = _start(live_app, "doctor", "并发审批")
    first, second = new_page(), new_page(mobile=True)
    for page in (first, second):
        _log_in(page, "head")
        page.goto(f"/tasks/{task_id}")
    _choose_people(first, "#f-signers", [SIGNERS[0]])
    _act(first, "complete", opinion="先到")
    assert _translated(live_app, "Approved.") in _flash(first)
    _act(second, "complete", opinion="后到")
    expect(second.locator("#action-error")).to_contain_text(re.compile("已|already"))
    assert "head" in _server(live_app, lambda: _handled_by(task_id))
    expect(second.locator("[data-task-status]")).to_have_attribute("data-task-status", "completed")
    expect(second.locator(".portal-actionbar [data-action=complete]")).to_have_count(0)
    assert [t[2] for t in _open_tasks(live_app, instance_id)] == [world.signer_ids[0]]
    assert not first.problems and not _problems(second, 409)


def _handled_by(task_id: int) -> str:
    from app.extensions import db
    from app.modules.accounts.models import User
    from app.workflow.models import Task

    task = db.session.get(Task, task_id)
    return db.session.get(User, task.completed_by_id).username


@pytest.mark.req("U1")
@pytest.mark.req("R3.7")
def test_every_action_once(new_page, live_app, world):
    """转办 → 委派 and 交回 → 同意 → 加签 → 减签 → 退回 → 同意 → 撤回 → 驳回; 催办 and 抄送 by the
    applicant's side; 认领 from a pool."""
    from playwright.sync_api import expect

    instance_id, task_id = _start(live_app, "doctor", "全部操作")
    signer1, signer2, signer3 = world.signers
    applicant = new_page(mobile=True)
    _log_in(applicant, "doctor")

    # 催办: the applicant reminds the head, from the record page on a phone.
    applicant.goto(f"/instances/{instance_id}")
    applicant.locator(f"[data-open-task='{task_id}'] [data-action=urge]").click()
    dialog = applicant.locator(f"#modal-urge-{task_id}")
    dialog.locator("textarea").fill("请尽快审核")
    with applicant.expect_navigation():
        dialog.locator("[data-confirm-action=urge]").click()
    assert _translated(live_app, "Reminder sent.") in _flash(applicant)

    # 抄送 and 转办: the head copies the task to the QC officer, then hands it to expert 甲.
    head = new_page()
    _log_in(head, "head")
    head.goto(f"/tasks/{task_id}")
    expect(head.locator("main")).to_contain_text(_translated(live_app, "Urged"))
    _act(head, "copy", people=[_staff_name(live_app, "qcofficer")], opinion="请知悉")
    assert _staff_name(live_app, "qcofficer") in _flash(head)
    _act(head, "transfer", people=[SIGNERS[0]], opinion="请甲主任代审")
    assert [t[2] for t in _open_tasks(live_app, instance_id)] == [world.signer_ids[0]]

    # 委派 and 交回: 甲 asks 乙 to look at it; 乙 hands it back; 甲 approves naming 乙 and 丙.
    first = new_page()
    _log_in(first, signer1)
    first.goto(f"/tasks/{task_id}")
    _act(first, "delegate", people=[SIGNERS[1]], opinion="请核实资质")
    second = new_page(mobile=True)
    _log_in(second, signer2)
    second.goto(f"/tasks/{task_id}")
    _act(second, "resolve", opinion="资质已核实")
    first.goto(f"/tasks/{task_id}")
    _choose_people(first, "#f-signers", [SIGNERS[1], SIGNERS[2]])
    _act(first, "complete", opinion="同意")
    signs = {t[2]: t[0] for t in _open_tasks(live_app, instance_id)}
    assert set(signs) == {world.signer_ids[1], world.signer_ids[2]}

    # 加签 and 减签: 乙 adds 甲 to the countersign, then removes 甲 again.
    second.goto(f"/tasks/{signs[world.signer_ids[1]]}")
    _act(second, "add_signers", people=[SIGNERS[0]])
    assert len(_open_tasks(live_app, instance_id)) == 3
    second.goto(f"/tasks/{signs[world.signer_ids[1]]}")
    _act(second, "remove_signers", checks=[world.signer_ids[0]])
    assert len(_open_tasks(live_app, instance_id)) == 2

    # 退回: 乙 sends it back to 科主任审核 — to 甲, who did that step.
    second.goto(f"/tasks/{signs[world.signer_ids[1]]}")
    _act(second, "return", target="科主任审核", opinion="请补充说明")
    [(again, spec, assignee, _status)] = _open_tasks(live_app, instance_id)
    assert (spec, assignee) == ("head_review", world.signer_ids[0])

    # 撤回: 甲 approves again and takes it back before the experts act.
    first.goto(f"/tasks/{again}")
    _choose_people(first, "#f-signers", [SIGNERS[2]])
    _act(first, "complete")
    first.goto(f"/tasks/{again}")
    _act(first, "withdraw", opinion="会签人选有误")
    [(again, spec, assignee, _status)] = _open_tasks(live_app, instance_id)
    assert (spec, assignee) == ("head_review", world.signer_ids[0])

    # 驳回: 甲 rejects; the process ends and the applicant sees it.
    first.goto(f"/tasks/{again}")
    _act(first, "reject", opinion="暂不具备开展条件")
    assert _instance_status(live_app, instance_id) == "rejected"
    applicant.goto(f"/instances/{instance_id}")
    expect(applicant.locator("[data-instance-status]")).to_have_attribute("data-instance-status", "rejected")
    for event in ("urge", "copy", "transfer", "delegate", "resolve", "add_signers", "remove_signers", "return",
                  "withdraw", "reject"):
        expect(applicant.locator(f"#timeline [data-event={event}]").first).to_be_visible()

    # 认领: a review of 血管外科 waits in the pool of its two heads; one claims it.
    _pool_instance, pool_task = _start(live_app, "e2e_vdoc", "认领", world.vascular_id)
    claimer = new_page()
    _log_in(claimer, "e2e_vhead1")
    claimer.goto("/tasks?tab=claim")
    claimer.locator(f"[data-task-id='{pool_task}']").click()
    _act(claimer, "claim")
    expect(claimer.locator(".portal-actionbar [data-action=complete]")).to_be_visible()
    for page in (applicant, head, first, second, claimer):
        assert not page.problems, page.problems


def _staff_name(live_app, username: str) -> str:
    from tests.portal.conftest import user

    return _server(live_app, lambda: user(username).staff.name)


@pytest.mark.req("U1")
@pytest.mark.parametrize("width", [1280, 375])
def test_inbox_and_task_page_screenshots(new_page, live_app, screenshots, world, width):
    from playwright.sync_api import expect

    _instance, task_id = _start(live_app, "doctor", f"截图{width}")
    _server(live_app, lambda: _urge(task_id))
    page = new_page(mobile=width == 375)
    _log_in(page, "head")
    page.goto("/tasks")
    expect(page.locator(f"[data-task-id='{task_id}']")).to_be_visible()
    page.screenshot(path=str(screenshots / f"portal-inbox-{width}.png"), full_page=True)
    _no_horizontal_scroll(page, width, "inbox")
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#diagram")).to_have_attribute("data-diagram-ready", "true")
    assert page.locator("#diagram").get_attribute("data-current") == "head_review"
    page.screenshot(path=str(screenshots / f"portal-task-{width}.png"), full_page=True)
    _no_horizontal_scroll(page, width, "task page")
    # The action bar stays on screen while the page scrolls.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight / 3)")
    box = page.locator(".portal-actionbar").bounding_box()
    viewport = page.viewport_size
    assert box["y"] + box["height"] <= viewport["height"] + 1 and box["y"] >= 0
    if width == 375:
        more = page.locator(".portal-actionbar [data-action=more]")
        more.tap()
        expect(page.locator(".portal-actionbar [data-action=transfer]")).to_be_visible()
    for url in ("/", "/tasks?tab=started", "/processes/start", "/processes/start/portal_application",
                f"/instances/{_instance}", "/tasks?tab=claim", "/tasks?tab=done", "/tasks?tab=copied",
                "/tasks?tab=queue"):
        page.goto(url)
        _no_horizontal_scroll(page, width, url)
    assert not page.problems, page.problems


def _urge(task_id: int) -> None:
    from app.workflow import runtime
    from tests.portal.conftest import user

    runtime.urge(user("doctor"), task_id, "请尽快")
