"""The kernel's notifications reach people as in-app notifications that link to the task or the
record (U1): new tasks, 催办, 抄送, 退回, 驳回; and the unread badge counts them."""
from __future__ import annotations

import re

import pytest

from app.core.notify.models import Notification
from app.extensions import db
from app.workflow import runtime
from tests.portal.conftest import text

pytestmark = pytest.mark.req("U1")


def _notes(user, kind: str) -> list[Notification]:
    return list(db.session.query(Notification).filter_by(user_id=user.id, kind=f"workflow.{kind}")
                .order_by(Notification.id))


def test_new_tasks_notify_their_assignees_with_a_link_to_the_task(flow, app):
    instance = flow.start(title="肝移植")
    task = flow.head_task(instance)
    [note] = _notes(flow.head, "task_assigned")
    assert note.link == f"/tasks/{task.id}"
    assert note.title == text(app, "New task: %(name)s", name="科主任审核")
    assert "肝移植" in note.body and "BK-TEST" in note.body
    signs = flow.to_countersign(instance)
    for signer in flow.signers:
        [note] = _notes(signer, "task_assigned")
        assert note.link in {f"/tasks/{t.id}" for t in signs}


def test_copy_urge_return_and_reject_notify(flow, app):
    instance = flow.start()
    head_task = flow.head_task(instance)
    runtime.urge(flow.doctor, head_task.id, "请尽快")
    [urged] = _notes(flow.head, "urge")
    assert urged.important and urged.link == f"/tasks/{head_task.id}" and "请尽快" in urged.body
    runtime.copy_to(flow.head, head_task.id, [flow.signers[2].id], "供参考")
    [copied] = _notes(flow.signers[2], "copy")
    assert copied.link == f"/tasks/{head_task.id}"
    signs = flow.to_countersign(instance, flow.signers[:2])
    runtime.return_to(flow.signers[0], signs[0].id, "head_review", "补充材料")
    [returned] = _notes(flow.head, "returned")
    again = flow.head_task(instance)
    assert returned.link == f"/tasks/{again.id}"
    runtime.reject(flow.head, again.id, "不予开展")
    [rejected] = _notes(flow.doctor, "rejected")
    assert rejected.link == f"/instances/{instance.id}" and rejected.important


def test_the_badge_and_the_notifications_page_lead_to_the_task(flow, client, login):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    body = client.get("/notifications").get_data(as_text=True)
    assert f'data-link="/tasks/{task.id}"' in body
    assert re.search(r'id="unread-badge">\d+<', body)
    assert client.get(f"/tasks/{task.id}").status_code == 200
