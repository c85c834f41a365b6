"""Adverse practice records (R1.8): entered by functional departments within their duty, shown in the
dossier with time, content and recorder, edits audited, demerit records taken over idempotently."""
from datetime import date

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.extensions import db
from app.modules.dossier.models import AdverseRecord
from app.modules.dossier.services import adverse
from app.modules.org.models import Department
from tests.dossier.helpers import staff_of, token_of, user


def _form(client, url: str, **fields):
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": token_of(page), **fields})


def _logout(client):
    client.post("/logout", data={"csrf_token": token_of(client.get("/").get_data(as_text=True))})


def _dept(name: str) -> Department:
    return db.session.scalar(select(Department).where(Department.name == name))


@pytest.mark.req("R1.8")
def test_the_qc_office_records_within_its_duty_and_the_doctor_sees_it(client, login, ctx):
    doctor = staff_of("doctor")
    qc = _dept("质控科")
    login("qcdept")
    form = client.get(f"/dossier/{doctor.id}/adverse/new").get_data(as_text=True)
    assert f'<option selected value="{qc.id}">' in form or f'value="{qc.id}" selected' in form
    foreign = _form(client, f"/dossier/{doctor.id}/adverse/new", occurred_on="2026-09-12", category="records",
                    content="出院记录缺失", duty_department_id=str(_dept("投诉办").id))
    assert foreign.status_code == 422 and "只能在本部门职责范围内登记" in foreign.get_data(as_text=True)
    empty = _form(client, f"/dossier/{doctor.id}/adverse/new", occurred_on="", category="", content="",
                  duty_department_id=str(qc.id))
    page = empty.get_data(as_text=True)
    assert empty.status_code == 422 and "请填写发生日期" in page and "请填写事实经过" in page
    assert db.session.scalar(select(func.count(AdverseRecord.id)).where(AdverseRecord.staff_id == doctor.id)) == 0
    created = _form(client, f"/dossier/{doctor.id}/adverse/new", occurred_on="2026-09-12", category="records",
                    content="出院记录48小时内未完成", handling="病历质控扣2分", duty_department_id=str(qc.id))
    assert created.status_code == 303
    record = db.session.scalar(select(AdverseRecord).where(AdverseRecord.staff_id == doctor.id))
    assert (record.source, record.duty_department_id, record.recorded_by_id) == ("manual", qc.id, user("qcdept").id)
    _logout(client)
    login("doctor")
    tab = client.get(f"/dossier/{doctor.id}?tab=adverse").get_data(as_text=True)
    assert "出院记录48小时内未完成" in tab and "2026-09-12" in tab and "质控科" in tab
    assert user("qcdept").display_name in tab and "手工录入" in tab
    assert 'href="/dossier/adverse/' not in tab  # the doctor reads, does not edit
    assert client.get(f"/dossier/{doctor.id}/adverse/new").status_code == 403
    assert client.get(f"/dossier/adverse/{record.id}/edit").status_code == 403


@pytest.mark.req("R1.8")
def test_only_the_recording_department_edits_and_every_edit_is_audited(client, login, ctx):
    doctor = staff_of("doctor")
    qcdept = user("qcdept")
    record = adverse.create(qcdept, doctor, {"occurred_on": date(2026, 8, 1), "category": "quality",
                                              "content": "术前讨论记录缺失", "duty_department_id": _dept("质控科").id})
    db.session.flush()
    login("complaints")  # records adverse behaviour too, but for the complaints office's duty
    assert client.get(f"/dossier/adverse/{record.id}/edit").status_code == 403
    _logout(client)
    login("head")
    assert client.get(f"/dossier/{doctor.id}?tab=adverse").status_code == 200
    assert client.get(f"/dossier/{doctor.id}/adverse/new").status_code == 403
    _logout(client)
    login("qcdept")
    url = f"/dossier/adverse/{record.id}/edit"
    assert _form(client, url, occurred_on="2026-08-01", category="quality", content="择期手术术前讨论记录缺失",
                 handling="限期整改", duty_department_id=str(_dept("质控科").id)).status_code == 303
    page = client.get(url).get_data(as_text=True)
    refused = client.post(f"/dossier/adverse/{record.id}/withdraw", data={"csrf_token": token_of(page), "reason": ""})
    assert refused.status_code == 303 and db.session.get(AdverseRecord, record.id).status == "active"
    client.post(f"/dossier/adverse/{record.id}/withdraw", data={"csrf_token": token_of(page), "reason": "重复登记"})
    db.session.refresh(record)
    assert (record.status, record.withdraw_reason) == ("withdrawn", "重复登记")
    assert record.content == "择期手术术前讨论记录缺失"
    entries = {e.action: e for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "dossier_adverse", AuditEntry.object_id == str(record.id)))}
    assert set(entries) == {"dossier.adverse_created", "dossier.adverse_updated", "dossier.adverse_withdrawn"}
    assert entries["dossier.adverse_updated"].data["before"]["content"] == "术前讨论记录缺失"
    assert entries["dossier.adverse_updated"].actor_id == user("qcdept").id
    assert client.get(url).status_code == 403  # a withdrawn record is closed


@pytest.mark.req("R1.8")
def test_a_confirmed_demerit_record_enters_the_archive_once(ctx):
    doctor = staff_of("doctor")
    qc = _dept("质控科")
    first = adverse.from_demerit(doctor.id, "demerit#42", occurred_on=date(2026, 7, 3), category="prescribing",
                                 content="超权限开具特殊使用级抗菌药物（记6分）", duty_department_id=qc.id)
    again = adverse.from_demerit(doctor.id, "demerit#42", occurred_on=date(2026, 7, 3), category="prescribing",
                                 content="超权限开具特殊使用级抗菌药物（记6分，复核后确认）", duty_department_id=qc.id)
    assert first.id == again.id and again.source == "demerit"
    assert db.session.scalar(select(func.count(AdverseRecord.id)).where(AdverseRecord.source_ref == "demerit#42")) == 1
    assert not adverse.can_change(user("medaffairs"), again)  # the demerit module owns it
