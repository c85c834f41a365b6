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


@pytest.fixture(scope="module")
def pg_scratch(tmp_path_factory):
    """A PostgreSQL database of its own: concurrent writers need real commits."""
    from tests.conftest import make_app, migrate_and_seed, scratch_postgres

    with scratch_postgres("audit") as url:
        app = make_app(url, tmp_path_factory.mktemp("audit-pg"))
        migrate_and_seed(app, scale=None)
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.mark.req("R3.8")
def test_concurrent_writers_keep_one_unbroken_chain(pg_scratch):
    """Threads appending at once to an empty chain (one entry per transaction, and several per
    transaction, as the kernel and services do) on PostgreSQL: no fork, no gap, and verify() accepts
    the chain."""
    import threading

    from app.core import uow

    with pg_scratch.app_context():
        # The migrations start the chain's head, so even the very first appends queue on its lock.
        assert db.session.execute(select(audit.AuditHead.seq, audit.AuditHead.hash)).one() == (0, audit.GENESIS)
    errors: list[str] = []
    barrier = threading.Barrier(4, timeout=10)

    def writer(number: int) -> None:
        with pg_scratch.app_context():
            try:
                barrier.wait()
                for i in range(15):
                    if i % 5 == 4:
                        audit.record_many([{"action": "test.batch", "data": {"writer": number, "i": i, "n": n}}
                                           for n in range(3)])
                    else:
                        audit.record("test.concurrent", object_type="writer", object_id=number,
                                     data={"writer": number, "i": i})
                    uow.commit()
            except Exception as exc:  # noqa: BLE001 -- reported below
                db.session.rollback()
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with pg_scratch.app_context():
        seqs = list(db.session.scalars(select(audit.AuditEntry.seq).order_by(audit.AuditEntry.seq)))
        assert seqs == list(range(1, 4 * (12 + 3 * 3) + 1))
        result = audit.verify()
        assert result.ok and result.entries == len(seqs)
