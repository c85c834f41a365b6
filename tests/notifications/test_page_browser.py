"""The notifications page and the jobs console in a real browser, on a desktop and a 375 px phone."""
from __future__ import annotations

import pytest



pytestmark = pytest.mark.browser

NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
WIDTHS = {1280: False, 375: True}


def _log_in(page, username: str) -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/")


def _seed(app, username: str, width: int) -> None:
    from sqlalchemy import select

    from app.core import notify, uow
    from app.core.notify.models import JobRun
    from app.extensions import db
    from app.modules.accounts.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        notify.notify([user.id], "task", f"待审核：普通外科 张三 三级手术授权申请（{width}）",
                      "申请人提交了新的手术授权申请，请在 3 个工作日内完成科室审核。" * 2,
                      link="/notifications?from=link", important=True)
        notify.notify([user.id], "task", f"无链接的通知（{width}）")
        db.session.add(JobRun(name="notify.send_outbox", args={"args": [1], "kwargs": {}},
                              status="failed", progress=30, attempts=4,
                              error="Traceback (most recent call last):\n  " + "x" * 300))
        uow.commit()


def _no_horizontal_scroll(page, width: int) -> None:
    assert page.evaluate(NO_HORIZONTAL_SCROLL) and page.evaluate("window.innerWidth") == width


@pytest.mark.req("U1")
@pytest.mark.parametrize("width", list(WIDTHS))
def test_notifications_page_on_desktop_and_phone(new_page, live_app, screenshots, width):  # noqa: F811
    _seed(live_app, "admin", width)
    page = new_page(mobile=WIDTHS[width])
    _log_in(page, "admin")
    page.goto("/notifications")
    assert page.locator("#unread-count").inner_text().strip().isdigit()
    page.screenshot(path=str(screenshots / f"notifications-{width}.png"), full_page=True)
    _no_horizontal_scroll(page, width)
    page.locator(f"button[data-link]:has-text('（{width}）')").first.click()
    page.wait_for_url("**/notifications?from=link")

    page.goto("/admin/jobs")
    page.screenshot(path=str(screenshots / f"admin-jobs-{width}.png"), full_page=True)
    _no_horizontal_scroll(page, width)
    assert not page.problems, page.problems
