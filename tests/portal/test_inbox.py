"""The inbox tabs — 待办, 待认领, 已办, 我发起的, 抄送我的 (and the oversight queue) — with their
filters, search, sorting, pagination and counts. The rows are read from the task projection only:
most instances here have no workflow state at all, and every page still works (U1)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from app.core.models import utcnow
from app.extensions import db
from app.workflow import runtime
from app.workflow.models import Instance, Task, TaskCandidate, TaskCopy
from app.modules.portal import inbox
from tests import factories
from tests.portal.conftest import PROCESS, text, user

pytestmark = pytest.mark.req("U1")


def _version_id() -> int:
    from app.workflow import registry

    return registry.published_process(PROCESS).id


def _row(title: str, *, started_by, department_id=None, business_key=None, process_key=PROCESS,
         status="running", started_at=None) -> Instance:
    """An instance row without any workflow state: lists must never need one."""
    instance = Instance(process_version_id=_version_id(), process_key=process_key, title=title,
                        business_key=business_key, department_id=department_id, status=status, state="{}",
                        started_by_id=started_by.id, started_at=started_at or utcnow())
    db.session.add(instance)
    db.session.flush()
    return instance


def _task(instance: Instance, name: str = "科主任审核", *, assignee=None, status="open", created_at=None,
          due_at=None, urged_at=None, completed_by=None, completed_at=None, candidates=(), role_pool=None) -> Task:
    task = Task(instance_id=instance.id, spiff_id=f"00000000-0000-0000-0000-{instance.id:06d}{len(name):06d}",
                spec="head_review", name=name, process_key=instance.process_key, department_id=instance.department_id,
                assignee_id=assignee.id if assignee else None, status=status, created_at=created_at or utcnow(),
                due_at=due_at, urged_at=urged_at, completed_by_id=completed_by.id if completed_by else None,
                completed_at=completed_at)
    for person in candidates:
        task.candidates.append(TaskCandidate(user_id=person.id))
    if role_pool:
        task.candidates.append(TaskCandidate(role=role_pool[0], department_id=role_pool[1]))
    db.session.add(task)
    db.session.flush()
    return task


def _ids(body: str, attribute: str = "data-task-id") -> list[int]:
    return [int(i) for i in re.findall(attribute + r'="(\d+)"', body)]


@pytest.fixture()
def people(flow):
    return {"doctor": flow.doctor, "head": flow.head, "nurse": user("nurse"), "expert": user("expert")}


def test_todo_lists_open_tasks_assigned_to_me_only(flow, people, client, login):
    head, doctor = people["head"], people["doctor"]
    mine = _task(_row("甲申请", started_by=doctor, department_id=flow.surgery.id), assignee=head)
    delegated = _task(_row("乙申请", started_by=doctor), assignee=head, status="delegated")
    _task(_row("丙申请", started_by=doctor), assignee=head, status="completed", completed_by=head,
          completed_at=utcnow())
    _task(_row("丁申请", started_by=doctor), assignee=people["nurse"])
    login("head")
    body = client.get("/tasks").get_data(as_text=True)
    assert sorted(_ids(body)) == sorted([mine.id, delegated.id])
    assert "甲申请" in body and "丁申请" not in body


def test_claim_lists_unassigned_tasks_of_my_pools(flow, people, client, login):
    head, doctor = people["head"], people["doctor"]
    named = _task(_row("候选", started_by=doctor), candidates=[head, people["nurse"]])
    pooled = _task(_row("角色池", started_by=doctor, department_id=flow.surgery.id),
                   role_pool=("dept_head", flow.surgery.id))
    _task(_row("他科角色池", started_by=doctor), role_pool=("dept_head", factories.create_department().id))
    _task(_row("已被认领", started_by=doctor), candidates=[head], assignee=people["nurse"])
    login("head")
    body = client.get("/tasks?tab=claim").get_data(as_text=True)
    assert sorted(_ids(body)) == sorted([named.id, pooled.id])
    assert inbox.claim_count(head) == 2


def test_done_lists_what_i_completed_or_returned(flow, people, client, login):
    head, doctor = people["head"], people["doctor"]
    now = utcnow()
    done = _task(_row("已办一", started_by=doctor), assignee=head, status="completed", completed_by=head,
                 completed_at=now - timedelta(hours=2))
    returned = _task(_row("已办二", started_by=doctor), assignee=head, status="returned", completed_by=head,
                     completed_at=now - timedelta(hours=1))
    _task(_row("别人办的", started_by=doctor), assignee=people["nurse"], status="completed",
          completed_by=people["nurse"], completed_at=now)
    login("head")
    body = client.get("/tasks?tab=done").get_data(as_text=True)
    assert _ids(body) == [returned.id, done.id]  # latest first


def test_started_lists_my_applications_with_their_current_step(flow, people, client, login, app):
    doctor = people["doctor"]
    real = flow.start(title="真实流程")
    older = _row("较早的申请", started_by=doctor, status="completed", started_at=utcnow() - timedelta(days=3))
    _row("别人的申请", started_by=people["nurse"])
    login("doctor")
    body = client.get("/tasks?tab=started").get_data(as_text=True)
    assert _ids(body, "data-instance-id") == [real.id, older.id]
    assert "科主任审核" in body  # where the real one is now
    assert text(app, "Completed") in body


def test_copied_lists_copies_to_me_and_marks_them_read(flow, people, client, login):
    doctor, nurse = people["doctor"], people["nurse"]
    instance = flow.start()
    task = flow.head_task(instance)
    runtime.copy_to(flow.head, task.id, [nurse.id], "请知悉")
    other = _row("抄送给别人", started_by=doctor)
    db.session.add(TaskCopy(instance_id=other.id, user_id=people["expert"].id, created_at=utcnow()))
    login("nurse")
    body = client.get("/tasks?tab=copied").get_data(as_text=True)
    copy = db.session.query(TaskCopy).filter_by(user_id=nurse.id).one()
    assert _ids(body, "data-copy-id") == [copy.id]
    assert "请知悉" in body
    assert re.search(r'data-count="copied">1<', body)
    client.get(f"/tasks/{task.id}")
    body = client.get("/tasks?tab=copied").get_data(as_text=True)
    assert 'data-count="copied"' not in body


def test_queue_shows_the_department_or_hospital_and_only_to_oversight(flow, people, client, login, app):
    doctor = people["doctor"]
    ours = _task(_row("本科申请", started_by=doctor, department_id=flow.surgery.id), assignee=people["nurse"])
    theirs = _task(_row("外科申请", started_by=doctor, department_id=factories.create_department().id),
                   assignee=people["nurse"])
    _task(_row("已结束", started_by=doctor, department_id=flow.surgery.id, status="completed"), assignee=doctor)
    login("head")
    body = client.get("/tasks?tab=queue").get_data(as_text=True)
    assert ours.id in _ids(body) and theirs.id not in _ids(body)
    assert text(app, "Department queue") in body
    medaffairs = app.test_client()
    login("medaffairs", on=medaffairs)
    body = medaffairs.get("/tasks?tab=queue").get_data(as_text=True)
    assert {ours.id, theirs.id} <= set(_ids(body))
    assert text(app, "Hospital queue") in body
    nurse = app.test_client()
    login("nurse", on=nurse)
    body = nurse.get("/tasks?tab=queue").get_data(as_text=True)  # no oversight: falls back to 待办
    assert ours.id in _ids(body) and theirs.id in _ids(body)  # both are assigned to the nurse
    assert 'data-tab="queue"' not in body


def test_filters_process_department_dates_overdue_and_urgency(flow, people, client, login):
    head, doctor = people["head"], people["doctor"]
    now = utcnow()
    other_dept = factories.create_department(name="骨科（筛选）")
    a = _task(_row("甲", started_by=doctor, department_id=flow.surgery.id), assignee=head,
              created_at=datetime(2025, 1, 10, 2), due_at=now - timedelta(hours=1))
    b = _task(_row("乙", started_by=doctor, department_id=other_dept.id, process_key="other_process"), assignee=head,
              created_at=datetime(2025, 2, 10, 2), due_at=now + timedelta(hours=5), urged_at=now)
    c = _task(_row("丙", started_by=doctor, department_id=flow.surgery.id), assignee=head,
              created_at=datetime(2025, 3, 10, 2), due_at=now + timedelta(days=5))
    login("head")

    def listed(query: str) -> set[int]:
        return set(_ids(client.get(f"/tasks?{query}").get_data(as_text=True)))

    assert listed("") == {a.id, b.id, c.id}
    assert listed(f"process={PROCESS}") == {a.id, c.id}
    # The process filter offers processes that have run, not every shipped definition (examples …).
    page = client.get("/tasks").get_data(as_text=True)
    assert f'<option value="{PROCESS}"' in page and '<option value="countersign_veto"' not in page
    assert listed(f"department_id={other_dept.id}") == {b.id}
    assert listed("date_from=2025-02-01") == {b.id, c.id}
    assert listed("date_from=2025-02-01&date_to=2025-02-10") == {b.id}  # inclusive, Beijing days
    assert listed("date_to=2025-01-09") == set()
    assert listed("overdue=1") == {a.id}
    assert listed("urgency=urged") == {b.id}
    assert listed("urgency=due_soon") == {b.id}
    assert listed("date_from=not-a-date&department_id=x&sort=evil&urgency=x") == {a.id, b.id, c.id}
    body = client.get("/tasks").get_data(as_text=True)
    assert f'<option value="{other_dept.id}">骨科（筛选）</option>' in body  # departments of my rows


def test_search_by_business_key_applicant_or_title(flow, people, client, login):
    head = people["head"]
    by_key = _task(_row("普通标题", started_by=people["doctor"], business_key="20250101-ABC123"), assignee=head)
    by_title = _task(_row("机器人手术授权", started_by=people["doctor"]), assignee=head)
    by_applicant = _task(_row("另一个标题", started_by=people["nurse"]), assignee=head)
    login("head")

    def found(q: str) -> set[int]:
        return set(_ids(client.get("/tasks", query_string={"q": q}).get_data(as_text=True)))

    assert found("ABC123") == {by_key.id}
    assert found("机器人") == {by_title.id}
    assert found(people["nurse"].display_name) == {by_applicant.id}
    assert found("100%_") == set()  # LIKE wildcards are text


def test_sorting_newest_oldest_and_due(flow, people, client, login):
    head, doctor = people["head"], people["doctor"]
    now = utcnow()
    first = _task(_row("一", started_by=doctor), assignee=head, created_at=now - timedelta(days=3),
                  due_at=now + timedelta(days=1))
    second = _task(_row("二", started_by=doctor), assignee=head, created_at=now - timedelta(days=2))
    third = _task(_row("三", started_by=doctor), assignee=head, created_at=now - timedelta(days=1),
                  due_at=now + timedelta(hours=1))
    login("head")
    assert _ids(client.get("/tasks").get_data(as_text=True)) == [third.id, second.id, first.id]
    assert _ids(client.get("/tasks?sort=oldest").get_data(as_text=True)) == [first.id, second.id, third.id]
    assert _ids(client.get("/tasks?sort=due").get_data(as_text=True)) == [third.id, first.id, second.id]


def test_pagination_and_counts(flow, people, client, login, app, monkeypatch):
    head, doctor = people["head"], people["doctor"]
    base = utcnow()
    tasks = [_task(_row(f"第{i}件", started_by=doctor), assignee=head, created_at=base - timedelta(minutes=i))
             for i in range(7)]
    monkeypatch.setitem(app.config, "PAGE_SIZE", 3)
    login("head")
    pages = [_ids(client.get(f"/tasks?page={n}").get_data(as_text=True)) for n in (1, 2, 3)]
    assert pages == [[t.id for t in tasks[0:3]], [t.id for t in tasks[3:6]], [tasks[6].id]]
    assert _ids(client.get("/tasks?page=99").get_data(as_text=True)) == []
    body = client.get("/tasks").get_data(as_text=True)
    assert text(app, "%(n)d in total", n=7) in body
    assert re.search(r'data-count="todo">7<', body)
    assert re.search(r'id="task-badge"[^>]*>7<', body)  # the navigation badge: 待办 + 待认领


def test_empty_tabs_say_what_to_do_next(flow, client, login, app):
    login("nurse")
    body = client.get("/tasks").get_data(as_text=True)
    assert text(app, "Nothing to do right now. New tasks appear here; to apply for something, use “Start a "
                     "process”.") in body
    assert 'id="task-badge"' not in body
    body = client.get("/tasks?q=nothing-matches").get_data(as_text=True)
    assert text(app, "Nothing matches these filters. Clear them to see everything.") in body


def test_unknown_tab_falls_back_to_todo(flow, client, login):
    login("head")
    assert client.get("/tasks?tab=../../etc").status_code == 200


def test_inbox_queries_use_indexes_not_scans(flow, people, app):
    """The tab queries start from an index of the user's own rows (SQLite's plan says so)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("plan text is SQLite's")
    head = people["head"]
    for tab in ("todo", "claim", "done", "started", "copied"):
        stmt = inbox.query(tab, head, inbox.Filters())
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(row[-1] for row in db.session.execute(db.text("EXPLAIN QUERY PLAN " + sql)))
        assert "SCAN wf_task " not in plan + " " and "SCAN wf_instance " not in plan + " ", (tab, plan)


@pytest.mark.req("R3.7")
def test_a_pooled_task_is_offered_on_its_instance_page_to_whoever_holds_the_role(flow, people, client, login,
                                                                                 app):
    doctor = people["doctor"]
    instance = _row("角色池申请", started_by=doctor, department_id=flow.surgery.id)
    pooled = _task(instance, role_pool=("dept_head", flow.surgery.id))
    login("head")  # holds dept_head for the surgery department, but was not named on the task
    body = client.get(f"/instances/{instance.id}").get_data(as_text=True)
    assert f'href="/tasks/{pooled.id}"' in body
    nurse = app.test_client()
    login("nurse", on=nurse)
    assert nurse.get(f"/instances/{instance.id}").status_code == 404
