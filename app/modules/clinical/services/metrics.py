"""Doctor metrics R1.5–R1.7, pre-aggregated per doctor and month in `doctor_month_metric`.

`refresh(keys)` recomputes the given (staff_id, month) pairs from the records in the current
transaction (the ingest service calls it for every batch); `rebuild()` recomputes everything
(after bulk loads). Pages read only the pre-aggregated table: figures for a period are sums over
months, rates are sums of numerators over sums of denominators.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, distinct, func, literal, select, text

from app.extensions import db
from app.modules.clinical.models import (DEATH, LONG_STAY_DAYS, Complication, DoctorMonthMetric, Operation,
                                         Stay)
from app.modules.clinical.services.ceiling import (TITLE_LEVELS, register_level_ceiling,  # noqa: F401
                                                   title_level)

COUNT_FIELDS = ("discharges", "los_days", "total_cost", "deaths", "unplanned_readmissions", "long_stays",
                "complications", "operations", "ops_level1", "ops_level2", "ops_level3", "ops_level4",
                "ops_above_level", "reoperations", "surgical_patients", "surgical_deaths")
Key = tuple[int, date]


def month_start(value: date) -> date:
    return date(value.year, value.month, 1)


def add_months(value: date, n: int) -> date:
    index = value.year * 12 + value.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> list[date]:
    result, current = [], month_start(start)
    while current <= end:
        result.append(current)
        current = add_months(current, 1)
    return result


# --- computing ---------------------------------------------------------------------------------

def _in(column, values: list | None):
    return literal(True) if values is None else column.in_(values)


def _compute(staff_ids: list[int] | None, months: list[date] | None) -> dict[Key, dict]:
    """Figures for every (doctor, month) within the given doctors × months (None: all)."""
    one = literal(1)
    rows: dict[Key, dict] = {}

    def slot(key: Key) -> dict:
        found = rows.get(key)
        if found is None:
            found = rows[key] = dict.fromkeys(COUNT_FIELDS, 0)
        return found

    stays = (select(Stay.attending_id, Stay.discharge_month, func.count(), func.sum(Stay.los_days),
                    func.sum(Stay.total_cost),
                    func.sum(case((Stay.discharge_method == DEATH, one), else_=0)),
                    func.sum(case((Stay.unplanned_readmission.is_(True), one), else_=0)),
                    func.sum(case((Stay.los_days > LONG_STAY_DAYS, one), else_=0)))
             .where(_in(Stay.attending_id, staff_ids), _in(Stay.discharge_month, months))
             .group_by(Stay.attending_id, Stay.discharge_month))
    for staff_id, month, n, los, cost, deaths, unplanned, long_stays in db.session.execute(stays):
        values = slot((staff_id, month))
        values.update(discharges=n, los_days=int(los or 0), total_cost=Decimal(cost or 0).quantize(Decimal("0.01")),
                      deaths=int(deaths or 0), unplanned_readmissions=int(unplanned or 0),
                      long_stays=int(long_stays or 0))

    complicated = (select(Stay.attending_id, Stay.discharge_month, func.count(distinct(Stay.id)))
                   .join(Complication, Complication.stay_id == Stay.id)
                   .where(_in(Stay.attending_id, staff_ids), _in(Stay.discharge_month, months))
                   .group_by(Stay.attending_id, Stay.discharge_month))
    for staff_id, month, n in db.session.execute(complicated):
        slot((staff_id, month))["complications"] = n

    level_sums = [func.sum(case((Operation.level == n, one), else_=0)) for n in (1, 2, 3, 4)]
    ops = (select(Operation.surgeon_id, Operation.op_month, func.count(), *level_sums,
                  func.sum(case((Operation.above_level.is_(True), one), else_=0)),
                  func.sum(case((Operation.unplanned_reoperation.is_(True), one), else_=0)))
           .where(_in(Operation.surgeon_id, staff_ids), _in(Operation.op_month, months))
           .group_by(Operation.surgeon_id, Operation.op_month))
    for staff_id, month, n, l1, l2, l3, l4, above, reops in db.session.execute(ops):
        slot((staff_id, month)).update(operations=n, ops_level1=int(l1 or 0), ops_level2=int(l2 or 0),
                                       ops_level3=int(l3 or 0), ops_level4=int(l4 or 0),
                                       ops_above_level=int(above or 0), reoperations=int(reops or 0))

    surgical = (select(Operation.surgeon_id, Stay.discharge_month, func.count(distinct(Stay.id)),
                       func.count(distinct(case((Stay.discharge_method == DEATH, Stay.id)))))
                .join(Stay, Stay.id == Operation.stay_id)
                .where(_in(Operation.surgeon_id, staff_ids), _in(Stay.discharge_month, months))
                .group_by(Operation.surgeon_id, Stay.discharge_month))
    for staff_id, month, n, deaths in db.session.execute(surgical):
        slot((staff_id, month)).update(surgical_patients=n, surgical_deaths=deaths)
    return rows


def _write(rows: dict[Key, dict]) -> int:
    from app.modules.org.models import Staff

    staff_ids = sorted({key[0] for key in rows})
    from app.modules.clinical.services.base import matching

    info: dict[int, tuple[int, int]] = {}
    for clause in matching(Staff.id, staff_ids):
        for staff_id, dept_id, code in db.session.execute(
                select(Staff.id, Staff.department_id, Staff.title_code).where(clause)):
            info[staff_id] = (dept_id, title_level(code))
    payload = []
    for (staff_id, month), values in rows.items():
        dept_id, level = info.get(staff_id, (None, 0))
        payload.append(dict(staff_id=staff_id, month=month, department_id=dept_id, title_level=level,
                            **values))
    from app.modules.clinical.services.bulk import insert_rows

    insert_rows(DoctorMonthMetric, payload)
    return len(payload)


def refresh(keys: Iterable[Key]) -> int:
    """Recompute the doctor-months in `keys` (the caller's transaction sees the new records)."""
    keys = {(s, month_start(m)) for s, m in keys if s is not None and m is not None}
    if not keys:
        return 0
    staff_ids = sorted({s for s, _m in keys})
    months = sorted({m for _s, m in keys})
    db.session.flush()
    # The doctors × months cross product is recomputed and replaced as a whole (a superset of keys).
    rows = _compute(staff_ids, months)
    db.session.execute(delete(DoctorMonthMetric).where(DoctorMonthMetric.staff_id.in_(staff_ids),
                                                       DoctorMonthMetric.month.in_(months)))
    return _write(rows)


def _rows_for(keys: list[Key]) -> dict:
    """The stored rows of exactly these (doctor, month) pairs (SQLite: one writer at a time)."""
    from sqlalchemy import tuple_

    table = DoctorMonthMetric.__table__
    found = {}
    for start in range(0, len(keys), 400):
        part = keys[start:start + 400]
        for r in db.session.execute(select(table).where(tuple_(table.c.staff_id, table.c.month).in_(part))):
            found[(r.staff_id, r.month)] = r
    return found


def add(deltas: dict[Key, dict]) -> int:
    """Add increments to doctor-months (new stays need no recount: their figures just add up)."""
    if not deltas:
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        _add_upsert(deltas)
        return len(deltas)
    from sqlalchemy import update

    existing = _rows_for(list(deltas))
    inserts: dict[Key, dict] = {}
    updates = []
    for key, delta in deltas.items():
        row = existing.get(key)
        if row is None:
            values = dict.fromkeys(COUNT_FIELDS, 0)
            values.update(delta)
            inserts[key] = values
        else:
            updates.append({"staff_id": key[0], "month": key[1],
                            **{f: getattr(row, f) + v for f, v in delta.items()}})
    if updates:
        db.session.execute(update(DoctorMonthMetric), updates)
    _write(inserts)
    return len(deltas)


def _add_upsert(deltas: dict[Key, dict]) -> None:
    """PostgreSQL: one INSERT … ON CONFLICT DO UPDATE adding the increments (row locks keep
    concurrent imports from losing an update); new rows take the doctor's department and title."""
    fields = sorted({f for delta in deltas.values() for f in delta})
    keys = list(deltas)
    from app.modules.clinical.services.base import array_literal

    params = {"staff": array_literal(k[0] for k in keys), "months": array_literal(k[1] for k in keys)}
    arrays = ["CAST(:staff AS integer[])", "CAST(:months AS date[])"]
    for index, field in enumerate(fields):
        params[f"v{index}"] = array_literal(deltas[k].get(field, 0) for k in keys)
        arrays.append(f"CAST(:v{index} AS {'numeric' if field == 'total_cost' else 'integer'}[])")
    level = " ".join(f"WHEN '{code}' THEN {n}" for code, n in TITLE_LEVELS.items())
    others = [f for f in COUNT_FIELDS if f not in fields]
    columns = ["staff_id", "month", "department_id", "title_level", *fields, *others]
    select_list = ["k.staff_id", "k.month", "s.department_id", f"CASE s.title_code {level} ELSE 0 END",
                   *[f"k.f_{f}" for f in fields], *(["0"] * len(others))]
    db.session.execute(text(
        f"INSERT INTO doctor_month_metric ({', '.join(columns)}) SELECT {', '.join(select_list)} "
        f"FROM unnest({', '.join(arrays)}) AS k(staff_id, month, {', '.join('f_' + f for f in fields)}) "
        "JOIN staff s ON s.id = k.staff_id "
        "ON CONFLICT (staff_id, month) DO UPDATE SET "
        + ", ".join(f"{f} = doctor_month_metric.{f} + EXCLUDED.{f}" for f in fields)), params)


def rebuild() -> int:
    """Recompute the whole table (after a bulk load)."""
    db.session.flush()
    db.session.execute(delete(DoctorMonthMetric))
    return _write(_compute(None, None))


# --- what the pages show -----------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    key: str
    label: object
    numerator: str
    denominator: str | None = None
    kind: str = "count"  # count | money | days | share | rate
    requirement: str = "R1.5"
    drill: str = "stays"  # the list behind the figure: stays | operations | surgical
    drill_args: tuple = ()  # extra filters of that list, as (name, value) pairs


METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("discharges", _l("Discharges"), "discharges"),
    Metric("operations", _l("Operations"), "operations", drill="operations"),
    Metric("total_cost", _l("Total inpatient cost"), "total_cost", kind="money"),
    Metric("avg_los", _l("Average length of stay"), "los_days", "discharges", "days", "R1.6"),
    Metric("avg_cost", _l("Average cost per stay"), "total_cost", "discharges", "money", "R1.6"),
    *(Metric(f"ops_level{n}", _l("Level %(n)d operations", n=n), f"ops_level{n}", None, "count", "R1.6",
             "operations", (("level", n),)) for n in (1, 2, 3, 4)),
    *(Metric(f"level{n}_share", _l("Level %(n)d share", n=n), f"ops_level{n}", "operations", "share", "R1.6",
             "operations", (("level", n),)) for n in (1, 2, 3, 4)),
    Metric("unplanned_readmissions", _l("Unplanned readmissions"), "unplanned_readmissions", None, "count",
           "R1.7", "stays", (("flag", "unplanned"),)),
    Metric("ops_above_level", _l("Out-of-scope operations"), "ops_above_level", None, "count", "R1.7",
           "operations", (("flag", "above_level"),)),
    Metric("deaths", _l("Discharge deaths"), "deaths", None, "count", "R1.7", "stays", (("flag", "death"),)),
    Metric("surgical_mortality", _l("Surgical mortality"), "surgical_deaths", "surgical_patients", "rate",
           "R1.7", "surgical", (("flag", "death"),)),
    Metric("complications", _l("Cases with complications"), "complications", None, "count", "R1.7", "stays",
           (("flag", "complication"),)),
    Metric("reoperation_rate", _l("Unplanned reoperation rate"), "reoperations", "operations", "rate", "R1.7",
           "operations", (("flag", "reoperation"),)),
    Metric("long_stays", _l("Stays over 30 days"), "long_stays", None, "count", "R1.7", "stays",
           (("flag", "long"),)),
)}
SUMMARY_KEYS = ("discharges", "operations", "total_cost", "avg_los", "avg_cost", "ops_level1", "ops_level2",
                "ops_level3", "ops_level4", "level3_share", "level4_share", "unplanned_readmissions",
                "ops_above_level", "deaths", "surgical_mortality", "complications", "reoperation_rate",
                "long_stays")


