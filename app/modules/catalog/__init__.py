"""Technology catalog (R2): hospital and department catalogs, catalog applications, restricted-technology
indicators and catalog analytics."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

blueprint = Blueprint("catalog", __name__, url_prefix="/catalog")

from app.modules.catalog import models  # noqa: E402,F401
from app.modules.catalog import views, views_departments, views_indicators  # noqa: E402,F401


def init_app(app):
    from sqlalchemy import select

    from app.core.scopes import register_kind
    from app.core.sync import register_sync
    from app.core.web import register_nav
    from app.demo import register_step
    from app.modules.catalog import applications, demo
    from app.modules.catalog.models import DepartmentCatalogItem
    from app.modules.catalog.reference import sync_restricted
    from app.modules.org.models import Department, Staff
    from app.modules.portal import processes

    def own_department(staff_id):
        return select(Staff.department_id).where(Staff.id == staff_id).scalar_subquery()

    # Whose department catalog a user may see: the departments in scope; a doctor sees their own.
    register_kind("catalog_department", permission="catalog.view",
                  department_column=lambda: Department.id,
                  self_clause=lambda staff_id: Department.id == own_department(staff_id))
    register_kind("catalog_department_item", permission="catalog.view",
                  department_column=lambda: DepartmentCatalogItem.department_id,
                  self_clause=lambda staff_id: DepartmentCatalogItem.department_id == own_department(staff_id))
    applications.register_sources()
    applications.register_operation()
    processes.register_start_page(applications.PROCESS, applications.start_page)
    register_sync("catalog_restricted", sync_restricted)
    register_step("catalog", demo.build)
    register_nav("catalog.list_items", _l("Technology catalog"), "journal-medical", "catalog.view", order=40)
