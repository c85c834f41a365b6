"""Benchmark: clinical data in (API, CSV, Excel vs PostgreSQL COPY) and doctor-metric pages
(pre-aggregated dashboard, rankings, drill-down vs a plain scan of all stays).

    .venv/bin/python bench/metrics.py --quick                # small demo, PostgreSQL if reachable, else SQLite
    .venv/bin/python bench/metrics.py --quick --backend sqlite
    .venv/bin/python bench/metrics.py                        # large demo (1M stays) on PostgreSQL

It makes its own database (a temporary SQLite file, or `medtech_bench_<pid>` on the PostgreSQL server
of BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432), loads the demo hospital, and
drops it at the end. Logs go to stderr; the last stdout line is one JSON object:

  api_rows_per_s, csv_rows_per_s, xlsx_rows_per_s  stays upserted per second end to end: the JSON API
                                                    in 5000-row batches (HTTP, token; bodies serialised
                                                    before the clock starts), a CSV and an Excel file
                                                    uploaded, checked and committed as on the page —
                                                    each with its full job: row checks, new patients,
                                                    upsert, unknown codes, metrics, history, audit
  copy_rows_per_s      PostgreSQL COPY of exactly the API's rows (as CSV text) into a bare table with
                       the same typed columns and no index (null on SQLite)
  copy_into_stays_rows_per_s  (context) the same rows COPYed straight into clinical_stay with its
                       indexes, rolled back: the ceiling of any import path into that table
  copy_into_tables_rows_per_s, ceiling_vs_copy  (context) the same, with each stay's new patient
                       COPYed into clinical_patient first: the least any import of these rows writes,
                       and its ratio to copy_rows_per_s — the bound of import_vs_copy
  import_vs_copy       best of API/CSV ÷ COPY (target ≥ 0.3; null on SQLite)
  dashboard_p95_ms     the data of a doctor's dashboard charts (the JSON endpoint's service)
  ranking_p95_ms       a rankings page query (window ranks over doctor-month metrics, first page)
  drilldown_p95_ms     a drill-down list (a doctor's stays in one month: count and first page)
  scan_ms              a plain aggregate over all stays (per doctor and month), median of 3
  dashboard_vs_scan    dashboard_p95_ms ÷ scan_ms (target ≤ 0.05)
plus context: backend, scale, stays, operations, prescriptions (after the imports), import_rows, demo_s
(the whole demo hospital), demo_clinical_s (its two clinical years, bulk-loaded, metrics rebuilt),
dashboard_http_p95_ms (through HTTP).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench.metrics")
PG_SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FIELDS = ("source_id", "patient_source_id", "patient_name", "admitted_at", "discharged_at",
          "discharge_department_code", "attending_employee_no", "discharge_method", "total_cost",
          "main_diagnosis_code", "main_diagnosis_name")


def _pg_admin():
    import sqlalchemy as sa

    url = sa.engine.make_url(PG_SERVER).set(drivername="postgresql+psycopg2")
    return url, sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def pg_reachable() -> bool:
    try:
        _url, admin = _pg_admin()
        with admin.connect():
            pass
        admin.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means: use SQLite
        return False


def make_database(backend: str, workdir: Path) -> tuple[str, callable]:
    import sqlalchemy as sa

    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    url, admin = _pg_admin()
    name = f"medtech_bench_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def fresh_client(app):
    """A test client whose requests each get their own app context (fresh `g`), as in production."""
    from flask.testing import FlaskClient

    class Client(FlaskClient):
        def open(self, *args, **kwargs):
            with self.application.app_context():
                return super().open(*args, **kwargs)

    app.test_client_class = Client
    return app.test_client()


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def timed(fn, n: int) -> list[float]:
    """Milliseconds of n calls (the garbage collector paused, so that its pauses do not land in one)."""
    import gc

    result = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(n):
            started = time.perf_counter()
            fn()
            result.append((time.perf_counter() - started) * 1000)
    finally:
        gc.enable()
    return result


def stay_rows(n: int, prefix: str, doctors: list[tuple[str, str]], rng: random.Random) -> list[dict]:
    """New stays as HIS sends them — in discharge order, for existing doctors, inside the demo's
    two years — with the patient's name on the front page (new patients are created)."""
    rows = []
    first = date(2025, 1, 1)
    days = sorted(int(rng.random() * 600) for _ in range(n))
    for i in range(n):
        employee_no, dept_code = doctors[int(rng.random() * len(doctors))]
        admitted = first + timedelta(days=days[i])
        los = 1 + int(rng.random() * 12)
        rows.append({
            "source_id": f"{prefix}{i:08d}", "patient_source_id": f"{prefix}P{i:08d}", "patient_name": "测试患者",
            "admitted_at": f"{admitted.isoformat()} 09:30",
            "discharged_at": f"{(admitted + timedelta(days=los))} 10:00",
            "discharge_department_code": dept_code, "attending_employee_no": employee_no,
            "discharge_method": "5" if rng.random() < 0.005 else "1",
            "total_cost": f"{5000 + rng.random() * 40000:.2f}",
            "main_diagnosis_code": "J18.900", "main_diagnosis_name": "肺炎"})
    return rows


