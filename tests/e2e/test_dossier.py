"""The doctor dossier in a real browser (R1.2): a doctor adds a certificate from a 375 px phone —
photo picked, previewed, refused with a clear message when it is not an image, then saved with its
thumbnail shown in the certificates tab; no horizontal scrolling on the way."""
from __future__ import annotations

import io

import pytest
from PIL import Image

pytestmark = pytest.mark.browser

WIDTH = 375


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 440), (24, 96, 168)).save(out, "PNG")
    return out.getvalue()


def _no_horizontal_scroll(page, what: str) -> None:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width == WIDTH, f"{what}: scrollWidth {scroll_width}, innerWidth {inner_width}"


@pytest.mark.req("R1.2")
def test_a_doctor_uploads_a_certificate_photo_on_a_phone(new_page, live_server, live_app, screenshots):
    from playwright.sync_api import expect
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.accounts.models import User
    from app.modules.dossier.models import Certificate

    page = new_page(mobile=True)
    page.goto("/login")
    page.locator("#username").fill("doctor")
    page.locator("#password").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/")
    page.goto("/dossier/")
    expect(page.locator("main h1")).to_be_visible()
    page.locator('.dossier-tabs a[data-tab="certificates"]').click()
    expect(page.locator("#dossier-tab-certificates")).to_be_visible()
    _no_horizontal_scroll(page, "certificates tab")
    page.locator("#add-certificate").click()
    expect(page.locator("#certificate-form")).to_be_visible()
    page.locator("#cert_type").select_option("specialist")
    page.locator("#name").fill("腔镜技术培训合格证书")
    page.locator("#number").fill("E2E-QJ-0001")
    page.locator("#issuer").fill("省医学会")
    page.locator("#issued_on").fill("2025-06-01")
    page.locator("#expires_on").fill("2029-06-01")
    # Not an image: refused beside the field, nothing saved.
    page.locator("#files").set_input_files(files=[{"name": "证书.jpg", "mimeType": "image/jpeg",
                                                   "buffer": b"this is not a picture"}])
    page.locator("#save-certificate").click()
    expect(page.locator("#files-error")).to_contain_text("不是有效的图片或PDF")
    _no_horizontal_scroll(page, "certificate form with an error")
    # The real photo: previewed before sending, then saved.
    page.locator("#name").fill("腔镜技术培训合格证书")
    page.locator("#files").set_input_files(files=[{"name": "证书正面.png", "mimeType": "image/png",
                                                   "buffer": _png()}])
    expect(page.locator("#file-previews img")).to_have_count(1)
    page.screenshot(path=str(screenshots / f"dossier-certificate-form-{WIDTH}.png"), full_page=True)
    page.locator("#save-certificate").click()
    card = page.locator(".certificate-card", has_text="腔镜技术培训合格证书")
    expect(card).to_be_visible()
    thumb = card.locator("img")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") > 0, "the server-made thumbnail loads"
    _no_horizontal_scroll(page, "certificates tab after the upload")
    page.screenshot(path=str(screenshots / f"dossier-certificates-{WIDTH}.png"), full_page=True)
    with live_app.app_context():
        doctor = db.session.scalar(select(User).where(User.username == "doctor"))
        saved = db.session.scalar(select(Certificate).where(Certificate.number == "E2E-QJ-0001"))
        assert saved.staff_id == doctor.staff_id and len(saved.files) == 1 and saved.files[0].thumb_name
        assert db.session.scalar(select(Certificate.id).where(Certificate.name == "腔镜技术培训合格证书",
                                                              Certificate.id != saved.id)) is None
    # The 422 of the refused attempt is expected; nothing else may fail.
    assert [p for p in page.problems if "422" not in p] == []
