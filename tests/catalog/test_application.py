"""Scenario of `processes/catalog/catalog_application.bpmn` on the kernel (R2.2, R2.5): a department head
applies for hospital-catalog items, medical affairs approves (all or some) or rejects, and only approved
items join the department catalog — inside the instance's transaction, with the approval recorded."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.core.audit import AuditEntry
from app.extensions import db
from app.modules.catalog import applications
from app.modules.catalog.models import DepartmentCatalogItem
from app.modules.catalog.services import department_items
from app.workflow import inbox, runtime
from app.workflow.models import Instance
from tests.catalog.conftest import add_to_department, create_item, user
from tests.factories import create_department, create_user

pytestmark = pytest.mark.usefixtures("en")


def _setup():
    dept = create_department(name="血管外科（目录测试）")
    head = create_user("dept_head", departments=(dept,))
    return dept, head, [create_item(codes=["39.5100"]), create_item(kind="interventional", level=3)]


def _apply(head, dept, items, **extra):
    data = {"department_id": dept.id, "item_ids": [i.id for i in items], "reason": "科室开展需要", **extra}
    return applications.start(head, data, business_key=f"CAT-{dept.id}")


def _review_task(instance):
    [task] = runtime.open_tasks(instance.id)
    assert (task.spec, task.form) == ("review", "catalog_review")
    return task


@pytest.mark.req("R2.2")
@pytest.mark.req("R2.5")
def test_medical_affairs_approves_and_the_items_join_the_department_catalog():
    dept, head, items = _setup()
    instance = _apply(head, dept, items)
    assert (instance.department_id, instance.subject, instance.started_by_id) == (dept.id, dept.name, head.id)
    assert department_items(dept.id) == []  # nothing before the approval
    task = _review_task(instance)
    officer = user("medaffairs")
    assert task.id in {t.id for t in inbox.inbox(officer.id)} or task.assignee_id == officer.id \
        or officer.id in {c.user_id for c in task.candidates}
    assert runtime.task_data(task.id)["approved_item_ids"] == [i.id for i in items]  # prefilled: all applied
    with pytest.raises(runtime.PermissionDenied):  # the applicant cannot approve their own application
        runtime.complete(head, task.id, data={"approved_item_ids": [items[0].id]})
    runtime.complete(officer, task.id, data={"approved_item_ids": [i.id for i in items]}, comment="同意开展")
    db.session.refresh(instance)
    assert instance.status == "completed"
    assert {i.id for i in department_items(dept.id)} == {i.id for i in items}
    rows = db.session.scalars(select(DepartmentCatalogItem).where(DepartmentCatalogItem.department_id == dept.id))
    assert {(r.status, r.instance_id, r.added_by_id) for r in rows} == {("active", instance.id, head.id)}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.department_items_added",
                                                       AuditEntry.object_id == str(dept.id)))
    assert entry.actor_id == officer.id and entry.data["instance_id"] == instance.id
    assert sorted(runtime.variables(instance)["added_item_ids"]) == sorted(i.id for i in items)


@pytest.mark.req("R2.5")
def test_medical_affairs_may_approve_only_some_of_the_items():
    dept, head, (kept, dropped) = _setup()
    instance = _apply(head, dept, [kept, dropped])
    officer = user("medaffairs")
    outsider = create_item()  # an item nobody applied for cannot be slipped in at the review
    runtime.complete(officer, _review_task(instance).id, data={"approved_item_ids": [kept.id, outsider.id]})
    assert [i.id for i in department_items(dept.id)] == [kept.id]


@pytest.mark.req("R2.2")
@pytest.mark.req("R2.5")
def test_a_rejected_application_adds_nothing_and_the_head_is_told():
    dept, head, items = _setup()
    instance = _apply(head, dept, items)
    runtime.reject(user("medaffairs"), _review_task(instance).id, comment="人员资质不足")
    db.session.refresh(instance)
    assert instance.status == "rejected"
    assert department_items(dept.id) == []
    assert db.session.scalar(select(DepartmentCatalogItem).where(DepartmentCatalogItem.department_id == dept.id)) \
        is None


@pytest.mark.req("R2.2")
def test_only_active_hospital_items_not_yet_held_or_pending_can_be_applied_for():
    dept, head, (held, pending) = _setup()
    add_to_department(dept, held)
    inactive = create_item(active=False)
    _apply(head, dept, [pending])
    with pytest.raises(applications.ApplicationInvalid) as refused:
        _apply(head, dept, [held, pending, inactive])
    message = refused.value.errors["item_ids"]
    assert held.name in message and pending.name in message and "not in use" in message
    other = create_department(name="其他科室（目录测试）")
    with pytest.raises(applications.ApplicationInvalid) as outside:
        _apply(head, other, [create_item()])
    assert set(outside.value.errors) == {"department_id"}
    doctor = create_user("physician", departments=(dept,))
    with pytest.raises(runtime.PermissionDenied):
        _apply(doctor, dept, [create_item()])
    # Medical affairs maintains every department catalog but does not apply (it approves): the process's
    # start event names the department head.
    assert applications.departments_for(user("medaffairs")) == []
    with pytest.raises(runtime.PermissionDenied):
        _apply(user("medaffairs"), dept, [create_item()])


@pytest.mark.req("R2.2")
def test_the_start_form_is_validated_field_by_field():
    dept, head, items = _setup()
    form = MultiDict([("department_id", str(dept.id)), ("reason", "")])
    with pytest.raises(applications.ApplicationInvalid) as refused:
        applications.apply(head, form)
    assert {"item_ids", "reason"} <= set(refused.value.errors)
    foreign = create_department(name="外科室（目录测试）")
    form = MultiDict([("department_id", str(foreign.id)), ("item_ids", str(items[0].id)), ("reason", "需要开展")])
    with pytest.raises(applications.ApplicationInvalid) as refused:
        applications.apply(head, form)
    assert "department_id" in refused.value.errors  # the lookup source refuses another department
    form = MultiDict([("department_id", str(dept.id)), ("item_ids", str(items[0].id)),
                      ("item_ids", str(items[1].id)), ("reason", "需要开展")])
    instance = applications.apply(head, form)
    assert instance.status == "running" and instance.business_key


@pytest.mark.req("R2.2")
def test_the_operation_refuses_an_applicant_who_does_not_maintain_the_department():
    dept, _head, items = _setup()
    stranger = create_user("dept_head", departments=(create_department(name="无关科室（目录测试）"),))
    # Started past the catalog's checks (as a crafted portal request would): the operation still checks.
    instance = runtime.start(stranger, applications.PROCESS, department_id=dept.id,
                             data={"department_id": dept.id, "item_ids": [items[0].id], "reason": "x"})
    runtime.complete(user("medaffairs"), _review_task(instance).id, data={"approved_item_ids": [items[0].id]})
    db.session.refresh(instance)
    assert instance.status == "incident" and "may not maintain" in (instance.incident or "")
    assert department_items(dept.id) == []


@pytest.mark.req("R2.2")
def test_the_running_applications_of_a_department_are_listed():
    dept, head, items = _setup()
    instance = _apply(head, dept, items)
    assert set(applications.pending_item_ids(dept.id)) == {i.id for i in items}
    [listed] = applications.department_applications(dept.id)
    assert listed.instance.id == instance.id and listed.item_ids == [i.id for i in items]
    assert db.session.get(Instance, instance.id).title.startswith("Department catalog application")
