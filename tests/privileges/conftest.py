"""Privileges test helpers: applicants made to measure, catalog items in their department's catalog,
clinical history rows, and running an application's process to its end as the assigned people."""
from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Process caches of the privileges module must not carry data of another test's rolled-back
    transaction."""
    from app.modules.privileges import ceiling, check, decide, stamp

    def clear():
        stamp.reset()
        check._invalidate()
        ceiling._clear()
        decide.forget()

    clear()
    yield
    clear()


class Helper:
    def __init__(self):
        from app.extensions import db
        from app.modules.org.models import Department

        self.db = db
        self.surgery = db.session.scalar(select(Department).where(Department.name == "普通外科"))

    # --- people ------------------------------------------------------------------------------------
    def user(self, username: str):
        from app.modules.accounts.models import User

        return self.db.session.scalar(select(User).where(User.username == username))

    def physician(self, *, title: str = "chief", years: int = 10, department=None, category: str = "临床",
                  scope: str = "外科专业", role: str = "physician", staff_type: str = "physician", hired: int = 20):
        from tests import factories

        n = next(_seq)
        department = department or self.surgery
        staff = factories.create_staff(department=department, name=f"授权测试{n}号", title_code=title,
                                       title_since=date.today() - timedelta(days=365 * years + 30),
                                       practice_category=category, practice_scope=scope, staff_type=staff_type,
                                       hire_date=date.today() - timedelta(days=365 * hired))
        return factories.create_user(role, departments=(department,) if role == "dept_head" else (),
                                     staff=staff, username=f"pvuser{n}")

    def experts(self, n: int = 3):
        from tests import factories

        from app.modules.org.models import Department

        cardiology = self.db.session.scalar(select(Department).where(Department.name == "心血管内科"))
        return [factories.create_user("expert", staff=factories.create_staff(
            department=cardiology, name=f"评审专家{next(_seq)}"), username=f"pvexpert{next(_seq)}") for _ in range(n)]

    # --- items -------------------------------------------------------------------------------------
    def catalog_item(self, kinds, level=None, department=None, *, exclude=()):
        """A hospital catalog item of `kinds` (and `level`), put into the department's catalog."""
        from app.modules.catalog.models import CatalogItem, CatalogItemCode, DepartmentCatalogItem

        department = department or self.surgery
        stmt = select(CatalogItem).where(CatalogItem.kind.in_(kinds), CatalogItem.active.is_(True),
                                         CatalogItem.id.not_in(list(exclude) or [0]))
        if not set(kinds) & {"medtech", "anaesthesia"}:
            stmt = stmt.where(CatalogItem.id.in_(select(CatalogItemCode.item_id)))
        if level is not None:
            stmt = stmt.where(CatalogItem.level == level)
        item = self.db.session.scalars(stmt.order_by(CatalogItem.id)).first()
        assert item is not None, f"no catalog item of {kinds} level {level}"
        present = self.db.session.scalar(select(DepartmentCatalogItem).where(
            DepartmentCatalogItem.department_id == department.id, DepartmentCatalogItem.item_id == item.id))
        if present is None:
            self.db.session.add(DepartmentCatalogItem(department_id=department.id, item_id=item.id, status="active",
                                                      added_at=datetime(2020, 1, 1)))
            self.db.session.flush()
        return item

    def item_code(self, item) -> str:
        from app.modules.catalog.models import CatalogItemCode

        return self.db.session.scalar(select(CatalogItemCode.code).where(CatalogItemCode.item_id == item.id)
                                      .order_by(CatalogItemCode.code))

    def operations(self, staff, item, n: int, *, role: str = "assistant1", days_ago: int = 30):
        """`n` operations of the item's code in the last months with `staff` as 术者 or Ⅰ助."""
        from app.modules.clinical.models import Operation

        code = self.item_code(item)
        other = self.db.session.scalar(select(Operation.surgeon_id).limit(1))
        for i in range(n):
            when = datetime.combine(date.today() - timedelta(days=days_ago + i), datetime.min.time()).replace(hour=9)
            self.db.session.add(Operation(
                source_id=f"PVOP-{next(_seq)}", stay_id=1, department_id=staff.department_id, seq=1, code=code,
                name=item.name, performed_at=when, op_month=when.date().replace(day=1), level=item.level or 1,
                surgeon_id=staff.id if role == "surgeon" else other,
                assistant1_id=staff.id if role == "assistant1" else None))
        self.db.session.flush()

    def grant(self, user_or_staff_id, ptype: str, key: str, *, start=None, end=None, level=None):
        """A grant made directly through the service (as medical affairs would record an old one)."""
        from app.modules.privileges import grants, items

        staff_id = getattr(user_or_staff_id, "staff_id", user_or_staff_id)
        item = items.resolve(ptype, [key])[key]
        start = start or date.today() - timedelta(days=100)
        return grants.create(None, staff_id, item, start=start, end=end, level=level, source="manual")

    # --- processes ----------------------------------------------------------------------------------
    def apply(self, user, ptype: str, keys: list[str], **data):
        """Start the type's process as the applicant would from the apply page."""
        from app.modules.privileges.types import TYPES
        from app.workflow import runtime

        kind = TYPES[ptype]
        return runtime.start(user, kind.process_key, business_key=f"PV-{next(_seq)}", subject=f"staff:{user.staff_id}",
                             department_id=user.staff.department_id, data={"items": keys, **data},
                             title=f"{kind.label}：测试")

    def application(self, instance):
        from app.modules.privileges.models import Application

        return self.db.session.scalar(select(Application).where(Application.instance_id == instance.id))

    def open_tasks(self, instance):
        from app.workflow import runtime

        return runtime.open_tasks(instance.id)

    def actor_of(self, task):
        from app.modules.accounts.models import User

        user_id = task.assignee_id or next(c.user_id for c in task.candidates if c.user_id)
        return self.db.session.get(User, user_id)

    def run(self, instance, decide=None, data=None) -> list[str]:
        """Complete every open task as its assignee (or first candidate) until the process ends;
        `decide(task) -> "approve" | "reject"`; returns the steps taken (BPMN ids)."""
        from app.workflow import runtime
        from app.workflow.models import Instance

        steps = []
        for _round in range(30):
            self.db.session.expire_all()
            tasks = self.open_tasks(instance)
            if not tasks:
                break
            task = tasks[0]
            outcome = decide(task) if decide else "approve"
            steps.append(task.spec)
            runtime.complete(self.actor_of(task), task.id, data=(data or {}).get(task.spec, {"opinion": "同意"}),
                             outcome=outcome, comment="同意" if outcome == "approve" else "不同意")
        self.db.session.refresh(self.db.session.get(Instance, instance.id))
        return steps


@pytest.fixture()
def pv(ctx):
    return Helper()
