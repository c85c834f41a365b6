import re

import pytest
from sqlalchemy import select

from app.core import audit
from app.extensions import db
from app.modules.accounts import services
from app.modules.accounts.models import ApiToken, User
from tests.factories import create_department, create_staff, create_user


@pytest.mark.req("R1.1")
def test_admin_grants_a_scoped_role_and_it_is_audited(client, login, csrf, ctx):
    dept = create_department()
    user = create_user("physician")
    login("admin")
    path = f"/admin/users/{user.id}"
    response = client.post(path, data={"action": "grants", "role_0": "dept_qc", "scope_0": "departments",
                                       "departments_0": str(dept.id), "role_1": "physician",
                                       "scope_1": "self", "csrf_token": csrf(path)})
    assert response.status_code == 303
    db.session.refresh(user)
    assert sorted((g.role.code, g.scope) for g in user.grants) == [("dept_qc", "departments"),
                                                                   ("physician", "self")]
    entry = db.session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.action == "user.roles_changed")
                              .order_by(audit.AuditEntry.seq.desc()))
    assert entry.object_id == str(user.id)
    assert {"role": "dept_qc", "scope": "departments", "departments": [dept.id]} in entry.data["after"]


def test_departments_scope_without_departments_is_refused(client, login, csrf, ctx):
    user = create_user("physician")
    login("admin")
    path = f"/admin/users/{user.id}"
    response = client.post(path, data={"action": "grants", "role_0": "dept_head",
                                       "scope_0": "departments", "csrf_token": csrf(path)})
    assert response.status_code == 422
    assert "至少选择一个科室" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert [g.role.code for g in user.grants] == ["physician"]


def test_manager_cannot_hand_out_rights_beyond_their_own(ctx):
    manager = create_user("medaffairs_admin")
    target = create_user("physician")
    with pytest.raises(services.AccountError):
        services.set_grants(manager, target, [services.GrantSpec("admin", "hospital")])
    with pytest.raises(services.AccountError):  # tokens.manage is not the manager's
        services.set_grants(manager, target, [services.GrantSpec("it", "hospital")])
    services.set_grants(manager, target, [services.GrantSpec("medaffairs_staff", "hospital")])


def test_doctor_cannot_reach_admin_pages_or_post_to_them(client, login, csrf):
    login("doctor")
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users/1", data={"action": "unlock", "csrf_token": csrf()}).status_code == 403


def test_api_tokens_are_hashed_scoped_and_revocable(client, login, csrf, ctx):
    login("itdept")
    response = client.post("/admin/tokens", data={"name": "HIS 人员同步", "scopes": "org:read",
                                                   "expires_days": "30", "csrf_token": csrf("/admin/tokens")})
    text = re.search(r'id="new-token">([^<]+)<', response.get_data(as_text=True)).group(1)
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "HIS 人员同步"))
    assert text not in (token.token_hash, token.prefix) and len(token.token_hash) == 64
    api = client.application.test_client()
    ok = api.get("/api/v1/staff?limit=5", headers={"Authorization": f"Bearer {text}"})
    assert ok.status_code == 200 and len(ok.json["items"]) == 5
    assert api.get("/api/v1/staff").status_code == 401
    assert api.get("/api/v1/staff", headers={"Authorization": "Bearer mt_x_y"}).status_code == 401
    services.revoke_token(None, token)
    assert api.get("/api/v1/staff", headers={"Authorization": f"Bearer {text}"}).status_code == 401


def test_token_without_the_scope_is_403(ctx, client):
    admin = create_user("admin")
    _token, text = services.create_token(admin, "only-write", ["org:write"], None)
    response = client.get("/api/v1/departments", headers={"Authorization": f"Bearer {text}"})
    assert response.status_code == 403 and "org:read" in response.json["error"]["message"]


def test_a_token_records_its_last_use_once_a_minute(ctx, client):
    from datetime import timedelta

    admin = create_user("admin")
    token, text = services.create_token(admin, "busy-integration", ["org:read"], None)
    headers = {"Authorization": f"Bearer {text}"}
    assert token.last_used_at is None
    assert client.get("/api/v1/departments", headers=headers).status_code == 200
    db.session.expire_all()
    first = db.session.get(ApiToken, token.id).last_used_at
    assert first is not None
    assert client.get("/api/v1/departments", headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at == first  # within the minute: not rewritten
    stale = first - services.TOKEN_USE_RESOLUTION - timedelta(seconds=1)
    db.session.get(ApiToken, token.id).last_used_at = stale
    db.session.commit()
    assert client.get("/api/v1/departments", headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at > first


@pytest.mark.parametrize("form", [{"action": "password", "password": "takeover-2026"}, {"action": "disable"},
                                  {"action": "unlock"}, {"action": "grants"},
                                  {"action": "contacts", "email": "me@evil.example"}])
def test_manager_cannot_take_over_an_account_with_rights_beyond_their_own(client, login, csrf, ctx, form):
    """Resetting the administrator's password (or stripping their roles) would hand a medical-affairs
    account manager the rights they may not grant."""
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    before = (admin.password_hash, admin.active, admin.session_epoch, len(admin.grants))
    login("medaffairs")
    path = f"/admin/users/{admin.id}"
    assert client.post(path, data={**form, "csrf_token": csrf(path)}).status_code == 403
    db.session.refresh(admin)
    assert (admin.password_hash, admin.active, admin.session_epoch, len(admin.grants)) == before
    assert services.contacts_of(admin)["email"] != "me@evil.example"


def test_manager_still_resets_a_doctors_password(client, login, csrf, ctx):
    doctor = create_user("physician")  # applying for privileges is the doctor's own business
    login("medaffairs")
    path = f"/admin/users/{doctor.id}"
    assert client.post(path, data={"action": "password", "password": "reset-2026a",
                                   "csrf_token": csrf(path)}).status_code == 303


def test_a_manager_of_one_department_neither_widens_a_scope_nor_takes_over_a_wider_account(client, login, csrf, ctx):
    dept, other = create_department(), create_department()
    manager = create_user("medaffairs_admin", "departments", departments=(dept,), username="deptmgr")
    wider = create_user("medaffairs_admin", "hospital")
    ours = create_user("nurse", staff=create_staff(department=dept))
    theirs = create_user("nurse", staff=create_staff(department=other))
    before = (len(manager.grants), wider.password_hash, theirs.password_hash)
    login("deptmgr")
    for target, form in ((manager, {"action": "grants", "role_0": "medaffairs_admin", "scope_0": "hospital"}),
                         (manager, {"action": "grants", "role_0": "medaffairs_admin", "scope_0": "departments",
                                    "departments_0": str(other.id)}),
                         (wider, {"action": "password", "password": "takeover-2026"}),
                         (theirs, {"action": "password", "password": "takeover-2026"})):
        path = f"/admin/users/{target.id}"
        response = client.post(path, data={**form, "csrf_token": csrf(path)})
        assert response.status_code in (403, 422), (target.username, form)
    for row in (manager, wider, theirs):
        db.session.refresh(row)
    assert (len(manager.grants), wider.password_hash, theirs.password_hash) == before
    assert manager.grants[0].scope == "departments"
    path = f"/admin/users/{ours.id}"
    assert client.post(path, data={"action": "password", "password": "reset-2026a",
                                   "csrf_token": csrf(path)}).status_code == 303
