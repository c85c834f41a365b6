"""An administrator runs the operations console in the browser: filters instances, migrates a safe
one to the new version, sees an unsafe one refused with the reason (single and bulk), and opens the
process analytics with their charts (U2)."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

KEY = "e2e_ops_flow"


def _flow(steps: list[tuple[str, str, str]]) -> str:
    from tests.workflow.conftest import bpmn_doc, chain

    nodes = [f'<bpmn:{tag} id="{sid}" name="{name}" mt:role="initiator"/>' for sid, name, tag in steps]
    return bpmn_doc(chain(*nodes), KEY, name="E2E leave request")


def _setup(live_app) -> dict:
    """v1: a → b; instance X waits at a, Y at b; v2 renames a, makes b a manual task and adds d."""
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.accounts.models import User
    from app.workflow import registry, runtime

    with live_app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))

        def publish(xml):
            [draft] = registry.save_process_draft(admin, xml)
            return registry.publish_process(admin, draft)

        publish(_flow([("a", "Fill in", "userTask"), ("b", "Head approves", "userTask")]))
        x = runtime.start(admin, KEY, business_key="E2E-X", subject="Safe one")
        y = runtime.start(admin, KEY, business_key="E2E-Y", subject="Unsafe one")
        runtime.complete(admin, runtime.open_tasks(y.id)[0].id, data={})
        publish(_flow([("a", "Fill in the request", "userTask"), ("b", "Head approves", "manualTask"),
                       ("d", "Archive", "userTask")]))
        db.session.commit()
        return {"x": x.id, "y": y.id}


@pytest.mark.req("U2")
def test_admin_filters_migrates_and_sees_analytics(new_page, live_app, screenshots):
    ids = _setup(live_app)
    page = new_page()
    page.goto("/login")
    page.locator("#username").fill("admin")
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()

    page.locator("nav a[href='/studio/ops']").click()
    page.locator("#f-process").select_option(KEY)
    page.locator("#ops-filters button[type=submit]").click()
    rows = page.locator("#instance-list tbody tr")
    expect(rows).to_have_count(2)
    page.locator("#f-business-key").fill("E2E-X")
    page.locator("#ops-filters button[type=submit]").click()
    expect(rows).to_have_count(1)
    expect(page.locator(f"tr[data-instance='{ids['x']}'] [data-version]")).to_have_text("v1")
    page.screenshot(path=str(screenshots / "ops-console-1280.png"), full_page=True)

    # The safe one: migrate from its page.
    page.locator(f"tr[data-instance='{ids['x']}'] a").first.click()
    expect(page.locator("[data-migration='safe']")).to_be_visible()
    page.locator("[data-migrate-form] textarea[name=reason]").fill("Archive step added")
    page.locator("[data-migrate-form] button[type=submit]").click()
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("#instance-version")).to_have_text("v2")
    expect(page.locator("[data-event='migrate']")).to_have_count(1)
    expect(page.locator("#open-tasks")).to_contain_text("Fill in the request")
    page.screenshot(path=str(screenshots / "ops-instance-1280.png"), full_page=True)

    # The unsafe one: its page shows why, and a bulk migration of it is refused with the reason.
    page.goto(f"/studio/ops/instances/{ids['y']}")
    expect(page.locator("[data-migration='unsafe']")).to_be_visible()
    expect(page.locator("[data-migration-reasons]")).to_contain_text("Head approves")
    page.goto(f"/studio/ops?process={KEY}&business_key=E2E-Y")
    page.locator(f"input[name=instance_ids][value='{ids['y']}']").check()
    page.locator("#bulk-scope").select_option("selected")
    page.locator("#bulk-reason").fill("Try the new flow")
    page.locator("#bulk-submit").click()
    expect(page.locator("#migration-result")).to_be_visible(timeout=30_000)
    refused = page.locator(f"#refused-list tr[data-refused='{ids['y']}']")
    expect(refused).to_contain_text("Head approves")
    page.goto(f"/studio/ops/instances/{ids['y']}")
    expect(page.locator("#instance-version")).to_have_text("v1")

    # Analytics of the process: charts render.
    page.goto(f"/studio/analytics/{KEY}")
    expect(page.locator("#analytics-charts")).to_have_attribute("data-charts-ready", "true")
    expect(page.locator("[data-chart='months'] canvas").first).to_be_visible()
    expect(page.locator("[data-chart='durations'] canvas").first).to_be_visible()
    expect(page.locator("#step-table tr[data-step='a']")).to_have_count(1)
    page.screenshot(path=str(screenshots / "ops-analytics-1280.png"), full_page=True)
    assert not page.problems, page.problems


def test_console_at_phone_width(new_page, live_app, screenshots):
    page = new_page(mobile=True)
    page.goto("/login")
    page.locator("#username").fill("admin")
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.goto("/studio/ops")
    expect(page.locator("#ops-filters")).to_be_visible()
    # Process and search stay in view; the other filters fold away until asked for.
    expect(page.locator("#f-q")).to_be_visible()
    expect(page.locator("#f-business-key")).to_be_hidden()
    page.locator("#ops-more-toggle").click()
    expect(page.locator("#f-business-key")).to_be_visible()
    page.locator("#f-business-key").fill("E2E-NONE")
    page.locator("#ops-filters button[type=submit]").click()
    expect(page.locator("#ops-more-toggle .badge")).to_have_text("1")
    expect(page.locator("#f-business-key")).to_have_value("E2E-NONE")  # open while a filter in it is set
    expect(page.locator("#f-business-key")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, width
    page.screenshot(path=str(screenshots / "ops-console-375.png"), full_page=True)
    assert not page.problems, page.problems
