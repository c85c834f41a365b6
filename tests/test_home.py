import pytest

from tests.factories import create_department, create_staff, create_user


@pytest.mark.req("U1")
def test_department_head_home_counts_the_department_with_its_wards(client, login, ctx):
    dept = create_department(name="乳腺外科")
    ward = create_department(name="乳腺外科病区", parent_id=dept.id, unit_type="ward")
    create_staff(department=dept, title_code="chief")
    create_staff(department=ward, title_code="resident")
    create_user("dept_head", departments=(dept,), username="breast_head", staff=create_staff(department=dept))
    login("breast_head")
    body = client.get("/").get_data(as_text=True)
    assert "乳腺外科" in body
    assert "在岗人数: 3" in body  # two in the department (with the head), one in its ward
    assert "正高 1" in body and "初级 1" in body


def test_doctor_home_shows_own_record_and_no_admin_cards(client, login):
    login("doctor")
    body = client.get("/").get_data(as_text=True)
    assert "我的信息" in body and "管理用户" not in body
