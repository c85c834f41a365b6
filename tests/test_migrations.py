"""Migrations run on SQLite and PostgreSQL and describe exactly the models."""
import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.extensions import db


def test_single_head(app):
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_models_match_the_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"render_as_batch": True}),
                                db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_base_and_upgrade_again(backend, tmp_path):
    import contextlib

    from tests.conftest import make_app, scratch_postgres

    with scratch_postgres("mig") if backend == "postgres" else \
            contextlib.nullcontext(f"sqlite:///{tmp_path / 'mig.db'}") as target:
        app = make_app(target, tmp_path)
        with app.app_context():
            flask_migrate.upgrade()
            with db.engine.connect() as conn:  # the chain's head is there before any entry
                assert conn.execute(sa.text("SELECT seq FROM audit_head")).scalar_one() == 0
            flask_migrate.downgrade(revision="base")
            assert set(db.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            flask_migrate.upgrade()
            assert "staff" in db.inspect(db.engine).get_table_names()
            db.engine.dispose()
