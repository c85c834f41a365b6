"""The embedded SQLite database with several writers at once: a transaction that reads and then
writes must not fail because someone else committed in between (two people logging in or
approving at the same moment); it waits its turn instead."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update

from app.core import uow
from app.extensions import db
from app.modules.org.models import Hospital

pytestmark = [pytest.mark.sqlite_only, pytest.mark.req("U1")]


@pytest.fixture()
def file_app(tmp_path):
    from tests.conftest import make_app, migrate_and_seed

    app = make_app(f"sqlite:///{tmp_path / 'writers.db'}", tmp_path)
    migrate_and_seed(app, scale=None)
    with app.app_context():
        db.session.add(Hospital(code="UOW", name="甲医院"))
        uow.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_reader_that_then_writes_waits_for_another_writer_instead_of_failing(file_app):
    has_read, errors = threading.Event(), []

    def read_then_write():
        with file_app.app_context():
            try:
                name = db.session.scalar(select(Hospital.name).where(Hospital.code == "UOW"))
                has_read.set()
                time.sleep(0.3)  # meanwhile the other writer tries to commit
                db.session.execute(update(Hospital).where(Hospital.code == "UOW").values(name=name + "·一"))
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 -- reported below
                errors.append(repr(exc))
                db.session.rollback()
            finally:
                db.session.remove()

    worker = threading.Thread(target=read_then_write)
    worker.start()
    assert has_read.wait(5)
    with file_app.app_context():
        db.session.execute(update(Hospital).where(Hospital.code == "UOW").values(name=Hospital.name + "·二"))
        db.session.commit()
        worker.join(10)
        assert errors == []
        # The second writer waited for the first: its change lands on top, nothing is lost.
        assert db.session.scalar(select(Hospital.name).where(Hospital.code == "UOW")) == "甲医院·一·二"
        db.session.remove()


def test_page_views_read_without_waiting_for_a_writer(file_app):
    holding, release = threading.Event(), threading.Event()

    def writer():
        with file_app.app_context():
            db.session.execute(update(Hospital).where(Hospital.code == "UOW").values(name="乙医院"))
            holding.set()
            release.wait(5)
            db.session.commit()
            db.session.remove()

    worker = threading.Thread(target=writer)
    worker.start()
    assert holding.wait(5)
    try:
        started = time.monotonic()
        response = file_app.test_client().get("/login")
        assert response.status_code == 200 and time.monotonic() - started < 5
    finally:
        release.set()
        worker.join(10)


def test_which_requests_start_deferred(file_app):
    from app.core.uow import _reading_request

    for method, path, deferred in (("GET", "/tasks", True), ("HEAD", "/", True), ("POST", "/tasks/1/claim", False),
                                   ("GET", "/api/v1/staff", False),  # token API calls note their token's use
                                   ("GET", "/api/lookup/staff", True)):  # a form's typeahead (session) only reads
        with file_app.test_request_context(path, method=method):
            assert _reading_request() is deferred, (method, path)
    assert _reading_request() is False  # jobs and commands may write


def test_a_page_view_that_marks_copies_read_still_shows_when_someone_wrote_meanwhile(file_app):
    from app.modules.accounts.models import User
    from app.modules.portal.pages import mark_copies_read

    with file_app.test_request_context("/instances/1"), file_app.app_context():
        assert db.session.scalar(select(Hospital.name).where(Hospital.code == "UOW"))  # the view has read
        other = threading.Thread(target=_write_elsewhere, args=(file_app,))
        other.start()
        other.join(10)
        mark_copies_read(User(id=1), 1)  # cannot write now: skipped, no error
        assert db.session.scalar(select(Hospital.name).where(Hospital.code == "UOW")) == "甲医院"  # still usable
        db.session.rollback()
        db.session.remove()


def _write_elsewhere(app):
    with app.app_context():
        db.session.execute(update(Hospital).where(Hospital.code == "UOW").values(name="丙医院"))
        db.session.commit()
        db.session.remove()
