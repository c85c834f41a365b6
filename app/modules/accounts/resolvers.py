"""How the BPM kernel finds people: roles resolved in an instance's context, and who is an admin.

The kernel knows no hospital; this module tells it that a role code means "the users holding that
role whose scope covers the instance's department" (the applicant's department head for
`dept_head`, the whole medical-affairs office for `medaffairs_staff`, …).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.core import scopes
from app.extensions import db
from app.modules.accounts.models import Role, RoleGrant, User


def users_with_role(role_code: str, department_id: int | None) -> list[int]:
    """Active users holding `role_code` with a scope that covers `department_id`.

    Hospital-wide grants always cover; department grants cover their departments and the units
    below them; "self" grants cover the user's own department. Without a department every holder
    counts.
    """
    grants = db.session.scalars(
        select(RoleGrant).join(Role, Role.id == RoleGrant.role_id).join(User, User.id == RoleGrant.user_id)
        .where(Role.code == role_code, User.active.is_(True))
        .options(selectinload(RoleGrant.departments), selectinload(RoleGrant.user).selectinload(User.staff))
        .order_by(RoleGrant.user_id))
    found: list[int] = []
    for grant in grants:
        if department_id is None or grant.scope == "hospital":
            covers = True
        elif grant.scope == "departments":
            covers = department_id in scopes.descendant_ids({d.id for d in grant.departments})
        else:
            staff = grant.user.staff
            covers = staff is not None and staff.department_id == department_id
        if covers and grant.user_id not in found:
            found.append(grant.user_id)
    return found


def default_resolver(role_code: str, context) -> list[int]:
    return users_with_role(role_code, context.department_id)


def is_admin(actor) -> bool:
    return getattr(actor, "is_authenticated", False) and (scopes.has_role(actor, "admin")
                                                          or "*" in scopes.permissions(actor))


def register() -> None:
    from app.workflow import assignment, permissions

    assignment.register_default_resolver(default_resolver)
    permissions.register_admin_check(is_admin)


# Imported by the accounts module's init_app: registering here keeps that to one line.
register()
