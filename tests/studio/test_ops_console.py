"""Operations console: access, filters, instance detail, actions with reasons, migration (one and bulk)."""
from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import select

from app.core import jobs
from app.core.audit import AuditEntry
from app.extensions import db
from app.modules.accounts.models import User
from app.workflow import operations, registry, runtime
from app.workflow.models import Event, Instance, Task
from tests.workflow.conftest import bpmn_doc, chain, make_user

_n = itertools.count(1)


def _admin() -> User:
    return db.session.scalar(select(User).where(User.username == "admin"))


def _flow(key: str, steps: list[tuple[str, str]]) -> str:
    nodes = [f'<bpmn:userTask id="{sid}" name="{name}" mt:role="initiator"/>' for sid, name in steps]
    return bpmn_doc(chain(*nodes), key, name=f"Console {key}")


def _publish(admin, xml: str):
    [draft] = registry.save_process_draft(admin, xml)
    return registry.publish_process(admin, draft)


def _post(client, csrf, url, **data):
    return client.post(url, data={"csrf_token": csrf(), **data})


@pytest.fixture()
def english(client, csrf):
    """After login: pages in English, so that tests can match reasons."""
    return lambda: client.post("/locale", data={"csrf_token": csrf(), "locale": "en", "next": "/"})


@pytest.fixture()
def world(ctx):
    """A process with two versions (v2 adds a step) and instances on v1 at different steps."""
    admin = _admin()
    key = f"ops_{next(_n)}"
    v1 = _publish(admin, _flow(key, [("a", "Step A"), ("b", "Step B")]))
    at_a = runtime.start(admin, key, business_key=f"BK-{key}-1", subject="Alpha subject")
    at_b = runtime.start(admin, key, business_key=f"BK-{key}-2", subject="Beta subject")
    runtime.complete(admin, runtime.open_tasks(at_b.id)[0].id, data={})
    v2 = _publish(admin, _flow(key, [("a", "Step A"), ("b", "Step B"), ("c", "Step C")]))
    db.session.commit()
    return {"admin": admin, "key": key, "v1": v1, "v2": v2, "at_a": at_a, "at_b": at_b}


def test_non_administrators_get_403_everywhere(client, login, csrf, world):
    login("medaffairs")
    instance = world["at_a"]
    for url in ("/studio/ops", f"/studio/ops/instances/{instance.id}", "/studio/analytics",
                f"/studio/analytics/{world['key']}", f"/studio/analytics/{world['key']}/export.xlsx"):
        assert client.get(url).status_code == 403, url
    assert _post(client, csrf, f"/studio/ops/instances/{instance.id}/suspend", reason="x").status_code == 403
    assert _post(client, csrf, f"/studio/ops/instances/{instance.id}/migrate", target=world["v2"].id,
                 reason="x").status_code == 403
    assert _post(client, csrf, "/studio/ops/migrations", scope="version", from_version=1, target=world["v2"].id,
                 reason="x").status_code == 403
    db.session.refresh(instance)
    assert not instance.suspended and instance.process_version_id == world["v1"].id


@pytest.mark.req("U2")
def test_list_filters_by_process_version_status_subject_key_and_date(client, login, world):
    login("admin")
    key = world["key"]
    page = client.get(f"/studio/ops?process={key}").get_data(as_text=True)
    rows = set(re.findall(r'data-instance="(\d+)"', page))
    assert rows == {str(world["at_a"].id), str(world["at_b"].id)}
    page = client.get(f"/studio/ops?process={key}&subject=Beta").get_data(as_text=True)
    assert re.findall(r'data-instance="(\d+)"', page) == [str(world["at_b"].id)]
    page = client.get(f"/studio/ops?business_key=BK-{key}-1").get_data(as_text=True)
    assert re.findall(r'data-instance="(\d+)"', page) == [str(world["at_a"].id)]
    assert 'data-instance="' not in client.get(f"/studio/ops?process={key}&version=2").get_data(as_text=True)
    assert 'data-instance="' not in client.get(f"/studio/ops?process={key}&status=completed").get_data(as_text=True)
    assert 'data-instance="' not in client.get(f"/studio/ops?process={key}&date_to=2000-01-01").get_data(as_text=True)
    page = client.get(f"/studio/ops?process={key}&step=b").get_data(as_text=True)
    assert re.findall(r'data-instance="(\d+)"', page) == [str(world["at_b"].id)]
    page = client.get("/studio/ops?status=nonsense&date_from=garbage&page=x")
    assert page.status_code == 200


