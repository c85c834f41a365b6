"""Who may see and change which dossier.

Everyone with a staff record sees and maintains their own dossier (certificates, history, contacts
and education). Others see the dossiers within the reach of `dossier.view` (department heads their
departments, medical affairs the hospital); `dossier.manage` in reach edits all of it, including the
identity fields HR owns; `dossier.view_identity` shows the full ID number; `dossier.adverse.record`
enters adverse-behaviour records. Outside reach a dossier answers 404, without the right 403.
"""
from __future__ import annotations

from flask import abort
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from app.core.scopes import can, scope_filter
from app.extensions import db
from app.modules.org.models import Staff

KIND = "dossier"


def own_staff_id(user) -> int | None:
    return getattr(user, "staff_id", None) if getattr(user, "is_authenticated", False) else None


def visible_clause(user):
    """Filter on `Staff`: the dossiers `user` may open."""
    own = own_staff_id(user)
    scoped = scope_filter(user, KIND)
    return or_(Staff.id == own, scoped) if own is not None else scoped


def get_person(user, staff_id: int) -> Staff:
    """The staff member whose dossier `user` may open, else 404."""
    staff = db.session.scalar(select(Staff).options(joinedload(Staff.department), joinedload(Staff.title))
                              .where(Staff.id == staff_id, visible_clause(user)))
    if staff is None:
        abort(404)
    return staff


def in_reach(user, staff_id: int, permission: str) -> bool:
    if not can(user, permission):
        return False
    return db.session.scalar(select(Staff.id).where(Staff.id == staff_id,
                                                    scope_filter(user, KIND, permission))) is not None


def is_owner(user, staff) -> bool:
    own = own_staff_id(user)
    return own is not None and own == staff.id


def can_manage(user, staff) -> bool:
    return in_reach(user, staff.id, "dossier.manage")


def can_edit(user, staff) -> bool:
    """Certificates, history, contacts and education: the person and the managers in reach."""
    return is_owner(user, staff) or can_manage(user, staff)


def can_see_identity(user, staff) -> bool:
    return is_owner(user, staff) or in_reach(user, staff.id, "dossier.view_identity")


def can_record_adverse(user, staff) -> bool:
    return in_reach(user, staff.id, "dossier.adverse.record")


def require_edit(user, staff) -> None:
    if not can_edit(user, staff):
        abort(403)
