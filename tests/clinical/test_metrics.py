"""Doctor metrics R1.5–R1.7: every figure equals a direct SQL count over the records, stays equal to
a full rebuild under incremental upserts, drills down to exactly its rows, ranks, and respects scope."""
from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import Boolean, DateTime, Integer, Numeric, String, select, text

from app.extensions import db
from app.modules.accounts.models import User
from app.modules.clinical.models import DoctorMonthMetric
from app.modules.clinical.services import metrics
from tests.clinical.helpers import create_ward, operation_row, send, stay_row

TITLE = {"resident": 1, "attending": 2, "assoc_chief": 3, "chief": 4}
PERIOD = (date(2024, 11, 1), date(2026, 10, 1))  # the demo's two years


def _bounds(start: date, end: date) -> dict:
    after = metrics.add_months(end, 1)
    return {"lo": f"{start.isoformat()} 00:00:00", "hi": f"{after.isoformat()} 00:00:00"}


def direct(staff_id: int, start: date, end: date) -> dict:
    """The figures of one doctor straight from the records, without the metric tables."""
    params = {"s": staff_id, **_bounds(start, end)}
    stays = db.session.execute(text(
        "SELECT admitted_at, discharged_at, discharge_method, total_cost, unplanned_readmission "
        "FROM clinical_stay WHERE attending_id = :s AND discharged_at >= :lo AND discharged_at < :hi")
        .columns(admitted_at=DateTime, discharged_at=DateTime, discharge_method=String, total_cost=Numeric,
                 unplanned_readmission=Boolean), params).all()
    los = [max(1, (s.discharged_at.date() - s.admitted_at.date()).days) for s in stays]
    ops = db.session.execute(text(
        "SELECT o.level, o.performed_at, o.unplanned_reoperation, st.title_code, st.title_since "
        "FROM clinical_operation o JOIN staff st ON st.id = o.surgeon_id "
        "WHERE o.surgeon_id = :s AND o.performed_at >= :lo AND o.performed_at < :hi")
        .columns(level=Integer, performed_at=DateTime, unplanned_reoperation=Boolean), params).all()

    def ceiling(op) -> int:
        level = TITLE.get(op.title_code, 99)
        since = op.title_since if isinstance(op.title_since, date) else date.fromisoformat(str(op.title_since))
        return max(1, level - 1) if op.performed_at.date() < since else level

    surgical = db.session.execute(text(
        "SELECT COUNT(DISTINCT st.id), COUNT(DISTINCT CASE WHEN st.discharge_method = '5' THEN st.id END) "
        "FROM clinical_stay st WHERE st.discharged_at >= :lo AND st.discharged_at < :hi AND EXISTS "
        "(SELECT 1 FROM clinical_operation o WHERE o.stay_id = st.id AND o.surgeon_id = :s)"), params).one()
    complicated = db.session.scalar(text(
        "SELECT COUNT(DISTINCT st.id) FROM clinical_stay st JOIN clinical_complication c ON c.stay_id = st.id "
        "WHERE st.attending_id = :s AND st.discharged_at >= :lo AND st.discharged_at < :hi"), params)
    n_ops = len(ops)
    levels = {n: sum(1 for o in ops if o.level == n) for n in (1, 2, 3, 4)}
    figures = {
        "discharges": len(stays), "operations": n_ops,
        "total_cost": sum((Decimal(str(s.total_cost)) for s in stays), Decimal(0)),
        "avg_los": sum(los) / len(stays) if stays else None,
        "avg_cost": float(sum(Decimal(str(s.total_cost)) for s in stays)) / len(stays) if stays else None,
        "unplanned_readmissions": sum(1 for s in stays if s.unplanned_readmission),
        "ops_above_level": sum(1 for o in ops if o.level > ceiling(o)),
        "deaths": sum(1 for s in stays if s.discharge_method == "5"),
        "surgical_mortality": surgical[1] / surgical[0] if surgical[0] else None,
        "complications": complicated,
        "reoperation_rate": sum(1 for o in ops if o.unplanned_reoperation) / n_ops if n_ops else None,
        "long_stays": sum(1 for n in los if n > 30),
    }
    for n in (1, 2, 3, 4):
        figures[f"ops_level{n}"] = levels[n]
        figures[f"level{n}_share"] = levels[n] / n_ops if n_ops else None
    return figures


