"""The doctor dossier's own tables. Identity fields HR shares with every module stay on `org.Staff`;
what only the dossier keeps (ID number, education, personnel category, contacts) is `DossierProfile`."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import TimestampMixin, utcnow
from app.extensions import db
from app.modules.org.models import Department, Staff

CHANGE_SOURCES = ("manual", "import", "api")
HISTORY_KINDS = ("work", "training")
ADVERSE_SOURCES = ("manual", "demerit")
ADVERSE_STATUSES = ("active", "withdrawn")
EXPORT_STATUSES = ("queued", "running", "done", "failed", "expired")


class DossierProfile(TimestampMixin, db.Model):
    """Per staff member: what the dossier keeps beyond the organisation's staff record."""

    __tablename__ = "dossier_profile"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)  # 身份证号
    ethnicity: Mapped[str | None] = mapped_column(String(20))  # 民族
    education: Mapped[str | None] = mapped_column(String(20))  # 学历 (EDUCATION)
    degree: Mapped[str | None] = mapped_column(String(20))  # 学位 (DEGREES)
    graduated_from: Mapped[str | None] = mapped_column(String(100))  # 毕业院校
    major: Mapped[str | None] = mapped_column(String(60))  # 所学专业
    graduated_on: Mapped[date | None]
    personnel_category: Mapped[str | None] = mapped_column(String(20))  # 人员类别 (PERSONNEL_CATEGORIES)
    practice_registered_on: Mapped[date | None]  # 执业注册日期
    practice_institution: Mapped[str | None] = mapped_column(String(100))  # 主要执业机构
    email: Mapped[str | None] = mapped_column(String(120))
    office_phone: Mapped[str | None] = mapped_column(String(20))

    staff: Mapped[Staff] = relationship()


class DossierChange(db.Model):
    """One changed field of a person's basic information: who/what changed it, from what to what."""

    __tablename__ = "dossier_change"
    __table_args__ = (Index("ix_dossier_change_staff_at", "staff_id", "changed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))  # CHANGE_SOURCES
    source_ref: Mapped[str | None] = mapped_column(String(80))  # import batch, API token name
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor = relationship("User")


class DossierImport(db.Model):
    """A batch initial import of basic information: checked with a preview, then written whole."""

    __tablename__ = "dossier_import"
    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))  # checked | invalid | done
    total_rows: Mapped[int] = mapped_column(default=0)
    new_rows: Mapped[int] = mapped_column(default=0)
    changed_rows: Mapped[int] = mapped_column(default=0)
    rows: Mapped[list] = mapped_column(JSON, default=list)  # the parsed rows, as sent
    errors: Mapped[list] = mapped_column(JSON, default=list)  # [{row, employee_no, field, message}]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]

    created_by = relationship("User")


class Certificate(TimestampMixin, db.Model):
    """A certificate (证件) of a person, with one or more scanned pages."""

    __tablename__ = "dossier_certificate"
    __table_args__ = (UniqueConstraint("cert_type", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    cert_type: Mapped[str] = mapped_column(String(20))  # CERT_TYPES
    name: Mapped[str] = mapped_column(String(100))
    number: Mapped[str | None] = mapped_column(String(60))
    issuer: Mapped[str | None] = mapped_column(String(100))
    issued_on: Mapped[date | None]
    expires_on: Mapped[date | None] = mapped_column(index=True)
    note: Mapped[str | None] = mapped_column(Text)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    staff: Mapped[Staff] = relationship()
    files: Mapped[list[CertificateFile]] = relationship(
        back_populates="certificate", cascade="all, delete-orphan", order_by="CertificateFile.seq")

    def days_left(self, today: date) -> int | None:
        return None if self.expires_on is None else (self.expires_on - today).days


class CertificateFile(db.Model):
    """One stored page (image or PDF) of a certificate; bytes live under the storage folder."""

    __tablename__ = "dossier_certificate_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("dossier_certificate.id", ondelete="CASCADE"),
                                                index=True)
    seq: Mapped[int] = mapped_column(default=1)
    original_name: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(120))  # relative to the storage folder
    thumb_name: Mapped[str | None] = mapped_column(String(120))
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    certificate: Mapped[Certificate] = relationship(back_populates="files")

    @property
    def is_pdf(self) -> bool:
        return self.mime == "application/pdf"


class CertificateReminder(db.Model):
    """An expiry reminder sent: one per certificate, expiry date and threshold (days; 0 = expired)."""

    __tablename__ = "dossier_certificate_reminder"
    __table_args__ = (UniqueConstraint("certificate_id", "expires_on", "threshold"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("dossier_certificate.id", ondelete="CASCADE"))
    expires_on: Mapped[date]
    threshold: Mapped[int]
    recipients: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class HistoryEntry(TimestampMixin, db.Model):
    """A period of work (工作经历) or a training (培训经历), kept by the doctor."""

    __tablename__ = "dossier_history"
    __table_args__ = (Index("ix_dossier_history_staff_kind", "staff_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # HISTORY_KINDS
    started_on: Mapped[date]
    ended_on: Mapped[date | None]  # None: ongoing
    institution: Mapped[str] = mapped_column(String(120))  # work: employer; training: organiser
    department: Mapped[str | None] = mapped_column(String(60))  # work only
    role: Mapped[str | None] = mapped_column(String(60))  # work: post or title held
    title: Mapped[str | None] = mapped_column(String(120))  # training: its name
    content: Mapped[str | None] = mapped_column(Text)
    hours: Mapped[Decimal | None] = mapped_column(Numeric(7, 1))
    credits: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossier_certificate.id", ondelete="SET NULL"))

    certificate: Mapped[Certificate | None] = relationship()


class AdverseRecord(TimestampMixin, db.Model):
    """An adverse practice record (不良执业行为), entered by a functional department within its duty,
    by hand or from a confirmed demerit record (source "demerit", `source_ref` its id)."""

    __tablename__ = "dossier_adverse"
    __table_args__ = (UniqueConstraint("source", "source_ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    occurred_on: Mapped[date]
    category: Mapped[str] = mapped_column(String(20))  # ADVERSE_CATEGORIES
    content: Mapped[str] = mapped_column(Text)
    handling: Mapped[str | None] = mapped_column(Text)  # 处理结果
    duty_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    source: Mapped[str] = mapped_column(String(10), default="manual")  # ADVERSE_SOURCES
    source_ref: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10), default="active")  # ADVERSE_STATUSES
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    staff: Mapped[Staff] = relationship()
    duty_department: Mapped[Department] = relationship()
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])
    updated_by = relationship("User", foreign_keys=[updated_by_id])


class DossierExport(db.Model):
    """A zip export of certificates, built by a tracked job and downloaded by who asked for it."""

    __tablename__ = "dossier_export"
    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))  # None: everyone
    filters: Mapped[dict] = mapped_column(JSON, default=dict)  # department_id, cert_type, expiry
    status: Mapped[str] = mapped_column(String(10), default="queued")  # EXPORT_STATUSES
    job_run_id: Mapped[int | None] = mapped_column(ForeignKey("job_run.id", ondelete="SET NULL"))
    stored_name: Mapped[str | None] = mapped_column(String(120))
    download_name: Mapped[str | None] = mapped_column(String(200))
    certificates: Mapped[int] = mapped_column(default=0)
    files: Mapped[int] = mapped_column(default=0)
    size: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]

    staff: Mapped[Staff | None] = relationship()
