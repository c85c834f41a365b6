"""The two-level technology catalog (R2): the hospital catalog, each department's catalog drawn from it,
and the national quality-control indicators of each restricted technology (R2.4), kept as data.

An item is matched to clinical data through its ICD-9-CM-3 procedure codes (`catalog_item_code`),
the same codes as `clinical_procedure.code` and `clinical_operation.code`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import TimestampMixin, utcnow
from app.extensions import db
from app.modules.org.models import Department

KINDS = ("surgery", "diagnostic", "therapeutic", "interventional", "endoscopic", "restricted",
         "medtech", "anaesthesia")
LEVELS = (1, 2, 3, 4)
DEPARTMENT_STATUSES = ("active", "removed")
# How an indicator is computed from the clinical data; None: only its definition is kept (the data it
# needs — e.g. a follow-up result — is not on the discharge front page).
INDICATOR_MEASURES = ("complication", "mortality", "survival", "reoperation")


class CatalogItem(TimestampMixin, db.Model):
    __tablename__ = "catalog_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # hospital item code, e.g. "SSK-0001"
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)  # KINDS
    level: Mapped[int | None]  # 1–4
    restricted: Mapped[bool] = mapped_column(default=False)  # 限制类技术
    category: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)

    codes: Mapped[list[CatalogItemCode]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="CatalogItemCode.code")
    indicators: Mapped[list[RestrictedIndicator]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="RestrictedIndicator.sort_order")

    @property
    def code_list(self) -> list[str]:
        return [c.code for c in self.codes]


class CatalogItemCode(db.Model):
    __tablename__ = "catalog_item_code"
    __table_args__ = (UniqueConstraint("item_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_item.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20), index=True)  # ICD-9-CM-3

    item: Mapped[CatalogItem] = relationship(back_populates="codes")


class DepartmentCatalogItem(TimestampMixin, db.Model):
    """An item of a department's catalog; added only through an approved application (R2.2)."""

    __tablename__ = "department_catalog_item"
    __table_args__ = (UniqueConstraint("department_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_item.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="active")  # DEPARTMENT_STATUSES
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("wf_instance.id"))  # the approval
    note: Mapped[str | None] = mapped_column(Text)  # the department's own note
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    item: Mapped[CatalogItem] = relationship()
    department: Mapped[Department] = relationship()


class RestrictedIndicator(TimestampMixin, db.Model):
    """A national quality-control indicator of one restricted technology (R2.4), kept as data."""

    __tablename__ = "catalog_indicator"
    __table_args__ = (Index("ix_catalog_indicator_item_key", "item_id", "key", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_item.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))  # stable within the item, e.g. "bleeding"
    name: Mapped[str] = mapped_column(String(120))
    numerator: Mapped[str] = mapped_column(Text)  # definition, as the source states it
    denominator: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(200))  # reference document
    target: Mapped[str | None] = mapped_column(String(60))  # e.g. "≤5%"
    measure: Mapped[str | None] = mapped_column(String(20))  # INDICATOR_MEASURES
    # For measure "complication": ICD-10 code prefixes counted (comma separated); empty = any.
    complication_codes: Mapped[str | None] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    item: Mapped[CatalogItem] = relationship(back_populates="indicators")

    @property
    def code_prefixes(self) -> list[str]:
        return [p.strip() for p in (self.complication_codes or "").split(",") if p.strip()]
