"""Basic information and identity (R1.1): the dossier page and its tabs within scope, manual editing
with field-by-field checks and a change log, ID numbers checked and masked, the dossier list."""
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.modules.dossier import tabs
from app.modules.dossier.models import DossierChange, DossierProfile
from app.modules.dossier.services import identity
from app.modules.org.models import Department, Staff
from tests.dossier.helpers import staff_of, token_of
from tests.factories import create_department, create_staff


@pytest.mark.req("R1.1")
def test_a_doctor_opens_their_own_dossier_with_every_tab(client, login, ctx):
    doctor = staff_of("doctor")
    login("doctor")
    response = client.get("/dossier/")
    assert response.status_code == 302 and response.location.endswith(f"/dossier/{doctor.id}")
    for key in ("basic", "certificates", "history", "metrics", "adverse"):
        page = client.get(f"/dossier/{doctor.id}?tab={key}")
        assert page.status_code == 200, key
        assert f'id="dossier-tab-{key}"' in page.get_data(as_text=True)
    basic = client.get(f"/dossier/{doctor.id}").get_data(as_text=True)
    assert doctor.name in basic and doctor.employee_no in basic
    profile = db.session.scalar(select(DossierProfile).where(DossierProfile.staff_id == doctor.id))
    assert profile.id_number in basic  # the person sees their own ID number in full


@pytest.mark.req("R1.1")
def test_scope_decides_whose_dossier_opens(client, login, ctx):
    surgery = staff_of("head").department_id
    colleague = db.session.scalar(select(Staff).where(Staff.department_id == surgery, Staff.staff_type == "physician",
                                                      Staff.id.not_in([staff_of("doctor").id, staff_of("head").id,
                                                                       staff_of("qcofficer").id])))
    outsider = create_staff(department=create_department(name="他院科室"))
    login("doctor")
    assert client.get(f"/dossier/{colleague.id}").status_code == 404
    assert client.get("/dossier/people").status_code == 403
    client.post("/logout", data={"csrf_token": token_of(client.get("/").get_data(as_text=True))})
    login("head")
    assert client.get(f"/dossier/{colleague.id}").status_code == 200
    assert client.get(f"/dossier/{outsider.id}").status_code == 404
    listed = client.get("/dossier/people?staff_type=all").get_data(as_text=True)
    assert colleague.name in listed and outsider.name not in listed
    assert client.get(f"/dossier/{colleague.id}/edit").status_code == 403  # a head reads, medical affairs edits
    client.post("/logout", data={"csrf_token": token_of(client.get("/").get_data(as_text=True))})
    login("medaffairs")
    assert client.get(f"/dossier/{outsider.id}").status_code == 200


@pytest.mark.req("R1.1")
def test_the_id_number_is_masked_for_whom_lacks_the_right(client, login, ctx):
    doctor = staff_of("doctor")
    number = db.session.scalar(select(DossierProfile.id_number).where(DossierProfile.staff_id == doctor.id))
    login("head")
    page = client.get(f"/dossier/{doctor.id}").get_data(as_text=True)
    assert number not in page and identity.mask(number) in page
    client.post("/logout", data={"csrf_token": token_of(client.get("/").get_data(as_text=True))})
    login("medaffairs")  # holds dossier.view_identity
    assert number in client.get(f"/dossier/{doctor.id}").get_data(as_text=True)


def test_identity_numbers_are_checked_by_their_check_digit():
    assert identity.problem("11010519491231002X") is None
    assert identity.problem("110105194912310021") == "checksum"
    assert identity.problem("110105194913310028") == "birth"
    assert identity.problem("11010519491231002") == "format"
    made = identity.make("440106", __import__("datetime").date(1990, 2, 3), 17, male=False)
    assert identity.problem(made) is None and identity.gender(made) == "F"
    assert identity.mask("11010519491231002X") == "1101**********002X"


