"""The notifications page: a user's own notifications, unread first, paginated, marked read one
by one or all at once (POST + CSRF), each leading to its task or record; the unread badge count."""
import re

import pytest
from flask import render_template_string
from flask_login import login_user
from sqlalchemy import select

from app.core import notify
from app.core.notify.models import Notification
from app.extensions import db
from app.modules.accounts.models import User
from tests import factories


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _positions(text: str, *needles: str) -> list[int]:
    return [text.index(needle) for needle in needles]


@pytest.mark.req("U1")
def test_the_page_lists_own_notifications_unread_first(client, login, ctx):
    doctor, nurse = _user("doctor"), _user("nurse")
    old = notify.notify([doctor.id], "task", "较早的通知-已读", link="/tasks/1").notifications[0]
    notify.mark_read(doctor, [old.id])
    notify.notify([doctor.id], "task", "待办：授权申请审核", "请审核张三的手术授权申请", link="/tasks/2")
    notify.notify([nurse.id], "task", "护士的通知-ZZOTHER")
    login("doctor")
    response = client.get("/notifications")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "待办：授权申请审核" in text and "请审核张三的手术授权申请" in text
    assert "ZZOTHER" not in text  # never another user's
    unread_at, read_at = _positions(text, "待办：授权申请审核", "较早的通知-已读")
    assert unread_at < read_at
    assert 'data-link="/tasks/2"' in text
    assert re.search(r'id="unread-count"[^>]*>1<', text)


@pytest.mark.req("U1")
def test_opening_a_notification_marks_it_read_and_goes_to_its_link(client, login, csrf, ctx):
    doctor = _user("doctor")
    item = notify.notify([doctor.id], "task", "去办理", link="/staff/3?tab=privileges").notifications[0]
    login("doctor")
    response = client.post(f"/notifications/{item.id}/read",
                           data={"open": "1", "csrf_token": csrf("/notifications")})
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/3?tab=privileges"
    db.session.refresh(item)
    assert item.read_at is not None


@pytest.mark.req("U1")
def test_mark_one_and_mark_all_read_update_the_badge(client, login, csrf, ctx):
    doctor = _user("doctor")
    items = notify.notify([doctor.id], "task", "第一条").notifications + \
        notify.notify([doctor.id], "task", "第二条").notifications + \
        notify.notify([doctor.id], "task", "第三条").notifications
    login("doctor")
    assert notify.unread_count(doctor) == 3
    response = client.post(f"/notifications/{items[0].id}/read", data={"csrf_token": csrf("/notifications")})
    assert response.status_code == 303 and response.headers["Location"].endswith("/notifications")
    assert notify.unread_count(doctor) == 2
    assert re.search(r'id="unread-count"[^>]*>2<', client.get("/notifications").get_data(as_text=True))

    response = client.post("/notifications/read-all", data={"csrf_token": csrf("/notifications")})
    assert response.status_code == 303
    assert notify.unread_count(doctor) == 0
    assert 'id="unread-count"' not in client.get("/notifications").get_data(as_text=True)


@pytest.mark.req("U1")
def test_someone_elses_notification_answers_404_and_stays_unread(client, login, csrf, ctx):
    nurse = _user("nurse")
    item = notify.notify([nurse.id], "task", "护士的通知").notifications[0]
    login("doctor")
    token = csrf("/notifications")
    assert client.post(f"/notifications/{item.id}/read", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/notifications/{item.id}/read",
                       data={"open": "1", "csrf_token": token}).status_code == 404
    client.post("/notifications/read-all", data={"csrf_token": token})
    db.session.refresh(item)
    assert item.read_at is None
    assert notify.mark_read(_user("doctor"), [item.id]) == 0


@pytest.mark.req("U1")
def test_marking_read_needs_post_and_the_csrf_token(client, login, ctx):
    doctor = _user("doctor")
    item = notify.notify([doctor.id], "task", "需要令牌").notifications[0]
    login("doctor")
    assert client.post(f"/notifications/{item.id}/read").status_code == 400
    assert client.post("/notifications/read-all").status_code == 400
    assert client.get(f"/notifications/{item.id}/read").status_code == 405
    db.session.refresh(item)
    assert item.read_at is None


@pytest.mark.req("U1")
def test_the_list_is_paginated(app, client, login, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 5)
    user = factories.create_user(password="demo")
    for i in range(7):
        notify.notify([user.id], "task", f"分页通知-{i:02d}")
    login(user.username)
    first = client.get("/notifications").get_data(as_text=True)
    second = client.get("/notifications?page=2").get_data(as_text=True)
    assert len(re.findall(r"分页通知-\d\d", first)) == 5
    assert len(re.findall(r"分页通知-\d\d", second)) == 2
    assert set(re.findall(r"分页通知-\d\d", first)).isdisjoint(re.findall(r"分页通知-\d\d", second))


@pytest.mark.req("U1")
def test_empty_state_and_login_required(app, client, login, ctx):
    assert client.get("/notifications").status_code == 302  # anonymous: to the login page
    user = factories.create_user(password="demo")
    login(user.username)
    text = client.get("/notifications").get_data(as_text=True)
    assert "bi-inbox" in text and 'id="notification-' not in text


@pytest.mark.req("U1")
def test_the_unread_count_is_a_template_global(app, ctx):
    user = factories.create_user()
    notify.notify([user.id], "task", "一"), notify.notify([user.id], "task", "二")
    with app.test_request_context("/"):
        assert render_template_string("{{ notification_unread }}") == "0"  # anonymous
        login_user(user)
        assert render_template_string("{{ notification_unread }}") == "2"
        notify.mark_read(user, "all")
        assert render_template_string("{{ notification_unread }}") == "0"
    assert db.session.scalar(select(Notification.read_at).where(Notification.user_id == user.id))
