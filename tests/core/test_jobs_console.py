"""The jobs console: tracked runs with progress, failures recorded (embedded) or read from RQ's
FailedJobRegistry (Redis), the admin page with retry, and /jobs/<id> for progress bars."""
import pytest
from sqlalchemy import select

from app.core import audit, jobs, uow
from app.core.notify.models import JobRun
from app.extensions import db
from app.modules.accounts.models import User
from tests import factories
from tests.notifications.fakes import EagerJobs, redis_or_skip

REDIS = "redis://127.0.0.1:6379/15"
seen: list = []
flaky = {"fail": True}


@jobs.job("test.console.report")
def _report(total: int) -> int:
    run_id = jobs.current_run_id()
    jobs.progress(run_id, 50, "halfway")
    seen.append(("live", run_id, jobs.live_progress(run_id)))
    return total


@jobs.job("test.console.flaky")
def _flaky(tag: str) -> None:
    if flaky["fail"]:
        raise RuntimeError(f"boom {tag}")
    seen.append(("ran", tag))


@pytest.fixture(autouse=True)
def _reset():
    seen.clear()
    flaky["fail"] = True


@pytest.fixture()
def eager(app, monkeypatch):
    return EagerJobs(app, monkeypatch)


def _run(run_id: int) -> JobRun:
    db.session.expire_all()
    return db.session.get(JobRun, run_id)


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _failed_run(tag: str, created_by: int | None = None) -> JobRun:
    run = JobRun(name="test.console.flaky", args={"args": [tag], "kwargs": {}}, status="failed",
                 progress=0, attempts=4, error=f"RuntimeError: boom {tag}", created_by_id=created_by)
    db.session.add(run)
    db.session.flush()
    return run


# --- embedded mode ----------------------------------------------------------------------------

def test_a_tracked_job_reports_progress_and_ends_done(ctx, eager):
    user = factories.create_user()
    run_id = jobs.enqueue("test.console.report", 3, track=True, created_by=user.id)
    assert jobs.enqueue("test.console.report", 1) is None  # untracked: no row
    run = _run(run_id)
    assert (run.status, run.progress, run.created_by_id) == ("queued", 0, user.id)
    assert run.args == {"args": [3], "kwargs": {}}
    uow.commit()
    assert ("live", run_id, (50, "halfway")) in seen  # visible while the job runs
    run = _run(run_id)
    assert (run.status, run.progress, run.attempts, run.error) == ("done", 100, 1, None)
    assert run.started_at and run.finished_at and run.finished_at >= run.started_at


def test_an_embedded_failure_is_retried_with_backoff_and_then_recorded(ctx, eager):
    run_id = jobs.enqueue("test.console.flaky", "t1", track=True)
    uow.commit()
    run = _run(run_id)
    assert (run.status, run.attempts) == ("queued", 1) and "boom t1" in run.error
    delays = []
    while eager.delayed:
        delays.append(eager.delayed[0].delay)
        eager.fire()
    assert delays == list(jobs.RETRY_INTERVALS)
    run = _run(run_id)
    assert (run.status, run.attempts) == ("failed", len(jobs.RETRY_INTERVALS) + 1)
    assert "RuntimeError: boom t1" in run.error and run.finished_at is not None


def test_an_untracked_embedded_failure_gets_a_failed_row(ctx, eager, monkeypatch):
    monkeypatch.setattr(jobs, "RETRY_INTERVALS", ())
    jobs.enqueue("test.console.flaky", "untracked-7")
    uow.commit()
    run = db.session.scalar(select(JobRun).where(JobRun.name == "test.console.flaky")
                            .order_by(JobRun.id.desc()))
    assert run is not None and run.status == "failed"
    assert run.args == {"args": ["untracked-7"], "kwargs": {}} and "boom untracked-7" in run.error


# --- the admin page ---------------------------------------------------------------------------

def test_admin_sees_a_failed_job_and_retries_it(client, login, csrf, ctx, eager):
    run = _failed_run("page-1")
    login("admin")
    page = client.get("/admin/jobs?status=failed")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "test.console.flaky" in text and "RuntimeError: boom page-1" in text
    assert f"/admin/jobs/runs/{run.id}/retry" in text

    flaky["fail"] = False
    response = client.post(f"/admin/jobs/runs/{run.id}/retry", data={"csrf_token": csrf("/admin/jobs")})
    assert response.status_code == 303
    assert ("ran", "page-1") in seen
    run = _run(run.id)
    assert (run.status, run.error) == ("done", None)
    entry = db.session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.action == "jobs.retry")
                              .order_by(audit.AuditEntry.seq.desc()))
    assert entry.object_id == str(run.id) and entry.actor_name is not None
    # Only a failed run can be retried.
    client.post(f"/admin/jobs/runs/{run.id}/retry", data={"csrf_token": csrf("/admin/jobs")})
    assert seen.count(("ran", "page-1")) == 1


