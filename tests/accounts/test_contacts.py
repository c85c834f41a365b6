"""Notification contacts (e-mail, mobile, WeCom UserID): a user keeps their own on 我的账号, an
account manager keeps anyone's on the user page; bad input is refused field by field and nothing
is written; changes are audited without the values."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core import audit, notify
from app.core.notify.models import NotifyAddress
from app.extensions import db
from app.modules.accounts import services
from tests.factories import create_user

pytestmark = pytest.mark.req("R13.1")


def _audits(user):
    return list(db.session.scalars(select(audit.AuditEntry).where(
        audit.AuditEntry.action == "user.contacts_changed", audit.AuditEntry.object_id == str(user.id))))


def test_a_user_sets_their_own_contacts_and_notifications_use_them(client, login, csrf, ctx):
    user = create_user("physician", password="Passw0rd!")
    user.staff.phone = "13800000001"
    db.session.commit()
    login(user.username, "Passw0rd!")
    page = client.get("/account").get_data(as_text=True)
    assert 'action="/account/contacts"' in page and "13800000001" in page  # the SMS fallback is named
    response = client.post("/account/contacts", data={
        "email": " li.ming@hospital.cn ", "mobile": "+86 139-1234-5678", "wecom_userid": "LiMing",
        "csrf_token": csrf("/account")})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert notify.resolve_address("email", user.id) == "li.ming@hospital.cn"
    assert notify.resolve_address("sms", user.id) == "13912345678"
    assert notify.resolve_address("wecom", user.id) == "LiMing"
    [entry] = _audits(user)
    assert entry.data == {"changed": ["email", "mobile", "wecom_userid"]} and entry.actor_id == user.id
    assert "LiMing" not in str(entry.data) and "13912345678" not in (entry.summary or "")
    # Clearing the mobile: SMS go to the staff record's phone again.
    client.post("/account/contacts", data={"email": "li.ming@hospital.cn", "mobile": "", "wecom_userid": "LiMing",
                                           "csrf_token": csrf("/account")})
    assert notify.resolve_address("sms", user.id) == "13800000001"
    assert [e.data for e in _audits(user)][-1] == {"changed": ["mobile"]}


def test_bad_contacts_are_refused_field_by_field_and_nothing_is_written(client, login, csrf, ctx):
    user = create_user("physician", password="Passw0rd!")
    services.set_contacts(user, user, {"email": "old@hospital.cn"})
    db.session.commit()
    login(user.username, "Passw0rd!")
    response = client.post("/account/contacts", data={
        "email": "not-an-address", "mobile": "0571-8888888", "wecom_userid": "李 明",
        "csrf_token": csrf("/account")})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    for field in ("email", "mobile", "wecom_userid"):
        assert f'id="{field}-error"' in body, field
    assert 'value="not-an-address"' in body  # what was typed stays in the form
    db.session.expire_all()
    assert db.session.get(NotifyAddress, user.id).email == "old@hospital.cn"
    assert len(_audits(user)) == 1


def test_account_managers_keep_anyones_contacts_others_may_not(client, login, csrf, ctx):
    target = create_user("physician")
    colleague = create_user("physician")
    with pytest.raises(services.AccountError):
        services.set_contacts(colleague, target, {"email": "x@hospital.cn"})
    login("admin")
    path = f"/admin/users/{target.id}"
    assert 'name="wecom_userid"' in client.get(path).get_data(as_text=True)
    bad = client.post(path, data={"action": "contacts", "email": "x@", "csrf_token": csrf(path)})
    assert bad.status_code == 422 and 'id="email-error"' in bad.get_data(as_text=True)
    assert db.session.get(NotifyAddress, target.id) is None
    response = client.post(path, data={"action": "contacts", "email": "wang@hospital.cn", "mobile": "",
                                       "wecom_userid": "wang01", "csrf_token": csrf(path)})
    assert response.status_code == 303
    assert notify.resolve_address("wecom", target.id) == "wang01"
    assert _audits(target)[0].actor_name != target.display_name
    client.post("/logout", data={"csrf_token": csrf()})
    login("doctor")
    assert client.post(path, data={"action": "contacts", "email": "evil@x.cn",
                                   "csrf_token": csrf()}).status_code == 403
    assert notify.resolve_address("email", target.id) == "wang@hospital.cn"
