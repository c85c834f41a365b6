"""Background jobs: RQ when REDIS_URL is set, an in-process thread pool otherwise (embedded mode).

Jobs are registered by name and take only plain values (ids, strings, numbers), load their objects
and call a service; each job is one unit of work that commits at its end. Jobs enqueued during a
request leave only after the request commits, so a worker never sees an id that is not there yet.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from flask import Flask, current_app

log = logging.getLogger(__name__)

QUEUE = "medtech"
RETRY_INTERVALS = (10, 60, 300)  # seconds: backoff between the three retries


@dataclass(frozen=True)
class Periodic:
    name: str
    every_seconds: int


_JOBS: dict[str, Callable[..., Any]] = {}
_PERIODIC: dict[str, Periodic] = {}
_pool: ThreadPoolExecutor | None = None
_worker_app: Flask | None = None


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


def _check_plain(value: Any) -> None:
    try:
        json.dumps(value)
    except TypeError as exc:
        raise TypeError(f"job arguments must be plain values (ids, strings, numbers): {exc}") from None


def redis_connection():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def enqueue(name: str, *args: Any, **kwargs: Any) -> None:
    """Run job `name` after the current unit of work commits."""
    if name not in _JOBS:
        raise KeyError(f"unknown job {name!r}")
    _check_plain([args, kwargs])
    from app.core.uow import after_commit

    app = current_app._get_current_object()
    if app.config["REDIS_URL"]:
        def send():
            from rq import Queue, Retry

            Queue(QUEUE, connection=redis_connection()).enqueue(
                execute, name, list(args), kwargs,
                retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)))
    else:
        def send():
            _local_pool().submit(_run_local, app, name, args, kwargs)
    after_commit(send)


def _local_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="medtech-job")
    return _pool


def _run_local(app: Flask, name: str, args, kwargs) -> None:
    with app.app_context():
        try:
            run(name, *args, **kwargs)
        except Exception:  # the embedded mode has no failed-job registry: log it loudly
            log.exception("job %s failed", name)


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


def execute(name: str, args: list, kwargs: dict) -> Any:
    """Entry point of RQ workers: builds the app once per worker process."""
    global _worker_app
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        return run(name, *args, **kwargs)


def run_worker(burst: bool = False) -> None:
    from rq import Queue, Worker

    if not current_app.config["REDIS_URL"]:
        raise SystemExit("REDIS_URL is not set: in the embedded mode jobs run inside the web process")
    connection = redis_connection()
    global _worker_app
    _worker_app = current_app._get_current_object()
    Worker([Queue(QUEUE, connection=connection)], connection=connection).work(burst=burst)


def run_scheduler() -> None:
    from rq.cron import CronScheduler

    if not current_app.config["REDIS_URL"]:
        raise SystemExit("REDIS_URL is not set: the embedded mode ticks periodic jobs in-process")
    scheduler = CronScheduler(connection=redis_connection())
    for periodic in _PERIODIC.values():
        scheduler.register(execute, QUEUE, args=(periodic.name, [], {}),
                           interval=periodic.every_seconds, name=periodic.name)
    scheduler.start()