@pytest.mark.req("U2")
def test_detail_shows_data_tasks_events_and_decisions(client, login, ctx):
    admin = _admin()
    instance = runtime.start(admin, "example_approval", data={"reviewers": []})
    [submit] = runtime.open_tasks(instance.id)
    runtime.complete(admin, submit.id, data={"title": "Gloves", "amount": 300}, outcome="submit")
    db.session.commit()
    login("admin")
    page = client.get(f"/studio/ops/instances/{instance.id}").get_data(as_text=True)
    assert "Gloves" in page and "<code>amount</code>" in page  # variables
    assert 'data-decision="example_risk"' in page and "small_amount" in page
    assert 'data-event="start"' in page and 'data-event="end"' in page
    assert "Fill in the request" in page  # the finished task
    assert client.get("/studio/ops/instances/999999").status_code == 404


@pytest.mark.req("U2")
def test_actions_need_a_reason_and_are_audited(client, login, csrf, world, english):
    login("admin")
    instance = world["at_a"]
    url = f"/studio/ops/instances/{instance.id}"
    response = _post(client, csrf, f"{url}/suspend", reason="  ")
    assert response.status_code == 303 and "failed=suspend" in response.location
    db.session.refresh(instance)
    assert not instance.suspended
    _post(client, csrf, f"{url}/suspend", reason="Waiting for the committee")
    db.session.refresh(instance)
    assert instance.suspended
    event = db.session.scalar(select(Event).where(Event.instance_id == instance.id, Event.action == "suspend"))
    assert event.comment == "Waiting for the committee" and event.actor_id == world["admin"].id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "ops.suspend",
                                                       AuditEntry.object_id == str(instance.id)))
    assert entry.data["reason"] == "Waiting for the committee"
    # Refused by the kernel: suspending twice.
    english()
    response = _post(client, csrf, f"{url}/suspend", reason="again")
    assert "Suspend refused" in client.get(response.location).get_data(as_text=True)
    _post(client, csrf, f"{url}/resume", reason="Committee decided")
    db.session.refresh(instance)
    assert not instance.suspended
    _post(client, csrf, f"{url}/cancel", reason="Duplicate application")
    db.session.refresh(instance)
    assert instance.status == "cancelled"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "ops.cancel",
                                                      AuditEntry.object_id == str(instance.id)))


def test_retry_an_incident(client, login, csrf, ctx, english):
    admin = _admin()
    calls = {"fail": True}

    def flaky(ctx, who=None):
        if calls["fail"]:
            raise RuntimeError("registry offline")
        return {"registered": True}

    name = f"test.ops_flaky_{next(_n)}"
    operations.register_operation(name, flaky)
    try:
        key = f"ops_incident_{next(_n)}"
        _publish(admin, bpmn_doc(chain('<bpmn:userTask id="ask" name="Ask" mt:role="initiator"/>',
                                       f'<bpmn:serviceTask id="call" name="Call" mt:operation="{name}"/>',
                                       '<bpmn:userTask id="after" name="After" mt:role="initiator"/>'), key))
        instance = runtime.start(admin, key)
        runtime.complete(admin, runtime.open_tasks(instance.id)[0].id, data={})
        db.session.commit()
        db.session.refresh(instance)
        assert instance.status == "incident"
        login("admin")
        english()
        page = client.get(f"/studio/ops/instances/{instance.id}").get_data(as_text=True)
        assert 'id="incident"' in page and "registry offline" in page
        listing = client.get("/studio/ops?status=incident").get_data(as_text=True)
        assert listing.count(f'data-instance="{instance.id}"') == 1
        calls["fail"] = False
        _post(client, csrf, f"/studio/ops/instances/{instance.id}/retry", reason="Registry is back")
        db.session.refresh(instance)
        assert (instance.status, instance.incident) == ("running", None)
        assert [t.spec for t in runtime.open_tasks(instance.id)] == ["after"]
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "ops.retry",
                                                           AuditEntry.object_id == str(instance.id)))
        assert entry.data["reason"] == "Registry is back"
    finally:
        operations.unregister_operation(name)


def test_reassign_a_task(client, login, csrf, world):
    login("admin")
    [task] = runtime.open_tasks(world["at_a"].id)
    other = make_user()
    db.session.commit()
    url = f"/studio/ops/tasks/{task.id}/reassign"
    response = _post(client, csrf, url, user_ids="", reason="Away")
    assert "failed=reassign" in response.location
    _post(client, csrf, url, user_ids=str(other.id), reason="On leave this week")
    task = db.session.get(Task, task.id)
    db.session.refresh(task)
    assert task.assignee_id == other.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "ops.reassign"))
    assert entry.data["to_user"] == other.id and entry.data["reason"] == "On leave this week"


