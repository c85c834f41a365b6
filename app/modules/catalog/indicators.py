"""Quality-control figures of restricted technologies (R2.4), computed from the clinical data.

A *case* of a technology is an inpatient stay with at least one operation whose code is among the
technology's procedure codes; it counts in the month and department of its first such operation in
the period. Per case: complications (any `clinical_complication` of the stay, or those whose ICD-10
code starts with an indicator's prefixes), death (离院方式 5 = 死亡), unplanned reoperation (any
operation of the stay flagged so). Every figure is limited to the operations the viewer may see
(`clinical_operation` scope), so a figure always equals the rows its drill-down lists.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from app.core.scopes import descendant_ids, scope_filter
from app.extensions import db
from app.modules.catalog.models import CatalogItem, CatalogItemCode, RestrictedIndicator
from app.modules.clinical.models import DEATH, Complication, Operation, Stay

BASE_FIELDS = ("cases", "complications", "deaths", "reoperations")


def restricted_items(include_inactive: bool = False) -> list[CatalogItem]:
    stmt = select(CatalogItem).where(CatalogItem.kind == "restricted")
    if not include_inactive:
        stmt = stmt.where(CatalogItem.active.is_(True))
    return list(db.session.scalars(stmt.order_by(CatalogItem.code)))


def cases_subquery(user, item_ids: list[int], start: date, end: date, department_id: int | None = None):
    """(item_id, stay_id, op_id): each case of each item once, with its first matching operation."""
    stmt = (select(CatalogItemCode.item_id, Operation.stay_id, func.min(Operation.id).label("op_id"))
            .join(Operation, Operation.code == CatalogItemCode.code)
            .where(CatalogItemCode.item_id.in_(item_ids), Operation.op_month.between(start, end),
                   scope_filter(user, "clinical_operation")))
    if department_id is not None:
        stmt = stmt.where(Operation.department_id.in_(sorted(descendant_ids({department_id}))))
    return stmt.group_by(CatalogItemCode.item_id, Operation.stay_id).subquery("cases")


def _complication_clause(stay_id, prefixes: list[str] | None = None):
    clause = Complication.stay_id == stay_id
    if prefixes:
        clause = and_(clause, or_(*[Complication.code.startswith(p) for p in prefixes]))
    return exists().where(clause)


def _reoperation_clause(stay_id):
    other = aliased(Operation)  # not the outer query's operation: any operation of the stay
    return exists().where(other.stay_id == stay_id, other.unplanned_reoperation.is_(True))


def _count_if(condition, label: str):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(label)


def _indicator_columns(cases, indicators: list[RestrictedIndicator]) -> list:
    """One count column per indicator computed from complications with its own code prefixes."""
    return [_count_if(_complication_clause(cases.c.stay_id, ind.code_prefixes), f"ind_{ind.id}")
            for ind in indicators if ind.measure == "complication" and ind.code_prefixes]


@dataclass
class Figures:
    cases: int = 0
    complications: int = 0
    deaths: int = 0
    reoperations: int = 0
    extra: dict[str, int] = field(default_factory=dict)  # ind_<id> → count

    def add(self, row: dict) -> None:
        for name in BASE_FIELDS:
            setattr(self, name, getattr(self, name) + int(row[name] or 0))
        for key, value in row.items():
            if key.startswith("ind_"):
                self.extra[key] = self.extra.get(key, 0) + int(value or 0)

    def rate(self, numerator: int) -> float | None:
        return numerator / self.cases if self.cases else None

    def numerator(self, indicator: RestrictedIndicator) -> int | None:
        """The numerator of an indicator computed from the front page, None when it is not computable."""
        if indicator.measure == "complication":
            return self.extra.get(f"ind_{indicator.id}", 0) if indicator.code_prefixes else self.complications
        if indicator.measure == "mortality":
            return self.deaths
        if indicator.measure == "survival":
            return self.cases - self.deaths
        if indicator.measure == "reoperation":
            return self.reoperations
        return None


@dataclass
class Breakdown:
    total: Figures
    by_month: dict[date, Figures]
    by_department: dict[int, Figures]


def breakdown(user, item: CatalogItem, start: date, end: date, department_id: int | None = None) -> Breakdown:
    """An item's figures in the period: in total, by month and by department (the viewer's scope)."""
    indicators = [i for i in item.indicators if i.active]
    cases = cases_subquery(user, [item.id], start, end, department_id)
    stmt = (select(Operation.op_month, Operation.department_id, func.count().label("cases"),
                   _count_if(_complication_clause(cases.c.stay_id), "complications"),
                   _count_if(Stay.discharge_method == DEATH, "deaths"),
                   _count_if(_reoperation_clause(cases.c.stay_id), "reoperations"),
                   *_indicator_columns(cases, indicators))
            .select_from(cases).join(Operation, Operation.id == cases.c.op_id).join(Stay, Stay.id == cases.c.stay_id)
            .group_by(Operation.op_month, Operation.department_id))
    total, by_month, by_department = Figures(), defaultdict(Figures), defaultdict(Figures)
    for row in db.session.execute(stmt).mappings():
        total.add(row)
        by_month[row["op_month"]].add(row)
        by_department[row["department_id"]].add(row)
    return Breakdown(total, dict(by_month), dict(by_department))


def totals_by_item(user, items: list[CatalogItem], start: date, end: date,
                   department_id: int | None = None) -> dict[int, Figures]:
    """Cases, complications, deaths and reoperations of many items at once."""
    if not items:
        return {}
    cases = cases_subquery(user, [i.id for i in items], start, end, department_id)
    stmt = (select(cases.c.item_id, func.count().label("cases"),
                   _count_if(_complication_clause(cases.c.stay_id), "complications"),
                   _count_if(Stay.discharge_method == DEATH, "deaths"),
                   _count_if(_reoperation_clause(cases.c.stay_id), "reoperations"))
            .select_from(cases).join(Stay, Stay.id == cases.c.stay_id).group_by(cases.c.item_id))
    found = {i.id: Figures() for i in items}
    for row in db.session.execute(stmt).mappings():
        found[row["item_id"]].add(row)
    return found


# --- the cases behind a figure ---------------------------------------------------------------

CASE_FLAGS = ("complication", "death", "reoperation")


def case_list(user, item: CatalogItem, start: date, end: date, *, department_id: int | None = None,
              month: date | None = None, flag: str | None = None, indicator: RestrictedIndicator | None = None):
    """A select of (Stay, first matching Operation) behind a figure, newest first."""
    cases = cases_subquery(user, [item.id], start, end, department_id)
    stmt = (select(Stay, Operation).select_from(cases).join(Operation, Operation.id == cases.c.op_id)
            .join(Stay, Stay.id == cases.c.stay_id))
    if month is not None:
        stmt = stmt.where(Operation.op_month == month)
    if flag == "complication":
        stmt = stmt.where(_complication_clause(cases.c.stay_id))
    elif flag == "death":
        stmt = stmt.where(Stay.discharge_method == DEATH)
    elif flag == "reoperation":
        stmt = stmt.where(_reoperation_clause(cases.c.stay_id))
    if indicator is not None:
        if indicator.measure == "complication":
            stmt = stmt.where(_complication_clause(cases.c.stay_id, indicator.code_prefixes))
        elif indicator.measure == "mortality":
            stmt = stmt.where(Stay.discharge_method == DEATH)
        elif indicator.measure == "survival":
            stmt = stmt.where(Stay.discharge_method != DEATH)
        elif indicator.measure == "reoperation":
            stmt = stmt.where(_reoperation_clause(cases.c.stay_id))
    return stmt.order_by(Operation.performed_at.desc(), Stay.id.desc())


def complications_of(stay_ids: list[int]) -> dict[int, list[Complication]]:
    found: dict[int, list[Complication]] = defaultdict(list)
    if stay_ids:
        for c in db.session.scalars(select(Complication).where(Complication.stay_id.in_(stay_ids))
                                    .order_by(Complication.occurred_on)):
            found[c.stay_id].append(c)
    return found
