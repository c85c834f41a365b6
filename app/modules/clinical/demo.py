"""Two synthetic years of clinical data for the demo hospital, with planted anomalies.

Stays, operations, OR registrations, orders/prescriptions and record events are generated for the
demo staff: surgeons operate within their title ceiling on the date, the OR registration names the
front-page surgeon, every elective operation has a timely pre-operative discussion, every death a
timely death-case discussion, prescribers stay within the default privileges of their title, no
stay exceeds 30 days and nobody returns unplanned. Then a fixed number of anomalies per kind is
planted, and their (kind, table, record id) written to `instance/demo/ground_truth.csv` — the
answer key the risk module is measured against. Bulk-written (COPY on PostgreSQL), then the doctor
metrics are rebuilt.
"""
from __future__ import annotations

import csv
import math
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.demo import REFERENCE_DATE, DemoContext
from app.extensions import db
from app.modules.clinical import demo_profiles as P
from app.modules.clinical import models as m
from app.modules.clinical.services import bulk, ceiling, metrics

SCALES = {  # stays, inpatient orders per stay, outpatient prescriptions per stay, anomalies per kind
    "tiny": dict(stays=400, rx=2.0, outpatient=0.3, anomalies=3),
    "small": dict(stays=50_000, rx=2.0, outpatient=0.3, anomalies=25),
    "medium": dict(stays=200_000, rx=3.0, outpatient=0.5, anomalies=60),
    "large": dict(stays=1_000_000, rx=4.5, outpatient=0.5, anomalies=200),
}
ANOMALY_KINDS = ("op_above_level", "surgeon_mismatch", "preop_discussion_missing", "preop_discussion_late",
                 "death_discussion_missing", "death_discussion_late", "prescription_beyond_privilege",
                 "long_stay", "unplanned_readmission", "unplanned_reoperation", "surgical_complication")
END = datetime(REFERENCE_DATE.year, REFERENCE_DATE.month, REFERENCE_DATE.day, 23, 0)
START = END - timedelta(days=730)
DAY = timedelta(days=1)

class Doctor:
    __slots__ = ("id", "level", "since", "head", "tcm", "department_id")

    def __init__(self, staff_id, level, since, head, tcm, department_id):
        self.id, self.level, self.since, self.head = staff_id, level, since, head
        self.tcm, self.department_id = tcm, department_id

    def level_on(self, day: date) -> int:
        return ceiling.title_ceiling(self.level, self.since, day) or 0


class Stay:
    __slots__ = ("id", "patient_id", "dept", "attending", "responsible", "admitted", "discharged", "method",
                 "plan", "unplanned", "cost", "diagnosis", "others", "procedures", "ops")

    @property
    def los(self) -> int:
        return max(1, (self.discharged.date() - self.admitted.date()).days)


class Op:
    __slots__ = ("id", "stay", "seq", "code", "level", "performed", "surgeon", "a1", "a2", "incision", "healing",
                 "anesthesia", "anesthetist", "emergency", "reoperation", "above", "registered_surgeon")


