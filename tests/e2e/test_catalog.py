"""The technology catalog in a real browser (R2.2, R2.5, R2.6): the head of 普通外科 applies for a
hospital-catalog item from the department catalog, medical affairs approves it in the task portal on a
phone, and the item appears in the department catalog; the applicant follows it under 我发起的."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

ITEM = "经皮肝肿瘤射频消融术"


def _log_in(page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/")


def _no_horizontal_scroll(page, what: str) -> None:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width == 375, f"{what}: horizontal scrolling ({scroll_width} > {inner_width})"


def _department_id(live_app, name: str) -> int:
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.org.models import Department

    with live_app.app_context():
        return db.session.scalar(select(Department.id).where(Department.name == name))


@pytest.mark.req("R2.2")
@pytest.mark.req("R2.5")
def test_a_head_applies_medical_affairs_approves_and_the_item_joins_the_department(new_page, live_app,
                                                                                   screenshots):
    from playwright.sync_api import expect

    surgery = _department_id(live_app, "普通外科")
    head = new_page()
    _log_in(head, "head")
    head.goto("/catalog/departments")  # one department in scope: straight to its catalog
    expect(head).to_have_url(re.compile(rf"/catalog/departments/{surgery}$"))
    head.goto(f"/catalog/departments/{surgery}?q={ITEM}")
    expect(head.locator("#department-items")).to_have_count(0)  # not in the catalog yet
    with head.expect_navigation():
        head.locator(f"a[href='/catalog/departments/{surgery}/apply']").click()
    form = head.locator("#apply-form")
    expect(form.locator("#f-department_id")).to_have_value("普通外科")  # filled in
    form.locator("#f-item_ids").fill("肝肿瘤射频")
    head.locator("#f-item_ids-list [role=option]", has_text=ITEM).first.click()
    form.locator("#f-reason").fill("肝胆组已完成射频消融培训，设备到位，预计每年开展30例。")
    with head.expect_navigation():
        head.locator("[data-action=apply]").click()
    expect(head).to_have_url(re.compile(r"/instances/\d+$"))
    instance_id = int(head.url.rsplit("/", 1)[1])
    expect(head.locator("main")).to_contain_text(ITEM)
    head.goto("/tasks?tab=started")
    expect(head.locator(".portal-list")).to_contain_text("科室目录申请")

    officer = new_page(mobile=True)
    _log_in(officer, "medaffairs")
    officer.goto("/tasks")
    officer.locator(".portal-list a", has_text="科室目录申请").first.click()
    expect(officer.locator("main h1")).to_have_text(re.compile("医务科审核"))
    expect(officer.locator("[data-section]").first).to_contain_text("预计每年开展30例")
    expect(officer.locator("#task-form")).to_contain_text(ITEM)  # the applied item, pre-approved
    officer.screenshot(path=str(screenshots / "catalog-review-375.png"), full_page=True)
    _no_horizontal_scroll(officer, "catalog review task")
    bar = officer.locator(".portal-actionbar")
    bar.locator("[data-action=complete]").click()
    dialog = officer.locator("#modal-complete")
    dialog.wait_for(state="visible")
    dialog.locator("textarea").first.fill("同意纳入科室目录。")
    with officer.expect_navigation():
        dialog.locator("[data-confirm-action=complete]").click()
    assert not officer.problems, officer.problems

    head.goto(f"/instances/{instance_id}")
    expect(head.locator("[data-instance-status]")).to_have_attribute("data-instance-status", "completed")
    head.goto(f"/catalog/departments/{surgery}?q={ITEM}")
    row = head.locator("#department-items tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(ITEM)
    expect(row.locator(f"a[href='/instances/{instance_id}']")).to_be_visible()  # the approval behind it
    head.screenshot(path=str(screenshots / "catalog-department-1280.png"), full_page=True)
    assert not head.problems, head.problems


@pytest.mark.req("R2.6")
@pytest.mark.req("R2.4")
def test_catalog_pages_work_at_phone_width(new_page, live_app, screenshots):
    from playwright.sync_api import expect

    page = new_page(mobile=True)
    _log_in(page, "medaffairs")
    for path, name in (("/catalog/", "items"), ("/catalog/restricted", "restricted"),
                       ("/catalog/analytics", "analytics")):
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        _no_horizontal_scroll(page, path)
        page.screenshot(path=str(screenshots / f"catalog-{name}-375.png"), full_page=True)
    page.goto("/catalog/analytics")
    expect(page.locator("#catalog-kind-chart canvas")).to_have_count(1)  # the chart drew
    page.goto("/catalog/restricted")
    page.locator("#restricted-table tbody tr a").first.click()
    expect(page.locator("#restricted-chart canvas")).to_have_count(1)
    expect(page.locator("#indicator-table")).to_be_visible()
    _no_horizontal_scroll(page, "restricted technology page")
    assert not page.problems, page.problems
