"""Studio tables: which registered domain operations the hospital has enabled for its processes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import utcnow
from app.extensions import db


class OperationSetting(db.Model):
    """An administrator's choice for one operation. No row: the operation is enabled (every shipped
    operation is, until someone disables it); a process naming a disabled one cannot be published."""

    __tablename__ = "studio_operation"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str | None] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
