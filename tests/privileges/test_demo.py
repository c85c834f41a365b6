"""The demo hospital's grants agree with the clinical demo's planted anomalies (R1.9, R3.1): every
operation planted as "above level" is above its surgeon's grants on that day, and no other operation is."""
from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select

from app.modules.clinical.models import Operation
from app.modules.privileges import grants
from app.modules.privileges.ceiling import level_ceiling
from app.modules.privileges.models import Application, Grant
from app.modules.privileges.types import CEILING_TYPES


def _planted(app) -> set[int]:
    from app.modules.clinical.demo import ground_truth_path

    with app.test_request_context():
        path = ground_truth_path()
    with path.open(encoding="utf-8") as fh:
        return {int(row["record_id"]) for row in csv.DictReader(fh) if row["kind"] == "op_above_level"}


def _max_granted_level(db, staff_id, day) -> int:
    rows = db.session.scalars(select(Grant).where(Grant.staff_id == staff_id, Grant.ptype.in_(CEILING_TYPES))).all()
    return max((g.level or 0 for g in rows if grants.current_state(g, day).valid), default=0)


@pytest.mark.req("R1.9")
@pytest.mark.req("R3.1")
def test_planted_above_level_operations_are_above_the_grant(pv, app):
    db = pv.db
    planted = _planted(app)
    assert planted
    for op in db.session.scalars(select(Operation).where(Operation.id.in_(planted))):
        day = op.performed_at.date()
        assert op.above_level, op.id
        assert op.level > _max_granted_level(db, op.surgeon_id, day), (op.id, op.level)
        assert level_ceiling(op.surgeon_id, day) is not None and op.level > level_ceiling(op.surgeon_id, day)
    flagged = set(db.session.scalars(select(Operation.id).where(Operation.above_level.is_(True))))
    assert flagged == planted


@pytest.mark.req("R1.9")
def test_operations_within_their_grants(pv):
    """A sample of ordinary operations: their surgeon held a grant of at least that level that day."""
    db = pv.db
    ops = db.session.scalars(select(Operation).where(Operation.above_level.is_(False)).order_by(Operation.id)
                             .limit(80)).all()
    for op in ops:
        assert _max_granted_level(db, op.surgeon_id, op.performed_at.date()) >= op.level, op.id


def test_demo_made_grants_of_every_kind_and_applications(pv):
    db = pv.db
    kinds = set(db.session.scalars(select(Grant.ptype).distinct()))
    assert {"surgery", "rx_general", "rx_antimicrobial", "rx_controlled", "medtech"} <= kinds
    assert db.session.scalar(select(func.count()).select_from(Grant).where(Grant.status == "expired")) > 0
    assert db.session.scalar(select(func.count()).select_from(Grant).where(Grant.status == "suspended")) >= 1
    statuses = set(db.session.scalars(select(Application.status)))
    assert {"approved", "pending"} <= statuses
    from app.demo.hospital import DEMO_ACCOUNTS
    from app.workflow.models import Instance, Task

    waiting = db.session.scalars(select(Task).where(Task.process_key.like("privilege_%"),
                                                    Task.status == "open")).all()
    assert waiting and {t.spec for t in waiting} == {"dept_review"}
    # The named demo logins' inboxes stay as the portal's own demo leaves them.
    named = {pv.user(a.username).id for a in DEMO_ACCOUNTS}
    assert not any(t.assignee_id in named or named & {c.user_id for c in t.candidates} for t in waiting)
    starters = set(db.session.scalars(select(Instance.started_by_id).where(Instance.process_key.like("privilege_%"))))
    assert not starters & named
