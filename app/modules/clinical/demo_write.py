"""Writing the generated clinical years: bulk (COPY on PostgreSQL, without indexes for big loads)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from app.demo import REFERENCE_DATE
from app.demo.names import GIVEN, SURNAME_WEIGHTS, SURNAMES
from app.modules.clinical import demo_profiles as P
from app.modules.clinical import models as m
from app.modules.clinical.services import bulk

DAY = timedelta(days=1)
STAY_COLS = ("id", "source_id", "patient_id", "admission_no", "admitted_at", "discharged_at",
             "admit_department_id", "discharge_department_id", "attending_id", "responsible_id",
             "discharge_method", "readmission_plan", "unplanned_readmission", "total_cost", "main_diagnosis_code",
             "main_diagnosis_name", "discharge_month", "los_days", "created_at", "updated_at")
OP_COLS = ("id", "source_id", "stay_id", "department_id", "seq", "code", "name", "performed_at", "op_month",
           "level", "surgeon_id", "assistant1_id", "assistant2_id", "incision_grade", "healing_grade",
           "anesthesia_method", "anesthetist_id", "emergency", "unplanned_reoperation", "above_level",
           "created_at", "updated_at")


def write(gen) -> dict[str, int]:
    sqlite = bulk.dialect() == "sqlite"
    stamp = "2026-11-01 00:00:00.000000" if sqlite else "2026-11-01 00:00:00"
    suffix = ".000000" if sqlite else ""

    def ts(value: datetime) -> str:
        return value.isoformat(" ") + suffix

    rng = gen.rng
    counts = {}
    tables = [m.Patient.__table__, m.Stay.__table__, m.StayDiagnosis.__table__, m.Operation.__table__,
              m.OrRegistration.__table__, m.RecordEvent.__table__, m.Complication.__table__,
              m.Prescription.__table__]
    with bulk.without_indexes(tables if len(gen.stays) >= 100_000 else []):
        patients = {}
        for stay in gen.stays:
            if stay.patient_id in patients:
                continue
            profile = stay.dept[1]
            female = rng.random() < (1.0 if profile in (P.PROFILES["产科"], P.PROFILES["妇科"]) else 0.48)
            age = int(rng.random() * 14) if profile is P.PROFILES["儿科"] else 18 + int(rng.random() * 70)
            born = date(REFERENCE_DATE.year - age - 1, 1 + int(rng.random() * 12), 1 + int(rng.random() * 28))
            patients[stay.patient_id] = (stay.patient_id, f"P{stay.patient_id:09d}", f"{stay.patient_id:08d}",
                                         _patient_name(rng), "F" if female else "M", born.isoformat(), stamp,
                                         stamp)
        counts["patients"] = bulk.write_rows("clinical_patient", (
            "id", "source_id", "mrn", "name", "gender", "birth_date", "created_at", "updated_at"),
            list(patients.values()))
        counts["stays"] = bulk.write_rows("clinical_stay", STAY_COLS, [
            (s.id, f"S{s.id:09d}", s.patient_id, f"ZY{s.id:08d}", ts(s.admitted), ts(s.discharged), s.dept[0],
             s.dept[0], s.attending.id, s.responsible.id, s.method, int(s.plan), int(s.unplanned),
             f"{s.cost:.2f}", s.diagnosis, gen.diagnoses.get(s.diagnosis),
             date(s.discharged.year, s.discharged.month, 1).isoformat(), s.los, stamp, stamp)
            for s in gen.stays])
        diagnoses = []
        for s in gen.stays:
            for seq, code in enumerate(s.others, 2):
                diagnoses.append((s.id, seq, code, gen.diagnoses.get(code)))
        counts["stay_diagnoses"] = bulk.write_rows("clinical_stay_diagnosis",
                                                   ("stay_id", "seq", "code", "name"), diagnoses)
        counts["operations"] = bulk.write_rows("clinical_operation", OP_COLS, [
            (o.id, f"O{o.id:09d}", o.stay.id, o.stay.dept[0], o.seq, o.code, gen.procedures[o.code].name,
             ts(o.performed), date(o.performed.year, o.performed.month, 1).isoformat(), o.level, o.surgeon.id,
             o.a1.id if o.a1 else None, o.a2.id if o.a2 else None, o.incision, o.healing, o.anesthesia,
             o.anesthetist.id if o.anesthetist else None, int(o.emergency), int(o.reoperation), int(o.above),
             stamp, stamp) for o in gen.ops])
        counts["registrations"] = bulk.write_rows("clinical_or_registration", (
            "id", "source_id", "stay_id", "operation_id", "code", "name", "scheduled_at",
            "scheduled_surgeon_id", "actual_surgeon_id", "room", "created_at", "updated_at"), [
            (o.id, f"OR{o.id:09d}", o.stay.id, o.id, o.code, gen.procedures[o.code].name,
             ts(o.performed - (timedelta(hours=1) if o.emergency else DAY)), o.registered_surgeon.id,
             o.registered_surgeon.id, f"OR-{1 + o.id % 12:02d}", stamp, stamp) for o in gen.ops])
        counts["record_events"] = bulk.write_rows("clinical_record_event", (
            "id", "source_id", "stay_id", "operation_id", "kind", "occurred_at", "chair_id", "created_at",
            "updated_at"), [(i, f"EV{i:09d}", e[0], e[1], e[2], ts(e[3]), e[4], stamp, stamp)
                            for i, e in enumerate(gen.events, 1)])
        counts["complications"] = bulk.write_rows("clinical_complication", (
            "id", "source_id", "stay_id", "operation_id", "code", "name", "occurred_on", "created_at",
            "updated_at"), [(i, f"CP{i:07d}", c[0], c[1], c[2], c[3], c[4].isoformat(), stamp, stamp)
                            for i, c in enumerate(gen.complications, 1)])
        counts["prescriptions"] = bulk.write_rows("clinical_prescription", (
            "id", "source_id", "stay_id", "department_id", "prescriber_id", "drug_code", "prescribed_on",
            "setting", "dose", "days"), (
            (i, f"RX{i:010d}", r[0], r[1], r[2], r[3], r[4].isoformat(), r[5], r[6], r[7])
            for i, r in enumerate(gen.rx, 1)))
    bulk.reset_sequences(tables)
    bulk.analyze(tables)
    return counts


def _patient_name(rng) -> str:
    surname = rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
    return surname + "".join(GIVEN[int(rng.random() * len(GIVEN))] for _ in range(1 + (rng.random() < 0.7)))
