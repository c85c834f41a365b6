"""File imports (R15.1): CSV and Excel with a preview, a row-level report, all-or-nothing commit,
long imports as jobs with progress, and the import history."""
import csv
import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.core import jobs
from app.extensions import db
from app.modules.clinical.models import ImportBatch, Stay
from app.modules.clinical.services import files
from tests.clinical.helpers import create_ward, stay_row

FIELDS = ["source_id", "patient_source_id", "patient_name", "admitted_at", "discharged_at",
          "discharge_department_code", "attending_employee_no", "discharge_method", "total_cost"]


def _csv(rows, header=FIELDS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(f, "") for f in FIELDS])
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["住院流水号", "患者流水号", "患者姓名", "入院时间", "出院时间", "出院科室代码", "主治医师工号",
               "离院方式", "总费用"])
    for row in rows:
        ws.append([row[f] for f in FIELDS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _upload(client, csrf, kind, name, data):
    return client.post("/clinical/imports", data={"kind": kind, "file": (io.BytesIO(data), name),
                                                  "csrf_token": csrf("/clinical/imports")},
                       content_type="multipart/form-data")


def _stays() -> int:
    return db.session.scalar(select(func.count(Stay.id)))


@pytest.mark.req("R15.1")
def test_csv_is_previewed_then_committed_and_importing_it_again_changes_nothing(client, login, csrf, ctx):
    ward = create_ward()
    rows = [stay_row(ward) for _ in range(4)]
    login("medaffairs")
    response = _upload(client, csrf, "stays", "出院记录.csv", _csv(rows))
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert rows[0]["source_id"] in page and f"/clinical/imports/{response.location.rsplit('/', 1)[-1]}/commit" in page
    assert _stays() == _count_before(rows)
    batch_id = int(re.search(r"/imports/(\d+)", response.location).group(1))
    committed = client.post(f"/clinical/imports/{batch_id}/commit", data={"csrf_token": csrf()})
    assert committed.status_code == 303
    batch = db.session.get(ImportBatch, batch_id)
    assert (batch.status, batch.inserted, batch.source) == ("done", 4, "csv")
    assert _stays() == _count_before(rows) + 4
    again = _upload(client, csrf, "stays", "again.csv", _csv(rows))
    again_id = int(re.search(r"/imports/(\d+)", again.location).group(1))
    client.post(f"/clinical/imports/{again_id}/commit", data={"csrf_token": csrf()})
    assert db.session.get(ImportBatch, again_id).unchanged == 4
    history = client.get("/clinical/imports?kind=stays&source=csv").get_data(as_text=True)
    assert "出院记录.csv" in history and "again.csv" in history


def _count_before(rows) -> int:
    return db.session.scalar(select(func.count(Stay.id)).where(
        Stay.source_id.not_in([r["source_id"] for r in rows])))


@pytest.mark.req("R15.1")
def test_a_file_with_errors_shows_them_by_row_and_cannot_be_imported(client, login, csrf, ctx):
    ward = create_ward()
    rows = [stay_row(ward), stay_row(ward, total_cost="-5"), stay_row(ward, discharge_department_code="NOPE")]
    login("itdept")
    response = _upload(client, csrf, "stays", "bad.xlsx", _xlsx(rows))
    batch_id = int(re.search(r"/imports/(\d+)", response.location).group(1))
    batch = db.session.get(ImportBatch, batch_id)
    assert batch.status == "invalid"
    assert {(e["row"], e["field"]) for e in batch.errors} == {(3, "total_cost"), (4, "discharge_department_code")}
    page = client.get(f"/clinical/imports/{batch_id}").get_data(as_text=True)
    assert "NOPE" in page
    before = _stays()
    client.post(f"/clinical/imports/{batch_id}/commit", data={"csrf_token": csrf()})
    assert _stays() == before and db.session.get(ImportBatch, batch_id).status == "invalid"
    report = client.get(f"/clinical/imports/{batch_id}/errors.xlsx")
    sheet = load_workbook(io.BytesIO(report.data)).active
    assert [c.value for c in sheet[2]][:3] == [3, rows[1]["source_id"], "total_cost"]


@pytest.mark.req("R15.1")
def test_refused_files_and_permissions(client, login, csrf, ctx):
    login("doctor")
    assert client.get("/clinical/imports").status_code == 403
    client.post("/logout", data={"csrf_token": csrf()})
    login("medaffairs")
    page = _upload(client, csrf, "stays", "notes.txt", b"hello").get_data(as_text=True)
    assert ".csv" in page and ".xlsx" in page
    response = _upload(client, csrf, "stays", "broken.xlsx", b"PK-not-a-zip")
    batch = db.session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc())).first()
    assert response.status_code == 303 and batch.status == "invalid" and batch.message
    template = client.get("/clinical/imports/template.xlsx?kind=operations")
    header = [c.value for c in load_workbook(io.BytesIO(template.data)).active[1]]
    assert header[:3] == ["source_id", "stay_source_id", "seq"]


@pytest.mark.req("R15.1")
def test_a_big_file_is_checked_and_imported_by_a_tracked_job_with_progress(app, client, login, csrf, ctx,
                                                                           monkeypatch):
    ward = create_ward()
    rows = [stay_row(ward) for _ in range(30)]
    db.session.commit()
    monkeypatch.setattr(files, "INLINE_BYTES", 100)
    login("medaffairs")
    response = _upload(client, csrf, "stays", "big.csv", _csv(rows))
    batch_id = int(re.search(r"/imports/(\d+)", response.location).group(1))
    jobs.stop_local()  # wait for the background check
    batch = db.session.get(ImportBatch, batch_id)
    db.session.refresh(batch)
    assert batch.status == "checked" and batch.job_run_id is not None
    status = client.get(f"/clinical/imports/{batch_id}/status.json").get_json()
    assert status["running"] is False and status["progress"] == 100
    client.post(f"/clinical/imports/{batch_id}/commit", data={"csrf_token": csrf()})
    jobs.stop_local()  # the job shares the test's connection: let it finish before the next request
    db.session.refresh(batch)
    assert (batch.status, batch.inserted) == ("done", 30)
    from app.core.notify.models import JobRun

    run = db.session.get(JobRun, batch.job_run_id)
    assert (run.status, run.progress) == ("done", 100)
    # While a job runs, the page shows a progress bar fed by the status endpoint.
    batch.status = "running"
    db.session.commit()
    assert 'id="import-progress"' in client.get(f"/clinical/imports/{batch_id}").get_data(as_text=True)
    assert client.get(f"/clinical/imports/{batch_id}/status.json").get_json()["running"] is True