def _doctors_with_data() -> list[int]:
    return list(db.session.scalars(select(DoctorMonthMetric.staff_id).distinct().order_by(DoctorMonthMetric.staff_id)))


def _assert_same(staff_id, start, end, keys):
    totals = metrics.totals(staff_id, start, end)
    expected = direct(staff_id, start, end)
    for key in keys:
        got = metrics.value_of(metrics.METRICS[key], totals)
        want = expected[key]
        if want is None or got is None:
            assert got == want, (staff_id, key, got, want)
        else:
            assert float(got) == pytest.approx(float(want), abs=0.005), (staff_id, key, got, want)


R15 = ("discharges", "operations", "total_cost")
R16 = ("avg_los", "avg_cost", "ops_level1", "ops_level2", "ops_level3", "ops_level4", "level1_share",
       "level2_share", "level3_share", "level4_share")
R17 = ("unplanned_readmissions", "ops_above_level", "deaths", "surgical_mortality", "complications",
       "reoperation_rate", "long_stays")


@pytest.mark.req("R1.5")
def test_workload_figures_equal_direct_sql_counts(ctx):
    doctors = _doctors_with_data()
    assert len(doctors) > 10
    for staff_id in doctors:
        _assert_same(staff_id, *PERIOD, R15)
        _assert_same(staff_id, date(2026, 3, 1), date(2026, 5, 1), R15)


@pytest.mark.req("R1.6")
def test_efficiency_figures_equal_direct_sql_counts(ctx):
    for staff_id in _doctors_with_data():
        _assert_same(staff_id, *PERIOD, R16)


@pytest.mark.req("R1.7")
def test_quality_and_safety_figures_equal_direct_sql_counts(ctx):
    doctors = _doctors_with_data()
    for staff_id in doctors:
        _assert_same(staff_id, *PERIOD, R17)
    # The planted anomalies show up in the figures of the whole hospital.
    total = {k: sum(metrics.totals(s, *PERIOD)[k] for s in doctors)
             for k in ("ops_above_level", "unplanned_readmissions", "long_stays", "reoperations", "complications")}
    assert all(v >= 3 for v in total.values()), total