def value_of(metric: Metric, totals: dict):
    numerator = totals.get(metric.numerator) or 0
    if metric.denominator is None:
        return numerator
    denominator = totals.get(metric.denominator) or 0
    if not denominator:
        return None
    return float(numerator) / float(denominator)


def latest_month() -> date | None:
    return db.session.scalar(select(func.max(DoctorMonthMetric.month)))


def default_period() -> tuple[date, date]:
    """The last twelve months that have data (or that end this month when there is none)."""
    end = latest_month() or month_start(date.today())
    return add_months(end, -11), end


def _sums():
    return [func.coalesce(func.sum(getattr(DoctorMonthMetric, f)), 0).label(f) for f in COUNT_FIELDS]


def totals(staff_id: int, start: date, end: date) -> dict:
    row = db.session.execute(select(*_sums()).where(
        DoctorMonthMetric.staff_id == staff_id, DoctorMonthMetric.month.between(start, end))).one()
    return dict(row._mapping)


def _series_statement():
    from sqlalchemy import bindparam

    table = DoctorMonthMetric.__table__
    return (select(table.c.month, *[table.c[f] for f in COUNT_FIELDS])
            .where(table.c.staff_id == bindparam("staff"), table.c.month.between(bindparam("start"), bindparam("end"))))


_SERIES = _series_statement()  # built once: the dashboard asks for it on every chart load