def test_retry_needs_the_csrf_token(client, login, ctx, eager):
    run = _failed_run("csrf")
    login("admin")
    assert client.post(f"/admin/jobs/runs/{run.id}/retry").status_code == 400
    assert _run(run.id).status == "failed"


@pytest.mark.parametrize("username", ["doctor", "medaffairs", "itdept"])
def test_non_admins_get_403(client, login, csrf, ctx, eager, username):
    run = _failed_run(f"403-{username}")
    login(username)
    assert client.get("/admin/jobs").status_code == 403
    response = client.post(f"/admin/jobs/runs/{run.id}/retry", data={"csrf_token": csrf()})
    assert response.status_code == 403
    assert client.post("/admin/jobs/rq/abc/retry", data={"csrf_token": csrf()}).status_code == 403
    assert _run(run.id).status == "failed"


def test_job_status_json_is_for_its_starter_and_admins(app, client, login, ctx, eager):
    doctor = _user("doctor")
    run_id = jobs.enqueue("test.console.report", 5, track=True, created_by=doctor.id)
    uow.commit()
    login("doctor")
    answer = client.get(f"/jobs/{run_id}")
    assert answer.status_code == 200
    assert answer.json["status"] == "done" and answer.json["progress"] == 100
    assert client.get("/jobs/999999").status_code == 404
    nurse, admin = app.test_client(), app.test_client()
    login("nurse", on=nurse)
    assert nurse.get(f"/jobs/{run_id}").status_code == 404
    login("admin", on=admin)
    assert admin.get(f"/jobs/{run_id}").json["id"] == run_id


def test_a_running_job_shows_its_live_progress(ctx, app):
    run = JobRun(name="test.console.report", args={}, status="running", progress=0, attempts=1)
    db.session.add(run)
    db.session.flush()
    jobs.progress(run.id, 40, "row 400 of 1000")
    try:
        assert jobs.run_status(run)["progress"] == 40
        assert jobs.run_status(run)["message"] == "row 400 of 1000"
    finally:
        jobs._forget_live(run.id)
    assert jobs.run_status(run)["progress"] == 0


# --- Redis / RQ -------------------------------------------------------------------------------

@pytest.fixture()
def rq_queue(app, monkeypatch):
    connection = redis_or_skip(REDIS)
    from rq import Queue

    monkeypatch.setitem(app.config, "REDIS_URL", REDIS)
    monkeypatch.setattr(jobs, "_worker_app", app)
    connection.flushdb()
    yield Queue(jobs.QUEUE, connection=connection)
    connection.flushdb()


def _work(queue) -> None:
    from rq import SimpleWorker

    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_redis_tracked_job_progress_and_retry_schedule(ctx, rq_queue):
    run_id = jobs.enqueue("test.console.report", 2, track=True)
    uow.commit()
    _work(rq_queue)
    assert ("live", run_id, (50, "halfway")) in seen  # live progress went through Redis
    run = _run(run_id)
    assert (run.status, run.progress) == ("done", 100) and run.rq_job_id

    run_id = jobs.enqueue("test.console.flaky", "rq-1", track=True)
    uow.commit()
    _work(rq_queue)
    run = _run(run_id)
    assert (run.status, run.attempts) == ("queued", 1) and "boom rq-1" in run.error
    assert rq_queue.scheduled_job_registry.get_job_ids() == [run.rq_job_id]  # RQ retries later


def test_redis_failures_show_on_the_admin_page_and_can_be_requeued(client, login, csrf, ctx,
                                                                    rq_queue, monkeypatch):
    monkeypatch.setattr(jobs, "RETRY_INTERVALS", ())
    jobs.enqueue("test.console.flaky", "rq-untracked")
    tracked = jobs.enqueue("test.console.flaky", "rq-tracked", track=True)
    uow.commit()
    _work(rq_queue)
    [failed] = jobs.failed_rq_jobs()  # the tracked one shows through its row only
    assert failed.name == "test.console.flaky" and failed.args == [["rq-untracked"], {}]
    assert "RuntimeError: boom rq-untracked" in failed.error
    assert _run(tracked).status == "failed"

    login("admin")
    text = client.get("/admin/jobs").get_data(as_text=True)
    assert "boom rq-untracked" in text and f"/admin/jobs/rq/{failed.id}/retry" in text
    flaky["fail"] = False
    token = csrf("/admin/jobs")
    assert client.post(f"/admin/jobs/rq/{failed.id}/retry",
                       data={"csrf_token": token}).status_code == 303
    assert client.post(f"/admin/jobs/runs/{tracked}/retry",
                       data={"csrf_token": token}).status_code == 303
    assert client.post("/admin/jobs/rq/no-such-job/retry",
                       data={"csrf_token": token}).status_code == 404
    assert rq_queue.count == 2
    _work(rq_queue)
    assert sorted(tag for kind, *rest in seen if kind == "ran" for tag in rest) == \
        ["rq-tracked", "rq-untracked"]
    assert jobs.failed_rq_jobs() == [] and _run(tracked).status == "done"
