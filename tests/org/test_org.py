import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.core import audit
from app.extensions import db
from app.modules.org import services
from app.modules.org.models import Staff
from tests.factories import create_department, create_staff, create_user


def _staff_form(**kw):
    data = dict(employee_no="N000123", name="林晓东", gender="M", birth_date="1985-03-02",
                department_id="", staff_type="physician", post="临床医师", title_code="attending",
                title_since="2018-07-01", practice_category="临床", practice_scope="外科专业",
                practice_cert_no="110000000000001", qualification_cert_no="2009110000001",
                hire_date="2010-08-01", status="active", phone="13800000000")
    data.update(kw)
    return data


@pytest.mark.req("R1.1")
def test_medical_affairs_enters_a_staff_member(client, login, csrf, ctx):
    dept = create_department(name="胸外科")
    login("medaffairs")
    response = client.post("/org/staff/new", data={**_staff_form(department_id=str(dept.id)),
                                                   "csrf_token": csrf("/org/staff/new")})
    assert response.status_code == 303
    staff = db.session.scalar(select(Staff).where(Staff.employee_no == "N000123"))
    assert (staff.name, staff.department_id, staff.title.level, staff.practice_scope) == \
        ("林晓东", dept.id, "intermediate", "外科专业")
    entry = db.session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.action == "staff.created")
                              .order_by(audit.AuditEntry.seq.desc()))
    assert entry.object_id == str(staff.id)


@pytest.mark.req("R1.1")
def test_bad_staff_input_is_reported_field_by_field_in_chinese_and_nothing_saved(client, login, csrf, ctx):
    existing = create_staff()
    login("medaffairs")
    count = db.session.scalar(select(db.func.count(Staff.id)))
    response = client.post("/org/staff/new", data={
        **_staff_form(employee_no=existing.employee_no, name="", department_id="999999",
                      practice_category="口腔", practice_scope="外科专业",
                      birth_date="2000-01-01", hire_date="1999-01-01"),
        "csrf_token": csrf("/org/staff/new")})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    for message in ("请输入姓名", f"工号 {existing.employee_no} 已被使用", "请选择已有科室"):
        assert message in body, message
    assert db.session.scalar(select(db.func.count(Staff.id))) == count


def test_service_rejects_scope_outside_category_and_hire_before_birth(ctx):
    dept = create_department()
    with pytest.raises(services.ValidationFailed) as err:
        services.save_staff(None, {"employee_no": "X1", "name": "甲", "gender": "F",
                                   "department_id": dept.id, "staff_type": "physician",
                                   "practice_category": "口腔", "practice_scope": "外科专业",
                                   "birth_date": __import__("datetime").date(2000, 1, 1),
                                   "hire_date": __import__("datetime").date(1999, 1, 1)})
    assert set(err.value.errors) == {"practice_scope", "hire_date"}


def test_department_cannot_be_placed_under_its_own_ward(ctx):
    dept = create_department()
    ward = create_department(parent_id=dept.id, unit_type="ward")
    with pytest.raises(services.ValidationFailed) as err:
        services.save_department(None, {"code": dept.code, "name": dept.name, "category": "clinical",
                                        "unit_type": "department", "parent_id": ward.id}, dept)
    assert "parent_id" in err.value.errors


@pytest.mark.req("R1.1")
def test_years_in_title(ctx):
    from datetime import date

    staff = create_staff(title_since=date(2018, 7, 1))
    assert staff.years_in_title(date(2026, 6, 30)) == 7
    assert staff.years_in_title(date(2026, 7, 1)) == 8


@pytest.mark.req("R1.5")
def test_department_head_lists_only_own_department_and_exports_the_same(client, login, ctx):
    dept = create_department(name="甲状腺外科")
    mine = create_staff(department=dept, name="本科医生")
    other = create_staff(name="外科外人")
    create_user("dept_head", departments=(dept,), username="thyroid_head")
    login("thyroid_head")
    page = client.get("/org/staff").get_data(as_text=True)
    assert mine.name in page and other.name not in page
    export = client.get("/org/staff.xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).active
    names = {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert mine.name in names and other.name not in names
    assert client.get(f"/org/staff/{other.id}").status_code == 404
    assert client.get(f"/org/departments/{other.department_id}").status_code == 404
    assert client.get(f"/org/departments/{dept.id}").status_code == 200


def test_department_list_filters_and_search(client, login, ctx):
    create_department(name="过滤测试医技", category="medtech")
    login("admin")
    body = client.get("/org/departments?category=medtech&q=过滤测试").get_data(as_text=True)
    assert "过滤测试医技" in body
    body = client.get("/org/departments?category=clinical&q=过滤测试").get_data(as_text=True)
    assert "过滤测试医技" not in body


def test_admin_edits_a_department(client, login, csrf, ctx):
    dept = create_department(name="旧名称")
    login("admin")
    path = f"/org/departments/{dept.id}/edit"
    response = client.post(path, data={"code": dept.code, "name": "新名称", "category": "clinical",
                                       "unit_type": "department", "parent_id": "", "campus_id": "",
                                       "sort_order": "3", "active": "y", "csrf_token": csrf(path)})
    assert response.status_code == 303
    db.session.refresh(dept)
    assert dept.name == "新名称"


def test_unknown_route_gives_the_404_page(client, login):
    login("doctor")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "未找到" in response.get_data(as_text=True)


@pytest.mark.req("R1.1")
def test_a_manager_of_one_department_manages_only_it(client, login, csrf, ctx):
    """Seeing the whole hospital through another role is not managing it: a departments-scoped
    org.manage edits, adds and moves staff only within its departments."""
    from app.modules.accounts import services as accounts

    mine, other = create_department(name="本科室"), create_department(name="他科室")
    ours, theirs = create_staff(department=mine), create_staff(department=other)
    manager = create_user("leader", "hospital", staff=create_staff(department=mine), username="scopedmgr")
    accounts.set_grants(None, manager, [accounts.GrantSpec("leader", "hospital"),
                                        accounts.GrantSpec("medaffairs_admin", "departments", (mine.id,))])
    login("scopedmgr")
    assert client.get(f"/org/staff/{theirs.id}").status_code == 200  # seen …
    for staff, department in ((theirs, other), (ours, other), (None, other)):  # … not managed
        path = f"/org/staff/{staff.id}/edit" if staff else "/org/staff/new"
        response = client.post(path, data={**_staff_form(employee_no="N000777", department_id=str(department.id)),
                                           "csrf_token": csrf()})
        assert response.status_code in (403, 404), path
    assert db.session.scalar(select(Staff).where(Staff.employee_no == "N000777")) is None
    response = client.post(f"/org/staff/{ours.id}/edit", data={**_staff_form(department_id=str(mine.id)),
                                                              "csrf_token": csrf()})
    assert response.status_code == 303
