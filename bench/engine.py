"""Benchmark: the BPM kernel against bare SpiffWorkflow, and the inbox query as the task table grows.

The process is `processes/examples/example_approval.bpmn`: a form step (the applicant's request),
a DMN decision (our evaluator) and a countersign of three reviewers — four user steps per instance.

- raw_steps_per_s: SpiffWorkflow in memory with the same parsed spec, its own serializer (the spec
  travels with the state) around every step, nothing else; raw_state_only_steps_per_s the same with
  the kernel's state-only serialization (for comparison).
- kernel_steps_per_s_<db>: `runtime.start` / `runtime.complete` on a real database, each step its own
  committed unit of work (state, task projection, events, audit entries, decision log, and whatever
  the app's notification handler writes); ratio_<db> = kernel / raw.
- inbox_p95_ms_small / _large: `inbox.inbox(user)` with `small` (10k) and `large` (100k quick, 1M
  full) open tasks of other users in the table; inbox_growth = large / small.

    .venv/bin/python bench/engine.py [--quick] [--instances N] [--postgres URL | --no-postgres]

The databases are made here (temporary SQLite files; a scratch PostgreSQL database, dropped
afterwards). Raw and kernel runs are interleaved in rounds and the inbox databases measured
alternately, so that a busy machine slows all figures alike; after the warm-up the process freezes
its startup objects out of the garbage collector's full passes, as the WSGI entry point does.
Logs go to stderr; the last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench.engine")
PROCESS = "example_approval"
REVIEWERS = 3
DEFAULT_PG = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/medtech_bench")


# --- raw SpiffWorkflow -------------------------------------------------------------------------

class _MemoryHooks:
    """What the kernel's runtime does for our task specs, minus the database."""

    def __init__(self, definitions, parsed):
        self.definitions, self.parsed = definitions, parsed

    def run_decision(self, my_task):
        from app.workflow import decisions

        node = self.parsed.node(my_task.task_spec.bpmn_id)
        result = self.definitions.evaluate_detailed(node.decision, dict(my_task.data))
        decisions.apply_result(node, my_task.data, result.result)

    def run_operation(self, my_task):
        pass

    def boundary_fired(self, my_task):
        pass


def full_serializer():
    """SpiffWorkflow's own serializer (the spec goes with the state), taught our task classes."""
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
    from SpiffWorkflow.bpmn.serializer.default.task_spec import (
        BoundaryEventConverter,
        BpmnTaskSpecConverter,
        MultiInstanceTaskConverter,
    )

    from app.workflow import specs

    class CountersignConverter(MultiInstanceTaskConverter):
        def to_dict(self, spec):
            dct = super().to_dict(spec)
            dct["policy"] = [spec.policy.kind, spec.policy.value] if spec.policy else None
            dct["result_variable"] = spec.result_variable
            return dct

        def from_dict(self, dct):
            policy, result_variable = dct.pop("policy"), dct.pop("result_variable")
            spec = super().from_dict(dct)
            spec.policy = specs.Policy(*policy) if policy else None
            spec.result_variable = result_variable
            return spec

    config = dict(DEFAULT_CONFIG)
    config.update({specs.OperationTask: BpmnTaskSpecConverter, specs.DecisionTask: BpmnTaskSpecConverter,
                   specs.AutoTask: BpmnTaskSpecConverter, specs.MtBoundaryEvent: BoundaryEventConverter,
                   specs.CountersignParallel: CountersignConverter,
                   specs.CountersignSequential: CountersignConverter})
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def raw_steps(instances: int, full: bool = True) -> tuple[int, float]:
    """Steps per second of bare SpiffWorkflow, (de)serializing around each step: with its own
    serializer (`full`, the spec travels with the state), or with the kernel's state-only one."""
    from SpiffWorkflow.util.task import TaskState

    from app.workflow import parsing, store
    from app.workflow.projection import BY_KEY
    from app.workflow.rules import load_definitions
    from app.workflow.specs import OUTCOME_KEY

    parsed = parsing.build_process((ROOT / "processes/examples/example_approval.bpmn").read_bytes(), PROCESS)
    hooks = _MemoryHooks(load_definitions((ROOT / "rules/examples/example_risk.dmn").read_bytes()), parsed)
    serializer = full_serializer()
    if full:
        def dump(workflow):
            return serializer.serialize_json(workflow)

        def load(state):
            workflow = serializer.deserialize_json(state)
            workflow.script_engine = store.SCRIPT_ENGINE
            return workflow
    else:
        dump, load = store.dump, (lambda state: store.load(state, parsed))
    steps, started = 0, time.perf_counter()
    for n in range(instances):
        workflow = store.new_workflow(parsed)
        workflow.mt_hooks = hooks
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update({"reviewers": [101, 102, 103]})
        workflow.do_engine_steps()
        state = dump(workflow)
        for form in ({"title": f"Request {n}", "amount": 50_000}, *({"opinion": "ok"},) * REVIEWERS):
            workflow = load(state)
            workflow.mt_hooks = hooks
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(form)
            task.data["outcome"] = "approve"
            task.internal_data[OUTCOME_KEY], task.internal_data[BY_KEY] = "approve", 1
            task.run()
            workflow.do_engine_steps()
            state = dump(workflow)
            steps += 1
        assert workflow.is_completed(), "the raw workflow did not finish"
    return steps, time.perf_counter() - started


