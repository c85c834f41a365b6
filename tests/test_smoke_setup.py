import pytest


@pytest.mark.req("R1.1")
def test_demo_users_exist(ctx):
    from sqlalchemy import select

    from app.extensions import db
    from app.modules.accounts.models import User

    names = set(db.session.scalars(select(User.username)))
    assert {"admin", "doctor", "head", "medaffairs"} <= names
