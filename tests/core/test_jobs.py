import threading

import pytest
from sqlalchemy import select

from app.core import audit, jobs, uow
from app.extensions import db

REDIS = "redis://127.0.0.1:6379/15"
calls: list = []


@jobs.job("test.audit_note")
def _audit_note(note: str, n: int) -> None:
    calls.append((note, n, threading.current_thread().name))
    audit.record("test.job", data={"note": note, "n": n})


def _redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.ConnectionError:
        if __import__("os").environ.get("CI") == "true":
            pytest.fail("Redis must run in CI")
        pytest.skip("Redis not reachable")


def test_job_arguments_must_be_plain_values(ctx):
    with pytest.raises(TypeError):
        jobs.enqueue("test.audit_note", object(), 1)
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.job")


def test_redis_job_leaves_after_commit_and_a_worker_runs_it(app, ctx):
    _redis_or_skip()
    from rq import Queue, SimpleWorker

    app.config["REDIS_URL"] = REDIS
    try:
        queue = Queue(jobs.QUEUE, connection=jobs.redis_connection())
        queue.empty()
        jobs.enqueue("test.audit_note", "hello", 3)
        assert queue.count == 0  # nothing leaves before the commit
        uow.commit()
        assert queue.count == 1
        job = queue.jobs[0]
        assert job.retries_left == len(jobs.RETRY_INTERVALS)
        jobs._worker_app = app
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        assert ("hello", 3) in [(note, n) for note, n, _ in calls]
        note = db.session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.action == "test.job")
                                 .order_by(audit.AuditEntry.seq.desc()))
        assert note.data == {"note": "hello", "n": 3}
    finally:
        app.config["REDIS_URL"] = ""
        jobs._worker_app = None


def test_embedded_mode_runs_the_job_in_a_background_thread(app, ctx):
    calls.clear()
    jobs.enqueue("test.audit_note", "local", 1)
    assert calls == []
    uow.commit()
    pool, jobs._pool = jobs._local_pool(), None
    pool.shutdown(wait=True)  # the job and its commit are done before the test's rollback
    assert calls and calls[0][:2] == ("local", 1) and calls[0][2].startswith("medtech-job")