@pytest.mark.req("R1.5")
@pytest.mark.req("R1.7")
def test_incremental_upserts_keep_the_metrics_equal_to_a_full_rebuild(ctx):
    ward = create_ward()
    stays = [stay_row(ward), stay_row(ward, doctor=ward.resident, discharge_method="5"),
             stay_row(ward, discharged_at="2026-04-02 10:00", unplanned_readmission="1")]
    send("stays", stays)
    send("operations", [operation_row(stays[0], ward.chief, level="4"),
                        operation_row(stays[1], ward.resident, level="3"),  # above a resident's level
                        operation_row(stays[2], ward.attending, unplanned_reoperation="1",
                                      performed_at="2026-03-20 09:00")])
    send("complications", [dict(source_id="TCX-1", stay_source_id=stays[1]["source_id"], code="T81.400")])
    # The same surgeon again on the same stay (one surgical patient, two operations); a second
    # complication of the same stay (one case with complications).
    send("operations", [operation_row(stays[0], ward.chief, level="1", performed_at="2026-03-05 09:00"),
                        operation_row(stays[0], ward.chief, level="2", performed_at="2026-03-06 09:00")])
    send("complications", [dict(source_id="TCX-2", stay_source_id=stays[1]["source_id"], code="I80.200"),
                           dict(source_id="TCX-3", stay_source_id=stays[1]["source_id"], code="T81.000")])
    chief = db.session.get(DoctorMonthMetric, (ward.chief.id, date(2026, 3, 1)))
    assert (chief.operations, chief.surgical_patients) == (3, 1)
    march = date(2026, 3, 1)
    resident = db.session.get(DoctorMonthMetric, (ward.resident.id, march))
    assert (resident.discharges, resident.deaths, resident.ops_above_level, resident.complications) == (1, 1, 1, 1)
    # Move a stay to another doctor and month, and a death to a recovery: old and new doctor-months change.
    stays[1].update(attending_employee_no=ward.attending.employee_no, discharged_at="2026-04-03 10:00",
                    discharge_method="1")
    send("stays", stays)
    ids = [ward.chief.id, ward.attending.id, ward.resident.id]

    def snapshot():
        rows = db.session.scalars(select(DoctorMonthMetric).where(DoctorMonthMetric.staff_id.in_(ids))
                                  .order_by(DoctorMonthMetric.staff_id, DoctorMonthMetric.month)).all()
        return [tuple(getattr(r, f) for f in ("staff_id", "month", *metrics.COUNT_FIELDS)) for r in rows
                if any(getattr(r, f) for f in metrics.COUNT_FIELDS)]

    incremental = snapshot()
    metrics.rebuild()
    assert snapshot() == incremental
    april = date(2026, 4, 1)
    attending = db.session.get(DoctorMonthMetric, (ward.attending.id, april))
    assert (attending.discharges, attending.unplanned_readmissions, attending.complications) == (2, 1, 1)
    resident_after = db.session.get(DoctorMonthMetric, (ward.resident.id, march))
    assert resident_after.discharges == 0 and resident_after.ops_above_level == 1


def _total(page: str) -> int:
    """The row count a list page shows (0 for its empty state)."""
    match = re.search(r"(?:共 (\d+) 条|(\d+) in total)", page)
    if match is None:
        assert "bi-inbox" in page, page[:300]
        return 0
    return int(match.group(1) or match.group(2))


@pytest.mark.req("R1.5")
@pytest.mark.req("R1.6")
@pytest.mark.req("R1.7")
def test_every_figure_drills_down_to_exactly_its_rows(client, login, ctx):
    busiest = db.session.execute(select(DoctorMonthMetric.staff_id).group_by(DoctorMonthMetric.staff_id)
                                 .order_by(db.func.sum(DoctorMonthMetric.operations).desc()).limit(1)).scalar()
    login("medaffairs")
    start, end = PERIOD
    page = client.get(f"/clinical/doctors/{busiest}?from=2024-11&to=2026-10").get_data(as_text=True)
    totals = metrics.totals(busiest, start, end)
    checked = 0
    for key in ("discharges", "operations", "ops_level1", "ops_level2", "ops_level3", "ops_level4", "deaths",
                "unplanned_readmissions", "ops_above_level", "complications", "long_stays"):
        metric = metrics.METRICS[key]
        url = re.search(r'href="([^"]+)"[^>]*>\s*<div class="card-body p-2">\s*<div class="text-secondary small">'
                        + re.escape(str(metric.label)), page)
        assert url, key
        listed = client.get(url.group(1).replace("&amp;", "&")).get_data(as_text=True)
        assert _total(listed) == totals[metric.numerator], key
        checked += 1
    surgical = metrics.METRICS["surgical_mortality"]
    from app.modules.clinical.views import drill_url

    with client.application.test_request_context():
        url = drill_url(surgical, busiest, start, end)
    assert _total(client.get(url).get_data(as_text=True)) == totals["surgical_deaths"]
    data = client.get(f"/clinical/doctors/{busiest}/data.json?from=2024-11&to=2026-10").get_json()
    assert len(data["months"]) == 24
    assert sum(data["series"]["discharges"]["values"]) == totals["discharges"]
    assert "__M__" in data["series"]["operations"]["url"]
    month = data["months"][-3]
    listed = client.get(data["series"]["operations"]["url"].replace("__M__", month)).get_data(as_text=True)
    assert _total(listed) == data["series"]["operations"]["values"][-3]
    assert checked == 11
    sheet = load_workbook(io.BytesIO(client.get(f"/clinical/doctors/{busiest}/metrics.xlsx?from=2024-11&to=2026-10")
                                     .data)).active
    assert sheet.max_row == 1 + 24 + 1 and sheet.cell(26, 2).value == f"{totals['discharges']:,}"