# --- the kernel on a database ----------------------------------------------------------------

def make_app(url: str, instance: Path):
    os.environ["MEDTECH_INSTANCE"] = str(instance)
    from app import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-0123456789",
                       "TESTING": True, "REDIS_URL": ""})


def prepare(app) -> dict:
    """Migrate, sync the shipped processes, make a hospital and the people (no password hashing)."""
    import flask_migrate

    from app.core import sync
    from app.extensions import db
    from app.modules.accounts.models import Role, RoleGrant, User
    from app.modules.org.models import Department, Hospital

    with app.app_context():
        flask_migrate.upgrade()
        log.disabled = False  # alembic's logging setup disables the loggers that exist
        sync.run_all()
        hospital = Hospital(code="BENCH", name="Bench hospital")
        db.session.add(hospital)
        db.session.flush()
        department = Department(hospital_id=hospital.id, code="BENCH-D", name="Bench department",
                                category="clinical")
        db.session.add(department)
        role = db.session.query(Role).filter_by(code="physician").one()
        people = []
        for n in range(1 + REVIEWERS):
            user = User(username=f"bench{n}", password_hash="!", display_name=f"Bench {n}")
            user.grants.append(RoleGrant(role=role, scope="hospital"))
            db.session.add(user)
            people.append(user)
        db.session.commit()
        return {"department": department.id, "applicant": people[0].id, "reviewers": [p.id for p in people[1:]]}


def kernel_steps(app, people: dict, instances: int) -> tuple[int, float]:
    """(steps, seconds) of `instances` runs of the process through the runtime API."""
    from app.core import uow
    from app.extensions import db
    from app.modules.accounts.models import User
    from app.workflow import runtime
    from app.workflow.models import Instance

    with app.app_context():
        applicant = db.session.get(User, people["applicant"])
        reviewers = [db.session.get(User, uid) for uid in people["reviewers"]]
        # The acting users as a request has them (loaded by the login manager before any service
        # runs): detached, so that the commits do not expire them and reloading them is not
        # counted as the kernel's work.
        for user in (applicant, *reviewers):
            db.session.expunge(user)
        steps, started = 0, time.perf_counter()
        for n in range(instances):
            # As a page would: ids in hand (from the URL), the acting user loaded for each request.
            instance_id = runtime.start(applicant, PROCESS, department_id=people["department"],
                                        data={"reviewers": people["reviewers"]}).id
            uow.commit()
            [submit] = runtime.open_tasks(instance_id)
            runtime.complete(applicant, submit.id, data={"title": f"Request {n}", "amount": 50_000},
                             outcome="submit")
            uow.commit()
            steps += 1
            tasks = {t.assignee_id: t.id for t in runtime.open_tasks(instance_id)}
            for reviewer_id, reviewer in zip(people["reviewers"], reviewers):
                runtime.complete(reviewer, tasks[reviewer_id], data={"opinion": "ok"})
                uow.commit()
                steps += 1
        elapsed = time.perf_counter() - started
        assert db.session.get(Instance, instance_id).status == "completed", "the kernel did not finish"
        return steps, elapsed


# --- the inbox ---------------------------------------------------------------------------------

