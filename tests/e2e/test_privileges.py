"""A surgery privilege application on a 375 px phone (R3.1, R3.7): the doctor sees the computed history
and an item refused by the rules before submitting, applies for an eligible one, the department head
and medical affairs approve it on their phones, and the grant appears in the doctor's privileges."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.browser

NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@dataclass
class World:
    username: str
    low_item: int  # 二级: may be applied for
    high_item: int  # 四级: above the attending's title


@pytest.fixture(scope="module")
def world(live_app) -> World:
    from datetime import date, timedelta

    from sqlalchemy import select

    from app.core import uow
    from app.extensions import db
    from app.modules.catalog.models import CatalogItem, CatalogItemCode, DepartmentCatalogItem
    from app.modules.org.models import Department
    from tests import factories

    with live_app.test_request_context():
        surgery = db.session.scalar(select(Department).where(Department.name == "普通外科"))
        staff = factories.create_staff(department=surgery, name="掌上申请医师", title_code="attending",
                                       title_since=date.today() - timedelta(days=400))
        user = factories.create_user("physician", staff=staff, username="e2e_pv_doctor")
        items = {}
        for level in (2, 4):
            item = db.session.scalars(select(CatalogItem).where(
                CatalogItem.kind == "surgery", CatalogItem.level == level,
                CatalogItem.id.in_(select(CatalogItemCode.item_id))).order_by(CatalogItem.id)).first()
            present = db.session.scalar(select(DepartmentCatalogItem).where(
                DepartmentCatalogItem.item_id == item.id, DepartmentCatalogItem.department_id == surgery.id))
            if present is None:
                db.session.add(DepartmentCatalogItem(department_id=surgery.id, item_id=item.id, status="active"))
            items[level] = item.id
        uow.commit()
        return World(user.username, items[2], items[4])


def granted_name(live_app, world) -> str:
    from app.extensions import db
    from app.modules.catalog.models import CatalogItem

    with live_app.test_request_context():
        return db.session.get(CatalogItem, world.low_item).name


def _log_in(page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/")


def _no_horizontal_scroll(page, what: str) -> None:
    assert page.evaluate(NO_HORIZONTAL_SCROLL), f"{what}: horizontal scrolling at 375 px"


def _approve(page, live_app, application_url: str, step: str) -> None:
    from playwright.sync_api import expect

    page.goto(application_url)
    page.locator("main .alert a.btn", has_text=re.compile(".")).first.click()
    expect(page.locator("main h1")).to_have_text(re.compile(step))
    page.locator(".portal-actionbar [data-action=complete]").click()
    dialog = page.locator("#modal-complete")
    dialog.wait_for(state="visible")
    dialog.locator("textarea").first.fill("同意授权")
    with page.expect_navigation():
        dialog.locator("[data-confirm-action=complete]").click()


@pytest.mark.req("R3.1")
@pytest.mark.req("R3.7")
def test_surgery_application_on_a_phone(new_page, live_app, screenshots, world):
    from playwright.sync_api import expect

    doctor = new_page(mobile=True)
    _log_in(doctor, world.username)
    doctor.goto("/privileges/apply")
    doctor.locator("[data-type=surgery]").click()
    expect(doctor.locator("main h1")).to_contain_text("手术授权申请")
    high = doctor.locator(f"[data-item='item:{world.high_item}']")
    expect(high).to_have_attribute("data-eligible", "false")
    expect(high.locator("[data-reason]")).to_contain_text("四级手术，职称不符")
    expect(high.locator("input[type=checkbox]")).to_be_disabled()
    low = doctor.locator(f"[data-item='item:{world.low_item}']")
    expect(low).to_have_attribute("data-eligible", "true")
    expect(low.locator("[data-history]")).to_have_attribute("data-history", re.compile(r"^\d+,\d+,\d+,\d+$"))
    low.locator("input[type=checkbox]").check()
    doctor.locator("#f-reason").fill("科室开展需要，已在上级医师指导下完成多例。")
    _no_horizontal_scroll(doctor, "apply page")
    doctor.screenshot(path=str(screenshots / "privileges-apply-375.png"), full_page=True)
    with doctor.expect_navigation():
        doctor.locator("[data-action=submit]").click()
    expect(doctor).to_have_url(re.compile(r"/privileges/applications/\d+$"))
    application_url = doctor.url
    expect(doctor.locator("#application-status")).to_have_attribute("data-status", "pending")
    expect(doctor.locator("#auto-decision [data-outcome]")).to_have_attribute("data-outcome", "review")
    _no_horizontal_scroll(doctor, "application page")

    head = new_page(mobile=True)
    _log_in(head, "head")
    _approve(head, live_app, application_url, "科主任审核")
    clerk = new_page(mobile=True)
    _log_in(clerk, "medclerk")
    _approve(clerk, live_app, application_url, "医务科审核")

    doctor.goto(application_url)
    expect(doctor.locator("#application-status")).to_have_attribute("data-status", "approved")
    granted = doctor.locator("main table a[href*='/privileges/grants/']")
    expect(granted).to_have_count(1)
    doctor.goto("/privileges/")
    expect(doctor.locator("main table")).to_contain_text(granted_name(live_app, world))
    doctor.screenshot(path=str(screenshots / "privileges-granted-375.png"), full_page=True)
    for page in (doctor, head, clerk):
        assert not page.problems, page.problems
