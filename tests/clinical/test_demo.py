"""The synthetic hospital years (R15.1): clinical data consistent with the staff, anomalies planted in
fixed counts per kind, and a ground-truth file that matches the data exactly."""
from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import DateTime, select, text

from app.extensions import db
from app.modules.clinical import demo
from app.modules.clinical.demo_profiles import rx_required_level
from app.modules.clinical.models import Drug, Stay
from tests.clinical.test_metrics import TITLE


def _truth(app) -> dict[str, set[int]]:
    path = Path(app.instance_path) / "demo" / "ground_truth.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    kinds: dict[str, set[int]] = {}
    for row in rows:
        kinds.setdefault(row["kind"], set()).add(int(row["record_id"]))
    return kinds


def _ids(sql: str, **params) -> set[int]:
    return set(db.session.scalars(text(sql), params))


def _level_on(title_code: str, since, day) -> int:
    level = TITLE[title_code]
    since = since if not isinstance(since, str) else datetime.fromisoformat(since).date()
    return max(1, level - 1) if day < since else level


@pytest.mark.req("R15.1")
def test_ground_truth_lists_every_planted_anomaly_in_fixed_counts(app, ctx):
    truth = _truth(app)
    n = demo.SCALES["tiny"]["anomalies"]
    assert Counter({k: len(v) for k, v in truth.items()}) == Counter(dict.fromkeys(demo.ANOMALY_KINDS, n))


@pytest.mark.req("R15.1")
def test_ground_truth_matches_the_data_kind_by_kind(app, ctx):
    truth = _truth(app)
    ops = db.session.execute(text(
        "SELECT o.id, o.level, o.performed_at, s.title_code, s.title_since FROM clinical_operation o "
        "JOIN staff s ON s.id = o.surgeon_id").columns(performed_at=DateTime)).all()
    above = {o.id for o in ops if o.level > _level_on(o.title_code, o.title_since, o.performed_at.date())}
    assert above == truth["op_above_level"]
    assert _ids("SELECT id FROM clinical_operation WHERE above_level = :t", t=True) == above
    assert _ids("SELECT o.id FROM clinical_operation o JOIN clinical_or_registration r ON r.operation_id = o.id "
                "WHERE r.actual_surgeon_id <> o.surgeon_id") == truth["surgeon_mismatch"]
    elective = _ids("SELECT id FROM clinical_operation WHERE emergency = :f", f=False)
    discussed = db.session.execute(text(
        "SELECT e.operation_id, e.occurred_at, o.performed_at FROM clinical_record_event e "
        "JOIN clinical_operation o ON o.id = e.operation_id WHERE e.kind = 'preop_discussion'")
        .columns(occurred_at=DateTime, performed_at=DateTime)).all()
    assert elective - {d.operation_id for d in discussed} == truth["preop_discussion_missing"]
    assert {d.operation_id for d in discussed if d.occurred_at > d.performed_at} == truth["preop_discussion_late"]
    deaths = _ids("SELECT id FROM clinical_stay WHERE discharge_method = '5'")
    death_talks = db.session.execute(text(
        "SELECT e.stay_id, e.occurred_at, s.discharged_at FROM clinical_record_event e "
        "JOIN clinical_stay s ON s.id = e.stay_id WHERE e.kind = 'death_discussion'")
        .columns(occurred_at=DateTime, discharged_at=DateTime)).all()
    assert deaths - {d.stay_id for d in death_talks} == truth["death_discussion_missing"]

    def working_days(start: datetime, end: datetime) -> int:
        days, current = 0, start.date()
        while current < end.date():
            current += timedelta(days=1)
            days += current.weekday() < 5
        return days

    assert {d.stay_id for d in death_talks if working_days(d.discharged_at, d.occurred_at) > 5} == \
        truth["death_discussion_late"]
    needs = {d.code: rx_required_level((d.antimicrobial_tier, d.anticancer_tier, d.controlled_class, d.tcm_type))
             for d in db.session.scalars(select(Drug))}
    rx = db.session.execute(text(
        "SELECT p.id, p.drug_code, p.prescribed_on, s.title_code, s.title_since, s.practice_category "
        "FROM clinical_prescription p JOIN staff s ON s.id = p.prescriber_id")).all()
    beyond = set()
    for r in rx:
        day = r.prescribed_on
        day = datetime.fromisoformat(day).date() if isinstance(day, str) else day
        level, tcm_only = needs[r.drug_code]
        if _level_on(r.title_code, r.title_since, day) < level or (tcm_only and r.practice_category != "中医"):
            beyond.add(r.id)
    assert beyond == truth["prescription_beyond_privilege"]
    assert _ids("SELECT id FROM clinical_stay WHERE los_days > 30") == truth["long_stay"]
    assert _ids("SELECT id FROM clinical_stay WHERE unplanned_readmission = :t", t=True) == \
        truth["unplanned_readmission"]
    assert _ids("SELECT id FROM clinical_operation WHERE unplanned_reoperation = :t", t=True) == \
        truth["unplanned_reoperation"]
    assert _ids("SELECT id FROM clinical_complication") == truth["surgical_complication"]


@pytest.mark.req("R15.1")
def test_two_years_of_care_consistent_with_the_staff(ctx):
    first, last = db.session.execute(select(db.func.min(Stay.admitted_at), db.func.max(Stay.discharged_at))).one()
    assert (last - first).days > 650 and last.date() <= demo.REFERENCE_DATE
    stray = db.session.scalar(text(
        "SELECT COUNT(*) FROM clinical_stay st JOIN staff s ON s.id = st.attending_id "
        "WHERE s.department_id <> st.discharge_department_id OR s.staff_type <> 'physician'"))
    assert stray == 0
    outside = db.session.scalar(text(
        "SELECT COUNT(*) FROM clinical_operation o JOIN clinical_stay s ON s.id = o.stay_id "
        "WHERE o.performed_at < s.admitted_at OR o.performed_at > s.discharged_at"))
    assert outside == 0
    readmitted = db.session.execute(text(
        "SELECT s.patient_id FROM clinical_stay s GROUP BY s.patient_id HAVING COUNT(*) > 1")).all()
    assert len(readmitted) == demo.SCALES["tiny"]["anomalies"]


@pytest.mark.sqlite_only
@pytest.mark.req("R15.1")
def test_the_clinical_years_are_deterministic(tmp_path):
    from app.demo import build_demo
    from tests.conftest import make_app, migrate_and_seed

    snapshots = []
    for run in range(2):
        instance = tmp_path / f"i{run}"
        instance.mkdir()
        app = make_app(f"sqlite:///{instance / 'd.db'}", instance)
        migrate_and_seed(app, scale=None)
        with app.app_context():
            build_demo(scale="tiny", password="demo")
            db.session.commit()
            rows = db.session.execute(text(
                "SELECT s.source_id, s.attending_id, s.discharged_at, s.total_cost, COUNT(o.id), SUM(o.level) "
                "FROM clinical_stay s LEFT JOIN clinical_operation o ON o.stay_id = s.id "
                "GROUP BY s.id, s.source_id, s.attending_id, s.discharged_at, s.total_cost ORDER BY s.id")).all()
            truth = (instance / "demo" / "ground_truth.csv").read_text()
            snapshots.append(([tuple(r) for r in rows], truth))
            db.engine.dispose()
    assert snapshots[0] == snapshots[1]