class Generator:
    def __init__(self, ctx: DemoContext):
        self.rng = ctx.rng
        self.shape = SCALES[ctx.scale]
        self.truth: list[tuple[str, str, int]] = []
        self.stays: list[Stay] = []
        self.ops: list[Op] = []
        self.events: list[tuple] = []  # (stay_id, operation_id, kind, occurred_at, chair_id)
        self.complications: list[tuple] = []  # (stay_id, operation_id, code, name, occurred_on)
        self.rx: list[tuple] = []  # (stay_id, department_id, prescriber_id, drug, day, setting, dose, days)
        self._load()

    # --- the hospital as the organisation step built it ----------------------------------------
    def _load(self) -> None:
        from app.modules.org.models import Department, Staff

        procs = db.session.execute(select(m.ProcedureCode.code, m.ProcedureCode.name, m.ProcedureCode.level,
                                          m.ProcedureCode.category)).all()
        self.procedures = {p.code: p for p in procs}
        self.diagnoses = dict(db.session.execute(select(m.DiagnosisCode.code, m.DiagnosisCode.name)).all())
        drugs = db.session.execute(select(m.Drug.code, m.Drug.antimicrobial_tier, m.Drug.anticancer_tier,
                                          m.Drug.controlled_class, m.Drug.tcm_type)).all()
        self.drug_needs = {d.code: P.rx_required_level(tuple(d)[1:]) for d in drugs}
        departments = db.session.execute(select(Department.id, Department.name, Department.campus_id)
                                         .where(Department.category == "clinical",
                                                Department.unit_type == "department")
                                         .order_by(Department.id)).all()
        doctors: dict[int, list[Doctor]] = {}
        for row in db.session.execute(select(Staff.id, Staff.department_id, Staff.title_code, Staff.title_since,
                                             Staff.post, Staff.practice_category)
                                      .where(Staff.staff_type == "physician", Staff.status == "active")
                                      .order_by(Staff.id)):
            level = ceiling.title_level(row.title_code)
            if level:
                doctors.setdefault(row.department_id, []).append(
                    Doctor(row.id, level, row.title_since, row.post == "科主任", row.practice_category == "中医",
                           row.department_id))
        self.anesthetists: dict[int, list[Doctor]] = {}
        self.departments = []  # (id, profile, doctors, head, campus)
        for dept in departments:
            base = dept.name.split("（")[0]
            staff = doctors.get(dept.id, [])
            if base in P.NO_BEDS:
                self.anesthetists.setdefault(dept.campus_id, []).extend(staff)
                continue
            if not staff:
                continue
            head = next((d for d in staff if d.head), max(staff, key=lambda d: d.level))
            self.departments.append((dept.id, P.PROFILES.get(base, P.GENERIC), staff, head, dept.campus_id))
        weights = [len(d[2]) for d in self.departments]
        self.dept_cum = _cumulative(weights)

    # --- normal care ---------------------------------------------------------------------------
    def build_stays(self) -> None:
        rng = self.rng
        n = self.shape["stays"]
        span = (END - START).total_seconds() - 86400 * 45
        for index in range(n):
            dept = self.departments[_pick(rng, self.dept_cum)]
            _dept_id, profile, doctors, _head, _campus = dept
            stay = Stay()
            stay.id = index + 1
            stay.patient_id = index + 1
            stay.dept = dept
            stay.attending = doctors[int(rng.random() * len(doctors))]
            juniors = [d for d in doctors if d.level <= 2] or doctors
            stay.responsible = juniors[int(rng.random() * len(juniors))]
            admitted = START + timedelta(seconds=int(rng.random() * span))
            stay.admitted = admitted.replace(hour=8 + int(rng.random() * 10), minute=int(rng.random() * 60),
                                             second=0, microsecond=0)
            los = min(30, max(1, int(rng.lognormvariate(math.log(profile.los), 0.45))))
            stay.discharged = (stay.admitted + los * DAY).replace(hour=9 + int(rng.random() * 6),
                                                                 minute=int(rng.random() * 60))
            stay.method = "1"
            roll = rng.random()
            if roll < profile.death_rate and stay.discharged < END - 8 * DAY:
                stay.method = "5"
            elif roll < profile.death_rate + 0.02:
                stay.method = "2"
            elif roll < profile.death_rate + 0.03:
                stay.method = "4"
            stay.plan = rng.random() < 0.04
            stay.unplanned = False
            stay.cost = profile.cost * rng.lognormvariate(0, 0.3) * (0.6 + 0.4 * los / profile.los)
            stay.procedures = []
            stay.ops = []
            if profile.procedures and rng.random() < profile.op_rate:
                stay.procedures.append(rng.choices(profile.procedures, weights=[p[1] for p in profile.procedures])[0])
                if rng.random() < 0.08 and los >= 4:
                    stay.procedures.append(rng.choice(profile.procedures))
                stay.diagnosis = stay.procedures[0][2]
            else:
                stay.diagnosis = profile.diagnoses[int(rng.random() * len(profile.diagnoses))]
            stay.others = ["I10.x00"] if rng.random() < 0.25 else []
            if rng.random() < 0.15:
                stay.others.append("E11.900")
            self.stays.append(stay)

    def build_operations(self) -> None:
        rng = self.rng
        for stay in self.stays:
            for seq, (code, _weight, _dx) in enumerate(stay.procedures, 1):
                proc = self.procedures.get(code)
                if proc is None or proc.level is None:
                    continue
                profile = stay.dept[1]
                emergency = rng.random() < profile.emergency_rate
                if emergency:
                    performed = stay.admitted + timedelta(hours=1 + int(rng.random() * 5))
                else:
                    if stay.los < 2:
                        continue
                    offset = 1 + int(rng.random() * min(3, stay.los - 1))
                    performed = (stay.admitted + offset * DAY).replace(hour=8 + int(rng.random() * 9), minute=0)
                    if performed >= stay.discharged:
                        continue
                surgeon = self._surgeon(stay, proc.level, performed.date())
                if surgeon is None:
                    continue
                op = self._op(stay, seq, code, proc.level, performed, surgeon, emergency)
                stay.ops.append(op)

    def _surgeon(self, stay: Stay, level: int, day: date) -> Doctor | None:
        if stay.attending.level_on(day) >= level and self.rng.random() < 0.6:
            return stay.attending
        eligible = [d for d in stay.dept[2] if d.level_on(day) >= level]
        return eligible[int(self.rng.random() * len(eligible))] if eligible else None

    def _op(self, stay: Stay, seq: int, code: str, level: int, performed: datetime, surgeon: Doctor,
            emergency: bool) -> Op:
        rng = self.rng
        op = Op()
        op.id = len(self.ops) + 1
        op.stay, op.seq, op.code, op.level, op.performed = stay, seq, code, level, performed
        op.surgeon = op.registered_surgeon = surgeon
        others = [d for d in stay.dept[2] if d is not surgeon]
        op.a1 = others[int(rng.random() * len(others))] if others else None
        op.a2 = others[int(rng.random() * len(others))] if len(others) > 1 and rng.random() < 0.5 else None
        if op.a2 is op.a1:
            op.a2 = None
        category = self.procedures[code].category
        if category == "surgery":
            op.incision = rng.choices(("I", "II", "III"), weights=(50, 45, 5))[0]
            op.healing = "甲" if rng.random() < 0.97 else "乙"
            op.anesthesia = ("局部麻醉" if level == 1 else
                             rng.choices(("全身麻醉", "椎管内麻醉", "神经阻滞麻醉"), weights=(65, 25, 10))[0])
        else:
            op.incision, op.healing = "0", None
            op.anesthesia = rng.choice(("局部麻醉", "静脉麻醉"))
        team = self.anesthetists.get(stay.dept[4]) or []
        op.anesthetist = team[int(rng.random() * len(team))] if team and op.anesthesia != "局部麻醉" else None
        op.emergency, op.reoperation, op.above = emergency, False, False
        self.ops.append(op)
        return op

    # --- anomalies -----------------------------------------------------------------------------
    def plant_stay_anomalies(self) -> None:
        """Deaths enough for the death-discussion anomalies, long stays, unplanned readmissions."""
        rng, n = self.rng, self.shape["anomalies"]
        deaths = [s for s in self.stays if s.method == "5"]
        candidates = [s for s in self.stays if s.method != "5" and s.discharged < END - 8 * DAY]
        rng.shuffle(candidates)
        while len(deaths) < 3 * n and candidates:
            stay = candidates.pop()
            stay.method = "5"
            deaths.append(stay)
        self.deaths = deaths
        quiet = [s for s in self.stays if s.method != "5" and not s.procedures and s.admitted < END - 70 * DAY]
        rng.shuffle(quiet)
        for stay in quiet[:n]:
            stay.discharged = (stay.admitted + (31 + int(rng.random() * 25)) * DAY).replace(hour=10)
            stay.cost *= 2.5
            self.truth.append(("long_stay", m.Stay.__tablename__, stay.id))
        sources = [s for s in quiet[n:] if s.discharged < END - 35 * DAY]
        for source in sources[:n]:
            stay = Stay()
            stay.id = len(self.stays) + 1
            stay.patient_id = source.patient_id
            stay.dept, stay.attending, stay.responsible = source.dept, source.attending, source.responsible
            stay.admitted = (source.discharged + (2 + int(rng.random() * 27)) * DAY).replace(hour=15)
            stay.discharged = stay.admitted + (2 + int(rng.random() * 8)) * DAY
            stay.method, stay.plan, stay.unplanned = "1", False, True
            stay.cost, stay.diagnosis, stay.others = source.cost * 0.8, source.diagnosis, list(source.others)
            stay.procedures, stay.ops = [], []
            source.plan = False
            self.stays.append(stay)
            self.truth.append(("unplanned_readmission", m.Stay.__tablename__, stay.id))

    def plant_operation_anomalies(self) -> None:
        rng, n = self.rng, self.shape["anomalies"]
        pool = [op for op in self.ops if not op.emergency]
        rng.shuffle(pool)
        used: set[int] = set()
        planted = 0
        for op in pool:  # above the surgeon's level: a junior of the department operated
            if planted == n:
                break
            day = op.performed.date()
            juniors = [d for d in op.stay.dept[2] if d.level_on(day) < op.level]
            if op.level < 2 or not juniors:
                continue
            op.surgeon = op.registered_surgeon = juniors[int(rng.random() * len(juniors))]
            if op.a1 is op.surgeon:
                op.a1 = None
            if op.a2 is op.surgeon:
                op.a2 = None
            op.above = True
            used.add(op.id)
            planted += 1
            self.truth.append(("op_above_level", m.Operation.__tablename__, op.id))
        rest = [op for op in pool if op.id not in used]
        mismatch, rest = rest[:n], rest[n:]
        for op in mismatch:  # the OR registration names someone else
            others = [d for d in op.stay.dept[2] if d is not op.surgeon]
            op.registered_surgeon = others[int(rng.random() * len(others))] if others else op.a1
            self.truth.append(("surgeon_mismatch", m.Operation.__tablename__, op.id))
        self.preop_missing = {op.id for op in rest[:n]}
        self.preop_late = {op.id for op in rest[n:2 * n]}
        for op in rest[:n]:
            self.truth.append(("preop_discussion_missing", m.Operation.__tablename__, op.id))
        for op in rest[n:2 * n]:
            self.truth.append(("preop_discussion_late", m.Operation.__tablename__, op.id))
        later = [op for op in self.ops if op.performed + 2 * DAY < op.stay.discharged]
        rng.shuffle(later)
        for op in later[:n]:  # back to the theatre: an unplanned emergency reoperation
            performed = (op.performed + DAY).replace(hour=20, minute=0)
            again = self._op(op.stay, len(op.stay.ops) + 1, "86.2200", 1, performed, op.surgeon, True)
            again.reoperation = True
            op.stay.ops.append(again)
            self.truth.append(("unplanned_reoperation", m.Operation.__tablename__, again.id))
        for index, op in enumerate(later[n:2 * n]):
            code, name = P.COMPLICATIONS[index % len(P.COMPLICATIONS)]
            day = min(op.performed.date() + DAY, op.stay.discharged.date())
            self.complications.append((op.stay.id, op.id, code, name, day))
            self.truth.append(("surgical_complication", m.Complication.__tablename__, len(self.complications)))

    # --- record events and prescriptions -------------------------------------------------------
    def build_events(self) -> None:
        rng, n = self.rng, self.shape["anomalies"]
        for op in self.ops:
            if op.emergency or op.id in self.preop_missing:
                continue
            stay = op.stay
            if op.id in self.preop_late:
                when = op.performed + timedelta(hours=2 + int(rng.random() * 20))
            else:
                gap = (op.performed - stay.admitted).total_seconds()
                when = stay.admitted + timedelta(seconds=int(gap * (0.3 + 0.5 * rng.random())))
            self.events.append((stay.id, op.id, "preop_discussion", when, stay.dept[3].id))
        deaths = list(self.deaths)
        rng.shuffle(deaths)
        for index, stay in enumerate(deaths):
            if index < n:
                self.truth.append(("death_discussion_missing", m.Stay.__tablename__, stay.id))
                continue
            if index < 2 * n:
                when = (stay.discharged + (10 + int(rng.random() * 10)) * DAY).replace(hour=15)
                self.truth.append(("death_discussion_late", m.Stay.__tablename__, stay.id))
            else:
                when = (stay.discharged + (1 + int(rng.random() * 5)) * DAY).replace(hour=15)
            self.events.append((stay.id, None, "death_discussion", when, stay.dept[3].id))
        for stay in self.stays:
            if stay.los >= 3 and rng.random() < 0.02:
                when = stay.admitted + timedelta(hours=24 + int(rng.random() * (stay.los - 1) * 24))
                self.events.append((stay.id, None, "difficult_case_discussion", when, stay.dept[3].id))

    def _drug_for(self, doctor: Doctor, day: date, groups: tuple[str, ...]) -> str:
        rng = self.rng
        for _attempt in range(3):
            group = P.DRUG_GROUPS[groups[int(rng.random() * len(groups))]]
            drug = group[int(rng.random() * len(group))]
            need, tcm_only = self.drug_needs.get(drug, (1, False))
            if doctor.level_on(day) >= need and (doctor.tcm or not tcm_only):
                return drug
        return P.DRUG_GROUPS["base"][int(rng.random() * len(P.DRUG_GROUPS["base"]))]

    def build_prescriptions(self) -> None:
        rng, n = self.rng, self.shape["anomalies"]
        per_stay, outpatient = self.shape["rx"], self.shape["outpatient"]
        whole, fraction = int(per_stay), per_stay - int(per_stay)
        anomalies = set(rng.sample(range(len(self.stays)), min(n, len(self.stays))))
        span = (END - START).days
        for index, stay in enumerate(self.stays):
            dept_id, profile = stay.dept[0], stay.dept[1]
            count = whole + (rng.random() < fraction)
            los = stay.los
            for k in range(count):
                doctor = stay.attending if rng.random() < 0.7 else stay.responsible
                day = (stay.admitted + int(rng.random() * los) * DAY).date()
                if k == 0 and index in anomalies:
                    juniors = [d for d in stay.dept[2] if d.level_on(day) <= 2]
                    doctor = juniors[int(rng.random() * len(juniors))] if juniors else doctor
                    if doctor.level_on(day) <= 2:
                        pool = P.SPECIAL_ANTIMICROBIALS if len(self.truth) % 2 else P.RESTRICTED_ANTICANCER
                        drug = pool[int(rng.random() * len(pool))]
                        self.rx.append((stay.id, dept_id, doctor.id, drug, day, "inpatient", "1支 iv st", 1))
                        self.truth.append(("prescription_beyond_privilege", m.Prescription.__tablename__,
                                           len(self.rx)))
                        continue
                drug = self._drug_for(doctor, day, profile.drugs)
                self.rx.append((stay.id, dept_id, doctor.id, drug, day, "inpatient",
                                P.DOSES[int(rng.random() * len(P.DOSES))], 1 + int(rng.random() * 7)))
            if rng.random() < outpatient:
                doctor = stay.dept[2][int(rng.random() * len(stay.dept[2]))]
                day = (START + int(rng.random() * span) * DAY).date()
                drug = P.OUTPATIENT_DRUGS[int(rng.random() * len(P.OUTPATIENT_DRUGS))]
                need, tcm_only = self.drug_needs.get(drug, (1, False))
                if doctor.level_on(day) < need or (tcm_only and not doctor.tcm):
                    drug = "Y010013"
                self.rx.append((None, dept_id, doctor.id, drug, day, "outpatient", "1片 bid",
                                3 + int(rng.random() * 12)))
        planted = sum(1 for kind, _t, _i in self.truth if kind == "prescription_beyond_privilege")
        if planted < n:  # departments without juniors: plant on any junior's inpatient order
            self._plant_more_prescriptions(n - planted)

    def _plant_more_prescriptions(self, missing: int) -> None:
        for index, row in enumerate(self.rx):
            if missing == 0:
                return
            stay_id, dept_id, doctor_id, drug, day, setting, _dose, _days = row
            doctor = self._doctor(doctor_id)
            if setting == "inpatient" and doctor.level_on(day) <= 2 and self.drug_needs[drug][0] <= 2:
                self.rx[index] = (stay_id, dept_id, doctor_id, P.SPECIAL_ANTIMICROBIALS[0], day, setting,
                                  "1支 iv st", 1)
                self.truth.append(("prescription_beyond_privilege", m.Prescription.__tablename__, index + 1))
                missing -= 1

    def _doctor(self, staff_id: int) -> Doctor:
        for dept in self.departments:
            for doctor in dept[2]:
                if doctor.id == staff_id:
                    return doctor
        raise KeyError(staff_id)


