import json

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from app.core import audit
from app.extensions import db


def _entries(n=3):
    return [audit.record("test.event", object_type="thing", object_id=i, data={"i": i, "名": "值"})
            for i in range(n)]


def test_entries_chain_and_verify(ctx):
    before = audit.verify()
    assert before.ok
    _entries(3)
    result = audit.verify()
    assert result.ok and result.entries == before.entries + 3 and result.first_bad is None


@pytest.mark.req("R3.8")
def test_edited_entry_is_caught(ctx):
    entries = _entries(3)
    db.session.execute(update(audit.AuditEntry).where(audit.AuditEntry.id == entries[1].id)
                       .values(data={"i": 99}))
    db.session.expire_all()
    result = audit.verify()
    assert not result.ok and result.first_bad == entries[1].id


def test_removed_entry_in_the_middle_is_caught(ctx):
    entries = _entries(3)
    db.session.execute(delete(audit.AuditEntry).where(audit.AuditEntry.id == entries[1].id))
    result = audit.verify()
    assert not result.ok and result.first_bad == entries[2].id


def test_removed_last_entry_is_caught_by_the_head(ctx):
    entries = _entries(3)
    db.session.execute(delete(audit.AuditEntry).where(audit.AuditEntry.id == entries[2].id))
    result = audit.verify()
    assert not result.ok and result.first_bad == entries[1].id


def test_reordered_entries_are_caught(ctx):
    entries = _entries(2)
    (a_id, a_seq), (b_id, b_seq) = ((e.id, e.seq) for e in entries)
    db.session.execute(update(audit.AuditEntry).where(audit.AuditEntry.id == a_id).values(seq=-1))
    db.session.execute(update(audit.AuditEntry).where(audit.AuditEntry.id == b_id).values(seq=a_seq))
    db.session.execute(update(audit.AuditEntry).where(audit.AuditEntry.id == a_id).values(seq=b_seq))
    db.session.expire_all()
    assert not audit.verify().ok


def test_cli_verify_prints_json_and_exits_by_result(ctx):
    from app.cli import audit_verify

    runner = CliRunner()
    ok = runner.invoke(audit_verify, obj=None, catch_exceptions=False)
    line = json.loads(ok.stdout.strip().splitlines()[0])
    assert ok.exit_code == 0 and line["ok"] is True and line["first_bad"] is None
    assert line["entries"] >= 1  # the demo build and its accounts are audited
    first = db.session.scalar(select(audit.AuditEntry).order_by(audit.AuditEntry.seq))
    db.session.execute(update(audit.AuditEntry).where(audit.AuditEntry.id == first.id)
                       .values(action="tampered"))
    bad = runner.invoke(audit_verify, catch_exceptions=False)
    assert bad.exit_code == 1
    assert json.loads(bad.stdout.strip().splitlines()[0]) == {
        "entries": 1, "ok": False, "first_bad": first.id}
