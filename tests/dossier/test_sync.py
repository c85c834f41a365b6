"""Batch initial import from Excel/CSV and the HIS/HR sync API (R1.1): template, preview, row-level
errors, all-or-nothing, idempotent by 工号, every change logged with its source."""
import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.modules.accounts import services as accounts
from app.modules.dossier.models import DossierChange, DossierImport, DossierProfile
from app.modules.dossier.services import identity
from app.modules.org.models import Department, Staff
from tests.dossier.helpers import token_of, user

HEADER = ["工号*", "姓名*", "性别*", "出生日期", "身份证号", "科室*", "人员类别*", "职称", "职称取得时间", "执业类别",
          "执业范围", "学历", "用工性质", "手机"]


def _xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _row(no: str, name: str, dept: str, **kw) -> list:
    from datetime import date

    born = date(1990, 5, 6)
    values = {"工号*": no, "姓名*": name, "性别*": "女", "出生日期": born, "身份证号": identity.make(
        "420106", born, int(no[-3:]), male=False), "科室*": dept, "人员类别*": "医师", "职称": "主治医师",
        "职称取得时间": "2021-12-01", "执业类别": "临床", "执业范围": "内科专业", "学历": "硕士研究生",
        "用工性质": "合同制", "手机": "13900000000"}
    values.update(kw)
    return [values[h] for h in HEADER]


