"""Catalog analytics: of the hospital catalog (R2.8) and of a department's catalog (R2.9).

Hospital: active items by kind and level, how many departments offer each item, and the items with
procedure codes that were never performed in the clinical data. Department: how often each of its
items was performed in the last twelve months with data, and — once the privileges module provides
who may perform what (`services.register_capable_doctors`) — its items no doctor is able to perform.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, func, select

from app.core.scopes import descendant_ids
from app.extensions import db
from app.modules.catalog.models import KINDS, LEVELS, CatalogItem, CatalogItemCode, DepartmentCatalogItem
from app.modules.catalog.services import capable_doctors_provider, department_items
from app.modules.clinical.models import Operation
from app.modules.clinical.services.metrics import add_months, default_period


@dataclass
class HospitalSummary:
    total: int
    restricted: int
    by_kind_level: dict[str, dict[int | None, int]]  # kind → level (None: no level) → items
    offered: int  # items offered by at least one department
    not_offered: int
    with_codes: int
    never_performed: int


def kind_level_matrix() -> dict[str, dict[int | None, int]]:
    matrix: dict[str, dict[int | None, int]] = {kind: {} for kind in KINDS}
    for kind, level, n in db.session.execute(
            select(CatalogItem.kind, CatalogItem.level, func.count()).where(CatalogItem.active.is_(True))
            .group_by(CatalogItem.kind, CatalogItem.level)):
        matrix.setdefault(kind, {})[level if level in LEVELS else None] = n
    return matrix


def offering_counts() -> dict[int, int]:
    """{item id: number of departments whose catalog holds it (active rows)}."""
    return dict(db.session.execute(
        select(DepartmentCatalogItem.item_id, func.count()).where(DepartmentCatalogItem.status == "active")
        .group_by(DepartmentCatalogItem.item_id)).all())


def performed_codes() -> set[str]:
    """The catalog's procedure codes that occur in the clinical data (one index probe per code)."""
    codes = select(CatalogItemCode.code).distinct().subquery()
    stmt = select(codes.c.code).where(exists().where(Operation.code == codes.c.code))
    return set(db.session.scalars(stmt))


def never_performed_ids() -> set[int]:
    """Active items with procedure codes none of which occurs in the clinical data."""
    done = performed_codes()
    found: dict[int, bool] = {}
    for item_id, code in db.session.execute(
            select(CatalogItemCode.item_id, CatalogItemCode.code).join(CatalogItem)
            .where(CatalogItem.active.is_(True))):
        found[item_id] = found.get(item_id, False) or code in done
    return {item_id for item_id, performed in found.items() if not performed}


def hospital_summary() -> HospitalSummary:
    matrix = kind_level_matrix()
    total = sum(sum(levels.values()) for levels in matrix.values())
    restricted = db.session.scalar(select(func.count()).select_from(CatalogItem).where(
        CatalogItem.active.is_(True), CatalogItem.restricted.is_(True))) or 0
    active_ids = set(db.session.scalars(select(CatalogItem.id).where(CatalogItem.active.is_(True))))
    offered = len(active_ids & set(offering_counts()))
    with_codes = db.session.scalar(select(func.count(func.distinct(CatalogItemCode.item_id))).join(CatalogItem)
                                   .where(CatalogItem.active.is_(True))) or 0
    return HospitalSummary(total, restricted, matrix, offered, total - offered, with_codes,
                           len(never_performed_ids()))


# --- a department ----------------------------------------------------------------------------

@dataclass
class DepartmentRow:
    item: CatalogItem
    performed: int | None  # operations in the period; None for items without procedure codes
    capable: int | None  # doctors able to perform it; None while no provider is registered


@dataclass
class DepartmentAnalytics:
    start: date
    end: date
    rows: list[DepartmentRow]
    has_capability: bool

    @property
    def performed_items(self) -> int:
        return sum(1 for r in self.rows if r.performed)

    @property
    def sorted_rows(self) -> list[DepartmentRow]:
        """Most performed first; items without procedure codes last."""
        return sorted(self.rows, key=lambda r: (r.performed is None, -(r.performed or 0), r.item.code))

    @property
    def idle_items(self) -> list[DepartmentRow]:
        return [r for r in self.rows if r.performed == 0]

    @property
    def uncovered_items(self) -> list[DepartmentRow]:
        return [r for r in self.rows if r.capable == 0]

    def kind_counts(self) -> Counter:
        return Counter(r.item.kind for r in self.rows)


def last_year() -> tuple[date, date]:
    """The last twelve months with clinical data."""
    start, end = default_period()
    return add_months(end, -11), end


def performed_by_item(department_id: int, item_ids: list[int], start: date, end: date) -> dict[int, int]:
    """Operations of the department (and its wards) in the period, per item through its codes."""
    if not item_ids:
        return {}
    departments = sorted(descendant_ids({department_id}))
    stmt = (select(CatalogItemCode.item_id, func.count(Operation.id))
            .join(Operation, Operation.code == CatalogItemCode.code)
            .where(CatalogItemCode.item_id.in_(item_ids), Operation.department_id.in_(departments),
                   Operation.op_month.between(start, end))
            .group_by(CatalogItemCode.item_id))
    return dict(db.session.execute(stmt).all())


def department_analytics(department_id: int) -> DepartmentAnalytics:
    start, end = last_year()
    items = department_items(department_id)
    ids = [i.id for i in items]
    performed = performed_by_item(department_id, ids, start, end)
    provider = capable_doctors_provider()
    capable = provider(department_id, ids) if provider is not None else None
    rows = [DepartmentRow(item, performed.get(item.id, 0) if item.codes else None,
                          (capable or {}).get(item.id, 0) if capable is not None else None) for item in items]
    return DepartmentAnalytics(start, end, rows, capable is not None)
