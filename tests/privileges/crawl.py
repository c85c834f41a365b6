"""Crawl values for the privileges module's route arguments (used by tests/test_route_crawl.py): an
application and a grant inside the crawling user's scope, and marker ones of the marker staff member
of another department, which must answer 404 where the scope does not cover them."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.extensions import db


def _user(world):
    from app.modules.accounts.models import User

    return db.session.scalar(select(User).where(User.username == world.username)) if world.username else None


def _visible(user, kind: str, model, row_id: int, join_staff: bool = False) -> bool:
    from app.core.scopes import scope_filter
    from app.modules.org.models import Staff

    if user is None:
        return False
    stmt = select(model.id).where(model.id == row_id, scope_filter(user, kind))
    if join_staff:
        stmt = stmt.join(Staff, Staff.id == model.staff_id)
    return db.session.scalar(stmt) is not None


def _inside(user, kind: str, model, join_staff: bool = False) -> int:
    from app.core.scopes import scope_filter
    from app.modules.org.models import Staff

    if user is None:
        return db.session.scalar(select(model.id).order_by(model.id).limit(1)) or 0
    stmt = select(model.id).where(scope_filter(user, kind))
    if join_staff:
        stmt = stmt.join(Staff, Staff.id == model.staff_id)
    return db.session.scalar(stmt.order_by(model.id).limit(1)) or 0


def application_values(world):
    from app.modules.privileges.models import Application
    from tests.test_route_crawl import Marker

    marker = world.markers["staff_other"]
    row = Application(ptype="surgery", staff_id=marker.id, department_id=world.markers["dept"].id,
                      status="pending", reason=marker.text)
    db.session.add(row)
    db.session.flush()
    user = _user(world)
    visible = _visible(user, "privilege_application", Application, row.id)
    return [_inside(user, "privilege_application", Application)], [Marker("application", marker.text, row.id, visible)]


def grant_values(world):
    from app.modules.privileges.models import Grant
    from tests.test_route_crawl import Marker

    marker = world.markers["staff_other"]
    row = Grant(staff_id=marker.id, ptype="capability", item_key="cap:brain_death", right_code="brain_death",
                item_name="脑死亡判定", level=1, start_date=date(2025, 1, 1), end_date=date(2027, 12, 31),
                status="active", source="manual")
    db.session.add(row)
    db.session.flush()
    user = _user(world)
    visible = _visible(user, "privilege_grant", Grant, row.id, join_staff=True)
    return [_inside(user, "privilege_grant", Grant, join_staff=True)], [Marker("grant", marker.text, row.id, visible)]


def ptype_values(world):
    from app.modules.privileges.types import TYPES

    return list(TYPES), []
