"""Each role's home: doctors see their 待办 and recent applications first, department heads their
department's pending approvals, medical affairs the hospital-wide queue — above the summary cards."""
from __future__ import annotations

import re

import pytest

from tests.portal.conftest import text

pytestmark = pytest.mark.req("U1")


def _section(body: str, name: str) -> str:
    match = re.search(rf'data-home="{name}">(.*?)</section>', body, re.S)
    return match.group(1) if match else ""


def test_doctor_home_shows_own_tasks_and_applications_first(flow, client, login, app):
    instance = flow.start(title="甲状腺消融术")
    login("doctor")
    body = client.get("/").get_data(as_text=True)
    assert 'data-home="queue"' not in body
    assert "甲状腺消融术" in _section(body, "started")
    assert f'data-instance-id="{instance.id}"' in _section(body, "started")
    assert body.index('data-home="todo"') < body.index(text(app, "My record"))  # above the summary cards


def test_department_head_home_shows_the_department_queue(flow, client, login, app):
    instance = flow.start(title="乳腺癌根治术")
    task = flow.head_task(instance)
    login("head")
    body = client.get("/").get_data(as_text=True)
    queue = _section(body, "queue")
    assert text(app, "Pending approvals in my departments") in queue
    assert f'data-task-id="{task.id}"' in queue
    assert f'data-task-id="{task.id}"' in _section(body, "todo")
    assert body.index('data-home="queue"') < body.index('data-home="todo"')


def test_medical_affairs_home_shows_the_hospital_wide_queue(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("medaffairs")
    queue = _section(client.get("/").get_data(as_text=True), "queue")
    assert text(app, "Hospital-wide queue") in queue and f'data-task-id="{task.id}"' in queue


def test_nurse_home_has_no_queue_and_an_empty_todo(flow, client, login, app):
    login("nurse")
    body = client.get("/").get_data(as_text=True)
    assert 'data-home="queue"' not in body
    assert text(app, "Nothing to do right now.") in _section(body, "todo")
