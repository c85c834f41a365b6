"""Certificates (R1.2): upload checked by content and size, thumbnails, duplicates refused, files served
only within scope, edit and delete, the hospital-wide overview with its expiry filters."""
import io
import re
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.modules.dossier.models import Certificate, CertificateFile
from app.modules.dossier.services import storage
from tests.dossier.helpers import jpeg, pdf, png, staff_of, token_of
from tests.factories import create_department, create_staff


def _post(client, url: str, files: list[tuple[bytes, str]], **fields):
    page = client.get(url).get_data(as_text=True)
    data = {"csrf_token": token_of(page), "cert_type": "specialist", "name": "介入诊疗培训合格证书",
            "number": "JR-2026-0001", "issuer": "省卫生健康委员会", "issued_on": "2024-03-01",
            "expires_on": "2028-03-01", **fields}
    data["files"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(url, data=data, content_type="multipart/form-data")


def _count(staff_id: int) -> int:
    return db.session.scalar(select(func.count(Certificate.id)).where(Certificate.staff_id == staff_id))


@pytest.mark.req("R1.2")
def test_a_doctor_uploads_a_certificate_with_an_image_and_a_pdf_and_gets_thumbnails(client, login, ctx):
    doctor = staff_of("doctor")
    login("doctor")
    response = _post(client, f"/dossier/{doctor.id}/certificates/new", [(png(), "正面.png"), (pdf(), "全本.pdf")])
    assert response.status_code == 303
    cert = db.session.scalar(select(Certificate).where(Certificate.number == "JR-2026-0001"))
    assert cert.staff_id == doctor.id and [f.mime for f in cert.files] == ["image/png", "application/pdf"]
    for f in cert.files:
        assert storage.path_of(f.stored_name).read_bytes()[:4] in (b"\x89PNG", b"%PDF")
        assert f.thumb_name, "the PDF's first page is rendered too (PDFium)"
        thumb = client.get(f"/dossier/files/{f.id}/thumb")
        assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
        assert Image.open(io.BytesIO(thumb.data)).width <= storage.THUMB_SIZE[0]
    original = client.get(f"/dossier/files/{cert.files[1].id}")
    assert original.status_code == 200 and original.data[:5] == b"%PDF-"
    tab = client.get(f"/dossier/{doctor.id}?tab=certificates").get_data(as_text=True)
    assert "介入诊疗培训合格证书" in tab and f"/dossier/files/{cert.files[0].id}/thumb" in tab


@pytest.mark.req("R1.2")
def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_saved(client, login, ctx):
    doctor = staff_of("doctor")
    before = _count(doctor.id)
    login("doctor")
    fake = b"MZ\x90\x00" + b"\x00" * 2000  # an executable named like a photo
    response = _post(client, f"/dossier/{doctor.id}/certificates/new", [(jpeg(), "ok.jpg"), (fake, "照片.jpg")])
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "“照片.jpg”不是有效的图片或PDF" in page
    assert _count(doctor.id) == before
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    response = _post(client, f"/dossier/{doctor.id}/certificates/new", [(gif.getvalue(), "a.png")])
    assert response.status_code == 422 and "GIF" in response.get_data(as_text=True)
    broken_pdf = b"%PDF-1.7\n" + b"garbage" * 50
    assert _post(client, f"/dossier/{doctor.id}/certificates/new", [(broken_pdf, "x.pdf")]).status_code == 422
    assert _count(doctor.id) == before


@pytest.mark.req("R1.2")
def test_an_oversized_file_is_refused_with_the_limit_named(app, client, login, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "DOSSIER_MAX_FILE_MB", 1)
    doctor = staff_of("doctor")
    before = _count(doctor.id)
    noise = Image.frombytes("RGB", (900, 900), __import__("os").urandom(900 * 900 * 3))  # incompressible
    big = io.BytesIO()
    noise.save(big, "PNG")
    assert len(big.getvalue()) > 1024 * 1024
    login("doctor")
    response = _post(client, f"/dossier/{doctor.id}/certificates/new", [(big.getvalue(), "大图.png")])
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "最大允许 1 MB" in page
    assert _count(doctor.id) == before


@pytest.mark.req("R1.2")
def test_a_duplicate_certificate_number_of_the_same_type_is_refused(client, login, ctx):
    doctor = staff_of("doctor")
    taken = db.session.scalar(select(Certificate).where(Certificate.cert_type == "practice",
                                                        Certificate.staff_id != doctor.id))
    login("doctor")
    response = _post(client, f"/dossier/{doctor.id}/certificates/new", [(png(), "a.png")], cert_type="practice",
                     name="医师执业证书", number=taken.number)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and f"编号为 {taken.number} 的执业证书已登记" in page
    # The same number under another type is a different certificate.
    assert _post(client, f"/dossier/{doctor.id}/certificates/new", [(png(), "a.png")], cert_type="other",
                 name="其他证书", number=taken.number).status_code == 303


@pytest.mark.req("R1.2")
def test_certificate_files_are_served_only_within_scope(client, login, ctx):
    doctor = staff_of("doctor")
    outsider = create_staff(department=create_department(name="外院科室"))
    login("medaffairs")
    assert _post(client, f"/dossier/{outsider.id}/certificates/new", [(png(), "a.png")]).status_code == 303
    cert = db.session.scalar(select(Certificate).where(Certificate.staff_id == outsider.id))
    file_id = cert.files[0].id
    own = db.session.scalar(select(CertificateFile.id).join(Certificate).where(Certificate.staff_id == doctor.id))
    client.post("/logout", data={"csrf_token": token_of(client.get("/").get_data(as_text=True))})
    login("doctor")
    assert client.get(f"/dossier/files/{own}").status_code == 200
    for url in (f"/dossier/files/{file_id}", f"/dossier/files/{file_id}/thumb",
                f"/dossier/certificates/{cert.id}/edit"):
        assert client.get(url).status_code == 404, url
    page = client.get(f"/dossier/{doctor.id}").get_data(as_text=True)
    assert client.post(f"/dossier/certificates/{cert.id}/delete",
                       data={"csrf_token": token_of(page)}).status_code == 404
    assert client.get("/dossier/certificates").status_code == 403  # the overview is medical affairs'
    client.post("/logout", data={"csrf_token": token_of(page)})
    login("head")  # sees the dossiers of the department, changes none
    colleague_cert = db.session.scalar(select(Certificate).where(Certificate.staff_id == doctor.id))
    assert client.get(f"/dossier/files/{colleague_cert.files[0].id}").status_code == 200
    assert client.get(f"/dossier/certificates/{colleague_cert.id}/edit").status_code == 403


@pytest.mark.req("R1.2")
def test_the_doctor_edits_adds_pages_removes_a_page_and_deletes_a_certificate(client, login, ctx):
    doctor = staff_of("doctor")
    login("doctor")
    _post(client, f"/dossier/{doctor.id}/certificates/new", [(png(), "p1.png")], number="ED-1")
    cert = db.session.scalar(select(Certificate).where(Certificate.number == "ED-1"))
    edit = f"/dossier/certificates/{cert.id}/edit"
    response = _post(client, edit, [(jpeg(), "p2.jpg")], number="ED-2", expires_on="2029-01-01",
                     name="介入诊疗培训合格证书（复训）")
    assert response.status_code == 303
    db.session.refresh(cert)
    assert (cert.number, cert.expires_on, len(cert.files)) == ("ED-2", date(2029, 1, 1), 2)
    first = cert.files[0]
    stored = storage.path_of(first.stored_name)
    page = client.get(edit).get_data(as_text=True)
    assert client.post(f"/dossier/files/{first.id}/delete", data={"csrf_token": token_of(page)}).status_code == 303
    db.session.refresh(cert)
    assert len(cert.files) == 1 and not stored.exists()
    last = cert.files[0]
    client.post(f"/dossier/files/{last.id}/delete", data={"csrf_token": token_of(page)})
    db.session.refresh(cert)
    assert len(cert.files) == 1  # the last page stays: a certificate keeps at least one file
    bad = _post(client, edit, [], expires_on="2020-01-01", issued_on="2024-03-01")
    assert bad.status_code == 422 and "有效期至必须晚于发证日期" in bad.get_data(as_text=True)
    remaining = storage.path_of(last.stored_name)
    assert client.post(f"/dossier/certificates/{cert.id}/delete",
                       data={"csrf_token": token_of(page)}).status_code == 303
    assert db.session.get(Certificate, cert.id) is None and not remaining.exists()
    from app.core.audit import AuditEntry

    actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "dossier_certificate",
                                                                     AuditEntry.object_id == str(cert.id))))
    assert {"dossier.certificate_created", "dossier.certificate_updated", "dossier.certificate_file_deleted",
            "dossier.certificate_deleted"} <= actions