def to_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    writer.writerows([r[f] for f in FIELDS] for r in rows)
    return buffer.getvalue().encode("utf-8")


def to_xlsx(rows: list[dict]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(list(FIELDS))
    for r in rows:
        ws.append([r[f] for f in FIELDS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def run(args) -> dict:
    backend = args.backend
    if backend == "auto":
        backend = "postgres" if pg_reachable() else "sqlite"
    scale = "small" if args.quick else "large"
    import_rows = args.rows or (10_000 if args.quick else 100_000)
    workdir = Path(tempfile.mkdtemp(prefix="medtech-bench-"))
    os.environ["MEDTECH_INSTANCE"] = str(workdir)
    url, drop = make_database(backend, workdir)
    try:
        return _measure(url, backend, scale, import_rows, args)
    finally:
        drop()


def _measure(url: str, backend: str, scale: str, import_rows: int, args) -> dict:
    import flask_migrate
    from sqlalchemy import func, select, text

    from app import create_app
    from app.core import sync, uow
    from app.demo import build_demo
    from app.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-0123456789", "REDIS_URL": "",
                      "LOG_LEVEL": "WARNING"})
    logging.getLogger("alembic").setLevel(logging.WARNING)
    result: dict = {"backend": backend, "scale": scale}
    with app.app_context():
        flask_migrate.upgrade()
        log.disabled = False  # Alembic's logging setup disables the loggers that exist before it
        sync.run_all()
        uow.commit()
        started = time.perf_counter()
        report = build_demo(scale=scale, password="demo")
        uow.commit()
        result["demo_s"] = round(time.perf_counter() - started, 1)
        result["demo_clinical_s"] = round(report.timings.get("clinical", 0), 1)
        log.info("demo %s loaded in %.1fs (clinical years %.1fs)", scale, result["demo_s"], result["demo_clinical_s"])

        from app.modules.clinical.models import Stay
        from app.modules.org.models import Department, Staff

        doctors = db.session.execute(
            select(Staff.employee_no, Department.code).join(Department, Department.id == Staff.department_id)
            .join(Stay, Stay.attending_id == Staff.id).distinct()).all()
        rng = random.Random(7)
        result.update(_imports(app, backend, import_rows, [tuple(d) for d in doctors], rng))
        db.session.remove()
        result["stays"] = db.session.scalar(select(func.count(Stay.id)))
        from app.modules.clinical.models import Operation, Prescription

        result["operations"] = db.session.scalar(select(func.count(Operation.id)))
        result["prescriptions"] = db.session.scalar(select(func.count(Prescription.id)))
        result["import_rows"] = import_rows
        result.update(_reads(app, rng))
        # A plain aggregate over all stays: what a dashboard would cost without pre-aggregation.
        scan_sql = text("SELECT attending_id, discharge_month, COUNT(*), SUM(total_cost), SUM(los_days) "
                        "FROM clinical_stay GROUP BY attending_id, discharge_month")
        scans = timed(lambda: db.session.execute(scan_sql).all(), 3)
        result["scan_ms"] = round(statistics.median(scans), 2)
        db.session.remove()
        db.engine.dispose()
    copy = result.get("copy_rows_per_s")
    best = max(result["api_rows_per_s"], result["csv_rows_per_s"])
    result["import_vs_copy"] = round(best / copy, 3) if copy else None
    result["dashboard_vs_scan"] = round(result["dashboard_p95_ms"] / result["scan_ms"], 4)
    return result


def _imports(app, backend: str, n: int, doctors, rng) -> dict:
    from app.extensions import db
    from app.modules.accounts import services as accounts
    from app.modules.accounts.models import User
    from app.modules.clinical.services import bulk, files, ingest
    from app.core import uow

    out: dict = {}
    admin = db.session.scalar(db.select(User).where(User.username == "admin"))
    _token, token = accounts.create_token(admin, "bench", ["clinical:read", "clinical:write"], None)
    uow.commit()
    client = fresh_client(app)
    headers = {"Authorization": f"Bearer {token}"}

    rows = api_rows = stay_rows(n, "BA", doctors, rng)
    # The bodies are serialised before the clock starts (as the CSV and Excel files are made before
    # theirs): what is timed is the server's work — HTTP, token, parsing, checking, writing, metrics.
    bodies = [json.dumps({"items": rows[start:start + ingest.MAX_BATCH]}, ensure_ascii=False).encode("utf-8")
              for start in range(0, n, ingest.MAX_BATCH)]
    headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    for body in bodies:
        response = client.post("/api/v1/clinical/stays", data=body, headers=headers)
        assert response.status_code == 200, response.get_json()
    elapsed = time.perf_counter() - started
    out["api_rows_per_s"] = round(n / elapsed)
    log.info("API: %d stays in %.2fs", n, elapsed)

    def file_import(rows, name, data):
        started = time.perf_counter()
        batch = files.create(admin, "stays", name, data)
        files.check(batch)
        assert batch.status == "checked", batch.errors[:3]
        files.commit(batch, admin)
        uow.commit()
        assert batch.status == "done"
        return time.perf_counter() - started

    rows = stay_rows(n, "BC", doctors, rng)
    elapsed = file_import(rows, "bench.csv", to_csv(rows))
    out["csv_rows_per_s"] = round(n / elapsed)
    log.info("CSV: %d stays in %.2fs", n, elapsed)

    xlsx_n = min(n, 2_000 if n <= 10_000 else 20_000)
    rows = stay_rows(xlsx_n, "BX", doctors, rng)
    data = to_xlsx(rows)
    elapsed = file_import(rows, "bench.xlsx", data)
    out["xlsx_rows_per_s"] = round(xlsx_n / elapsed)
    log.info("Excel: %d stays in %.2fs", xlsx_n, elapsed)

    if backend == "postgres":
        rows = api_rows  # exactly the rows the API took in
        text_rows = to_csv(rows).decode("utf-8").split("\n", 1)[1]
        db.session.execute(db.text(
            "CREATE TABLE bench_bare_stay (source_id varchar(40), patient_source_id varchar(40), "
            "patient_name varchar(60), admitted_at timestamp, discharged_at timestamp, "
            "discharge_department_code varchar(32), attending_employee_no varchar(32), discharge_method varchar(1), "
            "total_cost numeric(12, 2), main_diagnosis_code varchar(20), main_diagnosis_name varchar(120))"))
        uow.commit()
        started = time.perf_counter()
        bulk.copy_text("bench_bare_stay", FIELDS, text_rows)
        uow.commit()
        elapsed = time.perf_counter() - started
        out["copy_rows_per_s"] = round(n / elapsed)
        log.info("COPY: %d rows in %.2fs", n, elapsed)
        # The ceiling of any import path: the same stays COPYed straight into clinical_stay, whose
        # unique and secondary indexes must be maintained whatever writes to it.
        out["copy_into_stays_rows_per_s"] = _copy_into_stays(rows)
        # What the import must write at the least for these rows: each stay's new patient and the
        # stay, COPYed into their indexed tables (rolled back). Its ratio to COPY bounds import_vs_copy.
        out["copy_into_tables_rows_per_s"] = _copy_into_stays(rows, with_patients=True)
        out["ceiling_vs_copy"] = round(out["copy_into_tables_rows_per_s"] / out["copy_rows_per_s"], 3)
    else:
        out["copy_rows_per_s"] = None
    return out


def _copy_into_stays(rows: list[dict], with_patients: bool = False) -> int:
    from sqlalchemy import func, select

    from app.core import uow
    from app.extensions import db
    from app.modules.clinical.models import Patient, Stay
    from app.modules.org.models import Department, Staff
    from app.modules.clinical.services import bulk

    staff = dict(db.session.execute(select(Staff.employee_no, Staff.id)).all())
    departments = dict(db.session.execute(select(Department.code, Department.id)).all())
    patient = db.session.scalar(select(func.min(Patient.id)))
    next_patient = (db.session.scalar(select(func.max(Patient.id))) or 0) + 1
    next_id = (db.session.scalar(select(func.max(Stay.id))) or 0) + 1
    prefix = "BR" if with_patients else "BQ"
    columns = ("id", "source_id", "patient_id", "admitted_at", "discharged_at", "admit_department_id",
               "discharge_department_id", "attending_id", "discharge_method", "readmission_plan",
               "unplanned_readmission", "total_cost", "main_diagnosis_code", "main_diagnosis_name",
               "discharge_month", "los_days", "created_at", "updated_at")
    buffer, patients = io.StringIO(), io.StringIO()
    writer, patient_writer = csv.writer(buffer), csv.writer(patients)
    for i, r in enumerate(rows):
        dept = departments[r["discharge_department_code"]]
        if with_patients:
            patient = next_patient + i
            patient_writer.writerow((patient, prefix + r["patient_source_id"], r["patient_name"],
                                     "2026-11-01 00:00:00", "2026-11-01 00:00:00"))
        writer.writerow((next_id + i, prefix + r["source_id"], patient, r["admitted_at"], r["discharged_at"], dept,
                         dept, staff[r["attending_employee_no"]], r["discharge_method"], "f", "f", r["total_cost"],
                         r["main_diagnosis_code"], r["main_diagnosis_name"], r["discharged_at"][:8] + "01", 3,
                         "2026-11-01 00:00:00", "2026-11-01 00:00:00"))
    started = time.perf_counter()
    if with_patients:
        bulk.copy_text("clinical_patient", ("id", "source_id", "name", "created_at", "updated_at"),
                       patients.getvalue())
    bulk.copy_text("clinical_stay", columns, buffer.getvalue())
    elapsed = time.perf_counter() - started
    db.session.rollback()
    uow.commit()
    return round(len(rows) / elapsed)


def _reads(app, rng) -> dict:
    from flask import request
    from sqlalchemy import select

    from app.core.web import paginate
    from app.extensions import db
    from app.modules.accounts.models import User
    from app.modules.clinical import queries
    from app.modules.clinical.models import DoctorMonthMetric
    from app.modules.clinical.services import metrics
    from app.modules.clinical.views import dashboard_data, page_of_rows, ranking_rows

    out = {}
    start, end = metrics.default_period()
    pairs = db.session.execute(select(DoctorMonthMetric.staff_id, DoctorMonthMetric.month)
                               .where(DoctorMonthMetric.discharges > 0)).all()
    doctors = sorted({p[0] for p in pairs})
    medaffairs = db.session.scalar(select(User).where(User.username == "medaffairs"))
    samples = 200

    with app.test_request_context("/clinical/doctors/1"):
        dash = timed(lambda: dashboard_data(rng.choice(doctors), start, end), samples)
    out["dashboard_p95_ms"] = round(p95(dash), 2)

    keys = list(metrics.METRICS)

    def one_ranking():
        with app.test_request_context(f"/clinical/rankings?metric={rng.choice(keys)}"):
            _metric, _s, _e, stmt = ranking_rows(medaffairs, request.args)
            page_of_rows(db.session.execute(stmt).all())

    out["ranking_p95_ms"] = round(p95(timed(one_ranking, 60)), 2)

    def one_drilldown():
        staff_id, month = rng.choice(pairs)
        m = month.strftime("%Y-%m")
        with app.test_request_context(f"/clinical/stays?staff_id={staff_id}&from={m}&to={m}"):
            paginate(queries.stays(medaffairs, request.args))

    out["drilldown_p95_ms"] = round(p95(timed(one_drilldown, 100)), 2)

    # The same dashboard data through HTTP, as the browser loads it (for context).
    client = fresh_client(app)
    page = client.get("/login").get_data(as_text=True)
    import re

    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or \
        re.search(r'name="csrf-token" content="([^"]+)"', page)
    csrf = match.group(1)
    client.post("/login", data={"username": "medaffairs", "password": "demo", "csrf_token": csrf})
    frm, to = start.strftime("%Y-%m"), end.strftime("%Y-%m")
    http = timed(lambda: client.get(f"/clinical/doctors/{rng.choice(doctors)}/data.json?from={frm}&to={to}"), 100)
    out["dashboard_http_p95_ms"] = round(p95(http), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small demo, under a minute")
    parser.add_argument("--backend", choices=("auto", "sqlite", "postgres"), default=None)
    parser.add_argument("--rows", type=int, default=None, help="stays per import measurement")
    args = parser.parse_args()
    args.backend = args.backend or ("auto" if args.quick else "postgres")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    result = run(args)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