@pytest.mark.req("R1.1")
def test_medical_affairs_edits_basic_information_and_every_change_is_logged(client, login, ctx):
    person = create_staff(gender="M", birth_date=__import__("datetime").date(1988, 3, 9))
    login("medaffairs")
    form = client.get(f"/dossier/{person.id}/edit").get_data(as_text=True)
    data = {"csrf_token": token_of(form), "employee_no": person.employee_no, "name": person.name, "gender": "M",
            "birth_date": "1988-03-09", "department_id": str(person.department_id), "staff_type": "physician",
            "status": "active", "title_code": "attending", "title_since": "2020-01-01",
            "practice_category": "临床", "practice_scope": "外科专业",
            "id_number": "440106198803090011", "education": "master", "email": "not-an-email"}
    bad = client.post(f"/dossier/{person.id}/edit", data=data)
    page = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "校验码" in page and "电子邮箱" in page
    assert db.session.scalar(select(func.count(DossierChange.id)).where(DossierChange.staff_id == person.id)) == 0
    good_id = identity.make("440106", person.birth_date, 5, male=True)
    data.update(id_number=good_id, email="li@hospital.cn", title_code="assoc_chief")
    response = client.post(f"/dossier/{person.id}/edit", data=data)
    assert response.status_code == 303
    changes = {c.field: c for c in db.session.scalars(select(DossierChange).where(DossierChange.staff_id == person.id))}
    assert set(changes) >= {"id_number", "education", "email", "title_code"}
    assert changes["title_code"].old_value == "主治医师" and changes["title_code"].new_value == "副主任医师"
    assert changes["id_number"].new_value == identity.mask(good_id)  # the log never holds the full number
    assert {c.source for c in changes.values()} == {"manual"}
    log = client.get(f"/dossier/{person.id}/changes?field=title_code").get_data(as_text=True)
    assert "副主任医师" in log and "主治医师" in log


@pytest.mark.req("R1.1")
def test_a_doctor_edits_only_education_and_contacts_of_their_own_dossier(client, login, ctx):
    doctor = staff_of("doctor")
    title = doctor.title_code
    login("doctor")
    form = client.get(f"/dossier/{doctor.id}/edit").get_data(as_text=True)
    assert 'name="title_code"' not in form and 'name="office_phone"' in form
    response = client.post(f"/dossier/{doctor.id}/edit", data={
        "csrf_token": token_of(form), "office_phone": "0710-6666888", "title_code": "chief", "major": "外科学"})
    assert response.status_code == 303
    db.session.refresh(doctor)
    profile = db.session.scalar(select(DossierProfile).where(DossierProfile.staff_id == doctor.id))
    assert doctor.title_code == title and profile.office_phone == "0710-6666888"


@pytest.mark.req("R1.1")
def test_the_dossier_list_searches_filters_pages_and_exports(client, login, ctx):
    login("medaffairs")
    surgery = db.session.scalar(select(Department).where(Department.name == "普通外科"))
    page = client.get(f"/dossier/people?department_id={surgery.id}").get_data(as_text=True)
    wanted = db.session.scalar(select(func.count(Staff.id)).where(Staff.department_id == surgery.id,
                                                                 Staff.staff_type == "physician",
                                                                 Staff.status == "active"))
    assert re.search(rf"(共 {wanted} 条|{wanted} in total)", page)
    doctor = staff_of("doctor")
    assert doctor.name in client.get(f"/dossier/people?q={doctor.employee_no}").get_data(as_text=True)
    sheet = load_workbook(io.BytesIO(client.get(f"/dossier/people.xlsx?department_id={surgery.id}").data)).active
    assert sheet.max_row - 1 == wanted
    assert client.get("/dossier/people?page=999&level=x&department_id=zz").status_code == 200


@pytest.mark.req("R1.1")
def test_other_modules_add_tabs_through_the_registry(client, login, ctx):
    seen = []

    def render(staff, actor):
        seen.append((staff.id, actor.username))
        return "<p id='extra-tab'>授权档案内容</p>"

    tabs.register_tab("test_extra", "测试页签", render, order=50,
                      visible=lambda staff, actor: actor.username == "medaffairs")
    try:
        doctor = staff_of("doctor")
        login("doctor")
        assert "测试页签" not in client.get(f"/dossier/{doctor.id}").get_data(as_text=True)
        client.post("/logout", data={"csrf_token": token_of(client.get("/").get_data(as_text=True))})
        login("medaffairs")
        page = client.get(f"/dossier/{doctor.id}?tab=test_extra").get_data(as_text=True)
        assert "测试页签" in page and "<p id='extra-tab'>授权档案内容</p>" in page
        keys = [t.key for t in tabs.registered()]
        assert keys.index("metrics") < keys.index("test_extra") < keys.index("adverse")
        assert seen == [(doctor.id, "medaffairs")]
    finally:
        tabs._TABS.pop("test_extra", None)
