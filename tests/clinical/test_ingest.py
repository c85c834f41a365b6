"""Clinical data in (R15.1): JSON API batches, idempotent upserts, row-level refusal, unknown codes."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.modules.clinical.models import (DoctorMonthMetric, ImportBatch, Operation, Patient, Prescription, Stay,
                                         StayDiagnosis, UnknownCode)
from app.modules.clinical.services import ingest
from tests.clinical.helpers import create_ward, operation_row, send, stay_row, token


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _post(client, kind, rows, text):
    return client.post(f"/api/v1/clinical/{kind}", json={"items": rows},
                       headers={"Authorization": f"Bearer {text}"})


@pytest.mark.req("R15.1")
def test_api_batch_is_upserted_and_sending_it_again_writes_nothing(client, ctx):
    ward = create_ward()
    text = token()
    stays = [stay_row(ward, other_diagnoses="I10.x00 高血压; E11.900") for _ in range(3)]
    response = _post(client, "stays", stays, text)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["inserted"], body["updated"], body["unchanged"]) == (3, 0, 0)
    ops = [operation_row(stays[0], ward.chief), operation_row(stays[1], ward.attending, code="47.0100")]
    assert _post(client, "operations", ops, text).get_json()["inserted"] == 2

    counts = (_count(Stay), _count(Operation), _count(Patient), _count(StayDiagnosis))
    again = _post(client, "stays", stays, text).get_json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert _post(client, "operations", ops, text).get_json()["unchanged"] == 2
    assert (_count(Stay), _count(Operation), _count(Patient), _count(StayDiagnosis)) == counts

    stays[0]["total_cost"] = "20000.00"
    changed = _post(client, "stays", stays, text).get_json()
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 2)
    stay = db.session.scalar(select(Stay).where(Stay.source_id == stays[0]["source_id"]))
    assert stay.total_cost == Decimal("20000.00") and stay.los_days == 7
    codes = db.session.scalars(select(StayDiagnosis.code).where(StayDiagnosis.stay_id == stay.id)
                               .order_by(StayDiagnosis.seq)).all()
    assert (stay.main_diagnosis_code, codes) == ("K80.100", ["I10.x00", "E11.900"])
    history = db.session.scalars(select(ImportBatch).where(ImportBatch.source == "api")
                                 .order_by(ImportBatch.id.desc())).first()
    assert (history.kind, history.updated, history.unchanged) == ("stays", 1, 2)
    listed = client.get(f"/api/v1/clinical/stays?source_id={stays[0]['source_id']}",
                        headers={"Authorization": f"Bearer {text}"}).get_json()["items"]
    assert listed[0]["total_cost"] == 20000.0


@pytest.mark.req("R15.1")
def test_a_batch_with_broken_rows_is_refused_row_by_row_and_nothing_is_written(client, ctx):
    ward = create_ward()
    text = token()
    good = stay_row(ward)
    rows = [good,
            stay_row(ward, discharged_at="2026-03-01 08:00"),  # before admission
            stay_row(ward, attending_employee_no="NOBODY", total_cost="abc"),
            stay_row(ward, discharge_method="7", admitted_at="yesterday")]
    rows.append(dict(rows[0]))  # the same source id twice
    before = _count(Stay), _count(Patient), _count(DoctorMonthMetric)
    response = _post(client, "stays", rows, text)
    assert response.status_code == 422
    body = response.get_json()
    assert body["written"] is False and body["error_rows"] == 4
    problems = {(e["row"], e["field"]) for e in body["errors"]}
    assert problems >= {(2, "discharged_at"), (3, "attending_employee_no"), (3, "total_cost"),
                        (4, "discharge_method"), (4, "admitted_at"), (5, "source_id")}
    assert any("NOBODY" in e["message"] for e in body["errors"])
    assert (_count(Stay), _count(Patient), _count(DoctorMonthMetric)) == before
    # The refusal is in the import history with its report, for whoever keeps the interface.
    refused = db.session.get(ImportBatch, body["import_id"])
    assert (refused.source, refused.status, refused.total_rows, refused.error_rows, refused.inserted) == \
        ("api", "invalid", 5, 4, 0)
    assert {(e["row"], e["field"]) for e in refused.errors} == problems


@pytest.mark.req("R15.1")
def test_unknown_codes_are_kept_and_listed_for_dictionary_maintenance(client, ctx):
    ward = create_ward()
    text = token()
    stay = stay_row(ward, main_diagnosis_code="Z99.999", main_diagnosis_name="新诊断")
    body = _post(client, "stays", [stay], text).get_json()
    assert {"dictionary": "diagnosis", "code": "Z99.999", "name": "新诊断", "occurrences": 1} in body["unknown_codes"]
    op = operation_row(stay, ward.chief, code="99.9999", name="新术式", level="3")
    assert _post(client, "operations", [op], text).get_json()["unknown_codes"][0]["code"] == "99.9999"
    refused = _post(client, "operations", [operation_row(stay, ward.chief, code="88.8888")], text)
    assert refused.status_code == 422  # unknown code and no level or name: cannot be counted by level
    assert {e["field"] for e in refused.get_json()["errors"]} == {"level", "name"}
    rx = dict(source_id="TRX1", stay_source_id=stay["source_id"], prescriber_employee_no=ward.resident.employee_no,
              drug_code="NEW-DRUG", prescribed_on="2026-03-05", setting="住院", dose="1片", days="3")
    assert _post(client, "prescriptions", [rx], text).status_code == 200
    assert db.session.scalar(select(Prescription.department_id).where(Prescription.source_id == "TRX1")) == \
        ward.department.id
    unknown = {(u.dictionary, u.code) for u in db.session.scalars(select(UnknownCode))}
    assert {("diagnosis", "Z99.999"), ("procedure", "99.9999"), ("drug", "NEW-DRUG")} <= unknown
    listed = client.get("/api/v1/clinical/unknown-codes", headers={"Authorization": f"Bearer {text}"})
    assert "Z99.999" in listed.get_data(as_text=True)
    # Adding the code to its dictionary resolves it.
    assert _post(client, "procedures", [{"code": "99.9999", "name": "新术式", "level": 3}], text).status_code == 200
    assert ("procedure", "99.9999") not in {(u.dictionary, u.code) for u in db.session.scalars(select(UnknownCode))}


@pytest.mark.req("R15.1")
def test_tokens_need_the_clinical_scopes(client, ctx):
    ward = create_ward()
    reader = token(("clinical:read",))
    assert _post(client, "stays", [stay_row(ward)], reader).status_code == 403
    assert client.post("/api/v1/clinical/stays", json=[]).status_code == 401
    writer = token(("clinical:write",))
    assert client.get("/api/v1/clinical/stays", headers={"Authorization": f"Bearer {writer}"}).status_code == 403
    assert _post(client, "stays", [], writer).status_code == 200
    too_many = client.post("/api/v1/clinical/stays", json=[{}] * (ingest.MAX_BATCH + 1),
                           headers={"Authorization": f"Bearer {writer}"})
    assert too_many.status_code == 413
    assert client.post("/api/v1/clinical/stays", data="nope", headers={
        "Authorization": f"Bearer {writer}", "Content-Type": "application/json"}).status_code == 400


@pytest.mark.req("R15.1")
def test_every_kind_goes_in_through_the_api(client, ctx):
    ward = create_ward()
    text = token()
    assert _post(client, "patients", [{"source_id": "TP-1", "name": "李四", "gender": "男",
                                       "birth_date": "1960-05-01"}], text).status_code == 200
    stay = stay_row(ward, patient_source_id="TP-1", discharge_method="死亡")
    op = operation_row(stay, ward.chief, emergency="1", level="3")
    for kind, rows in [
        ("stays", [stay]), ("operations", [op]),
        ("registrations", [dict(source_id="TR-1", stay_source_id=stay["source_id"], operation_source_id=op["source_id"],
                                scheduled_at="2026-03-04 08:00", scheduled_surgeon_employee_no=ward.chief.employee_no,
                                actual_surgeon_employee_no=ward.attending.employee_no, room="3")]),
        ("record-events", [dict(source_id="TE-1", stay_source_id=stay["source_id"], kind="死亡病例讨论",
                                occurred_at="2026-03-12 15:00", chair_employee_no=ward.chief.employee_no)]),
        ("complications", [dict(source_id="TC-1", stay_source_id=stay["source_id"],
                                operation_source_id=op["source_id"], code="T81.000", occurred_on="2026-03-05")]),
        ("prescriptions", [dict(source_id="TX-1", department_code=ward.department.code, setting="门诊",
                                prescriber_employee_no=ward.attending.employee_no, drug_code="Y010016",
                                prescribed_on="2026-04-01", days=5)]),
        ("drugs", [{"code": "TD-1", "name": "测试药", "antimicrobial_tier": "特殊使用级"}]),
        ("diagnoses", [{"code": "TZ1.000", "name": "测试诊断"}]),
    ]:
        response = _post(client, kind, rows, text)
        assert response.status_code == 200, (kind, response.get_json())
        assert response.get_json()["inserted"] == 1, kind
    listed = client.get("/api/v1/clinical/registrations?source_id=TR-1",
                        headers={"Authorization": f"Bearer {text}"}).get_json()["items"]
    assert listed[0]["actual_surgeon_id"] == ward.attending.id
    stay_obj = db.session.scalar(select(Stay).where(Stay.source_id == stay["source_id"]))
    assert stay_obj.is_death and stay_obj.patient.name == "李四"
    metric = db.session.get(DoctorMonthMetric, (ward.attending.id, stay_obj.discharge_month))
    assert (metric.discharges, metric.deaths, metric.complications) == (1, 1, 1)
    surgeon = db.session.get(DoctorMonthMetric, (ward.chief.id, stay_obj.discharge_month))
    assert (surgeon.operations, surgeon.ops_level3, surgeon.surgical_patients, surgeon.surgical_deaths) == (1, 1, 1, 1)
    metrics_api = client.get(f"/api/v1/clinical/metrics?employee_no={ward.chief.employee_no}&month=2026-03",
                             headers={"Authorization": f"Bearer {text}"}).get_json()["items"]
    assert metrics_api[0]["operations"] == 1


@pytest.mark.req("R15.1")
def test_operations_outside_their_stay_or_with_unknown_references_are_refused(ctx):
    ward = create_ward()
    stay = stay_row(ward)
    send("stays", [stay])
    result = ingest.upsert("operations", [
        operation_row(stay, ward.chief, performed_at="2026-04-01 08:00"),
        operation_row({"source_id": "NO-SUCH-STAY"}, ward.chief),
        operation_row(stay, ward.chief, level="5", incision_grade="IV")])
    assert not result.written
    assert {(e["row"], e["field"]) for e in result.errors} == {
        (1, "performed_at"), (2, "stay_source_id"), (3, "level"), (3, "incision_grade")}


@pytest.mark.req("R15.1")
def test_a_row_another_sender_writes_meanwhile_is_updated_not_duplicated(ctx, monkeypatch):
    """Two imports racing on one source id: ours finds the key taken at insert time, rolls back its
    savepoint and upserts again, now updating that row."""
    from sqlalchemy import text as sql

    from app.modules.clinical.services.records import Stays

    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("needs a second connection writing while this transaction is open (PostgreSQL)")
    ward = create_ward()
    rows = [stay_row(ward) for _ in range(3)]
    original = Stays.before_write
    other = db.engine.connect()

    def racing(self, ctx_, new, changed):  # after our look-up found nothing, before our insert
        if not other.info.get("raced"):
            other.info["raced"] = True
            other.execute(sql(
                "INSERT INTO clinical_stay (source_id, patient_id, admitted_at, discharged_at, admit_department_id, "
                "discharge_department_id, attending_id, discharge_method, readmission_plan, unplanned_readmission, "
                "total_cost, discharge_month, los_days, created_at, updated_at) VALUES (:s, 0, '2026-03-02 09:00', "
                "'2026-03-09 10:00', :d, :d, :a, '1', false, false, 1.00, '2026-03-01', 7, now(), now())"),
                {"s": rows[0]["source_id"], "d": ward.department.id, "a": ward.attending.id})
            other.commit()
        return original(self, ctx_, new, changed)

    monkeypatch.setattr(Stays, "before_write", racing)
    try:
        result = ingest.upsert("stays", rows)
        assert result.written and (result.inserted, result.updated, result.unchanged) == (2, 1, 0)
        assert db.session.scalar(select(func.count(Stay.id)).where(Stay.source_id == rows[0]["source_id"])) == 1
        stay = db.session.scalar(select(Stay).where(Stay.source_id == rows[0]["source_id"]))
        assert stay.total_cost == Decimal("12345.60") and stay.patient.name == "测试患者"
    finally:
        db.session.rollback()  # releases our lock on the row before the other connection removes it
        other.execute(sql("SET lock_timeout = '5s'"))
        other.execute(sql("DELETE FROM clinical_stay WHERE source_id = :s"), {"s": rows[0]["source_id"]})
        other.commit()
        other.close()


def test_copy_stream_gives_the_same_csv_as_writing_it_at_once():
    import csv
    import io

    from app.modules.clinical.services.bulk import CsvStream

    rows = [(i, f"S{i}", '王"五",\n二行' if i % 7 == 0 else "李四", None, i % 2 == 0, Decimal("1.50"))
            for i in range(CsvStream.ROWS * 2 + 17)]
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\n").writerows(rows)
    stream, parts = CsvStream(rows), []
    while chunk := stream.read(8192):
        parts.append(chunk)
    assert "".join(parts) == expected.getvalue() == CsvStream(rows).read()
    assert len(parts) > 3 and CsvStream([]).read(10) == ""