@pytest.mark.req("R1.5")
def test_rankings_use_window_ranks_over_the_hospital_department_and_title(client, login, ctx):
    start, end = PERIOD
    metric = metrics.METRICS["discharges"]
    ranked = metrics.ranking_query(metric, start, end)
    rows = db.session.execute(select(ranked)).all()
    values = {r.staff_id: r.value for r in rows}
    for r in rows:
        assert r.rank_hospital == 1 + sum(1 for v in values.values() if v > r.value)
        assert r.n_hospital == len(rows)
        same_dept = [x for x in rows if x.department_id == r.department_id]
        assert r.rank_department == 1 + sum(1 for x in same_dept if x.value > r.value)
        same_title = [x for x in rows if x.title_level == r.title_level]
        assert (r.rank_title, r.n_title) == (1 + sum(1 for x in same_title if x.value > r.value), len(same_title))
    top = min(rows, key=lambda r: r.rank_hospital)
    mine = metrics.ranks_for(top.staff_id, start, end, ["discharges"])["discharges"]
    assert (mine.hospital, mine.department, mine.title) == (top.rank_hospital, top.rank_department, top.rank_title)
    login("medaffairs")
    page = client.get("/clinical/rankings?metric=discharges&from=2024-11&to=2026-10").get_data(as_text=True)
    assert f"{top.rank_hospital}<small class=\"text-secondary\">/{len(rows)}</small>" in page
    export = client.get("/clinical/rankings.xlsx?metric=avg_los&from=2024-11&to=2026-10")
    sheet = load_workbook(io.BytesIO(export.data)).active
    assert sheet.max_row - 1 == _total(client.get("/clinical/rankings?metric=avg_los&from=2024-11&to=2026-10")
                                       .get_data(as_text=True))


def _staff_of(username: str) -> int:
    return db.session.scalar(select(User.staff_id).where(User.username == username))


@pytest.mark.req("R1.5")
def test_a_doctor_sees_only_their_own_figures_and_rows(client, login, ctx):
    me = _staff_of("doctor")
    login("doctor")
    home = client.get("/clinical/")
    assert home.status_code == 302 and f"/clinical/doctors/{me}" in home.location
    assert client.get(f"/clinical/doctors/{me}").status_code == 200
    other = db.session.scalar(select(DoctorMonthMetric.staff_id).where(DoctorMonthMetric.staff_id != me))
    assert client.get(f"/clinical/doctors/{other}").status_code == 404
    assert client.get(f"/clinical/doctors/{other}/data.json").status_code == 404
    ranking = client.get("/clinical/rankings?from=2024-11&to=2026-10").get_data(as_text=True)
    assert _total(ranking) <= 1
    own = db.session.scalar(text(
        "SELECT COUNT(*) FROM clinical_stay s WHERE s.attending_id = :m OR s.responsible_id = :m OR EXISTS "
        "(SELECT 1 FROM clinical_operation o WHERE o.stay_id = s.id AND o.surgeon_id = :m)"), {"m": me})
    assert _total(client.get("/clinical/stays").get_data(as_text=True)) == own
    foreign = db.session.scalar(text("SELECT MIN(id) FROM clinical_stay WHERE attending_id <> :m AND "
                                     "(responsible_id IS NULL OR responsible_id <> :m)"), {"m": me})
    if foreign and foreign not in db.session.scalars(text(
            "SELECT stay_id FROM clinical_operation WHERE surgeon_id = :m"), {"m": me}).all():
        assert client.get(f"/clinical/stays/{foreign}").status_code == 404
    sheet = load_workbook(io.BytesIO(client.get("/clinical/stays.xlsx").data)).active
    assert sheet.max_row - 1 == own