def series(staff_id: int, start: date, end: date) -> list[dict]:
    """One dict per month of the period (months without data give zeros)."""
    found = {row[0]: row[1:] for row in db.session.execute(_SERIES, {"staff": staff_id, "start": start, "end": end})}
    zeros = (0,) * len(COUNT_FIELDS)
    result = []
    for month in months_between(start, end):
        values = dict(zip(COUNT_FIELDS, found.get(month, zeros)))
        values["month"] = month
        result.append(values)
    return result


def _value_expr(metric: Metric, sums: dict):
    numerator = sums[metric.numerator]
    if metric.denominator is None:
        return numerator
    denominator = sums[metric.denominator]
    return case((denominator > 0, numerator * 1.0 / denominator), else_=None)


def ranking_query(metric: Metric, start: date, end: date):
    """Every doctor with data in the period: value and rank in the hospital, the department and the
    title level (rank 1 = the largest value), with the size of each group. Ranks count every doctor,
    also those outside the viewer's scope; the caller filters the rows."""
    from app.modules.org.models import Staff

    fields = {metric.numerator, *([metric.denominator] if metric.denominator else [])}
    agg = (select(DoctorMonthMetric.staff_id,
                  *[func.sum(getattr(DoctorMonthMetric, f)).label(f) for f in sorted(fields)])
           .where(DoctorMonthMetric.month.between(start, end))
           .group_by(DoctorMonthMetric.staff_id)).subquery("agg")
    level = case(*[(Staff.title_code == code, n) for code, n in TITLE_LEVELS.items()], else_=0)
    value = _value_expr(metric, {f: agg.c[f] for f in fields}).label("value")
    base = (select(agg.c.staff_id, value, Staff.department_id.label("department_id"),
                   level.label("title_level"))
            .join(Staff, Staff.id == agg.c.staff_id)).subquery("base")
    valued = base.c.value.is_not(None)
    ranked = (select(
        base.c.staff_id, base.c.value, base.c.department_id, base.c.title_level,
        func.rank().over(order_by=base.c.value.desc()).label("rank_hospital"),
        func.count().over().label("n_hospital"),
        func.rank().over(partition_by=base.c.department_id, order_by=base.c.value.desc()).label("rank_department"),
        func.count().over(partition_by=base.c.department_id).label("n_department"),
        func.rank().over(partition_by=base.c.title_level, order_by=base.c.value.desc()).label("rank_title"),
        func.count().over(partition_by=base.c.title_level).label("n_title"))
        .where(valued)).subquery("ranked")
    return ranked


