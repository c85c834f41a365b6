"""Organisation: hospital → campuses → departments (and wards under them) → staff."""
from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import TimestampMixin
from app.extensions import db

DEPARTMENT_CATEGORIES = ("clinical", "medtech", "functional")
UNIT_TYPES = ("department", "ward")
GENDERS = ("M", "F")
STAFF_STATUSES = ("active", "leave", "retired", "resigned")
STAFF_TYPES = ("physician", "nurse", "pharmacist", "technician", "administrative")
TITLE_LEVELS = ("junior", "intermediate", "associate_senior", "senior")


class Hospital(TimestampMixin, db.Model):
    __tablename__ = "hospital"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    is_demo: Mapped[bool] = mapped_column(default=False)


class Campus(TimestampMixin, db.Model):
    __tablename__ = "campus"
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospital.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(200))


class Department(TimestampMixin, db.Model):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospital.id"), index=True)
    campus_id: Mapped[int | None] = mapped_column(ForeignKey("campus.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(16))  # DEPARTMENT_CATEGORIES
    unit_type: Mapped[str] = mapped_column(String(16), default="department")  # UNIT_TYPES
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)

    campus: Mapped[Campus | None] = relationship()
    parent: Mapped[Department | None] = relationship(remote_side=[id])


class Title(db.Model):
    """Professional title (职称) dictionary: each title has a series and a level."""

    __tablename__ = "title"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    series: Mapped[str] = mapped_column(String(16))  # STAFF_TYPES
    level: Mapped[str] = mapped_column(String(20))  # TITLE_LEVELS
    sort_order: Mapped[int] = mapped_column(default=0)


class Staff(TimestampMixin, db.Model):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospital.id"), index=True)
    employee_no: Mapped[str] = mapped_column(String(32), unique=True)  # 工号
    name: Mapped[str] = mapped_column(String(60), index=True)
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date | None]
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    staff_type: Mapped[str] = mapped_column(String(20))
    post: Mapped[str | None] = mapped_column(String(60))  # 岗位
    title_code: Mapped[str | None] = mapped_column(ForeignKey("title.code"))
    title_since: Mapped[date | None]  # 现职称取得时间: gives years in title
    practice_category: Mapped[str | None] = mapped_column(String(20))  # 执业类别
    practice_scope: Mapped[str | None] = mapped_column(String(60))  # 执业范围
    practice_cert_no: Mapped[str | None] = mapped_column(String(40))  # 执业证书编码
    qualification_cert_no: Mapped[str | None] = mapped_column(String(40))  # 资格证书编码
    hire_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), default="active")
    phone: Mapped[str | None] = mapped_column(String(20))

    department: Mapped[Department] = relationship()
    title: Mapped[Title | None] = relationship()

    def years_in_title(self, on: date | None = None) -> int | None:
        if not self.title_since:
            return None
        on = on or date.today()
        years = on.year - self.title_since.year
        if (on.month, on.day) < (self.title_since.month, self.title_since.day):
            years -= 1
        return max(years, 0)
