"""Every demo role logs in through the real form and reaches its home page, on a desktop and on a
375 px phone (U1: staff use the web portal, on the ward's phones too)."""
from __future__ import annotations

import re

import pytest

from app.demo.hospital import DEMO_ACCOUNTS

pytestmark = pytest.mark.browser

NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
WIDTHS = {1280: False, 375: True}  # width → mobile


@pytest.fixture(scope="module")
def display_names(live_app) -> dict[str, str]:
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.accounts.models import User

    with live_app.app_context():
        return dict(db.session.execute(select(User.username, User.display_name)).all())


def _translated(live_app, message: str, **values) -> str:
    """`message` as the page shows it (the default locale; no user locale set in the demo)."""
    from flask_babel import force_locale, gettext

    with live_app.test_request_context(), force_locale(live_app.config["DEFAULT_LOCALE"]):
        return gettext(message, **values)


def _log_in(page, username: str, password: str = "demo") -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()


def _assert_no_horizontal_scroll(page, width: int, what: str) -> None:
    # A phone (is_mobile) widens the layout viewport to fit content that overflows, so
    # scrollWidth <= innerWidth alone would pass: innerWidth must also stay the device width.
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert page.evaluate(NO_HORIZONTAL_SCROLL) and inner_width == width, \
        f"{what}: horizontal scrolling (scrollWidth {scroll_width}, innerWidth {inner_width}, " \
        f"device width {width})"


@pytest.mark.req("U1")
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("username", [a.username for a in DEMO_ACCOUNTS])
def test_role_reaches_home(new_page, live_server, screenshots, display_names, username, width):
    from playwright.sync_api import expect

    page = new_page(mobile=WIDTHS[width])
    _log_in(page, username)
    page.wait_for_url(f"{live_server}/")
    heading = page.locator("main h1")
    expect(heading).to_contain_text(display_names[username])
    page.screenshot(path=str(screenshots / f"home-{username}-{width}.png"), full_page=True)
    _assert_no_horizontal_scroll(page, width, f"home of {username} at {width} px")
    assert not page.problems, f"{username} at {width} px: {page.problems}"


@pytest.mark.req("U1")
def test_wrong_password_shows_error_on_phone(new_page, live_server, live_app, screenshots):
    from playwright.sync_api import expect
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.accounts.models import User

    with live_app.app_context():
        failures = db.session.scalar(select(User.failed_logins).where(User.username == "expert"))
    left = live_app.config["LOGIN_MAX_FAILURES"] - failures - 1
    expected = _translated(live_app, "Wrong username or password. %(left)d attempts left before "
                                     "the account is locked.", left=left)
    page = new_page(mobile=True)
    _log_in(page, "expert", "wrong-password")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(expected)
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.locator("#password")).to_have_value("")  # the password is not echoed back
    page.screenshot(path=str(screenshots / "login-error-375.png"), full_page=True)
    _assert_no_horizontal_scroll(page, 375, "login page with an error at 375 px")
    assert not page.problems, page.problems


@pytest.mark.req("U1")
def test_phone_navigation_menu(new_page, live_server, screenshots):
    from playwright.sync_api import expect

    page = new_page(mobile=True)
    _log_in(page, "head")
    page.wait_for_url(f"{live_server}/")
    staff_link = page.locator("#mainnav a.nav-link[href='/org/staff']")
    expect(staff_link).to_be_hidden()  # collapsed behind the hamburger at 375 px
    toggler = page.locator("button.navbar-toggler")
    expect(toggler).to_be_visible()
    toggler.tap()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#mainnav")).to_have_class(re.compile(r"\bshow\b"))  # opened, not opening
    expect(staff_link).to_be_visible()
    page.screenshot(path=str(screenshots / "nav-open-375.png"), full_page=True)
    label = staff_link.inner_text().strip()
    staff_link.tap()
    page.wait_for_url(re.compile(re.escape(live_server) + r"/org/staff$"))
    expect(page.locator("main h1")).to_have_text(label)
    expect(page.locator("main table tbody tr").first).to_be_visible()
    page.screenshot(path=str(screenshots / "nav-staff-375.png"), full_page=True)
    _assert_no_horizontal_scroll(page, 375, "staff list of head at 375 px")
    assert not page.problems, page.problems
