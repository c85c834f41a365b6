"""Filtered, scoped list queries behind the pages and exports (drill-down targets of every figure).

Filters come from the URL (so a drill-down link is just a URL): `staff_id`, `surgeon_id`,
`department_id`, `from`/`to` (YYYY-MM), `flag`, `level`, `q`, `sort`. Scope is always applied.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import joinedload

from app.core.scopes import descendant_ids, scope_filter
from app.modules.clinical.models import DEATH, LONG_STAY_DAYS, Complication, Operation, Patient, Stay
from app.modules.clinical.services import metrics
from app.modules.org.models import Department


def parse_month(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:7] + "-01")
    except ValueError:
        return None


def period(args) -> tuple[date, date]:
    """The months of `from`/`to` in the URL, else the last twelve months with data."""
    start, end = parse_month(args.get("from")), parse_month(args.get("to"))
    default_start, default_end = metrics.default_period()
    start, end = start or (metrics.add_months(end, -11) if end else default_start), end or default_end
    if start > end:
        start, end = end, start
    return start, end


def _int(args, name: str) -> int | None:
    value = args.get(name, "")
    return int(value) if value.isdigit() else None


def stays(user, args):
    stmt = (select(Stay)
            .options(joinedload(Stay.patient), joinedload(Stay.discharge_department), joinedload(Stay.attending))
            .where(scope_filter(user, "clinical_stay")))
    staff_id, surgeon_id = _int(args, "staff_id"), _int(args, "surgeon_id")
    if staff_id is not None:
        stmt = stmt.where(Stay.attending_id == staff_id)
    if surgeon_id is not None:
        stmt = stmt.where(Stay.id.in_(select(Operation.stay_id).where(Operation.surgeon_id == surgeon_id)))
    department_id = _int(args, "department_id")
    if department_id is not None:
        stmt = stmt.where(Stay.discharge_department_id.in_(descendant_ids({department_id})))
    start, end = parse_month(args.get("from")), parse_month(args.get("to"))
    if start:
        stmt = stmt.where(Stay.discharge_month >= start)
    if end:
        stmt = stmt.where(Stay.discharge_month <= end)
    flag = args.get("flag")
    if flag == "death":
        stmt = stmt.where(Stay.discharge_method == DEATH)
    elif flag == "unplanned":
        stmt = stmt.where(Stay.unplanned_readmission.is_(True))
    elif flag == "long":
        stmt = stmt.where(Stay.los_days > LONG_STAY_DAYS)
    elif flag == "complication":
        stmt = stmt.where(exists().where(Complication.stay_id == Stay.id))
    elif flag == "operated":
        stmt = stmt.where(exists().where(Operation.stay_id == Stay.id))
    q = args.get("q", "").strip()
    if q:
        # Exact numbers, or a patient by name (from its start) or 病案号: each part has its index.
        patients = select(Patient.id).where(or_(Patient.name.startswith(q), Patient.mrn == q))
        stmt = stmt.where(Stay.id.in_(select(Stay.id).where(Stay.source_id == q)
                                      .union(select(Stay.id).where(Stay.admission_no == q),
                                             select(Stay.id).where(Stay.patient_id.in_(patients)))))
    order = {"los": (Stay.los_days.desc(),), "cost": (Stay.total_cost.desc(),),
             "admitted": (Stay.admitted_at.desc(),)}.get(args.get("sort", ""), (Stay.discharged_at.desc(),))
    return stmt.order_by(*order, Stay.id.desc())


def operations(user, args):
    stmt = (select(Operation)
            .options(joinedload(Operation.surgeon), joinedload(Operation.stay).joinedload(Stay.patient))
            .where(scope_filter(user, "clinical_operation")))
    staff_id = _int(args, "staff_id")
    if staff_id is not None:
        stmt = stmt.where(Operation.surgeon_id == staff_id)
    department_id = _int(args, "department_id")
    if department_id is not None:
        stmt = stmt.where(Operation.department_id.in_(descendant_ids({department_id})))
    start, end = parse_month(args.get("from")), parse_month(args.get("to"))
    if start:
        stmt = stmt.where(Operation.op_month >= start)
    if end:
        stmt = stmt.where(Operation.op_month <= end)
    level = _int(args, "level")
    if level in (1, 2, 3, 4):
        stmt = stmt.where(Operation.level == level)
    flag = args.get("flag")
    if flag == "above_level":
        stmt = stmt.where(Operation.above_level.is_(True))
    elif flag == "reoperation":
        stmt = stmt.where(Operation.unplanned_reoperation.is_(True))
    elif flag == "emergency":
        stmt = stmt.where(Operation.emergency.is_(True))
    q = args.get("q", "").strip()
    if q:
        stays = select(Stay.id).where(Stay.source_id == q).union(select(Stay.id).where(Stay.patient_id.in_(
            select(Patient.id).where(Patient.name.startswith(q)))))
        stmt = stmt.where(or_(Operation.code.startswith(q), Operation.name.contains(q),
                              Operation.stay_id.in_(stays)))
    order = {"level": (Operation.level.desc(),)}.get(args.get("sort", ""), (Operation.performed_at.desc(),))
    return stmt.order_by(*order, Operation.id.desc())


def departments(user) -> list:
    """Departments for the filter drop-downs: those within the user's clinical scope."""
    from app.extensions import db

    return db.session.execute(
        select(Department.id, Department.name).where(scope_filter(user, "department", "clinical.view"))
        .where(Department.category == "clinical").order_by(Department.sort_order, Department.code)).all()
