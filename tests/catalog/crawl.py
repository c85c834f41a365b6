"""Crawl values for the catalog's route arguments (used by tests/test_route_crawl.py)."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db

NOTE_MARK = "ZZMARK-7f3a-CATNOTE"


def item_values(world):
    """An item of the hospital catalog (visible to everyone who sees the catalog) and a restricted
    technology (the quality-control pages take only those)."""
    from app.modules.catalog.models import CatalogItem

    first = db.session.scalar(select(CatalogItem.id).where(CatalogItem.kind != "restricted").order_by(CatalogItem.id))
    restricted = db.session.scalar(select(CatalogItem.id).where(CatalogItem.kind == "restricted")
                                   .order_by(CatalogItem.id))
    return [first or 0, restricted or 0], []


def indicator_values(world):
    from app.modules.catalog.models import RestrictedIndicator

    return [db.session.scalar(select(RestrictedIndicator.id).order_by(RestrictedIndicator.id)) or 0], []


def row_values(world):
    """A department-catalog row of the crawling user's own department (or the first one in scope), and a
    marker row of the marker department whose note only its catalog's viewers may see."""
    from app.core.scopes import can, reach, scope_filter
    from app.modules.accounts.models import User
    from app.modules.catalog.models import CatalogItem, DepartmentCatalogItem
    from app.modules.org.models import Staff
    from tests.test_route_crawl import Marker

    dept_marker = world.markers["dept"]
    marker_row = db.session.scalar(select(DepartmentCatalogItem).where(
        DepartmentCatalogItem.department_id == dept_marker.id))
    if marker_row is None:
        item_id = db.session.scalar(select(CatalogItem.id).order_by(CatalogItem.id))
        marker_row = DepartmentCatalogItem(department_id=dept_marker.id, item_id=item_id, status="active",
                                           note=f"{NOTE_MARK} 标记备注")
        db.session.add(marker_row)
        db.session.flush()
    user = db.session.scalar(select(User).where(User.username == world.username)) if world.username else None
    own = db.session.scalar(select(DepartmentCatalogItem.id).where(
        DepartmentCatalogItem.department_id == world.own_department_id).order_by(DepartmentCatalogItem.id))
    if own is None and user is not None:
        own = db.session.scalar(select(DepartmentCatalogItem.id).where(
            scope_filter(user, "catalog_department_item"), DepartmentCatalogItem.id != marker_row.id)
            .order_by(DepartmentCatalogItem.id))
    visible = False
    if user is not None and can(user, "catalog.view"):
        r = reach(user, "catalog.view")
        own_dept = db.session.get(Staff, user.staff_id).department_id if user.staff_id else None
        visible = r.hospital or dept_marker.id in r.department_ids or (r.staff_id is not None
                                                                      and own_dept == dept_marker.id)
    return [own or 0], [Marker("catalog_note", NOTE_MARK, marker_row.id, visible)]
