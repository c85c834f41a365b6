"""Zip exports of certificates as tracked jobs (R1.2), and expiry reminders through the notification
outbox, one per certificate and threshold (R1.2)."""
import io
import re
import zipfile
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.core import jobs
from app.core.notify.models import Notification, OutboxMessage
from app.extensions import db
from app.modules.dossier.models import Certificate, CertificateReminder, DossierExport
from app.modules.dossier.services import reminders
from app.modules.org.models import Department, Staff
from tests.dossier.helpers import staff_of, token_of, user


def _download(client, export_id: int) -> zipfile.ZipFile:
    response = client.get(f"/dossier/exports/{export_id}/download")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.data))


def _index(archive: zipfile.ZipFile) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(archive.read("index.xlsx"))).active
    return [tuple(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


@pytest.mark.req("R1.2")
def test_a_doctor_exports_their_certificates_as_a_zip_with_folders_and_an_index(client, login, ctx):
    doctor = staff_of("doctor")
    certificates = db.session.scalars(select(Certificate).where(Certificate.staff_id == doctor.id)).all()
    login("doctor")
    page = client.get(f"/dossier/{doctor.id}?tab=certificates").get_data(as_text=True)
    response = client.post(f"/dossier/{doctor.id}/certificates/export", data={"csrf_token": token_of(page)})
    export_id = int(re.search(r"/exports/(\d+)", response.location).group(1))
    jobs.stop_local()  # the job shares the test's connection: let it finish
    export = db.session.get(DossierExport, export_id)
    db.session.refresh(export)
    assert export.status == "done" and export.certificates == len(certificates)
    status = client.get(f"/jobs/{export.job_run_id}").get_json()
    assert (status["status"], status["progress"]) == ("done", 100)
    assert 'id="download-export"' in client.get(f"/dossier/exports/{export_id}").get_data(as_text=True)
    archive = _download(client, export_id)
    folder = f"{doctor.department.name}/{doctor.name}_{doctor.employee_no}/"
    names = archive.namelist()
    files = [n for n in names if n != "index.xlsx"]
    assert files and all(n.startswith(folder) for n in files)
    assert len(files) == sum(len(c.files) for c in certificates)
    rows = _index(archive)
    assert sorted(r[5] for r in rows) == sorted(c.number or "" for c in certificates)
    assert all(r[2] == doctor.employee_no and r[10] for r in rows)
    for name in files:  # the files are the stored ones, byte for byte
        data = archive.read(name)
        assert data[:4] in (b"\xff\xd8\xff\xe0", b"%PDF", b"\x89PNG") or data[:3] == b"\xff\xd8\xff"


@pytest.mark.req("R1.2")
def test_medical_affairs_exports_everyone_filtered_by_department(client, login, ctx):
    surgery = db.session.scalar(select(Department).where(Department.name == "普通外科"))
    expected = db.session.scalar(select(func.count(Certificate.id)).join(Staff, Staff.id == Certificate.staff_id)
                                 .where(Staff.department_id == surgery.id))
    people = db.session.scalar(select(func.count(func.distinct(Certificate.staff_id)))
                               .join(Staff, Staff.id == Certificate.staff_id).where(Staff.department_id == surgery.id))
    login("medaffairs")
    page = client.get("/dossier/certificates").get_data(as_text=True)
    response = client.post("/dossier/certificates/export", data={"csrf_token": token_of(page),
                                                                 "department_id": str(surgery.id)})
    export_id = int(re.search(r"/exports/(\d+)", response.location).group(1))
    jobs.stop_local()
    archive = _download(client, export_id)
    rows = _index(archive)
    assert len(rows) == expected and {r[0] for r in rows} == {"普通外科"}
    folders = {n.rsplit("/", 1)[0] for n in archive.namelist() if n != "index.xlsx"}
    assert len(folders) == people and all(f.startswith("普通外科/") for f in folders)
    # Someone else cannot see or fetch this export.
    client.post("/logout", data={"csrf_token": token_of(page)})
    login("medclerk")
    assert client.get(f"/dossier/exports/{export_id}").status_code == 404
    assert client.get(f"/dossier/exports/{export_id}/download").status_code == 404


@pytest.mark.req("R1.2")
def test_the_whole_hospital_export_holds_every_certificate(client, login, ctx):
    total = db.session.scalar(select(func.count(Certificate.id)))
    login("medaffairs")
    page = client.get("/dossier/certificates").get_data(as_text=True)
    response = client.post("/dossier/certificates/export", data={"csrf_token": token_of(page)})
    export_id = int(re.search(r"/exports/(\d+)", response.location).group(1))
    jobs.stop_local()
    archive = _download(client, export_id)
    assert len(_index(archive)) == total
    departments = {n.split("/")[0] for n in archive.namelist() if n != "index.xlsx"}
    assert len(departments) > 1


@pytest.mark.req("R1.2")
def test_expiry_reminders_are_sent_once_per_certificate_and_threshold(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "WECOM_CORP_ID", "ww-test")  # a configured channel: the outbox is used
    doctor = staff_of("doctor")
    doctor_user = user("doctor")
    today = date.today()
    cert = db.session.scalar(select(Certificate).where(Certificate.staff_id == doctor.id,
                                                       Certificate.cert_type == "qualification"))
    cert.expires_on = today + timedelta(days=25)
    db.session.flush()

    def mine(model, column):
        return db.session.scalar(select(func.count(model.id)).where(column == doctor_user.id))

    reminders.send_due(today)
    first = db.session.scalar(select(func.count(CertificateReminder.id)))
    notes, outbox = mine(Notification, Notification.user_id), mine(OutboxMessage, OutboxMessage.user_id)
    assert db.session.scalar(select(CertificateReminder.threshold).where(
        CertificateReminder.certificate_id == cert.id)) == 30
    assert first > 0 and notes > 0 and outbox > 0
    assert reminders.send_due(today) == 0  # the same day again: nothing new
    assert db.session.scalar(select(func.count(CertificateReminder.id))) == first
    assert (mine(Notification, Notification.user_id), mine(OutboxMessage, OutboxMessage.user_id)) == (notes, outbox)
    # Eighteen days later the 7-day threshold is reached: one more reminder for it, once.
    later = today + timedelta(days=18)
    reminders.send_due(later)
    reminders.send_due(later)
    thresholds = db.session.scalars(select(CertificateReminder.threshold).where(
        CertificateReminder.certificate_id == cert.id).order_by(CertificateReminder.threshold)).all()
    assert thresholds == [7, 30]
    # Expired: one "expired" reminder, with a link to the certificates.
    reminders.send_due(today + timedelta(days=26))
    notice = db.session.scalars(select(Notification).where(Notification.user_id == doctor_user.id,
                                                           Notification.kind == "dossier.certificate_expiry")
                                .order_by(Notification.id.desc())).first()
    assert notice.link == f"/dossier/{doctor.id}?tab=certificates" and "证书已过期" in notice.title
    # Renewed: the new expiry date starts over.
    cert.expires_on = today + timedelta(days=86)
    db.session.flush()
    reminders.send_due(today + timedelta(days=26))
    assert db.session.scalar(select(CertificateReminder.threshold).where(
        CertificateReminder.certificate_id == cert.id, CertificateReminder.expires_on == cert.expires_on)) == 90


def test_the_daily_job_is_registered_to_run_every_day():
    assert jobs.periodic()["dossier.daily"].every_seconds == 86400
    assert reminders.due_threshold(100, [90, 30, 7, 0]) is None
    assert reminders.due_threshold(90, [90, 30, 7, 0]) == 90
    assert reminders.due_threshold(3, [90, 30, 7, 0]) == 7
    assert reminders.due_threshold(-1, [90, 30, 7, 0]) == 0
