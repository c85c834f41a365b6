"""Filtered list queries behind the catalog pages and exports; filters come from the URL so that every
figure can link to the rows behind it: `q`, `kind`, `level`, `restricted`, `status`, `offered`,
`performed`, `department_id` (items a department offers — only a department the viewer may see)."""
from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from app.core.scopes import scope_filter
from app.extensions import db
from app.modules.catalog.models import KINDS, CatalogItem, CatalogItemCode, DepartmentCatalogItem
from app.modules.org.models import Department

STATUSES = ("active", "inactive", "all")


def _int(args, name: str) -> int | None:
    value = args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 12 else None


def visible_department(user, department_id: int | None) -> Department | None:
    """The department if `user` may see its catalog (else None: a filter never widens the scope)."""
    if department_id is None:
        return None
    return db.session.scalar(select(Department).where(Department.id == department_id,
                                                      scope_filter(user, "catalog_department")))


def items(user, args):
    stmt = select(CatalogItem).options(selectinload(CatalogItem.codes))
    status = args.get("status", "active")
    if status == "inactive":
        stmt = stmt.where(CatalogItem.active.is_(False))
    elif status != "all":
        stmt = stmt.where(CatalogItem.active.is_(True))
    kind = args.get("kind", "")
    if kind in KINDS:
        stmt = stmt.where(CatalogItem.kind == kind)
    level = args.get("level", "")
    if level in ("1", "2", "3", "4"):
        stmt = stmt.where(CatalogItem.level == int(level))
    elif level == "none":
        stmt = stmt.where(CatalogItem.level.is_(None))
    if args.get("restricted") == "1":
        stmt = stmt.where(CatalogItem.restricted.is_(True))
    offered = exists().where(DepartmentCatalogItem.item_id == CatalogItem.id, DepartmentCatalogItem.status == "active")
    if args.get("offered") == "0":
        stmt = stmt.where(~offered)
    elif args.get("offered") == "1":
        stmt = stmt.where(offered)
    if args.get("performed") == "0":
        from app.modules.catalog.analytics import never_performed_ids

        stmt = stmt.where(CatalogItem.id.in_(sorted(never_performed_ids()) or [0]))
    department = visible_department(user, _int(args, "department_id"))
    if department is not None:
        stmt = stmt.where(CatalogItem.id.in_(select(DepartmentCatalogItem.item_id).where(
            DepartmentCatalogItem.department_id == department.id, DepartmentCatalogItem.status == "active")))
    q = args.get("q", "").strip()
    if q:
        by_code = select(CatalogItemCode.item_id).where(CatalogItemCode.code.startswith(q, autoescape=True))
        stmt = stmt.where(or_(CatalogItem.name.contains(q, autoescape=True),
                              CatalogItem.code.startswith(q, autoescape=True), CatalogItem.id.in_(by_code)))
    order = {"name": (CatalogItem.name,), "level": (CatalogItem.level.desc(), CatalogItem.code)}.get(
        args.get("sort", ""), (CatalogItem.kind, CatalogItem.code))
    return stmt.order_by(*order, CatalogItem.id)


def department_rows(department_id: int, args):
    """Rows of a department's catalog (with their items), filtered like the hospital list."""
    stmt = (select(DepartmentCatalogItem).join(CatalogItem, CatalogItem.id == DepartmentCatalogItem.item_id)
            .options(selectinload(DepartmentCatalogItem.item).selectinload(CatalogItem.codes))
            .where(DepartmentCatalogItem.department_id == department_id))
    status = args.get("status", "active")
    if status in ("active", "removed"):
        stmt = stmt.where(DepartmentCatalogItem.status == status)
    kind = args.get("kind", "")
    if kind in KINDS:
        stmt = stmt.where(CatalogItem.kind == kind)
    level = args.get("level", "")
    if level in ("1", "2", "3", "4"):
        stmt = stmt.where(CatalogItem.level == int(level))
    q = args.get("q", "").strip()
    if q:
        by_code = select(CatalogItemCode.item_id).where(CatalogItemCode.code.startswith(q, autoescape=True))
        stmt = stmt.where(or_(CatalogItem.name.contains(q, autoescape=True),
                              CatalogItem.code.startswith(q, autoescape=True), CatalogItem.id.in_(by_code)))
    return stmt.order_by(CatalogItem.kind, CatalogItem.code)


def catalog_departments(user):
    """Departments whose catalog `user` may see: clinical and medical-technical departments."""
    return (select(Department).where(scope_filter(user, "catalog_department"), Department.active.is_(True),
                                     Department.unit_type == "department",
                                     Department.category.in_(("clinical", "medtech")))
            .order_by(Department.sort_order, Department.code))
