"""Background jobs: RQ when REDIS_URL is set, an in-process thread pool otherwise (embedded mode).

Jobs are registered by name and take only plain values (ids, strings, numbers), load their objects
and call a service; each job is one unit of work that commits at its end. Jobs enqueued during a
request leave only after the request commits, so a worker never sees an id that is not there yet.

A failed job is retried after RETRY_INTERVALS (RQ's Retry, or timers in the embedded mode).
`enqueue(..., track=True)` adds a `job_run` row (status, progress, error) for progress bars and the
jobs console; in the embedded mode every finally failed job gets such a row, in the Redis mode
untracked failures stay in RQ's FailedJobRegistry, which the console reads too.
"""
from __future__ import annotations

import json
import logging
import threading
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from collections.abc import Callable

from flask import Flask, current_app

log = logging.getLogger(__name__)

QUEUE = "medtech"
RETRY_INTERVALS = (10, 60, 300)  # seconds: backoff between the three retries
LIVE_KEY = "medtech:job_run:{}"  # Redis hash with the live progress of a running job
LIVE_TTL = 86400
PERIODIC_FAILURE_REPEAT = 3600  # seconds: how often the ticker records the same failure of a periodic job


@dataclass(frozen=True)
class Periodic:
    name: str
    every_seconds: int


_JOBS: dict[str, Callable[..., Any]] = {}
_PERIODIC: dict[str, Periodic] = {}
_pool: ThreadPoolExecutor | None = None
_worker_app: Flask | None = None
_timers: set[threading.Timer] = set()
_live: dict[int, tuple[int, str | None]] = {}  # embedded mode: run id → (progress, message)
_live_lock = threading.Lock()
_current_run: ContextVar[int | None] = ContextVar("medtech_job_run", default=None)


def job(name: str, *, every_seconds: int | None = None):
    """Register a job function under `name`; optionally run it periodically (RQ cron / ticker)."""

    def decorator(fn):
        _JOBS[name] = fn
        if every_seconds:
            _PERIODIC[name] = Periodic(name, every_seconds)
        return fn

    return decorator


def registered() -> dict[str, Callable[..., Any]]:
    return dict(_JOBS)


def periodic() -> dict[str, Periodic]:
    return dict(_PERIODIC)


def _check_plain(value: Any) -> None:
    try:
        json.dumps(value)
    except TypeError as exc:
        raise TypeError(f"job arguments must be plain values (ids, strings, numbers): {exc}") from None


def redis_connection():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def enqueue(name: str, *args: Any, track: bool = False, created_by: int | None = None,
            **kwargs: Any) -> int | None:
    """Run job `name` after the current unit of work commits.

    With `track=True` a `job_run` row is written in the current transaction and its id returned;
    `created_by` (a user id) may then read its progress at /jobs/<id>.
    """
    return _dispatch(0, name, args, kwargs, track, created_by)


def enqueue_in(seconds: float, name: str, *args: Any, track: bool = False,
               created_by: int | None = None, **kwargs: Any) -> int | None:
    """Like `enqueue`, but run the job `seconds` after the commit (RQ's scheduler, or a timer)."""
    return _dispatch(max(0.0, float(seconds)), name, args, kwargs, track, created_by)


def _dispatch(delay: float, name: str, args: tuple, kwargs: dict, track: bool,
              created_by: int | None) -> int | None:
    if name not in _JOBS:
        raise KeyError(f"unknown job {name!r}")
    _check_plain([args, kwargs])
    from app.core.uow import after_commit

    app = current_app._get_current_object()
    run_id = rq_id = None
    if track:
        from app.core.notify.models import JobRun
        from app.extensions import db

        rq_id = uuid.uuid4().hex if app.config["REDIS_URL"] else None
        run = JobRun(name=name, args={"args": list(args), "kwargs": kwargs}, status="queued",
                     progress=0, attempts=0, created_by_id=created_by, rq_job_id=rq_id)
        db.session.add(run)
        db.session.flush()
        run_id = run.id
    after_commit(lambda: _send(app, delay, name, list(args), dict(kwargs), run_id, rq_id))
    return run_id


def _send(app: Flask, delay: float, name: str, args: list, kwargs: dict, run_id: int | None,
          rq_id: str | None = None) -> None:
    if app.config["REDIS_URL"]:
        from rq import Queue, Retry

        queue = Queue(QUEUE, connection=redis_connection())
        options: dict[str, Any] = {"description": name}
        if RETRY_INTERVALS:
            options["retry"] = Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS))
        if rq_id:
            options["job_id"] = rq_id
        call_args = (name, args, kwargs) if run_id is None else (name, args, kwargs, run_id)
        if delay:
            queue.enqueue_in(timedelta(seconds=delay), execute, *call_args, **options)
        else:
            queue.enqueue(execute, *call_args, **options)
    elif delay:
        _schedule_local(app, delay, name, args, kwargs, run_id, 0)
    else:
        _local_pool().submit(_run_local, app, name, args, kwargs, run_id, 0)