def _fill_tasks(app, target_open: int, users: list[int], instance_id: int, version_id: int, rng) -> None:
    """Add open tasks of other users (and candidate rows) until the table holds `target_open`."""
    from sqlalchemy import func, insert, select

    from app.extensions import db
    from app.workflow.models import Task, TaskCandidate

    with app.app_context():
        have = db.session.scalar(select(func.count()).select_from(Task).where(Task.status == "open")) or 0
        start = datetime(2025, 1, 1)
        batch = 20_000
        while have < target_open:
            n = min(batch, target_open - have)
            rows = [{"instance_id": instance_id, "spiff_id": f"bench-{have + i}", "spec": "review",
                     "name": "Review", "process_key": PROCESS, "status": "open",
                     "assignee_id": rng.choice(users) if (have + i) % 4 else None,
                     "created_at": start + timedelta(seconds=have + i)} for i in range(n)]
            db.session.execute(insert(Task), rows)
            new_ids = db.session.scalars(select(Task.id).where(Task.assignee_id.is_(None), Task.spiff_id.in_(
                [r["spiff_id"] for r in rows if r["assignee_id"] is None]))).all()
            if new_ids:
                db.session.execute(insert(TaskCandidate), [{"task_id": tid, "user_id": rng.choice(users)}
                                                           for tid in new_ids for _ in range(2)])
            db.session.commit()
            have += n
        del version_id


def _inbox_times(app, user_id: int, repeats: int) -> list[float]:
    from app.extensions import db
    from app.workflow import inbox

    with app.app_context():
        inbox.inbox(user_id)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            rows = inbox.inbox(user_id, limit=50)
            times.append((time.perf_counter() - started) * 1000)
            db.session.expunge_all()
        assert len(rows) == 50, "the bench user has 50 open tasks"
        return times


def inbox_database(app, people: dict, open_tasks: int) -> int:
    """Fill a database with `open_tasks` open tasks; the bench user (returned) has 30 assigned and
    20 candidate ones, the other ~2000 users the rest (a quarter of them pools with candidates)."""
    from sqlalchemy import insert, select

    from app.extensions import db
    from app.modules.accounts.models import User
    from app.workflow.models import Instance, Task, TaskCandidate

    rng = random.Random(11)
    with app.app_context():
        instance = db.session.scalar(select(Instance).limit(1))
        db.session.execute(insert(User), [{"username": f"inbox{n}", "password_hash": "!",
                                           "display_name": f"Inbox {n}", "active": True, "is_demo": False,
                                           "failed_logins": 0, "session_epoch": 0,
                                           "created_at": datetime(2025, 1, 1), "updated_at": datetime(2025, 1, 1)}
                                          for n in range(2000)])
        db.session.commit()
        users = list(db.session.scalars(select(User.id).where(User.username.like("inbox%"))))
        me = people["reviewers"][0]
        mine = [{"instance_id": instance.id, "spiff_id": f"mine-{i}", "spec": "review", "name": "Review",
                 "process_key": PROCESS, "status": "open", "assignee_id": me if i < 30 else None,
                 "created_at": datetime(2025, 6, 1) + timedelta(minutes=i)} for i in range(50)]
        db.session.execute(insert(Task), mine)
        pooled = db.session.scalars(select(Task.id).where(Task.spiff_id.like("mine-%"), Task.assignee_id.is_(None)))
        db.session.execute(insert(TaskCandidate), [{"task_id": tid, "user_id": me} for tid in pooled])
        db.session.commit()
        instance_id, version_id = instance.id, instance.process_version_id
    _fill_tasks(app, open_tasks, users, instance_id, version_id, rng)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
    return me


def commit_latency(app, samples: int = 50) -> float:
    """Median milliseconds of a one-row INSERT and its COMMIT on the app's database: the floor of
    any committed unit of work there (a durable commit waits for the disk)."""
    from app.extensions import db

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE bench_commit_probe (id serial PRIMARY KEY, at timestamp)"))
        times = []
        with db.engine.connect() as conn:
            for _ in range(samples):
                started = time.perf_counter()
                conn.execute(text("INSERT INTO bench_commit_probe (at) VALUES (now())"))
                conn.commit()
                times.append((time.perf_counter() - started) * 1000)
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE bench_commit_probe"))
        return statistics.median(times)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


# --- PostgreSQL scratch database ---------------------------------------------------------------

