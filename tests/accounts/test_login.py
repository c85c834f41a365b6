import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core import audit
from app.core.models import utcnow
from app.extensions import db
from app.modules.accounts.models import User
from tests.factories import create_user


def _user(name):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == name))


def test_login_form_carries_a_csrf_token(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert re.search(r'<input[^>]+name="csrf_token"[^>]+value="[^"]+"', response.get_data(as_text=True))


def test_login_without_token_is_400_and_changes_nothing(client, ctx):
    before = audit.verify().entries
    response = client.post("/login", data={"username": "doctor", "password": "wrong"})
    assert response.status_code == 400
    assert _user("doctor").failed_logins == 0
    assert audit.verify().entries == before


@pytest.mark.req("U1")
def test_login_succeeds_and_lands_on_home(client, login, ctx):
    response = login("doctor")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith("/")
    home = client.get("/")
    assert home.status_code == 200
    assert _user("doctor").display_name in home.get_data(as_text=True)
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_over_https(app, db_session):
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", base_url="https://localhost",
                           data={"username": "doctor", "password": "demo", "csrf_token": token})
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in response.headers


def test_wrong_password_is_counted_with_a_message(client, login, ctx):
    response = login("doctor", "nope")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert _user("doctor").failed_logins == 1


def test_five_failures_lock_the_account_for_fifteen_minutes(client, login, ctx):
    for _ in range(5):
        login("nurse", "bad")
    user = _user("nurse")
    assert user.locked_until is not None
    assert timedelta(minutes=14) < user.locked_until - utcnow() <= timedelta(minutes=15)
    refused = login("nurse", "demo")  # the right password does not help while locked
    assert refused.status_code == 200 and "锁定" in refused.get_data(as_text=True)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert login("nurse", "demo").status_code == 303


def test_unknown_user_gets_the_same_message(client, login):
    response = login("nobody-here", "x")
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_password_change_ends_other_sessions(app, client, login, csrf, ctx):
    create_user("physician", username="changer", password="OldPass123")
    other = app.test_client()
    login("changer", "OldPass123", on=other)
    assert other.get("/").status_code == 200
    login("changer", "OldPass123")
    weak = client.post("/account", data={"old": "OldPass123", "new": "short", "confirm": "short",
                                         "csrf_token": csrf("/account")})
    assert "至少 8 位" in weak.get_data(as_text=True)
    response = client.post("/account", data={"old": "OldPass123", "new": "NewPass456",
                                             "confirm": "NewPass456", "csrf_token": csrf("/account")})
    assert response.status_code == 303
    assert client.get("/").status_code == 200  # this session goes on
    assert other.get("/").status_code == 302  # the other one was signed out
    assert login("changer", "OldPass123", on=app.test_client()).status_code == 200  # refused
    assert login("changer", "NewPass456", on=app.test_client()).status_code == 303


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_framing_allowed_only_for_configured_office_app_hosts(tmp_path):
    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'x.db'}", tmp_path,
                   OFFICE_APP_HOSTS="https://work.weixin.qq.com")
    response = app.test_client().get("/login")
    assert "frame-ancestors 'self' https://work.weixin.qq.com" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers


def test_logout_requires_post_with_token(client, login, csrf):
    login("doctor")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf()}).status_code == 303
    assert client.get("/").status_code == 302


def test_open_redirect_after_login_is_refused(client):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "doctor", "password": "demo", "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_language_switch_to_english(client, login, csrf):
    login("doctor")
    assert "首页" in client.get("/").get_data(as_text=True)
    client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": csrf()})
    assert "Home" in client.get("/").get_data(as_text=True)