def _local_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="medtech-job")
    return _pool


def _schedule_local(app: Flask, delay: float, name: str, args, kwargs, run_id, attempt: int) -> None:
    def fire():
        _timers.discard(timer)
        _local_pool().submit(_run_local, app, name, args, kwargs, run_id, attempt)

    timer = threading.Timer(delay, fire)
    timer.daemon = True
    _timers.add(timer)
    timer.start()


def stop_local() -> None:
    """Cancel pending timers and wait for running in-process jobs (tests, shutdown)."""
    global _pool
    for timer in list(_timers):
        timer.cancel()
    _timers.clear()
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)


def _run_local(app: Flask, name: str, args, kwargs, run_id: int | None = None,
               attempt: int = 0) -> None:
    final = attempt >= len(RETRY_INTERVALS)
    with app.app_context():
        try:
            run_recorded(name, list(args), dict(kwargs), run_id, final=final, record_untracked=True)
        except Exception:
            if final:
                log.exception("job %s failed after %d attempts", name, attempt + 1)
            else:
                log.warning("job %s failed (attempt %d), retrying in %ss", name, attempt + 1,
                            RETRY_INTERVALS[attempt], exc_info=True)
                _schedule_local(app, RETRY_INTERVALS[attempt], name, args, kwargs, run_id,
                                attempt + 1)


def run(name: str, *args: Any, **kwargs: Any) -> Any:
    """Execute a job in the current app context as one unit of work."""
    from app.core import uow
    from app.extensions import db

    try:
        result = _JOBS[name](*args, **kwargs)
        uow.commit()
        return result
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()


def run_recorded(name: str, args: list, kwargs: dict, run_id: int | None, *, final: bool = True,
                 record_untracked: bool = False) -> Any:
    """`run`, keeping the job's `job_run` row (if any) up to date: running → done | failed.

    A failure that will be retried leaves the row `queued` with the error; a final failure marks it
    `failed` — or, for an untracked job with `record_untracked`, writes a failed row so that it
    shows in the jobs console.
    """
    if run_id is not None:
        _update_run(run_id, status="running", started_at=True, attempt=True, error=None)
    token = _current_run.set(run_id)
    try:
        result = run(name, *args, **kwargs)
    except Exception as exc:
        error = "".join(traceback.format_exception(exc))[-8000:]
        if run_id is not None:
            _update_run(run_id, status="failed" if final else "queued", error=error,
                        finished_at=final, message=None if final else "retrying")
        elif final and record_untracked:
            _record_failure(name, args, kwargs, error)
        raise
    else:
        if run_id is not None:
            _update_run(run_id, status="done", progress=100, finished_at=True, error=None)
        return result
    finally:
        _current_run.reset(token)
        _forget_live(run_id)


def _update_run(run_id: int, *, status: str, started_at: bool = False, finished_at: bool = False,
                attempt: bool = False, progress: int | None = None, error: str | None = None,
                message: str | None = None) -> None:
    """Write a run's state in a unit of work of its own (the job's own work is separate)."""
    from app.core.models import utcnow
    from app.core.notify.models import JobRun
    from app.extensions import db

    try:
        run = db.session.get(JobRun, run_id)
        if run is None:
            return
        live = live_progress(run_id)
        run.status = status
        run.error = error
        if started_at:
            run.started_at, run.finished_at, run.progress = utcnow(), None, 0
        if finished_at:
            run.finished_at = utcnow()
        if attempt:
            run.attempts = (run.attempts or 0) + 1
        if progress is not None:
            run.progress = progress
        elif live is not None:
            run.progress = live[0]
        if message is not None or live is not None:
            run.message = message if message is not None else live[1]
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not record the state of job run %s", run_id)
    finally:
        db.session.remove()


def _record_failure(name: str, args: list, kwargs: dict, error: str) -> None:
    from app.core.models import utcnow
    from app.core.notify.models import JobRun
    from app.extensions import db

    try:
        db.session.add(JobRun(name=name, args={"args": list(args), "kwargs": dict(kwargs)},
                              status="failed", progress=0, error=error,
                              attempts=len(RETRY_INTERVALS) + 1, finished_at=utcnow()))
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not record the failure of job %s", name)
    finally:
        db.session.remove()


# --- the embedded ticker ----------------------------------------------------------------------

_ticker: threading.Thread | None = None
_ticker_stop = threading.Event()