@pytest.mark.req("U2")
def test_single_migration_safe_and_unsafe(client, login, csrf, world, english):
    login("admin")
    english()
    admin, key = world["admin"], world["key"]
    at_a = world["at_a"]
    page = client.get(f"/studio/ops/instances/{at_a.id}").get_data(as_text=True)
    assert 'data-migration="safe"' in page
    response = _post(client, csrf, f"/studio/ops/instances/{at_a.id}/migrate", target=world["v2"].id,
                     reason="Adds step C")
    db.session.refresh(at_a)
    assert at_a.process_version_id == world["v2"].id
    assert "Migrated to version 2" in client.get(response.location).get_data(as_text=True)

    v3 = _publish(admin, _flow(key, [("b", "Step B"), ("c", "Step C")]))  # drops step A
    db.session.commit()
    at_b = world["at_b"]
    page = client.get(f"/studio/ops/instances/{at_b.id}").get_data(as_text=True)
    assert 'data-migration="unsafe"' in page and "already passed" in page
    state = at_b.state
    response = _post(client, csrf, f"/studio/ops/instances/{at_b.id}/migrate", target=v3.id, reason="Try")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "already passed" in page
    db.session.refresh(at_b)
    assert (at_b.process_version_id, at_b.state) == (world["v1"].id, state)


@pytest.mark.req("U2")
def test_bulk_migration_runs_as_a_job_with_progress_and_lists_refusals(client, login, csrf, world, english):
    admin, key = world["admin"], world["key"]
    extra = [runtime.start(admin, key) for _ in range(2)]
    v1_id = world["v1"].id
    for instance in extra:  # started on v2: not part of the v1 migration
        assert instance.process_version_id == world["v2"].id
    # Move one v1 instance to a stage where the v3 change is unsafe for it.
    v3 = _publish(admin, _flow(key, [("a", "Step A renamed"), ("c", "Step C")]))  # drops step B
    db.session.commit()
    login("admin")
    english()
    response = _post(client, csrf, "/studio/ops/migrations", scope="version", from_version="1", target=v3.id,
                     reason="Move to v3", back=f"/studio/ops?process={key}")
    assert response.status_code == 303
    run_id = int(re.search(r"/migrations/(\d+)", response.location).group(1))
    jobs.stop_local()
    status = client.get(f"/jobs/{run_id}").get_json()
    assert (status["status"], status["progress"]) == ("done", 100)
    page = client.get(f"/studio/ops/migrations/{run_id}").get_data(as_text=True)
    main = page[page.find("<main"):page.find("</main>")]
    assert f'data-refused="{world["at_b"].id}"' in page and "Step B" in page, main
    at_a = db.session.get(Instance, world["at_a"].id)
    at_b = db.session.get(Instance, world["at_b"].id)
    db.session.refresh(at_a)
    db.session.refresh(at_b)
    assert at_a.process_version_id == v3.id and at_b.process_version_id == v1_id
    assert db.session.scalar(select(Event).where(Event.instance_id == at_a.id, Event.action == "migrate"))
    result = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "ops.migrate_bulk",
                                                        AuditEntry.object_id == str(run_id)))
    assert result.data["migrated"] == [at_a.id] and list(result.data["refused"]) == [str(at_b.id)]
    # Nothing selected: refused with a message, no job.
    response = _post(client, csrf, "/studio/ops/migrations", scope="selected", target=v3.id, reason="x")
    assert response.status_code == 303 and "/migrations/" not in response.location


@pytest.mark.req("U2")
def test_instances_about_a_person_show_the_persons_name(client, login, ctx):
    from tests.factories import create_staff

    admin = _admin()
    key = f"ops_{next(_n)}"
    _publish(admin, _flow(key, [("a", "Step A")]))
    staff = create_staff()
    instance = runtime.start(admin, key, subject=f"staff:{staff.id}")
    stray = runtime.start(admin, key, subject="staff:999999999")  # gone or never there: shown as it is
    db.session.commit()
    login("admin")
    page = client.get(f"/studio/ops?process={key}").get_data(as_text=True)
    assert f"{staff.name}（{staff.employee_no}）" in page and f"staff:{staff.id}" not in page
    assert "staff:999999999" in page
    detail = client.get(f"/studio/ops/instances/{instance.id}").get_data(as_text=True)
    assert f'title="staff:{staff.id}">{staff.name}（{staff.employee_no}）' in detail
    assert stray.id


def test_studio_lists_name_the_module_of_shipped_models(client, login, ctx):
    login("admin")
    page = client.get("/studio/processes").get_data(as_text=True)
    assert ">示例<" in page and ">examples<" not in page
