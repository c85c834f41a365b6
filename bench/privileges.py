"""Benchmark: the live privilege check against a trivial endpoint, with 5,000 staff and 1M grants.

Makes its own database (a fresh PostgreSQL database when the local server answers, else SQLite in a
temporary directory; or --database-url) and its own server (Werkzeug on a free port in a thread,
HTTP/1.1 keep-alive). Loads the tiny demo hospital (catalog, drug dictionary, rights), then adds
staff up to 5,000 and grants up to 1,000,000 (each doctor ~100 items, each with an expired term and
the current one; --quick: 500 staff, 50,000 grants) written in bulk.

Measured over real HTTP with a bearer token (scope privileges:read), interleaved so that both see
the same conditions: `GET /api/v1/privileges/check` for random (doctor, surgery/drug code) pairs —
allowed and refused answers, today and past dates — and `GET /api/v1/privileges/ping`, which does
the same authentication and nothing else. Then `POST /api/v1/privileges/check` batches of 200.

    .venv/bin/python bench/privileges.py [--quick] [--requests N] [--database-url URL]

Logs go to stderr; the last stdout line is one JSON object with check_p50_ms, check_p99_ms,
trivial_p50_ms, trivial_p99_ms, check_vs_trivial (p99 over p99), batch_checks_per_s.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench.privileges")

FULL = {"staff": 5_000, "grants": 1_000_000}
QUICK = {"staff": 500, "grants": 50_000}
TARGET = {"check_vs_trivial": 1.5}
PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"


# --- the database -----------------------------------------------------------------------------------

def own_database(url: str | None, tmp: Path) -> tuple[str, callable]:
    """(database URL, cleanup): the given URL, a fresh PostgreSQL database, or a SQLite file."""
    if url:
        return url, lambda: None
    import sqlalchemy as sa

    name = f"medtech_bench_privileges_{os.getpid()}"
    try:
        admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        log.info("PostgreSQL not reachable (%s): using SQLite", str(exc).splitlines()[0])
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG_SERVER}/{name}", drop


def make_app(url: str, instance: Path):
    os.environ["MEDTECH_INSTANCE"] = str(instance)
    from app import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-0123456789", "REDIS_URL": "",
                       "TESTING": False, "LOG_LEVEL": "WARNING"})


def seed(app, shape: dict) -> dict:
    """The tiny demo plus bulk staff and grants; returns what the requests are drawn from."""
    import flask_migrate

    from app.core import sync, uow
    from app.demo import build_demo
    from app.extensions import db

    with app.test_request_context():
        started = time.perf_counter()
        flask_migrate.upgrade()
        log.disabled = False  # alembic's logging setup disables the loggers that exist before it
        sync.run_all()
        build_demo(scale="tiny", password="demo")
        uow.commit()
        log.info("demo hospital loaded (%.1fs)", time.perf_counter() - started)
        data = _bulk(db, shape)
        uow.commit()
        _analyze(db)
        uow.commit()
        data["token"] = _token(db)
        uow.commit()
        log.info("seeded in %.1fs", time.perf_counter() - started)
        return data


def _bulk(db, shape: dict) -> dict:
    from sqlalchemy import func, select

    from app.modules.catalog.models import CatalogItem, CatalogItemCode
    from app.modules.clinical.models import Drug
    from app.modules.clinical.services import bulk
    from app.modules.org.models import Department, Hospital, Staff
    from app.modules.privileges.models import Grant, PrivilegeRight

    rng = random.Random(20260301)
    hospital_id = db.session.scalar(select(Hospital.id))
    departments = list(db.session.scalars(select(Department.id).where(Department.category == "clinical")))
    have = db.session.scalar(select(func.count()).select_from(Staff))
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    titles = ("resident", "attending", "assoc_chief", "chief")
    rows = []
    for n in range(max(0, shape["staff"] - have)):
        rows.append((hospital_id, f"B{n:06d}", f"基准医师{n:05d}", "M", rng.choice(departments), "physician",
                     rng.choice(titles), "2018-07-01", "临床", "外科专业", "2010-08-01", "active", now, now))
    bulk.write_rows("staff", ("hospital_id", "employee_no", "name", "gender", "department_id", "staff_type",
                              "title_code", "title_since", "practice_category", "practice_scope", "hire_date",
                              "status", "created_at", "updated_at"), rows)
    staff = [tuple(r) for r in db.session.execute(select(Staff.id, Staff.employee_no)
                                                  .where(Staff.staff_type == "physician"))]
    items = db.session.execute(select(CatalogItem.id, CatalogItem.name, CatalogItem.level, CatalogItem.kind)
                               .where(CatalogItem.kind.in_(("surgery", "diagnostic", "therapeutic",
                                                            "interventional", "endoscopic", "restricted")))).all()
    codes: dict[int, list[str]] = {}
    for item_id, code in db.session.execute(select(CatalogItemCode.item_id, CatalogItemCode.code)):
        codes.setdefault(item_id, []).append(code)
    items = [i for i in items if i.id in codes]
    rights = db.session.execute(select(PrivilegeRight.code, PrivilegeRight.group_key, PrivilegeRight.rank,
                                       PrivilegeRight.name, PrivilegeRight.ptype)
                                .where(PrivilegeRight.ptype.like("rx_%"))).all()
    per_staff = max(2, shape["grants"] // max(1, len(staff)))
    keys = [("item", i) for i in items] + [("right", r) for r in rights]
    today = date.today()
    grants, held = [], {}
    for staff_id, employee_no in staff:
        chosen = rng.sample(keys, min(len(keys), per_staff // 2))
        for kind, spec in chosen:
            start = today - timedelta(days=rng.randrange(200, 1200))
            old_end = today - timedelta(days=rng.randrange(1, 180))
            new_start = old_end + timedelta(days=1)
            new_end = today + timedelta(days=rng.randrange(30, 1000))
            status = "active" if rng.random() > 0.02 else "suspended"
            if kind == "item":
                key, ptype, level, item_id, right = f"item:{spec.id}", "surgery", spec.level, spec.id, None
            else:
                key, ptype, level, item_id, right = spec.group_key, spec.ptype, spec.rank, None, spec.code
            name = spec.name
            for s, e, st in ((start, old_end, "expired"), (new_start, new_end, status)):
                grants.append((staff_id, ptype, key, item_id, right, name, level, s.isoformat(), e.isoformat(), st,
                               False, "import", now, now))
            held.setdefault(employee_no, []).append((kind, spec))
    total = bulk.write_rows(Grant.__tablename__, (
        "staff_id", "ptype", "item_key", "item_id", "right_code", "item_name", "level", "start_date", "end_date",
        "status", "has_changes", "source", "created_at", "updated_at"), grants)
    log.info("%d staff, %d grants written", len(staff), total)
    drugs = list(db.session.scalars(select(Drug.code)))
    return {"staff": [no for _id, no in staff], "held": held, "codes": codes,
            "item_codes": [codes[i.id][0] for i in items], "drugs": drugs, "grants": total}


def _analyze(db) -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE privilege_grant; ANALYZE staff; ANALYZE catalog_item_code"))
    else:
        db.session.execute(db.text("ANALYZE"))


def _token(db) -> str:
    from sqlalchemy import select

    from app.modules.accounts import services as accounts
    from app.modules.accounts.models import User

    admin = db.session.scalar(select(User).where(User.username == "admin"))
    _row, text = accounts.create_token(admin, "bench", ["privileges:read"], None)
    return text


# --- the server and the client ---------------------------------------------------------------------

def serve(app):
    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAlive(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, *args, **kwargs):  # quiet
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True, name="bench-server").start()
    return server


class Client:
    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> tuple[int, float, bytes]:
        started = time.perf_counter()
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        return response.status, (time.perf_counter() - started) * 1000, body

    def post(self, path: str, payload) -> tuple[int, float, bytes]:
        data = json.dumps(payload).encode()
        started = time.perf_counter()
        self.connection.request("POST", path, body=data,
                                headers={**self.headers, "Content-Type": "application/json"})
        response = self.connection.getresponse()
        body = response.read()
        return response.status, (time.perf_counter() - started) * 1000, body


def _queries(data: dict, rng, n: int) -> list[dict]:
    """Half about what the doctor holds (mostly allowed), half random (mostly refused); some drugs,
    some past dates."""
    today = date.today()
    queries = []
    for _ in range(n):
        staff = rng.choice(data["staff"])
        held = data["held"].get(staff) or []
        on = today if rng.random() < 0.8 else today - timedelta(days=rng.randrange(1, 700))
        if held and rng.random() < 0.5:
            kind, spec = rng.choice(held)
            if kind == "item":
                query = {"staff": staff, "kind": "surgery", "code": data["codes"][spec.id][0]}
            else:
                query = {"staff": staff, "kind": "drug", "code": rng.choice(data["drugs"])}
        elif rng.random() < 0.7:
            query = {"staff": staff, "kind": "surgery", "code": rng.choice(data["item_codes"])}
        else:
            query = {"staff": staff, "kind": "drug", "code": rng.choice(data["drugs"])}
        query["date"] = on.isoformat()
        queries.append(query)
    return queries


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))], 3)


def measure(client: Client, data: dict, requests: int, batches: int) -> dict:
    rng = random.Random(7)
    queries = _queries(data, rng, requests)
    for query in queries[:200]:  # warm up: maps, caches, connections
        client.get("/api/v1/privileges/check?" + urlencode(query))
        client.get("/api/v1/privileges/ping")
    check, trivial, allowed = [], [], 0
    for query in queries:
        status, ms, body = client.get("/api/v1/privileges/check?" + urlencode(query))
        assert status in (200, 404), (status, body[:200])
        allowed += json.loads(body).get("allowed") is True
        check.append(ms)
        status, ms, _body = client.get("/api/v1/privileges/ping")
        assert status == 200
        trivial.append(ms)
    started = time.perf_counter()
    checked = 0
    for _ in range(batches):
        items = _queries(data, rng, 200)
        status, _ms, body = client.post("/api/v1/privileges/check", {"items": items})
        assert status == 200, body[:200]
        checked += len(json.loads(body)["results"])
    batch_seconds = time.perf_counter() - started
    return {"check": check, "trivial": trivial, "allowed_share": round(allowed / len(queries), 3),
            "batch_checks_per_s": round(checked / batch_seconds, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 staff and 50,000 grants")
    parser.add_argument("--requests", type=int, help="check requests (and as many trivial ones)")
    parser.add_argument("--database-url", help="an empty database to use instead of a fresh one")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    shape = QUICK if args.quick else FULL
    requests = args.requests or (1000 if args.quick else 5000)
    with tempfile.TemporaryDirectory(prefix="medtech-bench-") as tmp:
        url, cleanup = own_database(args.database_url, Path(tmp))
        try:
            app = make_app(url, Path(tmp))
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            data = seed(app, shape)
            server = serve(app)
            client = Client(server.server_port, data["token"])
            log.info("measuring %d checks and %d trivial requests", requests, requests)
            result = measure(client, data, requests, 10 if args.quick else 50)
            server.shutdown()
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()
        finally:
            cleanup()
    check, trivial = result["check"], result["trivial"]
    out = {
        "backend": "postgresql" if url.startswith("postgres") else "sqlite",
        "staff": len(data["staff"]), "grants": data["grants"], "requests": requests,
        "allowed_share": result["allowed_share"],
        "check_p50_ms": round(statistics.median(check), 3), "check_p99_ms": _pct(check, 0.99),
        "trivial_p50_ms": round(statistics.median(trivial), 3), "trivial_p99_ms": _pct(trivial, 0.99),
        "batch_checks_per_s": result["batch_checks_per_s"],
    }
    out["check_vs_trivial"] = round(out["check_p99_ms"] / out["trivial_p99_ms"], 2)
    out["check_vs_trivial_p50"] = round(out["check_p50_ms"] / out["trivial_p50_ms"], 2)
    out["target"] = TARGET
    out["target_met"] = out["check_vs_trivial"] <= TARGET["check_vs_trivial"]
    return out


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
