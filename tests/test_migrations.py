"""Migrations run on SQLite and PostgreSQL and describe exactly the models."""
import flask_migrate
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
    from tests.conftest import PG_URL, make_app

    if backend == "postgres":
        import sqlalchemy as sa

        url = sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg2")
        scratch = url.set(database=f"{url.database}_mig")
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{scratch.database}"'))
        target = scratch.render_as_string(hide_password=False)
    else:
        target = f"sqlite:///{tmp_path / 'mig.db'}"
    app = make_app(target, tmp_path)
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert set(db.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        flask_migrate.upgrade()
        assert "staff" in db.inspect(db.engine).get_table_names()
        db.engine.dispose()
