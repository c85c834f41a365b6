import pytest
from sqlalchemy import select

from app.core.scopes import can, reach, scope_filter
from app.extensions import db
from app.modules.accounts import services as accounts
from app.modules.org.models import Staff
from tests.factories import create_department, create_staff, create_user


def _visible_staff(user) -> set[int]:
    return set(db.session.scalars(select(Staff.id).where(scope_filter(user, "staff"))))


@pytest.mark.req("R1.5")
def test_self_scope_sees_only_own_record(ctx):
    user = create_user("physician")
    other = create_staff(department_id=user.staff.department_id)
    visible = _visible_staff(user)
    assert visible == {user.staff_id}
    assert other.id not in visible


@pytest.mark.req("R1.5")
def test_department_scope_includes_wards_below(ctx):
    dept = create_department()
    ward = create_department(parent_id=dept.id, unit_type="ward")
    elsewhere = create_department()
    in_dept, in_ward, outside = (create_staff(department=d) for d in (dept, ward, elsewhere))
    head = create_user("dept_head", departments=(dept,))
    visible = _visible_staff(head)
    assert {in_dept.id, in_ward.id, head.staff_id} <= visible
    assert outside.id not in visible
    assert reach(head, "org.view").department_ids == frozenset({dept.id, ward.id})


def test_hospital_scope_sees_everyone(ctx):
    clerk = create_user("medaffairs_staff")
    total = db.session.scalar(select(db.func.count(Staff.id)))
    assert len(_visible_staff(clerk)) == total


def test_scopes_of_several_grants_unite(ctx):
    dept_a, dept_b = create_department(), create_department()
    user = create_user("dept_head", departments=(dept_a,))
    accounts.set_grants(None, user, [accounts.GrantSpec("dept_head", "departments", (dept_a.id,)),
                                     accounts.GrantSpec("dept_qc", "departments", (dept_b.id,)),
                                     accounts.GrantSpec("physician", "self")])
    a, b = create_staff(department=dept_a), create_staff(department=dept_b)
    assert {a.id, b.id, user.staff_id} <= _visible_staff(user)


def test_no_permission_means_no_rows_and_no_right(ctx):
    user = create_user("physician")
    accounts.set_grants(None, user, [])
    assert _visible_staff(user) == set()
    assert not can(user, "org.view")


def test_record_outside_scope_is_404_and_action_without_right_is_403(client, login, ctx):
    outsider = create_staff()
    create_user("physician", username="scoped_doc")
    login("scoped_doc")
    assert client.get(f"/org/staff/{outsider.id}").status_code == 404
    assert client.get("/org/staff/new").status_code == 403
    assert client.get("/admin/users").status_code == 403
