"""Doctor metrics in the browser (R1.5–R1.7): the dashboard's charts draw, a click on a bar opens
the rows behind it, and the pages work on a 375 px phone."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def _log_in(page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/$"))


def _no_horizontal_scroll(page, width: int) -> bool:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return scroll_width <= inner_width == width


def _busiest_surgeon(live_app) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.modules.clinical.models import DoctorMonthMetric
    from app.modules.org.models import Department, Staff

    with live_app.app_context():
        return db.session.execute(
            select(DoctorMonthMetric.staff_id).join(Staff, Staff.id == DoctorMonthMetric.staff_id)
            .join(Department, Department.id == Staff.department_id).where(Department.name == "普通外科")
            .group_by(DoctorMonthMetric.staff_id).order_by(func.sum(DoctorMonthMetric.operations).desc())
            .limit(1)).scalar()


@pytest.mark.req("R1.5")
@pytest.mark.parametrize("width", [1280, 375])
def test_dashboard_charts_drill_down_on_click(new_page, live_server, live_app, screenshots, width):
    from playwright.sync_api import expect

    staff_id = _busiest_surgeon(live_app)
    page = new_page(mobile=width == 375)
    _log_in(page, "head")
    page.goto(f"/clinical/doctors/{staff_id}?from=2024-11&to=2026-10")
    chart = page.locator('[data-chart="workload"] canvas')
    expect(chart).to_be_visible()
    expect(page.locator('[data-chart="levels"] canvas')).to_be_visible()
    page.screenshot(path=str(screenshots / f"clinical-dashboard-{width}.png"), full_page=True)
    assert _no_horizontal_scroll(page, width), f"dashboard scrolls sideways at {width} px"
    # The tallest bar of operations: click it and land on that month's operations.
    page.locator('[data-chart="workload"]').scroll_into_view_if_needed()
    point = page.evaluate("""() => {
        const el = document.querySelector('[data-chart="workload"]');
        const chart = echarts.getInstanceByDom(el);
        const option = chart.getOption();
        const values = option.series[1].data;
        let best = 0;
        values.forEach((v, i) => { if (v > values[best]) best = i; });
        const bar = chart.getModel().getSeriesByIndex(1).getData().getItemLayout(best);
        const box = el.getBoundingClientRect();
        return {x: box.left + bar.x + bar.width / 2, y: box.top + bar.y + bar.height / 2,
                month: option.xAxis[0].data[best], n: values[best]};
    }""")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url(re.compile(r".*/clinical/operations\?.*"))
    assert f"from={point['month']}" in page.url and f"staff_id={staff_id}" in page.url
    expect(page.locator("main")).to_contain_text(str(point["n"]))
    assert _no_horizontal_scroll(page, width), f"operation list scrolls sideways at {width} px"
    assert not page.problems, page.problems


@pytest.mark.req("R1.6")
def test_rankings_stays_and_imports_on_a_phone(new_page, live_server, screenshots):
    from playwright.sync_api import expect

    page = new_page(mobile=True)
    _log_in(page, "medaffairs")
    for path, name in (("/clinical/rankings?metric=avg_los", "rankings"), ("/clinical/stays?flag=death", "stays"),
                       ("/clinical/imports", "imports"), ("/clinical/dictionaries/drugs", "drugs")):
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        page.screenshot(path=str(screenshots / f"clinical-{name}-375.png"), full_page=True)
        assert _no_horizontal_scroll(page, 375), f"{path} scrolls sideways at 375 px"
    assert not page.problems, page.problems
