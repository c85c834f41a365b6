import pytest
from sqlalchemy import func, select

from app.demo import build_demo
from app.demo.hospital import DEMO_ACCOUNTS
from app.extensions import db
from app.modules.accounts.models import User
from app.modules.org.models import Department, Staff
from tests.conftest import make_app, migrate_and_seed


def _snapshot():
    return [tuple(r) for r in db.session.execute(
        select(Staff.employee_no, Staff.name, Staff.title_code, Staff.department_id, Staff.birth_date)
        .order_by(Staff.employee_no))]


@pytest.mark.sqlite_only
@pytest.mark.req("R1.1")
def test_demo_is_deterministic_and_sized(tmp_path):
    snapshots = []
    for run in range(2):
        app = make_app(f"sqlite:///{tmp_path / f'd{run}.db'}", tmp_path)
        migrate_and_seed(app, scale=None)
        with app.app_context():
            report = build_demo(scale="small", password="demo")
            db.session.commit()
            snapshots.append(_snapshot())
            departments = db.session.scalar(select(func.count(Department.id)))
            staff = db.session.scalar(select(func.count(Staff.id)))
            named = set(db.session.scalars(select(User.username).where(User.is_demo.is_(True))))
            db.engine.dispose()
        assert 25 <= departments <= 40 and 250 <= staff <= 400, report.counts
        assert {a.username for a in DEMO_ACCOUNTS} <= named
    assert snapshots[0] == snapshots[1]


def test_every_doctor_has_a_practice_scope_matching_the_category(ctx):
    from app.modules.org.dictionaries import PRACTICE_SCOPES

    rows = db.session.execute(select(Staff.practice_category, Staff.practice_scope)
                              .where(Staff.staff_type == "physician")).all()
    assert rows
    for category, scope in rows:
        assert scope in PRACTICE_SCOPES[category]


def test_demo_logins_work_for_every_role(client, login):
    for account in DEMO_ACCOUNTS:
        response = login(account.username)
        assert response.status_code == 303, account.username
        assert client.get("/").status_code == 200
        client.post("/logout", data={"csrf_token": __import__("tests.conftest", fromlist=["x"])
                                     .csrf_token(client)})
