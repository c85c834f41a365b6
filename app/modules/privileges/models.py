"""Privileges (R3): the rights dictionary, applications, grants with terms and their change history,
hospital settings that take effect from a date, and emergency overrides of the live check.

A grant is looked up by (staff, `item_key`): "item:<catalog item id>" for catalog items (with
":operate"/":report" for medical-technology rights), "rx:<group>" for prescription rights (the
grant's `level` is the tier), "anaes:level" for anaesthesia by level, "cap:<code>" for practice
capabilities. The current state sits on the grant row; changes that take effect on a date are kept
in `privilege_grant_change` and replayed when the state on another date is asked (`has_changes`).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import TimestampMixin, utcnow
from app.extensions import db
from app.modules.org.models import Staff

GRANT_STATUSES = ("active", "suspended", "terminated", "expired")
APPLICATION_STATUSES = ("pending", "approved", "rejected", "withdrawn", "cancelled")
CHANGE_ACTIONS = ("grant", "renew", "suspend", "restore", "terminate", "narrow", "widen", "expire")
RIGHT_KINDS = ("prescription", "capability", "anaesthesia_level")
OVERRIDE_STATUSES = ("open", "accepted", "questioned")

_USER = "user_account.id"


class PrivilegeRight(TimestampMixin, db.Model):
    """A right that is not a catalog item: a prescription right tier, a practice capability, an
    anaesthesia level. Shipped defaults are synced; the hospital edits and adds rows."""

    __tablename__ = "privilege_right"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)  # e.g. "antimicrobial.special"
    ptype: Mapped[str] = mapped_column(String(24), index=True)  # privilege type (types.TYPES)
    group_key: Mapped[str] = mapped_column(String(60))  # grant lookup key, e.g. "rx:antimicrobial"
    name: Mapped[str] = mapped_column(String(120))
    rank: Mapped[int] = mapped_column(default=1)  # tier within the group: a higher tier covers lower ones
    requirement: Mapped[str | None] = mapped_column(Text)  # what the applicant must show, in words
    evidence_required: Mapped[bool] = mapped_column(default=False)  # a certificate/training must be attached
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)


class Application(TimestampMixin, db.Model):
    """One privilege application (several items of one type), run by a process instance."""

    __tablename__ = "privilege_application"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("wf_instance.id"), unique=True)
    ptype: Mapped[str] = mapped_column(String(24), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    # The grant this application renews (no constraint: grants and applications refer to each other).
    renewal_of_id: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    # The automatic decision (DMN): outcome approve / reject / review, its reason and matched rules.
    auto_outcome: Mapped[str | None] = mapped_column(String(12))
    auto_reason: Mapped[str | None] = mapped_column(Text)
    auto_rules: Mapped[dict | None] = mapped_column(JSON)
    reviewers: Mapped[dict | None] = mapped_column(JSON)  # the stages the reviewer table chose
    decision_note: Mapped[str | None] = mapped_column(Text)  # why it ended as it did
    decided_at: Mapped[datetime | None]

    staff: Mapped[Staff] = relationship()
    items: Mapped[list[ApplicationItem]] = relationship(back_populates="application",
                                                        cascade="all, delete-orphan",
                                                        order_by="ApplicationItem.id")


class ApplicationItem(db.Model):
    __tablename__ = "privilege_application_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("privilege_application.id", ondelete="CASCADE"),
                                                index=True)
    item_key: Mapped[str] = mapped_column(String(80))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_item.id"))
    right_code: Mapped[str | None] = mapped_column(String(60))
    variant: Mapped[str | None] = mapped_column(String(16))
    item_name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int | None]
    eligible: Mapped[bool] = mapped_column(default=True)
    eligibility_reason: Mapped[str | None] = mapped_column(Text)
    history: Mapped[dict | None] = mapped_column(JSON)  # computed from the clinical data
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("privilege_grant.id"))

    application: Mapped[Application] = relationship(back_populates="items")


class Grant(TimestampMixin, db.Model):
    __tablename__ = "privilege_grant"
    __table_args__ = (Index("ix_privilege_grant_staff_item", "staff_id", "item_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    ptype: Mapped[str] = mapped_column(String(24), index=True)
    item_key: Mapped[str] = mapped_column(String(80))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_item.id"), index=True)
    right_code: Mapped[str | None] = mapped_column(String(60))
    variant: Mapped[str | None] = mapped_column(String(16))  # medtech: operate | report
    item_name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int | None]  # surgery/procedure level, tier of a right, anaesthesia level
    scope: Mapped[str | None] = mapped_column(Text)  # conditions of the grant, in words
    start_date: Mapped[date]
    end_date: Mapped[date | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(12), default="active", index=True)
    has_changes: Mapped[bool] = mapped_column(default=False)  # date-effective changes to replay
    application_id: Mapped[int | None] = mapped_column(ForeignKey("privilege_application.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("wf_instance.id"))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    renewal_of_id: Mapped[int | None] = mapped_column(ForeignKey("privilege_grant.id"))
    source: Mapped[str] = mapped_column(String(12), default="process")  # process | manual | demo | import

    staff: Mapped[Staff] = relationship()
    changes: Mapped[list[GrantChange]] = relationship(back_populates="grant", order_by="GrantChange.id",
                                                      cascade="all, delete-orphan")


class GrantChange(db.Model):
    """One change of a grant: what changed (before/after), why, from when, by whom."""

    __tablename__ = "privilege_grant_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("privilege_grant.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(12))  # CHANGE_ACTIONS
    reason: Mapped[str | None] = mapped_column(Text)
    effective_on: Mapped[date]
    applied: Mapped[bool] = mapped_column(default=True)  # False until the effective date arrives
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    audit_seq: Mapped[int | None]  # the hash-chained audit entry that records it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    grant: Mapped[Grant] = relationship(back_populates="changes")


class PrivilegeSetting(db.Model):
    """A hospital setting with effect from a date (e.g. the anaesthesia privilege mode); the value
    on a day is the latest row effective by then."""

    __tablename__ = "privilege_setting"
    __table_args__ = (UniqueConstraint("key", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(120))
    effective_from: Mapped[date]
    note: Mapped[str | None] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckOverride(db.Model):
    """An emergency override of the live check (急诊越级, emergency drug use): accepted with a
    reason, kept for medical affairs to review."""

    __tablename__ = "privilege_override"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    ptype: Mapped[str] = mapped_column(String(24))
    code: Mapped[str] = mapped_column(String(60))
    on_date: Mapped[date]
    denial: Mapped[str] = mapped_column(Text)  # why the check said no
    reason: Mapped[str] = mapped_column(Text)  # why it was overridden
    client: Mapped[str | None] = mapped_column(String(80))  # the API token's name
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # OVERRIDE_STATUSES
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey(_USER))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    staff: Mapped[Staff] = relationship()


class PrivilegeStamp(db.Model):
    """A counter bumped whenever grants, rights, catalog codes, drugs or staff change; processes
    compare it to drop their cached lookup maps (see check.py)."""

    __tablename__ = "privilege_stamp"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)
