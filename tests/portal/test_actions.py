"""Every approval action through HTTP (POST /tasks/<id>/<action> with CSRF): what the kernel
allows is done and said; what it does not is refused — 403 without the right, 404 outside the
user's reach, 409 with the reason when not possible now — and nothing is saved (U1, R3.7)."""
from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.workflow import runtime
from app.workflow.models import Event, Instance, Task
from tests import factories
from tests.conftest import csrf_token
from tests.portal.conftest import text, user

pytestmark = pytest.mark.req("U1")


def _post(client, task_id: int, action: str, **data):
    data.setdefault("csrf_token", csrf_token(client))
    return client.post(f"/tasks/{task_id}/{action}", data=data)


def _as(app, login, username: str):
    """A fresh browser session logged in as `username`."""
    client = app.test_client()
    login(username, on=client)
    return client


def _reload(row):
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def _reason(response) -> str:
    match = re.search(r'id="action-error">([^<]*)<', response.get_data(as_text=True))
    return match.group(1) if match else ""


@pytest.mark.req("R3.7")
def test_head_approves_then_three_signers_countersign_and_the_process_ends(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    response = _post(client, task.id, "complete", signers=[str(s.id) for s in flow.signers],
                     assessment="ready", comment_complete="同意开展")
    assert response.status_code == 303, _reason(response)
    assert response.headers["Location"] == "/tasks"
    assert _reload(task).status == "completed" and _reload(task).comment == "同意开展"
    signs = flow.open_tasks(instance, "countersign")
    assert sorted(t.assignee_id for t in signs) == sorted(s.id for s in flow.signers)
    for signer in flow.signers:
        client = _as(app, login, signer.username)
        response = _post(client, next(t.id for t in signs if t.assignee_id == signer.id), "complete",
                         remarks="同意", comment_complete="同意")
        assert response.status_code == 303, _reason(response)
    assert _reload(instance).status == "completed"


@pytest.mark.req("R3.7")
def test_one_signer_voting_against_makes_the_countersign_fail(flow, client, login, app):
    instance = flow.start()
    signs = flow.to_countersign(instance)
    for i, signer in enumerate(flow.signers):
        client = _as(app, login, signer.username)
        action = "reject" if i == 1 else "complete"
        response = _post(client, next(t.id for t in signs if t.assignee_id == signer.id), action,
                         **{f"comment_{action}": "意见"})
        assert response.status_code == 303, _reason(response)
    assert _reload(instance).status == "completed"  # the process ends on its "rejected" end event
    data = runtime.variables(instance.id)
    assert data["decision"] == "reject"


def test_reject_outside_a_countersign_ends_the_process(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    response = _post(client, task.id, "reject", comment_reject="不符合准入条件")
    assert response.status_code == 303
    assert _reload(instance).status == "rejected"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert text(app, "Rejected.") in page


def test_a_form_error_is_shown_beside_the_field_and_nothing_is_saved(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    response = _post(client, task.id, "complete", assessment="nonsense")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    required = text(app, "Choose at least %(n)s.", n="1")
    assert re.search(r'id="f-signers-error">' + re.escape(required) + "<", body)
    assert "150000" not in body and "12000" in body  # the read-only fields still show the applicant's data
    assert re.search(r'id="f-assessment-error">' + re.escape(text(app, "Please choose from the list.")) + "<", body)
    assert _reload(task).status == "open"
    assert not db.session.query(Event).filter_by(instance_id=instance.id, action="complete").count()


def test_signers_outside_the_heads_reach_are_refused(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    outsider = user("expert")  # 心血管内科: not someone the head of 普通外科 could choose
    response = _post(client, task.id, "complete", signers=[str(outsider.id)])
    assert response.status_code == 422
    assert text(app, "Please choose from the list.") in response.get_data(as_text=True)
    assert _reload(task).status == "open"


def test_the_second_session_is_told_the_task_was_already_handled(flow, app, login):
    instance = flow.start()
    task = flow.head_task(instance)
    first, second = app.test_client(), app.test_client()
    login("head", on=first)
    login("head", on=second)
    tokens = [re.search(r'name="csrf-token" content="([^"]+)"', c.get(f"/tasks/{task.id}").get_data(as_text=True))
              .group(1) for c in (first, second)]
    ok = first.post(f"/tasks/{task.id}/complete", data={"csrf_token": tokens[0], "signers": [str(flow.signers[0].id)]})
    assert ok.status_code == 303
    late = second.post(f"/tasks/{task.id}/complete",
                       data={"csrf_token": tokens[1], "signers": [str(flow.signers[1].id)]})
    assert late.status_code == 409
    from app.core.i18n import format_datetime
    from app.modules.portal.sources import names

    handled = _reload(task)
    assert _reason(late) == text(app, "This task was already handled by %(name)s at %(time)s.",
                                 name=names([flow.head.id])[flow.head.id], time=format_datetime(handled.completed_at))
    signs = flow.open_tasks(instance, "countersign")
    assert [t.assignee_id for t in signs] == [flow.signers[0].id]  # the first session's choice stands


def test_claim_and_give_back_a_pooled_task(flow, client, login, app):
    second_head = factories.create_user("dept_head", departments=(flow.surgery,), username="head2")
    instance = flow.start()
    task = flow.head_task(instance)
    assert task.assignee_id is None  # two heads: a pool
    login("head")
    listing = client.get("/tasks?tab=claim").get_data(as_text=True)
    assert f'data-task-id="{task.id}"' in listing
    assert f'data-task-id="{task.id}"' not in client.get("/tasks").get_data(as_text=True)
    response = _post(client, task.id, "claim")
    assert response.status_code == 303 and response.headers["Location"] == f"/tasks/{task.id}"
    assert _reload(task).assignee_id == flow.head.id
    assert f'data-task-id="{task.id}"' in client.get("/tasks").get_data(as_text=True)
    response = _post(client, task.id, "unclaim")
    assert response.status_code == 303
    assert _reload(task).assignee_id is None
    # The other head claims it; now the first one is refused with the reason.
    runtime.claim(second_head, task.id)
    response = _post(client, task.id, "claim")
    assert response.status_code == 409
    assert _reason(response) == text(app, "The task is already claimed.")


def test_transfer_hands_the_task_to_someone_in_reach(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    colleague = flow.signers[0]
    response = _post(client, task.id, "transfer", user_ids=str(colleague.id), comment="请代为审核")
    assert response.status_code == 303
    assert _reload(task).assignee_id == colleague.id
    assert client.get(f"/tasks/{task.id}").status_code == 200  # the head took part: still visible
    response = _post(client, task.id, "transfer", user_ids=str(flow.head.id))
    assert response.status_code == 403  # no longer the assignee


def test_transfer_to_nobody_or_out_of_reach_is_refused(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    for value in ("", str(user("expert").id), "999999"):
        response = _post(client, task.id, "transfer", user_ids=value)
        assert response.status_code == 422
        assert text(app, "Please choose a person from the list.") in response.get_data(as_text=True)
    assert _reload(task).assignee_id == flow.head.id


def test_delegate_and_hand_back(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    helper = flow.signers[1]
    login("head")
    assert _post(client, task.id, "delegate", user_ids=str(helper.id)).status_code == 303
    task = _reload(task)
    assert (task.status, task.assignee_id, task.owner_id) == ("delegated", helper.id, flow.head.id)
    # The owner cannot complete while it is delegated.
    response = _post(client, task.id, "complete", signers=[str(helper.id)])
    assert response.status_code in (403, 409)
    client = _as(app, login, helper.username)
    assert _post(client, task.id, "resolve", comment="已核实").status_code == 303
    task = _reload(task)
    assert (task.status, task.assignee_id) == ("open", flow.head.id)


def test_add_and_remove_signers(flow, client, login, app):
    instance = flow.start()
    signs = flow.to_countersign(instance, flow.signers[:2])
    extra = flow.signers[2]
    mine = next(t for t in signs if t.assignee_id == flow.signers[0].id)
    login(flow.signers[0].username)
    page = client.get(f"/tasks/{mine.id}").get_data(as_text=True)
    assert 'data-bs-target="#modal-add_signers"' in page and 'data-bs-target="#modal-remove_signers"' in page
    assert _post(client, mine.id, "add_signers", user_ids=str(extra.id)).status_code == 303
    assert sorted(t.assignee_id for t in flow.open_tasks(instance, "countersign")) == \
        sorted(s.id for s in flow.signers)
    assert _post(client, mine.id, "remove_signers", user_ids=str(extra.id)).status_code == 303
    assert extra.id not in [t.assignee_id for t in flow.open_tasks(instance, "countersign")]
    response = _post(client, mine.id, "remove_signers")
    assert response.status_code == 422
    assert text(app, "Please choose whom to remove.") in response.get_data(as_text=True)


def test_return_to_an_earlier_step(flow, client, login, app):
    instance = flow.start()
    signs = flow.to_countersign(instance)
    mine = next(t for t in signs if t.assignee_id == flow.signers[0].id)
    login(flow.signers[0].username)
    page = client.get(f"/tasks/{mine.id}").get_data(as_text=True)
    assert '<option value="head_review">科主任审核</option>' in page
    response = _post(client, mine.id, "return", target="nowhere")
    assert response.status_code == 422
    response = _post(client, mine.id, "return", target="head_review", comment="请补充会签专家")
    assert response.status_code == 303
    again = flow.head_task(instance)
    assert again.assignee_id == flow.head.id and again.status == "open"
    assert not flow.open_tasks(instance, "countersign")


def test_no_return_when_there_is_no_earlier_step(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="modal-return"' not in page  # the kernel would allow it, but there is nowhere to go


def test_withdraw_own_step_before_the_next_acts(flow, client, login, app):
    instance = flow.start()
    head_task = flow.head_task(instance)
    flow.to_countersign(instance)
    login("head")
    page = client.get(f"/tasks/{head_task.id}").get_data(as_text=True)
    assert 'id="modal-withdraw"' in page
    response = _post(client, head_task.id, "withdraw", comment="会签人选有误")
    assert response.status_code == 303 and response.headers["Location"] == f"/instances/{instance.id}"
    assert not flow.open_tasks(instance, "countersign")
    assert flow.head_task(instance).assignee_id == flow.head.id


def test_withdraw_after_the_next_step_acted_is_refused(flow, client, login, app):
    instance = flow.start()
    head_task = flow.head_task(instance)
    signs = flow.to_countersign(instance)
    runtime.complete(flow.signers[0], next(t.id for t in signs if t.assignee_id == flow.signers[0].id))
    login("head")
    assert 'id="modal-withdraw"' not in client.get(f"/tasks/{head_task.id}").get_data(as_text=True)
    response = _post(client, head_task.id, "withdraw")
    assert response.status_code == 409
    assert _reason(response)


def test_the_applicant_withdraws_the_application(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("doctor")
    page = client.get(f"/instances/{instance.id}").get_data(as_text=True)
    assert 'id="modal-withdraw"' in page and 'id="modal-copy"' in page
    response = _post(client, task.id, "withdraw", back=f"/instances/{instance.id}")
    assert response.status_code == 303
    assert _reload(instance).status == "withdrawn"


def test_urge_and_copy(flow, client, login, app):
    from app.core.notify.models import Notification
    from app.workflow.models import TaskCopy

    instance = flow.start()
    task = flow.head_task(instance)
    login("doctor")
    response = _post(client, task.id, "urge", comment="请尽快审核", back=f"/instances/{instance.id}")
    assert response.status_code == 303 and response.headers["Location"] == f"/instances/{instance.id}"
    assert _reload(task).urged_at is not None
    note = db.session.query(Notification).filter_by(user_id=flow.head.id, kind="workflow.urge").one()
    assert note.link == f"/tasks/{task.id}" and note.important
    client = _as(app, login, "head")
    reader = flow.signers[2]
    assert _post(client, task.id, "copy", user_ids=str(reader.id), comment="供参考").status_code == 303
    copy = db.session.query(TaskCopy).filter_by(user_id=reader.id).one()
    assert copy.task_id == task.id and copy.read_at is None
    client = _as(app, login, reader.username)
    assert f'data-copy-id="{copy.id}"' in client.get("/tasks?tab=copied").get_data(as_text=True)
    assert client.get(f"/tasks/{task.id}").status_code == 200  # a copy lets the reader see the task
    assert _reload(copy).read_at is not None


def test_actions_outside_reach_answer_404_and_without_right_403(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("expert")  # another department, no part in it
    assert client.get(f"/tasks/{task.id}").status_code == 404
    assert client.get(f"/instances/{instance.id}").status_code == 404
    assert _post(client, task.id, "complete").status_code == 404
    assert _post(client, 999999, "complete").status_code == 404
    client = _as(app, login, "doctor")  # the applicant sees it but may not decide it
    assert client.get(f"/tasks/{task.id}").status_code == 200
    assert _post(client, task.id, "complete").status_code == 403
    assert _post(client, task.id, "transfer", user_ids=str(flow.doctor.id)).status_code == 403
    # The right comes before the form: without a person or a step it is still 403, not a form error.
    for action in ("transfer", "delegate", "return"):
        assert _post(client, task.id, action).status_code == 403, action
    assert _post(client, task.id, "nonsense").status_code == 404
    assert _reload(task).status == "open"


def test_actions_need_the_csrf_token(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    assert client.post(f"/tasks/{task.id}/complete", data={}).status_code == 400
    assert _reload(task).status == "open"


def test_an_action_on_a_finished_process_is_a_conflict(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    runtime.reject(flow.head, task.id, "no")
    login("head")
    response = _post(client, task.id, "complete")
    assert response.status_code == 409
    assert "already handled" in _reason(response) or "已" in _reason(response)
    instance = _reload(instance)
    assert instance.status == "rejected"
    assert db.session.query(Task).filter_by(instance_id=instance.id, status="open").count() == 0
    assert isinstance(instance, Instance)
