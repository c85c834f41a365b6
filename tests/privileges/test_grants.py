"""Grants: dynamic adjustment (R3.8) now or from a date, the doctor notified, every change audited
(a tampered audit row fails `medtech audit verify`), expiry, reminders and the renewal path."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from app.core import audit
from app.core.audit import AuditEntry
from app.core.notify.models import Notification
from app.modules.privileges import check, grants
from app.modules.privileges.models import Grant, GrantChange

TODAY = date.today()


def _surgery_grant(pv, user=None, level=2):
    user = user or pv.physician(title="chief")
    item = pv.catalog_item(("surgery",), level=level)
    grant = pv.grant(user, "surgery", f"item:{item.id}")
    return user, item, grant


def _allowed(user, item, pv, on=TODAY) -> dict:
    return check.answer_one(check.Query(user.staff.employee_no, "surgery", pv.item_code(item), on))


@pytest.mark.req("R3.8")
def test_suspend_now_then_restore(pv):
    manager = pv.user("medclerk")
    user, item, grant = _surgery_grant(pv)
    assert _allowed(user, item, pv)["allowed"] is True
    change = grants.adjust(manager, grant, "suspend", "不良事件调查期间暂停")
    assert grant.status == "suspended" and change.applied and change.audit_seq
    answer = _allowed(user, item, pv)
    assert answer["allowed"] is False and answer["reason"] == "二级手术，授权已暂停"
    assert _allowed(user, item, pv, TODAY - timedelta(days=1))["allowed"] is True  # the day before
    note = pv.db.session.scalar(select(Notification).where(Notification.user_id == user.id,
                                                           Notification.kind == "privileges.adjusted"))
    assert note is not None and "暂停" in note.title and "不良事件" in note.body
    grants.adjust(manager, grant, "restore", "调查结束")
    assert grant.status == "active" and _allowed(user, item, pv)["allowed"] is True
    actions = [c.action for c in grant.changes]
    assert actions == ["grant", "suspend", "restore"]


@pytest.mark.req("R3.8")
def test_terminate_from_a_date_applies_then(pv):
    manager = pv.user("medaffairs")
    user, item, grant = _surgery_grant(pv)
    later = TODAY + timedelta(days=10)
    change = grants.adjust(manager, grant, "terminate", "调离", later)
    assert not change.applied and grant.status == "active"
    assert _allowed(user, item, pv, later - timedelta(days=1))["allowed"] is True
    answer = _allowed(user, item, pv, later)
    assert answer["allowed"] is False and answer["reason"] == "二级手术，授权已终止"
    assert grants.apply_due(later) == 1
    assert grant.status == "terminated" and change.applied
    with pytest.raises(grants.GrantError) as refused:
        grants.adjust(manager, grant, "restore", "误操作", later, allow_past=True)
    assert "action" in refused.value.errors


@pytest.mark.req("R3.8")
def test_narrow_and_widen_a_tier_and_the_scope(pv):
    manager = pv.user("medclerk")
    user = pv.physician(title="chief")
    pv.grant(user, "rx_general", "right:general")
    grant = pv.grant(user, "rx_antimicrobial", "right:antimicrobial.special")
    special = check.Query(user.staff.employee_no, "drug", "Y010026", TODAY)
    restricted = check.Query(user.staff.employee_no, "drug", "Y010022", TODAY)
    assert check.answer_one(special)["allowed"] is True
    grants.adjust(manager, grant, "narrow", "专项点评后降级", level=2, scope="限住院患者")
    assert (grant.level, grant.scope) == (2, "限住院患者")
    answer = check.answer_one(special)
    assert answer["allowed"] is False and "未获授权" in answer["reason"] and "限制使用级" in answer["reason"]
    assert check.answer_one(restricted)["allowed"] is True
    with pytest.raises(grants.GrantError) as refused:
        grants.adjust(manager, grant, "widen", "恢复", level=1)
    assert "level" in refused.value.errors
    grants.adjust(manager, grant, "widen", "整改完成", level=3)
    assert check.answer_one(special)["allowed"] is True
    # A catalog item's level does not move: its scope is described instead.
    _user, _item, surgery = _surgery_grant(pv)
    with pytest.raises(grants.GrantError):
        grants.adjust(manager, surgery, "narrow", "限定", level=1)
    grants.adjust(manager, surgery, "narrow", "限定", scope="须在上级医师指导下开展")
    assert surgery.scope == "须在上级医师指导下开展"


@pytest.mark.req("R3.8")
def test_adjusting_needs_a_reason_and_the_right(pv):
    from app.workflow.errors import PermissionDenied

    user, _item, grant = _surgery_grant(pv)
    with pytest.raises(grants.GrantError) as refused:
        grants.adjust(pv.user("medclerk"), grant, "suspend", "  ")
    assert set(refused.value.errors) == {"reason"}
    with pytest.raises(grants.GrantError) as refused:
        grants.adjust(pv.user("medclerk"), grant, "suspend", "原因", TODAY - timedelta(days=3))
    assert "effective_on" in refused.value.errors
    with pytest.raises(PermissionDenied):
        grants.adjust(pv.user("doctor"), grant, "suspend", "我自己")


@pytest.mark.req("R3.8")
def test_every_change_is_audited_and_a_tampered_row_fails_verification(pv):
    user, _item, grant = _surgery_grant(pv)
    change = grants.adjust(pv.user("medclerk"), grant, "suspend", "考核不合格")
    entry = pv.db.session.scalar(select(AuditEntry).where(AuditEntry.seq == change.audit_seq))
    assert entry.action == "privileges.grant.suspend" and entry.object_id == str(grant.id)
    assert entry.data["reason"] == "考核不合格" and entry.data["after"] == {"status": "suspended"}
    create = pv.db.session.scalar(select(AuditEntry).where(AuditEntry.action == "privileges.grant.create",
                                                           AuditEntry.object_id == str(grant.id)))
    assert create is not None
    assert audit.verify().ok
    pv.db.session.execute(update(AuditEntry).where(AuditEntry.id == entry.id)
                          .values(data={**entry.data, "reason": "已恢复"}))
    pv.db.session.expire_all()
    result = audit.verify()
    assert not result.ok and result.first_bad == entry.id
    from click.testing import CliRunner

    from app.cli import audit_verify

    outcome = CliRunner().invoke(audit_verify, catch_exceptions=False)
    assert outcome.exit_code == 1 and '"ok": false' in outcome.stdout


@pytest.mark.req("R3.8")
def test_a_deleted_change_row_is_caught_too(pv):
    _user, _item, grant = _surgery_grant(pv)
    change = grants.adjust(pv.user("medclerk"), grant, "suspend", "考核不合格")
    pv.db.session.execute(AuditEntry.__table__.delete().where(AuditEntry.seq == change.audit_seq))
    pv.db.session.expire_all()
    assert not audit.verify().ok


@pytest.mark.req("R1.9")
@pytest.mark.req("R3.8")
def test_expiry_and_idempotent_reminders(pv):
    user = pv.physician(title="chief")
    item = pv.catalog_item(("surgery",), level=2)
    ending = pv.grant(user, "surgery", f"item:{item.id}", start=TODAY - timedelta(days=300),
                      end=TODAY + timedelta(days=20))
    ended = pv.grant(user, "rx_general", "right:general", start=TODAY - timedelta(days=400),
                     end=TODAY - timedelta(days=1))
    assert grants.expire_due(TODAY) >= 1
    assert ended.status == "expired"
    assert ended.changes[-1].action == "expire" and ended.changes[-1].audit_seq
    sent = grants.remind_expiring(TODAY)
    assert sent >= 1
    mine = pv.db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                            Notification.kind == "privileges.expiring")).all()
    assert len(mine) == 1 and item.name in mine[0].title
    assert grants.remind_expiring(TODAY) == 0  # the same day again: nothing new
    assert grants.remind_expiring(ending.end_date - timedelta(days=3)) >= 1  # the last week: once more
    count = pv.db.session.scalar(select(Notification.id).where(Notification.user_id == user.id,
                                                               Notification.kind == "privileges.expiring")
                                 .order_by(Notification.id.desc()).limit(1))
    assert count is not None


@pytest.mark.req("R3.8")
def test_the_daily_job_runs_all_three(pv):
    from app.modules.privileges.jobs import daily

    user, _item, grant = _surgery_grant(pv)
    grants.adjust(pv.user("medclerk"), grant, "suspend", "周期考核", TODAY + timedelta(days=1))
    result = daily((TODAY + timedelta(days=1)).isoformat())
    assert result["applied"] == 1 and grant.status == "suspended"


@pytest.mark.req("R3.8")
def test_renewal_is_prefilled_and_continues_the_term(pv, client, login):
    user = pv.physician(title="chief")
    old = pv.grant(user, "rx_general", "right:general", start=TODAY - timedelta(days=1000),
                   end=TODAY + timedelta(days=30))
    login(user.username)
    page = client.get(f"/privileges/grants/{old.id}").get_data(as_text=True)
    assert f"renewal_of={old.id}" in page
    form = client.get(f"/privileges/apply/rx_general?renewal_of={old.id}").get_data(as_text=True)
    assert 'value="right:general"' in form and "checked" in form.split('value="right:general"')[1][:40]
    instance = pv.apply(user, "rx_general", ["right:general"], renewal_of=old.id)
    application = pv.application(instance)
    assert application.status == "approved" and application.auto_rules["matched"][0]["id"] == "renewal"
    new = pv.db.session.scalar(select(Grant).where(Grant.application_id == application.id))
    assert new.renewal_of_id == old.id and new.start_date == old.end_date + timedelta(days=1)
    assert old.status == "active"  # runs out on its own
    assert grants.remind_expiring(TODAY) == 0 or grants.has_successor(old)


@pytest.mark.req("R3.8")
def test_state_replay_on_many_dates(pv):
    manager = pv.user("medclerk")
    _user, _item, grant = _surgery_grant(pv)
    grants.adjust(manager, grant, "suspend", "一", TODAY + timedelta(days=5))
    grants.adjust(manager, grant, "restore", "二", TODAY + timedelta(days=9))
    grants.adjust(manager, grant, "narrow", "三", TODAY + timedelta(days=12), scope="择期手术")
    changes = pv.db.session.scalars(select(GrantChange).where(GrantChange.grant_id == grant.id)).all()
    states = {d: grants.state_on(grant, changes, TODAY + timedelta(days=d)) for d in (0, 5, 8, 9, 12)}
    assert [states[d].status for d in (0, 5, 8, 9, 12)] == ["active", "suspended", "suspended", "active", "active"]
    assert states[9].scope is None and states[12].scope == "择期手术"
    assert grants.state_on(grant, changes, grant.end_date + timedelta(days=1)).why == "expired"