def start_ticker(app: Flask, interval: float | None = None) -> threading.Thread:
    """Run the periodic jobs on a daemon thread (the embedded mode's stand-in for RQ's cron
    scheduler): each when its `every_seconds` have passed (every `interval` seconds instead, when
    given), each run one unit of work; a failure is logged and, like any failed job in the
    embedded mode, recorded for the jobs console. One ticker per process."""
    global _ticker
    if _ticker is not None and _ticker.is_alive():
        return _ticker
    _ticker_stop.clear()
    import time

    due: dict[str, float] = {}
    recorded: dict[str, tuple[float, str]] = {}  # job -> (when, error) of its last recorded failure
    wait = min([interval] if interval else [item.every_seconds for item in _PERIODIC.values()] or [60.0])
    wait = max(0.05, min(wait, 1.0))

    def loop() -> None:
        while not _ticker_stop.wait(wait):
            now = time.monotonic()
            for item in list(_PERIODIC.values()):
                every = interval or item.every_seconds
                if now < due.setdefault(item.name, now + every):
                    continue
                due[item.name] = now + every
                with app.app_context():
                    try:
                        run_recorded(item.name, [], {}, None, final=True)
                    except Exception as exc:
                        log.exception("periodic job %s failed", item.name)
                        summary = f"{type(exc).__name__}: {exc}"
                        last = recorded.get(item.name)
                        # A job that keeps failing the same way is recorded once an hour, not each tick.
                        if last is None or last[1] != summary or now - last[0] >= PERIODIC_FAILURE_REPEAT:
                            recorded[item.name] = (now, summary)
                            _record_failure(item.name, [], {}, "".join(traceback.format_exception(exc))[-8000:])

    _ticker = threading.Thread(target=loop, name="medtech-ticker", daemon=True)
    _ticker.start()
    return _ticker


def stop_ticker() -> None:
    _ticker_stop.set()


# --- progress of tracked jobs -----------------------------------------------------------------

def current_run_id() -> int | None:
    """The `job_run` id of the job executing in this thread (None when untracked)."""
    return _current_run.get()


def progress(run_id: int | None, pct: int, message: str | None = None) -> None:
    """Report a running job's progress (0–100). Kept outside the database so that it is visible
    while the job's own transaction is still open; written to the row when the job ends."""
    if run_id is None:
        return
    pct = max(0, min(100, int(pct)))
    if current_app.config["REDIS_URL"]:
        connection = redis_connection()
        key = LIVE_KEY.format(run_id)
        connection.hset(key, mapping={"progress": pct, "message": message or ""})
        connection.expire(key, LIVE_TTL)
    else:
        with _live_lock:
            _live[run_id] = (pct, message)


def live_progress(run_id: int) -> tuple[int, str | None] | None:
    if current_app.config["REDIS_URL"]:
        try:
            raw = redis_connection().hgetall(LIVE_KEY.format(run_id))
        except Exception:  # the status page must not fail because Redis hiccups
            log.warning("could not read the progress of job run %s", run_id, exc_info=True)
            return None
        if not raw:
            return None
        return int(raw[b"progress"]), raw[b"message"].decode() or None
    with _live_lock:
        return _live.get(run_id)


def _forget_live(run_id: int | None) -> None:
    if run_id is None:
        return
    if current_app.config["REDIS_URL"]:
        try:
            redis_connection().delete(LIVE_KEY.format(run_id))
        except Exception:
            log.warning("could not clear the progress of job run %s", run_id, exc_info=True)
    else:
        with _live_lock:
            _live.pop(run_id, None)


def run_status(run) -> dict[str, Any]:
    """A `job_run` row as JSON for progress bars, with the live progress of a running job."""
    pct, message = run.progress, run.message
    if run.status == "running":
        live = live_progress(run.id)
        if live is not None:
            pct, message = live
    return {
        "id": run.id, "name": run.name, "status": run.status, "progress": pct, "message": message,
        "error": run.error, "attempts": run.attempts,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }



# --- the jobs console -------------------------------------------------------------------------

@dataclass(frozen=True)
class FailedRQJob:
    id: str
    name: str
    args: list
    error: str
    failed_at: Any


