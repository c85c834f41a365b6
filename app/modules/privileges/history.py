"""Computed history from the clinical data that an application shows (R3.1): for procedure items
the times the applicant was 术者, Ⅰ助 and Ⅱ助 for the item's codes and the department's volume; for
anaesthesia the applicant's anaesthetics; for prescription rights the orders of that drug class."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, true

from app.extensions import db
from app.modules.clinical.models import Drug, Operation, Prescription

from .items import Item

WINDOW_DAYS = 730

# Drug classes behind each prescription right group: (column, {value: tier}); None = every drug.
DRUG_CLASSES = {
    "rx:general": None,
    "rx:antimicrobial": ("antimicrobial_tier", {"unrestricted": 1, "restricted": 2, "special": 3}),
    "rx:anticancer": ("anticancer_tier", {"general": 1, "restricted": 2}),
    "rx:narcotic": ("controlled_class", {"narcotic": 1}),
    "rx:psych1": ("controlled_class", {"psych1": 1}),
    "rx:psych2": ("controlled_class", {"psych2": 1}),
    "rx:tcm_patent": ("tcm_type", {"patent": 1}),
    "rx:tcm_piece": ("tcm_type", {"piece": 1}),
    "rx:glucocorticoid": ("glucocorticoid", {True: 1}),
}


def window(on: date | None = None) -> tuple[datetime, date]:
    today = on or date.today()
    since = today - timedelta(days=WINDOW_DAYS)
    return datetime(since.year, since.month, since.day), since


def operations(staff_id: int, department_id: int, items: list[Item], on: date | None = None) -> dict[str, dict]:
    """{item key: {as_surgeon, as_assistant1, as_assistant2, department_volume}} over the last two years."""
    codes = sorted({code for item in items for code in item.codes})
    empty = {"as_surgeon": 0, "as_assistant1": 0, "as_assistant2": 0, "department_volume": 0}
    if not codes:
        return {item.key: dict(empty) for item in items}
    since, _day = window(on)
    own: dict[str, tuple[int, int, int]] = {}
    for start in range(0, len(codes), 500):
        part = codes[start:start + 500]
        rows = db.session.execute(
            select(Operation.code,
                   func.sum(case((Operation.surgeon_id == staff_id, 1), else_=0)),
                   func.sum(case((Operation.assistant1_id == staff_id, 1), else_=0)),
                   func.sum(case((Operation.assistant2_id == staff_id, 1), else_=0)))
            .where(Operation.code.in_(part), Operation.performed_at >= since,
                   or_(Operation.surgeon_id == staff_id, Operation.assistant1_id == staff_id,
                       Operation.assistant2_id == staff_id))
            .group_by(Operation.code))
        own.update({code: (int(a or 0), int(b or 0), int(c or 0)) for code, a, b, c in rows})
    volume: dict[str, int] = {}
    for start in range(0, len(codes), 500):
        part = codes[start:start + 500]
        volume.update(dict(db.session.execute(
            select(Operation.code, func.count()).where(Operation.department_id == department_id,
                                                       Operation.code.in_(part), Operation.performed_at >= since)
            .group_by(Operation.code)).all()))
    result = {}
    for item in items:
        values = dict(empty)
        for code in item.codes:
            a, b, c = own.get(code, (0, 0, 0))
            values["as_surgeon"] += a
            values["as_assistant1"] += b
            values["as_assistant2"] += c
            values["department_volume"] += int(volume.get(code, 0))
        result[item.key] = values
    return result


def anaesthetics(staff_id: int, items: list[Item], on: date | None = None) -> dict[str, dict]:
    """{item key: {own, department_volume}}: anaesthetics given by the applicant with the item's method
    (catalog mode, matched by the item's category or name) or of the level's operations (level mode),
    and all of them in the hospital."""
    since, _day = window(on)
    result = {}
    for item in items:
        if item.item_id is not None:
            method = item.category or item.name
            match = Operation.anesthesia_method == method
        else:
            match = Operation.level == item.level if item.level else true()
        own = db.session.scalar(select(func.count()).where(Operation.anesthetist_id == staff_id,
                                                           Operation.performed_at >= since, match)) or 0
        total = db.session.scalar(select(func.count()).where(Operation.anesthetist_id.is_not(None),
                                                             Operation.performed_at >= since, match)) or 0
        result[item.key] = {"own": int(own), "department_volume": int(total)}
    return result


def drug_clause(group_key: str, tier: int | None):
    """A filter on Drug for the drugs a right of `group_key` at `tier` covers exactly."""
    spec = DRUG_CLASSES.get(group_key)
    if spec is None:
        return true()
    column, tiers = spec
    values = [value for value, rank in tiers.items() if tier is None or rank == tier]
    col = getattr(Drug, column)
    if values == [True]:
        return col.is_(True)
    return col.in_(values)


def prescriptions(staff_id: int, department_id: int, items: list[Item], on: date | None = None) -> dict[str, dict]:
    """{item key: {own, department_volume}}: orders of the right's drug class over the last two years."""
    _since, day = window(on)
    result = {}
    for item in items:
        drugs = select(Drug.code).where(drug_clause(item.grant_key, item.level))
        base = and_(Prescription.prescribed_on >= day, Prescription.drug_code.in_(drugs))
        own = db.session.scalar(select(func.count()).where(base, Prescription.prescriber_id == staff_id)) or 0
        total = db.session.scalar(select(func.count()).where(base, Prescription.department_id == department_id)) or 0
        result[item.key] = {"own": int(own), "department_volume": int(total)}
    return result


def rows_for_form(kind: str | None, items: list[Item], counts: dict[str, dict]) -> list[dict]:
    """The read-only `history` rows of an application form."""
    rows = []
    for item in items:
        values = counts.get(item.key) or {}
        if kind == "operations" and item.ptype != "anaesthesia":
            rows.append({"item": item.display, "level": item.level or 0, **{k: int(values.get(k, 0)) for k in (
                "as_surgeon", "as_assistant1", "as_assistant2", "department_volume")}})
        else:
            rows.append({"item": item.display, "own": int(values.get("own", 0)),
                         "department_volume": int(values.get("department_volume", 0))})
    return rows


def compute(ptype_history: str | None, ptype: str, staff_id: int, department_id: int, items: list[Item],
            on: date | None = None) -> dict[str, dict]:
    if ptype == "anaesthesia":
        return anaesthetics(staff_id, items, on)
    if ptype_history == "operations":
        return operations(staff_id, department_id, items, on)
    if ptype_history == "prescriptions":
        return prescriptions(staff_id, department_id, items, on)
    return {}


def cases(values: dict) -> int:
    """Cases that count as experience with the item: performed (术者) or first assistant (Ⅰ助); for
    anaesthesia and prescriptions the applicant's own."""
    if "as_surgeon" in values:
        return int(values.get("as_surgeon", 0)) + int(values.get("as_assistant1", 0))
    return int(values.get("own", 0))
