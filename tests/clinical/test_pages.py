"""Clinical pages: the stay record, operation lists with filters, dictionaries kept up to date by
medical affairs, unknown codes, xlsx exports — every list filtered in the URL and within scope."""
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.modules.clinical.models import Operation, ProcedureCode, Stay, UnknownCode
from tests.clinical.helpers import create_ward, operation_row, send, stay_row


@pytest.mark.req("R15.1")
def test_a_stay_shows_its_front_page_operations_registrations_events_and_orders(client, login, ctx):
    stay = db.session.scalar(select(Stay).where(Stay.id.in_(select(Operation.stay_id))).order_by(Stay.id))
    login("medaffairs")
    page = client.get(f"/clinical/stays/{stay.id}").get_data(as_text=True)
    assert stay.source_id in page and stay.patient.name in page
    op = db.session.scalar(select(Operation).where(Operation.stay_id == stay.id))
    assert op.name in page and op.surgeon.name in page
    assert client.get("/clinical/stays/999999999").status_code == 404


@pytest.mark.req("R1.6")
def test_operation_list_filters_by_level_and_flag_and_exports_what_it_shows(client, login, ctx):
    login("medaffairs")
    level4 = db.session.scalar(select(func.count(Operation.id)).where(Operation.level == 4))
    page = client.get("/clinical/operations?level=4").get_data(as_text=True)
    assert re.search(rf"(共 {level4} 条|{level4} in total)", page)
    above = db.session.scalar(select(func.count(Operation.id)).where(Operation.above_level.is_(True)))
    sheet = load_workbook(io.BytesIO(client.get("/clinical/operations.xlsx?flag=above_level").data)).active
    assert sheet.max_row - 1 == above > 0
    assert client.get("/clinical/operations?level=x&from=bad&to=2026-13&department_id=zz").status_code == 200
    assert client.get("/clinical/stays?flag=death&sort=los&q=S0").status_code == 200


@pytest.mark.req("R15.1")
def test_medical_affairs_maintains_the_procedure_dictionary_and_resolves_unknown_codes(client, login, csrf, ctx):
    ward = create_ward()
    stay = stay_row(ward)
    send("stays", [stay])
    send("operations", [operation_row(stay, ward.chief, code="66.6666", name="新开展术式", level="3")])
    login("medaffairs")
    listed = client.get("/clinical/unknown-codes?dictionary=procedure").get_data(as_text=True)
    assert "66.6666" in listed and "新开展术式" in listed
    sheet = load_workbook(io.BytesIO(client.get("/clinical/unknown-codes.xlsx?q=66.66").data)).active
    assert [c.value for c in sheet[2]][1:4] == ["66.6666", "新开展术式", 1]
    form = client.get("/clinical/dictionaries/procedures/new?code=66.6666&name=新开展术式").get_data(as_text=True)
    assert 'value="66.6666"' in form
    response = client.post("/clinical/dictionaries/procedures/new", data={
        "code": "66.6666", "name": "新开展术式", "level": "3", "category": "surgery", "minimally_invasive": "y",
        "active": "y", "csrf_token": csrf("/clinical/dictionaries/procedures/new")})
    assert response.status_code == 303
    entry = db.session.scalar(select(ProcedureCode).where(ProcedureCode.code == "66.6666"))
    assert (entry.level, entry.minimally_invasive, entry.active) == (3, True, True)
    assert db.session.scalar(select(UnknownCode).where(UnknownCode.code == "66.6666")) is None
    bad = client.post(f"/clinical/dictionaries/procedures/{entry.id}/edit", data={
        "name": "", "level": "7", "category": "surgery", "csrf_token": csrf()})
    assert bad.status_code == 200 and db.session.get(ProcedureCode, entry.id).level == 3
    client.post(f"/clinical/dictionaries/procedures/{entry.id}/edit", data={
        "name": "新开展术式（改）", "level": "4", "category": "surgery", "csrf_token": csrf()})
    db.session.refresh(entry)
    assert (entry.name, entry.level, entry.minimally_invasive, entry.active) == ("新开展术式（改）", 4, False, False)
    duplicate = client.post("/clinical/dictionaries/procedures/new", data={
        "code": "66.6666", "name": "重复", "category": "surgery", "csrf_token": csrf()})
    assert "66.6666" in duplicate.get_data(as_text=True) and duplicate.status_code == 200
    found = client.get("/clinical/dictionaries/procedures?q=66.66&level=4").get_data(as_text=True)
    assert "新开展术式（改）" in found
    export = load_workbook(io.BytesIO(client.get("/clinical/dictionaries/drugs/export.xlsx?drug_class="
                                                 "antimicrobial_tier:special").data)).active
    assert export.max_row - 1 == 7


@pytest.mark.req("R15.1")
def test_doctors_read_dictionaries_but_cannot_edit_them(client, login, ctx):
    login("doctor")
    assert client.get("/clinical/dictionaries/diagnoses?q=K35").status_code == 200
    assert client.get("/clinical/dictionaries/procedures/new").status_code == 403
    assert client.get("/clinical/dictionaries/unknown").status_code == 404