def failed_rq_jobs(limit: int = 50) -> list[FailedRQJob]:
    """Failed jobs in RQ's FailedJobRegistry, newest first (none in the embedded mode). Tracked
    jobs are left out: their `job_run` row shows them."""
    if not current_app.config["REDIS_URL"]:
        return []
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry
    from sqlalchemy import select

    from app.core.notify.models import JobRun
    from app.extensions import db

    connection = redis_connection()
    registry = FailedJobRegistry(queue=Queue(QUEUE, connection=connection))
    ids = registry.get_job_ids(0, limit - 1, desc=True)
    tracked = set(db.session.scalars(select(JobRun.rq_job_id).where(JobRun.rq_job_id.in_(ids))))
    result = []
    for rq_job in Job.fetch_many([i for i in ids if i not in tracked], connection=connection):
        if rq_job is None:
            continue
        name, args = (rq_job.args[0], list(rq_job.args[1:3])) if rq_job.args else (rq_job.func_name, [])
        latest = rq_job.latest_result()
        error = (latest.exc_string if latest is not None else None) or ""
        result.append(FailedRQJob(rq_job.id, str(name), args, error, rq_job.ended_at))
    return result


def retry_run(run_id: int, actor: Any = None, ip: str | None = None) -> bool:
    """Queue a failed run again (after the commit); False unless it had failed."""
    from app.core import audit
    from app.core.notify.models import JobRun
    from app.core.uow import after_commit
    from app.extensions import db

    run = db.session.get(JobRun, run_id)
    if run is None or run.status != "failed" or run.name not in _JOBS:
        return False
    app = current_app._get_current_object()
    old_rq_id = run.rq_job_id
    run.rq_job_id = uuid.uuid4().hex if app.config["REDIS_URL"] else None
    run.status, run.progress, run.finished_at, run.message = "queued", 0, None, None
    db.session.flush()
    args, kwargs = list(run.args.get("args", [])), dict(run.args.get("kwargs", {}))
    name, rq_id = run.name, run.rq_job_id
    audit.record("jobs.retry", actor=actor, object_type="job_run", object_id=run_id,
                 data={"name": name}, ip=ip)
    after_commit(lambda: _send_retry(app, name, args, kwargs, run_id, rq_id, old_rq_id))
    return True


def _send_retry(app: Flask, name: str, args: list, kwargs: dict, run_id: int, rq_id: str | None,
                old_rq_id: str | None) -> None:
    if old_rq_id and app.config["REDIS_URL"]:
        _forget_rq_failure(old_rq_id)
    _send(app, 0, name, args, kwargs, run_id, rq_id)


def _forget_rq_failure(rq_id: str) -> None:
    from rq import Queue
    from rq.registry import FailedJobRegistry

    try:
        FailedJobRegistry(queue=Queue(QUEUE, connection=redis_connection())).remove(
            rq_id, delete_job=True)
    except Exception:  # already gone or expired: nothing to clean up
        log.debug("failed RQ job %s not removed", rq_id, exc_info=True)


def requeue_rq(rq_id: str, actor: Any = None, ip: str | None = None) -> bool:
    """Requeue a job from RQ's FailedJobRegistry; False when it is not there."""
    from app.core import audit
    from rq import Queue
    from rq.exceptions import InvalidJobOperation, NoSuchJobError
    from rq.registry import FailedJobRegistry

    if not current_app.config["REDIS_URL"]:
        return False
    registry = FailedJobRegistry(queue=Queue(QUEUE, connection=redis_connection()))
    if rq_id not in registry.get_job_ids():
        return False
    try:
        registry.requeue(rq_id)
    except (InvalidJobOperation, NoSuchJobError):
        return False
    audit.record("jobs.retry", actor=actor, object_type="rq_job", object_id=rq_id, ip=ip)
    return True

# --- RQ ---------------------------------------------------------------------------------------

def execute(name: str, args: list, kwargs: dict, run_id: int | None = None) -> Any:
    """Entry point of RQ workers: builds the app once per worker process."""
    global _worker_app
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    from rq import get_current_job

    current = get_current_job()
    final = current is None or not current.retries_left
    with _worker_app.app_context():
        return run_recorded(name, args, kwargs, run_id, final=final)


def run_worker(burst: bool = False) -> None:
    from rq import Queue, Worker

    if not current_app.config["REDIS_URL"]:
        raise SystemExit("REDIS_URL is not set: in the embedded mode jobs run inside the web process")
    connection = redis_connection()
    global _worker_app
    _worker_app = current_app._get_current_object()
    from app import freeze_startup_objects

    freeze_startup_objects()
    # The scheduler moves due delayed jobs (enqueue_in, retries with backoff) onto the queue.
    Worker([Queue(QUEUE, connection=connection)], connection=connection).work(
        burst=burst, with_scheduler=True)


def run_scheduler() -> None:
    from rq.cron import CronScheduler

    if not current_app.config["REDIS_URL"]:
        raise SystemExit("REDIS_URL is not set: the embedded mode ticks periodic jobs in-process")
    scheduler = CronScheduler(connection=redis_connection())
    for item in _PERIODIC.values():
        scheduler.register(execute, QUEUE, args=(item.name, [], {}),
                           interval=item.every_seconds, name=item.name)
    scheduler.start()
