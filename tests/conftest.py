"""Test fixtures: one app per database backend per session, a rolled-back transaction per test.

Tests that use `app`, `db_session`, `client`, `ctx` … run on SQLite and again on PostgreSQL
(`TEST_DATABASE_URL`, default the local server). Mark a test `sqlite_only` to skip the second pass
(browser tests and the route crawl run on SQLite only). Under CI=true (or TEST_POSTGRES=required)
an unreachable PostgreSQL fails the run instead of skipping the pass.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import scoped_session, sessionmaker

pytest_plugins = ["tests.plugins.traceability", "tests.plugins.browser"]

# Without TEST_DATABASE_URL each run gets its own database, so parallel runs never collide.
PG_URL = os.environ.get("TEST_DATABASE_URL",
                        f"postgresql://postgres@127.0.0.1:5432/medtech_test_{os.getpid()}")
PG_REQUIRED = os.environ.get("CI", "").lower() == "true" or os.environ.get("TEST_POSTGRES") == "required"


@contextlib.contextmanager
def scratch_postgres(suffix: str):
    """A PostgreSQL database of its own (`<test database>_<suffix>`), dropped afterwards: for tests
    that need real commits from several connections. Skips (fails on CI) when PostgreSQL is down."""
    url = sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg2")
    scratch = url.set(database=f"{url.database}_{suffix}")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{scratch.database}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if PG_REQUIRED:
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    try:
        yield scratch.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
        admin.dispose()


def pytest_addoption(parser):
    parser.addoption("--no-postgres", action="store_true", help="skip the PostgreSQL pass")


def _postgres_reachable() -> str | None:
    """Create the test database if needed; return None when reachable, else the reason."""
    url = sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg2")
    try:
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
    except sa.exc.OperationalError as exc:
        return str(exc).splitlines()[0]
    return None


def pytest_configure(config):
    config.backends = ["sqlite"]
    if config.getoption("--no-postgres"):
        return
    reason = _postgres_reachable()
    if reason is None:
        config.backends.append("postgres")
    elif PG_REQUIRED:
        raise pytest.UsageError(f"PostgreSQL is required (CI) but unreachable at {PG_URL}: {reason}")
    else:
        config.postgres_skip_reason = reason


def pytest_unconfigure(config):
    if "postgres" in getattr(config, "backends", ()):
        url = sa.engine.make_url(PG_URL).set(drivername="postgresql+psycopg2")
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (url.database, f"{url.database}_mig"):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        backends = list(metafunc.config.backends)
        if metafunc.definition.get_closest_marker("sqlite_only") or \
                metafunc.definition.get_closest_marker("browser"):
            backends = ["sqlite"]
        metafunc.parametrize("backend", backends, scope="session")


class _TestSession(scoped_session):
    """Requests end by removing the session; in a test it lives on, so that the test's objects
    stay attached (commits only release savepoints, and expire what a later read reloads)."""

    def remove(self, final: bool = False) -> None:
        if final:
            super().remove()


class Client(FlaskClient):
    """Each request runs in its own app context, as in production (fresh `g`, fresh login)."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(database_url: str, instance: Path, **overrides):
    os.environ["MEDTECH_INSTANCE"] = str(instance)
    from app import create_app

    config = {"DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-0123456789",
              "TESTING": True, "REDIS_URL": ""}
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = Client
    return app


def migrate_and_seed(app, scale: str | None = "tiny") -> None:
    import flask_migrate

    from app.core import sync, uow

    with app.app_context():
        flask_migrate.upgrade()
        sync.run_all()
        if scale:
            from app.demo import build_demo

            build_demo(scale=scale, password="demo")
        uow.commit()


@pytest.fixture(scope="session")
def app(backend, tmp_path_factory):
    instance = tmp_path_factory.mktemp(f"instance-{backend}")
    if backend == "sqlite":
        url = f"sqlite:///{instance / 'test.db'}"
    else:
        url = PG_URL
    app = make_app(url, instance)
    migrate_and_seed(app)
    yield app
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture()
def db_session(app):
    """The test's transaction: everything it and its requests write is rolled back after it."""
    from app.extensions import db

    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = _TestSession(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=threading.get_ident,
        )
        try:
            yield db.session
        finally:
            db.session.remove(final=True)
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture()
def ctx(app, db_session):
    """An app context for service-level tests (requests made meanwhile get their own)."""
    with app.app_context():
        yield app


@pytest.fixture()
def client(app, db_session):
    return app.test_client()


@pytest.fixture()
def login(client):
    """login(username, password='demo') → the response; CSRF token taken from the form."""
    import re

    def do(username: str, password: str = "demo", on=None):
        browser = on or client
        page = browser.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        return browser.post("/login", data={"username": username, "password": password,
                                            "csrf_token": token})

    return do


def csrf_token(client, path: str = "/") -> str:
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page) or \
        re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    return match.group(1)


@pytest.fixture()
def csrf(client):
    return lambda path="/": csrf_token(client, path)