@dataclass(frozen=True)
class Rank:
    value: object
    hospital: int
    n_hospital: int
    department: int
    n_department: int
    title: int
    n_title: int


def ranks_for(staff_id: int, start: date, end: date, keys: Iterable[str]) -> dict[str, Rank | None]:
    """The doctor's rank for each metric (same rules as `ranking_query`), from one grouped query."""
    from app.modules.org.models import Staff

    stmt = (select(DoctorMonthMetric.staff_id, Staff.department_id, Staff.title_code, *_sums())
            .join(Staff, Staff.id == DoctorMonthMetric.staff_id)
            .where(DoctorMonthMetric.month.between(start, end))
            .group_by(DoctorMonthMetric.staff_id, Staff.department_id, Staff.title_code))
    doctors = [dict(row._mapping) for row in db.session.execute(stmt)]
    me = next((d for d in doctors if d["staff_id"] == staff_id), None)
    result: dict[str, Rank | None] = {}
    for key in keys:
        metric = METRICS[key]
        mine = value_of(metric, me) if me else None
        if mine is None:
            result[key] = None
            continue
        counts = [0] * 6  # above me and group sizes: hospital, department, title
        my_level = title_level(me["title_code"])
        for doctor in doctors:
            value = value_of(metric, doctor)
            if value is None:
                continue
            same_dept = doctor["department_id"] == me["department_id"]
            same_title = title_level(doctor["title_code"]) == my_level
            higher = value > mine
            counts[0] += higher
            counts[1] += 1
            counts[2] += higher and same_dept
            counts[3] += same_dept
            counts[4] += higher and same_title
            counts[5] += same_title
        result[key] = Rank(mine, counts[0] + 1, counts[1], counts[2] + 1, counts[3], counts[4] + 1, counts[5])
    return result