def postgres_scratch(url: str):
    import sqlalchemy as sa

    base = sa.engine.make_url(url).set(drivername="postgresql+psycopg2")
    try:
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{base.database}"'))
    except sa.exc.OperationalError as exc:
        log.warning("PostgreSQL unavailable (%s): skipping it", str(exc).splitlines()[0])
        return None, None

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)'))
        admin.dispose()

    return base.render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="under a minute: fewer instances, 100k tasks")
    parser.add_argument("--instances", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=6, help="measurements are interleaved in rounds")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="scratch database URL (created and dropped)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    # Our own handler: the migrations' logging setup replaces the root logger's.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    for noisy in ("alembic", "app", "SpiffWorkflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    instances = args.instances or (36 if args.quick else 200)
    small, large = 10_000, (100_000 if args.quick else 1_000_000)
    rounds = max(1, args.rounds)
    per_round = max(1, instances // rounds)
    workdir = Path(tempfile.mkdtemp(prefix="medtech-bench-"))

    apps = {"sqlite": make_app(f"sqlite:///{workdir / 'bench.db'}", workdir)}
    drop = None
    if not args.no_postgres:
        url, drop = postgres_scratch(args.postgres)
        if url is not None:
            apps["postgres"] = make_app(url, workdir)
    people = {name: prepare(app) for name, app in apps.items()}
    from app import freeze_startup_objects

    for name, app in apps.items():  # warm up: parsed specs, compiled expressions, statement caches
        kernel_steps(app, people[name], 2)
    raw_steps(5), raw_steps(5, full=False)
    # As a server process does after start (wsgi.py): what is loaded now stays out of the collector's
    # full passes, whose ~0.1 s pauses would otherwise land on whichever figure is being measured.
    freeze_startup_objects()

    # The machine may be busy with other work: measure everything in interleaved rounds, so that
    # each figure sees the same conditions, and add up.
    totals: dict[str, list[float]] = {key: [0, 0.0] for key in ("raw", "raw_state_only", *apps)}
    for round_no in range(rounds):
        for key, measure in (("raw", lambda: raw_steps(per_round)),
                             ("raw_state_only", lambda: raw_steps(per_round, full=False)),
                             *((name, (lambda a=app, p=people[name]: kernel_steps(a, p, per_round)))
                               for name, app in apps.items())):
            steps, seconds = measure()
            totals[key][0] += steps
            totals[key][1] += seconds
        log.info("round %s of %s done", round_no + 1, rounds)
    rate = {key: steps / seconds for key, (steps, seconds) in totals.items()}
    log.info("steps/s: %s", {key: round(value, 1) for key, value in rate.items()})
    commit_ms = commit_latency(apps["postgres"]) if "postgres" in apps else None
    if "postgres" in apps:
        with apps["postgres"].app_context():
            from app.extensions import db

            db.engine.dispose()
        drop()

    inbox_apps = {}
    for size in (small, large):
        folder = workdir / f"inbox-{size}"
        folder.mkdir()
        app = make_app(f"sqlite:///{folder / 'inbox.db'}", folder)
        inbox_people = prepare(app)
        kernel_steps(app, inbox_people, 1)
        inbox_apps[size] = (app, inbox_database(app, inbox_people, size))
        log.info("inbox database with %s open tasks ready", size)
    samples: dict[int, list[float]] = {small: [], large: []}
    repeats = 20 if args.quick else 100
    for _round in range(rounds * 2):
        for size, (app, user_id) in inbox_apps.items():
            samples[size] += _inbox_times(app, user_id, repeats)
    small_ms, large_ms = p95(samples[small]), p95(samples[large])
    kernel_pg = rate.get("postgres")
    result = {
        "process": PROCESS, "instances": per_round * rounds, "steps_per_instance": 1 + REVIEWERS,
        "raw_steps_per_s": round(rate["raw"], 1),
        "raw_state_only_steps_per_s": round(rate["raw_state_only"], 1),
        "kernel_steps_per_s_sqlite": round(rate["sqlite"], 1),
        "kernel_steps_per_s_postgres": None if kernel_pg is None else round(kernel_pg, 1),
        "ratio_sqlite": round(rate["sqlite"] / rate["raw"], 3),
        "ratio_postgres": None if kernel_pg is None else round(kernel_pg / rate["raw"], 3),
        # Context for ratio_postgres: what one durable commit (a one-row INSERT) costs on this server.
        "postgres_commit_ms": None if commit_ms is None else round(commit_ms, 3),
        "inbox_backend": "sqlite",
        "inbox_open_tasks_small": small,
        "inbox_open_tasks_large": large,
        "inbox_p95_ms_small": round(small_ms, 3),
        "inbox_p95_ms_large": round(large_ms, 3),
        "inbox_growth": round(large_ms / small_ms, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
