"""Building blocks for clinical tests: a small ward with doctors, and rows as HIS would send them."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

from app.modules.accounts import services as accounts
from app.modules.clinical.services import ingest
from tests.factories import create_department, create_staff

_seq = itertools.count(1)


@dataclass
class Ward:
    department: object
    chief: object  # 主任医师, level 4
    attending: object  # 主治医师, level 2
    resident: object  # 住院医师, level 1


def create_ward(**kw) -> Ward:
    dept = create_department(**kw)
    chief = create_staff(department=dept, title_code="chief", title_since=date(2015, 1, 1))
    attending = create_staff(department=dept, title_code="attending", title_since=date(2020, 1, 1))
    resident = create_staff(department=dept, title_code="resident", title_since=date(2022, 1, 1))
    return Ward(dept, chief, attending, resident)


def uid(prefix: str) -> str:
    return f"T{prefix}{next(_seq):07d}"


def stay_row(ward: Ward, doctor=None, **kw) -> dict:
    doctor = doctor or ward.attending
    row = dict(source_id=uid("S"), patient_source_id=uid("P"), patient_name="测试患者", patient_gender="女",
               admitted_at="2026-03-02 09:00", discharged_at="2026-03-09 10:00",
               discharge_department_code=ward.department.code, attending_employee_no=doctor.employee_no,
               discharge_method="1", total_cost="12345.60", main_diagnosis_code="K80.100",
               main_diagnosis_name="胆囊结石伴慢性胆囊炎")
    row.update(kw)
    return row


def operation_row(stay: dict, surgeon, **kw) -> dict:
    row = dict(source_id=uid("O"), stay_source_id=stay["source_id"], code="51.2300",
               performed_at="2026-03-04 08:30", surgeon_employee_no=surgeon.employee_no, incision_grade="II",
               healing_grade="甲", anesthesia_method="全身麻醉")
    row.update(kw)
    return row


def send(kind: str, rows: list[dict]) -> ingest.Result:
    result = ingest.upsert(kind, rows)
    assert result.written, result.errors
    return result


def token(scopes=("clinical:read", "clinical:write")) -> str:
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.accounts.models import User

    admin = db.session.scalar(select(User).where(User.username == "admin"))
    _token, text = accounts.create_token(admin, f"HIS {next(_seq)}", list(scopes), None)
    # Commit (a savepoint in tests): a refused request rolls back what was not committed.
    db.session.commit()
    return text
