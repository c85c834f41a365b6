"""Clinical data sent by HIS/EMR/LIS (R15.1), the dictionaries it is coded with, import batches,
and the per-doctor monthly metrics built from it (R1.5–R1.7).

Every record sent from outside carries the sender's `source_id`; imports upsert by it, so sending a
batch twice changes nothing. Derived columns (`discharge_month`, `los_days`, `op_month`,
`above_level`) are set by the ingest service and the demo generator, never by the sender.

The high-volume record tables carry no foreign-key constraints: the ingest service resolves and
checks every reference (staff, department, stay, operation) before it writes, and a per-row
constraint trigger would halve the import rate. Relationships are declared for reading.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import TimestampMixin, utcnow
from app.extensions import db
from app.modules.org.models import Department, Staff

# 离院方式 on the discharge front page.
DISCHARGE_METHODS = ("1", "2", "3", "4", "5", "9")
DEATH = "5"
PROCEDURE_CATEGORIES = ("surgery", "diagnostic", "therapeutic", "interventional", "endoscopic")
INCISION_GRADES = ("0", "I", "II", "III")
HEALING_GRADES = ("甲", "乙", "丙", "其他")
ANTIMICROBIAL_TIERS = ("unrestricted", "restricted", "special")  # 非限制 / 限制 / 特殊使用级
ANTICANCER_TIERS = ("general", "restricted")  # 普通使用级 / 限制使用级
CONTROLLED_CLASSES = ("narcotic", "psych1", "psych2")  # 麻醉 / 精一 / 精二
TCM_TYPES = ("patent", "piece")  # 中成药 / 中药饮片
SETTINGS = ("inpatient", "outpatient")
EVENT_KINDS = ("preop_discussion", "death_discussion", "difficult_case_discussion")
LONG_STAY_DAYS = 30


def _ref(target, column: str):
    """A read-only relationship along a reference column that has no foreign-key constraint."""
    return relationship(target, primaryjoin=f"foreign({column}) == {target.__name__}.id", viewonly=True)


# --- dictionaries -----------------------------------------------------------------------------

class ProcedureCode(TimestampMixin, db.Model):
    """手术操作分类代码 (ICD-9-CM-3, national clinical edition) with surgery level and category."""

    __tablename__ = "clinical_procedure"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[int | None]  # 1–4; None for a diagnostic or therapeutic 操作 without a level
    category: Mapped[str] = mapped_column(String(16), default="surgery")  # PROCEDURE_CATEGORIES
    minimally_invasive: Mapped[bool] = mapped_column(default=False)
    restricted: Mapped[bool] = mapped_column(default=False)  # 限制类技术
    active: Mapped[bool] = mapped_column(default=True)


class Drug(TimestampMixin, db.Model):
    """A drug of the hospital formulary with the classes prescription privileges depend on."""

    __tablename__ = "clinical_drug"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    spec: Mapped[str | None] = mapped_column(String(80))  # 规格
    antimicrobial_tier: Mapped[str | None] = mapped_column(String(16))
    anticancer_tier: Mapped[str | None] = mapped_column(String(16))
    controlled_class: Mapped[str | None] = mapped_column(String(16))
    tcm_type: Mapped[str | None] = mapped_column(String(16))
    glucocorticoid: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class DiagnosisCode(TimestampMixin, db.Model):
    """ICD-10 diagnosis (national clinical edition)."""

    __tablename__ = "clinical_diagnosis"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)


class UnknownCode(db.Model):
    """A code that arrived in clinical data but is not in its dictionary: kept for maintenance."""

    __tablename__ = "clinical_unknown_code"
    __table_args__ = (Index("ix_clinical_unknown_code_dictionary_code", "dictionary", "code", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dictionary: Mapped[str] = mapped_column(String(16))  # procedure | drug | diagnosis
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(120))  # as the sender named it
    occurrences: Mapped[int] = mapped_column(default=0)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- records from HIS / EMR -------------------------------------------------------------------

class Patient(TimestampMixin, db.Model):
    __tablename__ = "clinical_patient"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), unique=True)
    mrn: Mapped[str | None] = mapped_column(String(32), index=True)  # 病案号
    name: Mapped[str] = mapped_column(String(60), index=True)
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[date | None]


class Stay(TimestampMixin, db.Model):
    """An inpatient stay as the discharge front page (病案首页) describes it."""

    __tablename__ = "clinical_stay"
    __table_args__ = (
        Index("ix_clinical_stay_attending_month", "attending_id", "discharge_month"),
        Index("ix_clinical_stay_department_month", "discharge_department_id", "discharge_month"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), unique=True)
    patient_id: Mapped[int] = mapped_column(index=True)
    admission_no: Mapped[str | None] = mapped_column(String(32), index=True)  # 住院号
    admitted_at: Mapped[datetime]
    discharged_at: Mapped[datetime] = mapped_column(index=True)
    admit_department_id: Mapped[int]
    discharge_department_id: Mapped[int]
    attending_id: Mapped[int]  # 主治医师: the stay's figures count for this doctor
    responsible_id: Mapped[int | None] = mapped_column(index=True)  # 责任医师
    discharge_method: Mapped[str] = mapped_column(String(1))  # DISCHARGE_METHODS
    readmission_plan: Mapped[bool] = mapped_column(default=False)  # 出院31天内再住院计划
    unplanned_readmission: Mapped[bool] = mapped_column(default=False)  # this stay is one
    total_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    main_diagnosis_code: Mapped[str | None] = mapped_column(String(20))
    main_diagnosis_name: Mapped[str | None] = mapped_column(String(120))
    discharge_month: Mapped[date]  # first day of the discharge month
    los_days: Mapped[int]  # 住院天数

    patient: Mapped[Patient] = _ref(Patient, "Stay.patient_id")
    discharge_department: Mapped[Department] = _ref(Department, "Stay.discharge_department_id")
    admit_department: Mapped[Department] = _ref(Department, "Stay.admit_department_id")
    attending: Mapped[Staff] = _ref(Staff, "Stay.attending_id")
    responsible: Mapped[Staff | None] = _ref(Staff, "Stay.responsible_id")

    @property
    def is_death(self) -> bool:
        return self.discharge_method == DEATH


class StayDiagnosis(db.Model):
    """The other diagnoses of a stay (the main one is on the stay itself)."""

    __tablename__ = "clinical_stay_diagnosis"
    id: Mapped[int] = mapped_column(primary_key=True)
    stay_id: Mapped[int] = mapped_column(index=True)
    seq: Mapped[int]  # 2, 3 … (1 is the main diagnosis, kept on the stay)
    code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str | None] = mapped_column(String(120))


class Operation(TimestampMixin, db.Model):
    """An operation or procedure listed on the front page."""

    __tablename__ = "clinical_operation"
    __table_args__ = (
        Index("ix_clinical_operation_surgeon_month", "surgeon_id", "op_month"),
        Index("ix_clinical_operation_department_month", "department_id", "op_month"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), unique=True)
    stay_id: Mapped[int] = mapped_column(index=True)
    department_id: Mapped[int]  # the stay's discharge department
    seq: Mapped[int] = mapped_column(default=1)
    code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(120))
    performed_at: Mapped[datetime] = mapped_column(index=True)
    op_month: Mapped[date]
    level: Mapped[int]  # 手术级别 1–4
    surgeon_id: Mapped[int]  # 术者
    assistant1_id: Mapped[int | None] = mapped_column(index=True)  # Ⅰ助
    assistant2_id: Mapped[int | None] = mapped_column(index=True)  # Ⅱ助
    incision_grade: Mapped[str | None] = mapped_column(String(3))
    healing_grade: Mapped[str | None] = mapped_column(String(4))
    anesthesia_method: Mapped[str | None] = mapped_column(String(40))
    anesthetist_id: Mapped[int | None]
    emergency: Mapped[bool] = mapped_column(default=False)
    unplanned_reoperation: Mapped[bool] = mapped_column(default=False)
    above_level: Mapped[bool] = mapped_column(default=False)  # level above the surgeon's ceiling

    stay: Mapped[Stay] = _ref(Stay, "Operation.stay_id")
    surgeon: Mapped[Staff] = _ref(Staff, "Operation.surgeon_id")
    assistant1: Mapped[Staff | None] = _ref(Staff, "Operation.assistant1_id")
    assistant2: Mapped[Staff | None] = _ref(Staff, "Operation.assistant2_id")
    anesthetist: Mapped[Staff | None] = _ref(Staff, "Operation.anesthetist_id")


class OrRegistration(TimestampMixin, db.Model):
    """手术登记 from the operating-room system: who was scheduled and who actually operated."""

    __tablename__ = "clinical_or_registration"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), unique=True)
    stay_id: Mapped[int] = mapped_column(index=True)
    operation_id: Mapped[int | None] = mapped_column(index=True)
    code: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(120))
    scheduled_at: Mapped[datetime]
    scheduled_surgeon_id: Mapped[int | None]
    actual_surgeon_id: Mapped[int | None]
    room: Mapped[str | None] = mapped_column(String(20))

    scheduled_surgeon: Mapped[Staff | None] = _ref(Staff, "OrRegistration.scheduled_surgeon_id")
    actual_surgeon: Mapped[Staff | None] = _ref(Staff, "OrRegistration.actual_surgeon_id")


class Prescription(db.Model):
    """A medication order (inpatient) or prescription (outpatient)."""

    __tablename__ = "clinical_prescription"
    __table_args__ = (Index("ix_clinical_prescription_prescriber_date", "prescriber_id", "prescribed_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), unique=True)
    stay_id: Mapped[int | None] = mapped_column(index=True)
    department_id: Mapped[int]
    prescriber_id: Mapped[int]
    drug_code: Mapped[str] = mapped_column(String(32), index=True)
    prescribed_on: Mapped[date]
    setting: Mapped[str] = mapped_column(String(10))  # inpatient | outpatient
    dose: Mapped[str | None] = mapped_column(String(40))  # e.g. "1g q12h"
    days: Mapped[int | None]

    prescriber: Mapped[Staff] = _ref(Staff, "Prescription.prescriber_id")


class RecordEvent(TimestampMixin, db.Model):
    """A medical-record event: 术前讨论, 死亡病例讨论, 疑难病例讨论 with its time."""

    __tablename__ = "clinical_record_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), unique=True)
    stay_id: Mapped[int] = mapped_column(index=True)
    operation_id: Mapped[int | None] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(30))  # EVENT_KINDS
    occurred_at: Mapped[datetime]
    chair_id: Mapped[int | None]  # 主持人

    chair: Mapped[Staff | None] = _ref(Staff, "RecordEvent.chair_id")


class Complication(TimestampMixin, db.Model):
    __tablename__ = "clinical_complication"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), unique=True)
    stay_id: Mapped[int] = mapped_column(index=True)
    operation_id: Mapped[int | None] = mapped_column(index=True)
    code: Mapped[str] = mapped_column(String(20))  # ICD-10, e.g. T81.0
    name: Mapped[str | None] = mapped_column(String(120))
    occurred_on: Mapped[date | None]


# --- imports and metrics ----------------------------------------------------------------------

class ImportBatch(db.Model):
    """One batch that came in: an API call or an uploaded file, with its row-level report."""

    __tablename__ = "clinical_import"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    source: Mapped[str] = mapped_column(String(8))  # api | csv | xlsx
    filename: Mapped[str | None] = mapped_column(String(200))
    stored_path: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), index=True)  # IMPORT_STATUSES
    total_rows: Mapped[int] = mapped_column(default=0)
    error_rows: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)  # [{row, source_id, field, message}]
    unknown_codes: Mapped[list] = mapped_column(JSON, default=list)  # [{dictionary, code, name}]
    preview: Mapped[list] = mapped_column(JSON, default=list)  # the first parsed rows
    job_run_id: Mapped[int | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    message: Mapped[str | None] = mapped_column(Text)


IMPORT_STATUSES = ("uploaded", "checking", "checked", "invalid", "queued", "running", "done", "failed")


class DoctorMonthMetric(db.Model):
    """Pre-aggregated figures of one doctor in one month (R1.5–R1.7).

    Stay figures count the stays the doctor attended (主治医师) by discharge month; operation
    figures count the operations the doctor performed (术者) by operation month; surgical patients
    are the stays discharged that month with the doctor as surgeon of at least one operation.
    """

    __tablename__ = "doctor_month_metric"
    staff_id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    department_id: Mapped[int | None]
    title_level: Mapped[int] = mapped_column(default=0)  # 1 resident … 4 chief; 0 unknown
    discharges: Mapped[int] = mapped_column(default=0)
    los_days: Mapped[int] = mapped_column(default=0)
    total_cost: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    deaths: Mapped[int] = mapped_column(default=0)
    unplanned_readmissions: Mapped[int] = mapped_column(default=0)
    long_stays: Mapped[int] = mapped_column(default=0)
    complications: Mapped[int] = mapped_column(default=0)
    operations: Mapped[int] = mapped_column(default=0)
    ops_level1: Mapped[int] = mapped_column(default=0)
    ops_level2: Mapped[int] = mapped_column(default=0)
    ops_level3: Mapped[int] = mapped_column(default=0)
    ops_level4: Mapped[int] = mapped_column(default=0)
    ops_above_level: Mapped[int] = mapped_column(default=0)
    reoperations: Mapped[int] = mapped_column(default=0)
    surgical_patients: Mapped[int] = mapped_column(default=0)
    surgical_deaths: Mapped[int] = mapped_column(default=0)