@pytest.mark.req("R1.6")
def test_a_department_head_sees_the_department_and_medical_affairs_everything(client, login, ctx):
    head = db.session.get(__import__("app.modules.org.models", fromlist=["Staff"]).Staff, _staff_of("head"))
    login("head")
    ranking = client.get("/clinical/rankings?from=2024-11&to=2026-10").get_data(as_text=True)
    in_dept = db.session.scalar(text(
        "SELECT COUNT(DISTINCT m.staff_id) FROM doctor_month_metric m JOIN staff s ON s.id = m.staff_id "
        "WHERE s.department_id = :d AND m.discharges > 0"), {"d": head.department_id})
    assert _total(ranking) == in_dept
    stays = _total(client.get("/clinical/stays").get_data(as_text=True))
    assert stays == db.session.scalar(text("SELECT COUNT(*) FROM clinical_stay WHERE discharge_department_id = :d"),
                                      {"d": head.department_id})
    outsider = db.session.scalar(text(
        "SELECT MIN(m.staff_id) FROM doctor_month_metric m JOIN staff s ON s.id = m.staff_id "
        "WHERE s.department_id <> :d"), {"d": head.department_id})
    assert client.get(f"/clinical/doctors/{outsider}").status_code == 404
    client.post("/logout", data={"csrf_token": __import__("tests.conftest", fromlist=["x"]).csrf_token(client)})
    login("medaffairs")
    assert client.get(f"/clinical/doctors/{outsider}").status_code == 200
    everyone = _total(client.get("/clinical/rankings?from=2024-11&to=2026-10").get_data(as_text=True))
    assert everyone == db.session.scalar(text("SELECT COUNT(DISTINCT staff_id) FROM doctor_month_metric "
                                              "WHERE discharges > 0"))
    assert _total(client.get("/clinical/stays").get_data(as_text=True)) == db.session.scalar(
        text("SELECT COUNT(*) FROM clinical_stay"))


@pytest.mark.req("R1.7")
def test_out_of_scope_operations_follow_the_title_held_on_the_day_and_a_registered_ceiling(ctx):
    from app.modules.clinical.services import ceiling

    ward = create_ward()
    ward.attending.title_since = date(2026, 3, 10)  # was a resident before
    db.session.flush()
    stay = stay_row(ward, doctor=ward.attending)
    send("stays", [stay])
    send("operations", [operation_row(stay, ward.attending, level="2", performed_at="2026-03-04 09:00"),
                        operation_row(stay, ward.attending, level="2", performed_at="2026-03-09 09:00",
                                      source_id="TLATE")])
    row = db.session.get(DoctorMonthMetric, (ward.attending.id, date(2026, 3, 1)))
    assert (row.operations, row.ops_above_level) == (2, 2)
    assert ceiling.level_ceiling(ward.attending.id, date(2026, 3, 10)) == 2

    def grant(staff_id, on_date):  # e.g. the privileges module: this surgeon holds level 3
        return 3 if staff_id == ward.attending.id else None

    ceiling.register_level_ceiling(grant)
    try:
        assert ceiling.refresh_above_level([ward.attending.id]) == 2
        metrics.refresh([(ward.attending.id, date(2026, 3, 1))])
        assert db.session.get(DoctorMonthMetric, (ward.attending.id, date(2026, 3, 1))).ops_above_level == 0
    finally:
        ceiling.unregister_level_ceiling(grant)
