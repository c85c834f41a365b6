"""Benchmark: the inbox and a task page against a trivial page, with a small and a large task table.

Makes its own database (SQLite under a temporary directory, or --database-url) and server
(Werkzeug on a free port, in a thread), loads the tiny demo hospital, publishes the portal's test
process, starts real applications for the measured user (the department head `head`) and fills the
task table with other people's history up to `small` (10k) and then `large` (1M; --quick: 100k)
tasks. The measured user's own rows stay the same in both sizes (40 open tasks, 20 to claim, 300
done): the table grows with the hospital's history, not with one person's inbox.

Server time is measured inside the server (a WSGI wrapper around the app, from the call to the
end of the response body), so the HTTP client's own cost is left out.

    .venv/bin/python bench/portal.py [--quick] [--requests N] [--database-url URL]

Logs go to stderr; the last stdout line is one JSON object with p50/p95 per page and size and
inbox_p95_ms, task_p95_ms, trivial_p95_ms, inbox_vs_trivial, task_vs_trivial, inbox_growth.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench.portal")

SMALL = 10_000
LARGE = 1_000_000
QUICK_LARGE = 100_000
OWN_OPEN, OWN_CLAIM, OWN_DONE = 40, 20, 300
FILLER_USERS = 400
TASKS_PER_INSTANCE = 4
TARGETS = {"inbox_vs_trivial": 3.0, "task_vs_trivial": 5.0, "inbox_growth": 1.5}


# --- the app and its data ----------------------------------------------------------------------

def make_app(database_url: str | None, instance: Path):
    os.environ["MEDTECH_INSTANCE"] = str(instance)
    from app import create_app

    url = database_url or f"sqlite:///{instance / 'bench.db'}"
    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-0123456789", "REDIS_URL": "",
                       "TESTING": False, "LOG_LEVEL": "WARNING"})


def seed(app) -> dict:
    import flask_migrate

    from app.core import sync, uow
    from app.demo import build_demo
    from app.extensions import db
    from app.workflow import runtime
    from tests.portal.conftest import PROCESS, publish_fixtures, user

    with app.test_request_context():
        started = time.perf_counter()
        flask_migrate.upgrade()
        log.disabled = False  # alembic's logging setup disables the loggers that exist before it
        sync.run_all()
        build_demo(scale="tiny", password="demo")
        publish_fixtures()
        doctor, head = user("doctor"), user("head")
        task_ids = []
        for n in range(OWN_OPEN):
            instance = runtime.start(doctor, PROCESS, business_key=f"OWN-{n:04d}",
                                     department_id=doctor.staff.department_id,
                                     data={"title": f"本人待办 {n}", "amount": 1000 + n, "reason": "基准测试"},
                                     title=f"新技术开展申请：本人待办 {n}")
            task_ids.append(runtime.open_tasks(instance.id)[0].id)
        uow.commit()
        ids = {"head": head.id, "doctor": doctor.id, "task": task_ids[-1],
               "version": db.session.scalar(db.text("SELECT id FROM wf_process_version WHERE status = 'published' "
                                                    "ORDER BY id DESC LIMIT 1")),
               "departments": [d for (d,) in db.session.execute(db.text("SELECT id FROM department"))]}
        ids["users"] = _filler_users(db)
        _own_history(db, ids)
        uow.commit()
        log.info("seeded in %.1fs", time.perf_counter() - started)
        return ids


def _filler_users(db) -> list[int]:
    from app.core.security import hash_password
    from app.modules.accounts.models import User

    digest = hash_password("not-used-bench")
    now = datetime(2025, 1, 1)
    db.session.execute(User.__table__.insert(), [
        dict(username=f"bench{i:04d}", password_hash=digest, display_name=f"基准用户{i:04d}", active=True,
             is_demo=False, failed_logins=0, session_epoch=0, created_at=now, updated_at=now)
        for i in range(FILLER_USERS)])
    return [uid for (uid,) in db.session.execute(db.text("SELECT id FROM user_account WHERE username LIKE 'bench%'"))]


def _own_history(db, ids: dict) -> None:
    """The measured user's claimable and done rows (fixed in both sizes)."""
    rng = random.Random(7)
    base = datetime(2024, 1, 1)
    instances, tasks, candidates = [], [], []
    first_instance = _next_id(db, "wf_instance")
    first_task = _next_id(db, "wf_task")
    for n in range(OWN_CLAIM + OWN_DONE):
        instance_id, task_id = first_instance + n, first_task + n
        at = base + timedelta(hours=n)
        claim = n < OWN_CLAIM
        instances.append(_instance_row(ids, instance_id, rng, at, status="running" if claim else "completed"))
        tasks.append(dict(id=task_id, instance_id=instance_id, spiff_id=f"own-{task_id}", spec="head_review",
                          name="科主任审核", process_key="portal_application",
                          department_id=instances[-1]["department_id"],
                          assignee_id=None if claim else ids["head"], status="open" if claim else "completed",
                          outcome=None if claim else "approve", created_at=at,
                          completed_at=None if claim else at + timedelta(hours=3),
                          completed_by_id=None if claim else ids["head"]))
        if claim:
            candidates += [dict(task_id=task_id, user_id=ids["head"]),
                           dict(task_id=task_id, user_id=rng.choice(ids["users"]))]
    _insert(db, instances, tasks, candidates)


