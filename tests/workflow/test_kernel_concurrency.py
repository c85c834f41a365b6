"""Real commits, real concurrency: optimistic locking on PostgreSQL with two threads, and the timer
tick through Redis (RQ's cron scheduler and a worker). These tests use scratch databases of their
own, because the rolled-back test transaction cannot show what another connection sees."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from app.core import audit, uow
from app.extensions import db
from app.workflow import engine, registry, runtime
from app.workflow.errors import Conflict
from app.workflow.models import Event, Instance, Task
from tests.conftest import PG_REQUIRED, make_app, migrate_and_seed, scratch_postgres
from tests.workflow.conftest import bpmn_doc, chain, make_user

pytestmark = pytest.mark.req("R3.7")
ROUNDS = 30
REDIS_URL = "redis://127.0.0.1:6379/13"  # a database of its own: the burst worker sees only our jobs


def _prepare(app) -> None:
    from app.core import sync

    if "workflow" not in sync._HOOKS:  # until create_app calls workflow.init_app itself
        from app import workflow

        workflow.init_app(app)
    migrate_and_seed(app, scale=None)
    with app.app_context():
        from app.modules.org.models import Hospital

        db.session.add(Hospital(code="KERNEL", name="Kernel test hospital"))
        db.session.commit()


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory):
    with scratch_postgres("kernel") as url:
        app = make_app(url, tmp_path_factory.mktemp("kernel-pg"))
        _prepare(app)
        yield app
        with app.app_context():
            db.engine.dispose()


def _countersign(app, signers: int = 2):
    with app.app_context():
        people = [make_user() for _ in range(signers)]
        applicant = make_user()
        instance = runtime.start(applicant, "countersign_all", data={"signers": [p.id for p in people]})
        tasks = {t.assignee_id: t.id for t in runtime.open_tasks(instance.id)}
        uow.commit()
        return instance.id, [(p.id, tasks[p.id]) for p in people]


class _Overlap:
    """Makes every thread read the instance and its open tasks before any of them acts (first
    attempt only), so the second save really meets a changed version."""

    def __init__(self, monkeypatch, parties: int = 2):
        self.barrier = threading.Barrier(parties, timeout=10)
        self.waited: set[int] = set()
        self.conflicts = 0
        original_open_rows, original_is_conflict = engine.Run.open_rows, engine._is_conflict
        overlap = self

        def open_rows(run):
            rows = original_open_rows(run)
            if threading.current_thread().name.startswith("overlap") and \
                    threading.get_ident() not in overlap.waited:
                overlap.waited.add(threading.get_ident())
                overlap.barrier.wait()
            return rows

        def is_conflict(exc):
            found = original_is_conflict(exc)
            overlap.conflicts += found
            return found

        monkeypatch.setattr(engine.Run, "open_rows", open_rows)
        monkeypatch.setattr(engine, "_is_conflict", is_conflict)


def _in_threads(app, calls):
    results: list = [None] * len(calls)

    def work(index, user_id, task_id):
        from flask_babel import force_locale

        from app.modules.accounts.models import User

        with app.app_context(), force_locale("en"):
            try:
                runtime.complete(db.session.get(User, user_id), task_id, data={"opinion": "ok"})
                uow.commit()
                results[index] = "ok"
            except Conflict as exc:
                db.session.rollback()
                results[index] = f"conflict: {exc.reason}"
            except Exception as exc:  # anything else is a failure of the test
                db.session.rollback()
                results[index] = f"error: {type(exc).__name__}: {exc}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i, *call), name=f"overlap-{i}") for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_completions_of_the_same_task_exactly_one_succeeds(pg_app, monkeypatch):
    overlap = _Overlap(monkeypatch)
    for _round in range(ROUNDS):
        overlap.waited.clear()
        instance_id, [(user_id, task_id), _other] = _countersign(pg_app)
        results = _in_threads(pg_app, [(user_id, task_id), (user_id, task_id)])
        assert sorted(r.split(":")[0] for r in results) == ["conflict", "ok"], results
        assert any("already completed" in r or "changed by someone else" in r for r in results), results
        with pg_app.app_context():
            task = db.session.get(Task, task_id)
            assert task.status == "completed" and task.completed_by_id == user_id
            completions = db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
                Event.task_id == task_id, Event.action == "complete"))
            assert completions == 1
            assert db.session.get(Instance, instance_id).status == "running"
    assert overlap.conflicts >= ROUNDS  # every round went through the version check


def test_two_signers_at_once_both_count(pg_app, monkeypatch):
    overlap = _Overlap(monkeypatch)
    for _round in range(ROUNDS):
        overlap.waited.clear()
        instance_id, signers = _countersign(pg_app)
        assert _in_threads(pg_app, signers) == ["ok", "ok"]
        with pg_app.app_context():
            instance = db.session.get(Instance, instance_id)
            assert instance.status == "completed"
            assert runtime.variables(instance)["decision"] == "approve"
            assert {db.session.get(Task, task_id).status for _, task_id in signers} == {"completed"}
    assert overlap.conflicts >= ROUNDS  # the second signer was retried on the new version
    with pg_app.app_context():  # the approvals' audit entries, appended by the database, form one chain
        assert audit.verify().ok
        db.session.remove()


# --- Redis: the periodic tick through RQ -------------------------------------------------------

def test_timers_advance_through_the_rq_cron_scheduler(tmp_path):
    from redis import Redis
    from rq import Queue, SimpleWorker
    from rq.cron import CronScheduler

    from app.core import jobs

    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except Exception as exc:
        if PG_REQUIRED:
            raise
        pytest.skip(f"Redis unreachable: {exc}")
    connection.flushdb()
    app = make_app(f"sqlite:///{tmp_path / 'redis.db'}", tmp_path, REDIS_URL=REDIS_URL)
    _prepare(app)
    with app.app_context():
        admin = make_user("admin", "hospital")
        body = chain('<bpmn:intermediateCatchEvent id="wait" name="Wait a second"><bpmn:timerEventDefinition>'
                     '<bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition>'
                     '</bpmn:intermediateCatchEvent>',
                     '<bpmn:userTask id="after" name="After the timer" mt:role="initiator"/>')
        registry.publish_process(admin, registry.save_process_draft(admin, bpmn_doc(body, "redis_timer"))[0])
        instance_id = runtime.start(admin, "redis_timer").id
        uow.commit()
    time.sleep(1.2)
    scheduler = CronScheduler(connection=connection)
    for item in jobs.periodic().values():  # as `medtech scheduler` registers them
        scheduler.register(jobs.execute, jobs.QUEUE, args=(item.name, [], {}), interval=item.every_seconds,
                           name=item.name)
    assert "workflow.tick" in [job.name for job in scheduler.enqueue_jobs()]
    previous, jobs._worker_app = jobs._worker_app, app
    try:
        queue = Queue(jobs.QUEUE, connection=connection)
        SimpleWorker([queue], connection=connection).work(burst=True)
    finally:
        jobs._worker_app = previous
    with app.app_context():
        assert [t.spec for t in runtime.open_tasks(instance_id)] == ["after"]
        assert db.session.get(Instance, instance_id).next_timer_at is None
        db.engine.dispose()
    connection.flushdb()


def test_the_embedded_ticker_advances_timers(tmp_path):
    from app.workflow import timers

    app = make_app(f"sqlite:///{tmp_path / 'ticker.db'}", tmp_path)
    _prepare(app)
    with app.app_context():
        admin = make_user("admin", "hospital")
        body = chain('<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition>'
                     '<bpmn:timeDuration>PT0.2S</bpmn:timeDuration></bpmn:timerEventDefinition>'
                     '</bpmn:intermediateCatchEvent>',
                     '<bpmn:userTask id="after" name="After the timer" mt:role="initiator"/>')
        registry.publish_process(admin, registry.save_process_draft(admin, bpmn_doc(body, "ticker_timer"))[0])
        instance_id = runtime.start(admin, "ticker_timer").id
        uow.commit()
    thread = timers.start_ticker(app, interval=0.2)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with app.app_context():
                if [t.spec for t in runtime.open_tasks(instance_id)] == ["after"]:
                    break
                db.session.remove()
            time.sleep(0.1)
        with app.app_context():
            assert [t.spec for t in runtime.open_tasks(instance_id)] == ["after"]
    finally:
        timers.stop_ticker()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()
    assert not thread.is_alive()


def test_the_embedded_ticker_runs_every_periodic_job_and_records_failures(tmp_path, monkeypatch):
    from app.core import jobs
    from app.core.notify.models import JobRun
    from app.workflow import timers

    app = make_app(f"sqlite:///{tmp_path / 'periodic.db'}", tmp_path)
    _prepare(app)
    ran: list[str] = []
    retry_due = jobs.registered()["notify.retry_due"]

    def counting_retry_due(*args, **kwargs):
        ran.append("notify.retry_due")
        return retry_due(*args, **kwargs)

    def broken():
        ran.append("test.broken")
        raise RuntimeError("the remote system is down")

    monkeypatch.setitem(jobs._JOBS, "notify.retry_due", counting_retry_due)
    monkeypatch.setitem(jobs._JOBS, "test.broken", broken)
    monkeypatch.setitem(jobs._PERIODIC, "test.broken", jobs.Periodic("test.broken", 3600))
    assert {"workflow.tick", "notify.retry_due"} <= set(jobs.periodic())
    thread = timers.start_ticker(app, interval=0.1)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not {"notify.retry_due", "test.broken"} <= set(ran):
            time.sleep(0.05)
    finally:
        timers.stop_ticker()
        thread.join(timeout=5)
    assert {"notify.retry_due", "test.broken"} <= set(ran)
    with app.app_context():
        failed = db.session.scalars(sa.select(JobRun).where(JobRun.name == "test.broken")).all()
        assert failed and failed[0].status == "failed" and "the remote system is down" in failed[0].error
        db.engine.dispose()


def test_only_medtech_run_starts_the_ticker():
    import click

    from app import workflow

    class FakeApp:
        debug = False

        def __init__(self, **config):
            self.config = {"REDIS_URL": "", "TESTING": False, **config}

    with click.Context(click.Command("run"), info_name="run"):
        assert workflow._serving(FakeApp())
        assert not workflow._serving(FakeApp(REDIS_URL="redis://127.0.0.1:6379/0"))
        assert not workflow._serving(FakeApp(TESTING=True))
    with click.Context(click.Command("worker"), info_name="worker"):
        assert not workflow._serving(FakeApp())
    assert not workflow._serving(FakeApp())
