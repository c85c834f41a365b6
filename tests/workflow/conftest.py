"""Kernel test helpers: a compact BPMN document builder and runtime fixtures."""
from __future__ import annotations

import itertools

import pytest

_ids = itertools.count(1)

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:mt="http://medtech.local/schema/bpmn/1.0"'
    ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    ' id="defs" targetNamespace="http://medtech.local/test">\n'
)


def bpmn_doc(body: str, process_id: str = "p", *, name: str = "Test process", attrs: str = "",
             outside: str = "") -> str:
    """A BPMN document with one executable process around `body` (flow nodes and flows)."""
    return (f'{HEADER}{outside}<bpmn:process id="{process_id}" name="{name}" isExecutable="true" {attrs}>\n'
            f"{body}\n</bpmn:process>\n</bpmn:definitions>\n")


def chain(*nodes: str, start: str = "start", end: str = "end") -> str:
    """Start event → nodes (given as XML with ids) → end event, joined by sequence flows."""
    import re

    ids = [start] + [re.search(r'\bid="([^"]+)"', node).group(1) for node in nodes] + [end]
    flows = "".join(f'<bpmn:sequenceFlow id="f{next(_ids)}" sourceRef="{a}" targetRef="{b}"/>\n'
                    for a, b in zip(ids, ids[1:]))
    return (f'<bpmn:startEvent id="{start}"/>\n' + "\n".join(nodes) + f'\n<bpmn:endEvent id="{end}"/>\n'
            + flows)


@pytest.fixture()
def unique():
    """A fresh suffix for process ids, decision ids, form names within one test database."""
    return f"t{next(_ids)}"


@pytest.fixture(scope="session")
def kernel(app):
    """The app with the kernel initialised and the shipped examples synced (committed once)."""
    from app.core import sync
    from app.extensions import db

    if "workflow" not in sync._HOOKS:  # until create_app calls workflow.init_app itself
        from app import workflow

        workflow.init_app(app)
    from app.workflow import registry

    with app.app_context():
        registry.sync_shipped()
        db.session.commit()
    return app


@pytest.fixture()
def wf(kernel, ctx):
    """A service-level test context with the kernel ready (rolled back after the test); messages in
    English so that tests can match reasons."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield kernel


@pytest.fixture()
def notes():
    """Notifications the kernel sends during the test: [(user_ids, kind, task_id, text)]."""
    from app.workflow import hooks

    sent: list[tuple] = []

    def handler(user_ids, kind, task_id, text):
        sent.append((list(user_ids), kind, task_id, text))

    hooks.register_notify_handler(handler)
    yield sent
    hooks.unregister_notify_handler(handler)


def make_user(role: str = "physician", scope: str | None = None, *, departments=(), staff=None):
    """A user holding `role` (like tests.factories.create_user, without hashing a password:
    kernel tests create many people and never log them in)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.accounts.models import Role, RoleGrant, User
    from tests.factories import create_staff

    n = next(_ids)
    role_row = db.session.scalar(select(Role).where(Role.code == role))
    scope = scope or role_row.default_scope
    if staff is None and scope != "hospital":
        staff = create_staff(department=departments[0]) if departments else create_staff()
    user = User(username=f"wfuser{n}", password_hash="!", display_name=f"Person {n}",
                staff_id=staff.id if staff else None)
    grant_departments = list(departments) or ([staff.department] if scope == "departments" else [])
    user.grants.append(RoleGrant(role=role_row, scope=scope, departments=grant_departments))
    db.session.add(user)
    db.session.flush()
    return user