def _next_id(db, table: str) -> int:
    return (db.session.scalar(db.text(f"SELECT max(id) FROM {table}")) or 0) + 1


def _instance_row(ids: dict, instance_id: int, rng, at: datetime, status: str) -> dict:
    return dict(id=instance_id, process_version_id=ids["version"], process_key="portal_application",
                title=f"新技术开展申请：历史 {instance_id}", business_key=f"H{instance_id:09d}",
                department_id=rng.choice(ids["departments"]), status=status, suspended=False, state="{}",
                version=1, started_by_id=rng.choice(ids["users"]), started_at=at, updated_at=at,
                ended_at=None if status == "running" else at + timedelta(days=2))


def _insert(db, instances, tasks, candidates) -> None:
    from app.workflow.models import Instance, Task, TaskCandidate

    if instances:
        db.session.execute(Instance.__table__.insert(), instances)
    if tasks:
        db.session.execute(Task.__table__.insert(), tasks)
    if candidates:
        db.session.execute(TaskCandidate.__table__.insert(), candidates)


def grow(app, ids: dict, target: int) -> int:
    """Add other people's history until the task table holds `target` rows."""
    from app.core import uow
    from app.extensions import db

    with app.app_context():
        count = db.session.scalar(db.text("SELECT count(*) FROM wf_task"))
        rng = random.Random(count)
        started = time.perf_counter()
        base = datetime(2022, 1, 1)
        while count < target:
            n_instances = min(20_000, (target - count + TASKS_PER_INSTANCE - 1) // TASKS_PER_INSTANCE)
            first_instance, first_task = _next_id(db, "wf_instance"), _next_id(db, "wf_task")
            instances, tasks, candidates = [], [], []
            task_id = first_task
            for i in range(n_instances):
                instance_id = first_instance + i
                at = base + timedelta(minutes=(instance_id * 7) % (3 * 365 * 24 * 60))
                running = rng.random() < 0.05
                instances.append(_instance_row(ids, instance_id, rng, at, "running" if running else "completed"))
                dept = instances[-1]["department_id"]
                for step in range(TASKS_PER_INSTANCE):
                    if count + (task_id - first_task) >= target:
                        break
                    last = step == TASKS_PER_INSTANCE - 1
                    open_ = running and last
                    pooled = open_ and rng.random() < 0.3
                    who = rng.choice(ids["users"])
                    tasks.append(dict(
                        id=task_id, instance_id=instance_id, spiff_id=f"fill-{task_id}",
                        spec="head_review" if step == 0 else "countersign",
                        name="科主任审核" if step == 0 else "专家会签", process_key="portal_application",
                        department_id=dept, assignee_id=None if pooled else who,
                        status="open" if open_ else "completed", outcome=None if open_ else "approve",
                        countersign_of=None if step == 0 else f"mi-{instance_id}",
                        created_at=at + timedelta(hours=step), due_at=at + timedelta(days=3),
                        completed_at=None if open_ else at + timedelta(hours=step + 1),
                        completed_by_id=None if open_ else who))
                    if pooled:
                        candidates += [dict(task_id=task_id, user_id=u) for u in rng.sample(ids["users"], 3)]
                    task_id += 1
            _insert(db, instances, tasks, candidates)
            uow.commit()
            count += len(tasks)
            log.info("task table: %d rows (%.0fs)", count, time.perf_counter() - started)
        if db.engine.dialect.name == "sqlite":
            db.session.execute(db.text("ANALYZE"))
        else:
            db.session.execute(db.text("ANALYZE wf_task; ANALYZE wf_instance; ANALYZE wf_task_candidate"))
        uow.commit()
        return count


# --- the server and the measurement -------------------------------------------------------------

class Timing:
    """WSGI wrapper recording server time per request path (call → end of the response body)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.samples: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        key = environ.get("HTTP_X_BENCH")
        body = self.wsgi_app(environ, start_response)
        try:
            chunks = list(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        if key:
            with self.lock:
                self.samples.setdefault(key, []).append((time.perf_counter() - started) * 1000)
        return chunks


def serve(app) -> tuple[str, Timing, object]:
    from werkzeug.serving import make_server

    timing = Timing(app.wsgi_app)
    app.wsgi_app = timing
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True, name="bench-server").start()
    return f"http://127.0.0.1:{server.server_port}", timing, server


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str, key: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers={"X-Bench": key} if key else {})
        with self.opener.open(request) as response:
            return response.status, response.read().decode("utf-8")

    def login(self, username: str, password: str = "demo") -> None:
        _status, page = self.get("/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token}).encode()
        with self.opener.open(urllib.request.Request(self.base + "/login", data=data)) as response:
            response.read()


def measure(browser: Browser, timing: Timing, pages: dict[str, str], requests: int, label: str) -> dict:
    for path in pages.values():  # warm up: caches, first-use imports
        for _ in range(5):
            browser.get(path)
    timing.samples.clear()
    for _ in range(requests):
        for name, path in pages.items():
            status, _body = browser.get(path, f"{label}:{name}")
            assert status == 200, (path, status)
    result = {}
    for name in pages:
        values = sorted(timing.samples[f"{label}:{name}"])
        result[name] = {"p50": round(statistics.median(values), 2),
                        "p95": round(values[max(0, int(len(values) * 0.95) - 1)], 2), "n": len(values)}
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"large = {QUICK_LARGE:,} tasks instead of {LARGE:,}")
    parser.add_argument("--requests", type=int, default=200, help="requests per page and size")
    parser.add_argument("--database-url", help="an empty database to use instead of a temporary SQLite file")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    large = QUICK_LARGE if args.quick else LARGE
    with tempfile.TemporaryDirectory(prefix="medtech-bench-") as tmp:
        app = make_app(args.database_url, Path(tmp))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        ids = seed(app)
        base, timing, server = serve(app)
        browser = Browser(base)
        browser.login("head")
        pages = {"inbox": "/tasks", "task": f"/tasks/{ids['task']}", "trivial": "/account"}
        results = {}
        for label, size in (("small", SMALL), ("large", large)):
            rows = grow(app, ids, size)
            log.info("measuring %s (%d tasks)", label, rows)
            results[label] = measure(browser, timing, pages, args.requests, label)
            results[label]["tasks"] = rows
        server.shutdown()
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    small, big = results["small"], results["large"]
    out = {
        "backend": "postgresql" if args.database_url and args.database_url.startswith("postgres") else "sqlite",
        "small_tasks": small["tasks"], "large_tasks": big["tasks"], "requests": args.requests,
        "small": {k: v for k, v in small.items() if k != "tasks"},
        "large": {k: v for k, v in big.items() if k != "tasks"},
        "inbox_p95_ms": big["inbox"]["p95"], "task_p95_ms": big["task"]["p95"],
        "trivial_p95_ms": big["trivial"]["p95"],
        "inbox_vs_trivial": round(big["inbox"]["p95"] / big["trivial"]["p95"], 2),
        "task_vs_trivial": round(big["task"]["p95"] / big["trivial"]["p95"], 2),
        "inbox_growth": round(big["inbox"]["p95"] / small["inbox"]["p95"], 2),
    }
    out["targets"] = TARGETS
    out["targets_met"] = all(out[key] <= limit for key, limit in TARGETS.items())
    return out


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