def _cumulative(weights: list[float]) -> list[float]:
    total, result = 0.0, []
    for weight in weights:
        total += weight
        result.append(total)
    return result


def _pick(rng, cumulative: list[float]) -> int:
    from bisect import bisect_right

    return min(len(cumulative) - 1, bisect_right(cumulative, rng.random() * cumulative[-1]))


def ground_truth_path() -> Path:
    return Path(current_app.instance_path) / "demo" / "ground_truth.csv"


def build(ctx: DemoContext) -> None:
    gen = Generator(ctx)
    if not gen.departments:
        return
    gen.build_stays()
    gen.plant_stay_anomalies()
    gen.build_operations()
    gen.plant_operation_anomalies()
    gen.build_events()
    gen.build_prescriptions()
    from app.modules.clinical.demo_write import write

    counts = write(gen)
    if ceiling._HOOKS:  # another module decides levels: recompute the flags it would give
        ceiling.refresh_above_level()
    counts["doctor_month_metrics"] = metrics.rebuild()
    bulk.analyze([m.DoctorMonthMetric.__table__])
    path = ground_truth_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("kind", "table", "record_id"))
        writer.writerows(sorted(gen.truth))
    ctx.counts.update({f"clinical_{k}": v for k, v in counts.items()})
    ctx.counts["clinical_anomalies"] = len(gen.truth)
    ctx.shared["clinical_ground_truth"] = str(path)