def _upload(client, filename: str, data: bytes):
    page = client.get("/dossier/imports").get_data(as_text=True)
    return client.post("/dossier/imports", data={"csrf_token": token_of(page), "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


@pytest.mark.req("R1.1")
def test_the_template_downloads_with_the_chinese_columns(client, login, ctx):
    login("medaffairs")
    sheet = load_workbook(io.BytesIO(client.get("/dossier/imports/template.xlsx").data)).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["工号*", "姓名*", "性别*"] and "身份证号" in header and "执业范围" in header
    assert sheet.max_row == 2  # one example row


@pytest.mark.req("R1.1")
def test_an_import_with_an_unknown_department_saves_nothing(client, login, ctx):
    dept = db.session.scalar(select(Department).where(Department.name == "普通外科"))
    staff_before = db.session.scalar(select(func.count(Staff.id)))
    login("medaffairs")
    data = _xlsx([_row("T70001", "甲医生", dept.code), _row("T70002", "乙医生", "不存在的科室"),
                  _row("T70003", "丙医生", dept.name, **{"身份证号": "420106199005060000"})])
    response = _upload(client, "staff.xlsx", data)
    assert response.status_code == 303
    batch = db.session.scalars(select(DossierImport).order_by(DossierImport.id.desc())).first()
    assert batch.status == "invalid"
    problems = {(e["row"], e["field"]) for e in batch.errors}
    assert problems == {(3, "department_id"), (4, "id_number")}
    page = client.get(f"/dossier/imports/{batch.id}").get_data(as_text=True)
    assert "未知科室“不存在的科室”" in page and "校验码" in page and 'id="commit-import"' not in page
    refused = client.post(f"/dossier/imports/{batch.id}/commit", data={"csrf_token": token_of(page)})
    assert refused.status_code == 303
    assert db.session.scalar(select(func.count(Staff.id))) == staff_before  # not even the good row
    errors = load_workbook(io.BytesIO(client.get(f"/dossier/imports/{batch.id}/errors.xlsx").data)).active
    assert errors.max_row == 3


@pytest.mark.req("R1.1")
def test_a_clean_file_is_previewed_then_imported_whole_and_logged(client, login, ctx):
    dept = db.session.scalar(select(Department).where(Department.name == "普通外科"))
    existing = db.session.scalar(select(Staff).where(Staff.department_id == dept.id, Staff.staff_type == "nurse"))
    login("medaffairs")
    csv_text = ",".join(HEADER) + "\n" + "\n".join(",".join(str(v) for v in r) for r in (
        _row("T70011", "丁医生", dept.code), _row("T70012", "戊医生", dept.name)))
    csv_text += f"\n{existing.employee_no},{existing.name},,,,,,,,,,,,13711112222"
    response = _upload(client, "staff.csv", csv_text.encode("gb18030"))  # as Excel saves CSV in China
    batch_id = int(re.search(r"/imports/(\d+)", response.location).group(1))
    batch = db.session.get(DossierImport, batch_id)
    assert (batch.status, batch.new_rows, batch.changed_rows, batch.errors) == ("checked", 2, 1, [])
    page = client.get(f"/dossier/imports/{batch_id}").get_data(as_text=True)
    assert "丁医生" in page and 'id="commit-import"' in page
    assert client.post(f"/dossier/imports/{batch_id}/commit", data={"csrf_token": token_of(page)}).status_code == 303
    db.session.refresh(batch)
    assert batch.status == "done"
    ding = db.session.scalar(select(Staff).where(Staff.employee_no == "T70011"))
    assert (ding.name, ding.gender, ding.department_id, ding.title_code) == ("丁医生", "F", dept.id, "attending")
    profile = db.session.scalar(select(DossierProfile).where(DossierProfile.staff_id == ding.id))
    assert (profile.education, profile.personnel_category) == ("master", "contract")
    db.session.refresh(existing)
    assert existing.phone == "13711112222"
    change = db.session.scalar(select(DossierChange).where(DossierChange.staff_id == existing.id,
                                                          DossierChange.field == "phone"))
    assert (change.source, change.source_ref, change.new_value) == ("import", f"import#{batch_id}", "13711112222")


@pytest.mark.req("R1.1")
def test_a_non_excel_file_is_refused_with_a_message(client, login, ctx):
    login("medaffairs")
    response = _upload(client, "staff.xlsx", b"not really a workbook")
    assert response.status_code == 422 and "Excel" in response.get_data(as_text=True)
    assert _upload(client, "staff.txt", b"a,b").status_code == 422
    login_doctor = client.post("/logout", data={"csrf_token": token_of(client.get("/").get_data(as_text=True))})
    assert login_doctor.status_code in (302, 303)
    login("doctor")
    assert client.get("/dossier/imports").status_code == 403


def _token(scopes) -> str:
    _row_, text = accounts.create_token(user("admin"), "HR 人事系统", list(scopes), None)
    return text


@pytest.mark.req("R1.1")
def test_the_hr_sync_is_idempotent_by_employee_number_and_logs_changes(client, ctx):
    from datetime import date

    dept = db.session.scalar(select(Department).where(Department.name == "普通外科"))
    text = _token(["dossier:write", "dossier:read"])
    headers = {"Authorization": f"Bearer {text}"}
    born = date(1986, 7, 1)
    item = {"employee_no": "H90001", "name": "庚医生", "gender": "M", "birth_date": "1986-07-01",
            "department_code": dept.code, "staff_type": "physician", "title_code": "attending",
            "id_number": identity.make("110105", born, 9, male=True), "education": "博士研究生",
            "practice_category": "临床", "practice_scope": "外科专业"}
    first = client.post("/api/v1/dossier/staff", json={"items": [item]}, headers=headers)
    assert first.status_code == 200 and first.get_json()["inserted"] == 1
    again = client.post("/api/v1/dossier/staff", json={"items": [item]}, headers=headers)
    assert again.get_json() == {"written": True, "total": 1, "inserted": 0, "updated": 0, "unchanged": 1}
    person = db.session.scalar(select(Staff).where(Staff.employee_no == "H90001"))
    logged = db.session.scalar(select(func.count(DossierChange.id)).where(DossierChange.staff_id == person.id))
    promoted = client.post("/api/v1/dossier/staff", json=[{"employee_no": "H90001", "title_code": "副主任医师"}],
                           headers=headers)
    assert promoted.get_json()["updated"] == 1
    changes = db.session.scalars(select(DossierChange).where(DossierChange.staff_id == person.id)
                                 .order_by(DossierChange.id)).all()
    assert len(changes) == logged + 1
    assert (changes[-1].field, changes[-1].old_value, changes[-1].new_value, changes[-1].source,
            changes[-1].source_ref) == ("title_code", "主治医师", "副主任医师", "api", "HR 人事系统")
    feed = client.get("/api/v1/dossier/changes?employee_no=H90001", headers=headers).get_json()["items"]
    assert feed[-1]["new"] == "副主任医师"
    read = client.get("/api/v1/dossier/staff?employee_no=H90001", headers=headers).get_json()["items"][0]
    assert read["title_code"] == "assoc_chief" and read["education"] == "doctorate"


@pytest.mark.req("R1.1")
def test_one_bad_row_refuses_the_whole_sync_batch(client, ctx):
    text = _token(["dossier:write"])
    headers = {"Authorization": f"Bearer {text}"}
    before = db.session.scalar(select(func.count(Staff.id)))
    response = client.post("/api/v1/dossier/staff", headers=headers, json={"items": [
        {"employee_no": "H90011", "name": "辛医生", "gender": "F", "department_code": "D001", "staff_type": "医师"},
        {"employee_no": "H90012", "name": "壬医生", "gender": "F", "department_code": "NOPE", "staff_type": "医师"}]})
    body = response.get_json()
    assert response.status_code == 422 and body["written"] is False
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "department_id")]
    assert db.session.scalar(select(func.count(Staff.id))) == before
    assert client.post("/api/v1/dossier/staff", json=[], headers={}).status_code == 401
    read_only = {"Authorization": f"Bearer {_token(['dossier:read'])}"}
    assert client.post("/api/v1/dossier/staff", json=[], headers=read_only).status_code == 403
