"""Catalog reads other modules build on (actor-free), and the hook through which the privileges module
tells the catalog which doctors can perform an item.

Maintenance with an actor lives in `maintenance.py`, the application process in `applications.py`,
indicators in `indicators.py`, analytics in `analytics.py`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.modules.catalog.models import CatalogItem, CatalogItemCode, DepartmentCatalogItem


def get_item(item_id: int) -> CatalogItem | None:
    return db.session.get(CatalogItem, item_id)


def item_by_code(code: str) -> CatalogItem | None:
    return db.session.scalars(select(CatalogItem).where(CatalogItem.code == code)).first()


def items_for_procedure_code(icd_code: str) -> list[CatalogItem]:
    """The active items whose procedure codes include `icd_code`."""
    stmt = (select(CatalogItem).join(CatalogItemCode, CatalogItemCode.item_id == CatalogItem.id)
            .where(CatalogItemCode.code == icd_code, CatalogItem.active.is_(True))
            .order_by(CatalogItem.code))
    return list(db.session.scalars(stmt).unique())


def _kinds_filter(stmt, kinds: Iterable[str] | None):
    if kinds:
        stmt = stmt.where(CatalogItem.kind.in_(list(kinds)))
    return stmt


def department_items(department_id: int, kinds: Iterable[str] | None = None) -> list[CatalogItem]:
    """The active items of a department's catalog (active rows of active hospital items)."""
    stmt = (select(CatalogItem)
            .join(DepartmentCatalogItem, DepartmentCatalogItem.item_id == CatalogItem.id)
            .where(DepartmentCatalogItem.department_id == department_id,
                   DepartmentCatalogItem.status == "active", CatalogItem.active.is_(True))
            .options(selectinload(CatalogItem.codes)).order_by(CatalogItem.kind, CatalogItem.code))
    return list(db.session.scalars(_kinds_filter(stmt, kinds)))


def hospital_items(kinds: Iterable[str] | None = None) -> list[CatalogItem]:
    """The active items of the hospital catalog."""
    stmt = (select(CatalogItem).where(CatalogItem.active.is_(True))
            .options(selectinload(CatalogItem.codes)).order_by(CatalogItem.kind, CatalogItem.code))
    return list(db.session.scalars(_kinds_filter(stmt, kinds)))


# --- who can perform an item (provided by the privileges module) -------------------------------

CapableDoctors = Callable[[int, list[int]], dict[int, int]]
_capable_doctors: CapableDoctors | None = None


def register_capable_doctors(fn: CapableDoctors) -> None:
    """`fn(department_id, item_ids) -> {item_id: number of doctors of the department able to perform it}`
    (items missing from the answer count as 0). Until a provider registers, the catalog shows no such
    figure."""
    global _capable_doctors
    _capable_doctors = fn


def capable_doctors_provider() -> CapableDoctors | None:
    return _capable_doctors
