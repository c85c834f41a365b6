"""Catalog test helpers: items, people and clinical cases made in the test's transaction."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

_seq = itertools.count(1)


@pytest.fixture()
def en(ctx):
    """A service-level context with messages in English, so that tests can match reasons."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield ctx


def create_item(**kw):
    from app.extensions import db
    from app.modules.catalog.models import CatalogItem, CatalogItemCode

    n = next(_seq)
    codes = kw.pop("codes", [])
    values = dict(code=f"TST-{n:05d}", name=f"测试项目{n}", kind="surgery", level=2, restricted=False, active=True)
    values.update(kw)
    item = CatalogItem(**values)
    item.codes = [CatalogItemCode(code=c) for c in codes]
    db.session.add(item)
    db.session.flush()
    return item


def user(username: str):
    from app.extensions import db
    from app.modules.accounts.models import User

    return db.session.scalar(select(User).where(User.username == username))


def department(name: str):
    from app.extensions import db
    from app.modules.org.models import Department

    return db.session.scalar(select(Department).where(Department.name == name))


def add_to_department(dept, *items):
    from app.modules.catalog import maintenance

    return maintenance.add_department_items(dept.id, [i.id for i in items], added_by_id=None, instance_id=None)