@pytest.mark.req("R1.2")
def test_the_overview_filters_by_department_type_and_expiry(client, login, ctx):
    today = date.today()
    expired = db.session.scalar(select(func.count(Certificate.id)).where(Certificate.expires_on < today))
    expiring = db.session.scalar(select(func.count(Certificate.id)).where(
        Certificate.expires_on >= today, Certificate.expires_on <= today + timedelta(days=30)))
    assert expired > 0 and expiring > 0, "the demo has expired and expiring certificates"
    login("medaffairs")
    page = client.get("/dossier/certificates?expiry=expired").get_data(as_text=True)
    assert re.search(rf"(共 {expired} 条|{expired} in total)", page)
    page = client.get("/dossier/certificates?expiry=expiring&within=30").get_data(as_text=True)
    assert re.search(rf"(共 {expiring} 条|{expiring} in total)", page)
    doctor = staff_of("doctor")
    practice = db.session.scalar(select(func.count(Certificate.id)).join(Certificate.staff).where(
        Certificate.cert_type == "practice", Certificate.staff.has(department_id=doctor.department_id)))
    page = client.get(f"/dossier/certificates?cert_type=practice&department_id={doctor.department_id}")
    assert re.search(rf"(共 {practice} 条|{practice} in total)", page.get_data(as_text=True))
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(client.get("/dossier/certificates.xlsx?expiry=expired").data)).active
    assert sheet.max_row - 1 == expired


@pytest.mark.req("R1.2")
def test_an_impossible_date_is_reported_together_with_every_other_problem(client, login, ctx):
    doctor = staff_of("doctor")
    before = _count(doctor.id)
    login("doctor")
    response = _post(client, f"/dossier/{doctor.id}/certificates/new", [], issued_on="2026-02-30", name="",
                     number="")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("issued_on", "name", "number", "files"):  # all at once, not one more on each submit
        assert f'id="{field}-error"' in page, field
    assert _count(doctor.id) == before
