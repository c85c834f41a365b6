"""Route crawl: every GET route, as every demo role (and anonymously), with marker records planted
outside each role's scope. No response may be a 500, and no page, export or API answer may show a
marker the role must not see; detail pages of such markers answer 404 (R1.1).

Routes with arguments take their values from ARG_VALUES. A new module that adds a route with a new
argument name makes this test fail until the argument is added there, so the crawl stays complete.
"""
from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app.demo.hospital import DEMO_ACCOUNTS

MARK = "ZZMARK-7f3a"
SURGERY = "普通外科"  # the department of head, qcofficer, doctor and nurse
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SKIP_ENDPOINTS = {"static"}
PAGE_STATUSES = {200, 302, 303, 400, 403, 404}


@dataclass(frozen=True)
class Marker:
    key: str
    text: str  # unique in the database; no marker text is a prefix of another
    id: int
    visible: bool  # inside the crawling role's scope


@dataclass
class World:
    """What one role's crawl knows: ids inside its scope and the planted markers."""

    username: str | None
    markers: dict[str, Marker]
    own_staff_id: int
    own_department_id: int
    own_user_id: int
    token_id: int = 0


# argument name → (values inside the role's scope, marker records). Add new argument names here.
def _with(extra: list, values: tuple[list, list]) -> tuple[list, list]:
    return [*extra, *values[0]], values[1]


def _decision_version_ids() -> list[int]:
    from app.extensions import db
    from app.workflow.models import DecisionVersion

    return list(db.session.scalars(select(DecisionVersion.id).where(DecisionVersion.key == "example_risk")))


def _process_version_ids() -> list[int]:
    from app.extensions import db
    from app.workflow.models import ProcessDefinition, ProcessVersion

    return list(db.session.scalars(select(ProcessVersion.id).join(ProcessDefinition)
                                   .where(ProcessDefinition.key == "example_review_chain")))


ARG_VALUES: dict[str, Callable[[World], tuple[list, list[Marker]]]] = {
    "staff_id": lambda w: ([w.own_staff_id], [w.markers["staff_other"], w.markers["staff_same"]]),
    "department_id": lambda w: ([w.own_department_id], [w.markers["dept"]]),
    "user_id": lambda w: ([w.own_user_id], [w.markers["user"]]),
    "token_id": lambda w: ([w.token_id], []),
    # /vendor/<package>/<path:filename>: one real file is enough.
    "package": lambda w: (["bootstrap"], []),
    "filename": lambda w: (["css/bootstrap.min.css"], []),
    # /api/lookup/<source>: the typeahead data sources of forms.
    "source": lambda w: (["staff", "departments", "users", "work_history", "training_history"], []),
    # /jobs/<run_id>: progress of a background job (404 unless the viewer started it or administers jobs).
    "run_id": lambda w: ([1], []),
    # Portal: the role's own application (task, record, attachment, process key) and a marker
    # application of another department, visible only to hospital-wide oversight (else 404).
    "task_id": lambda w: __import__("tests.portal.crawl", fromlist=["crawl"]).values(w, Marker, "task_id"),
    "instance_id": lambda w: __import__("tests.portal.crawl", fromlist=["crawl"]).values(w, Marker, "instance_id"),
    "attachment_id": lambda w: __import__("tests.portal.crawl", fromlist=["crawl"]).values(w, Marker, "attachment_id"),
    "key": lambda w: _with(["example_risk", "example_review_chain"],
                           __import__("tests.portal.crawl", fromlist=["crawl"]).values(w, Marker, "key")),
    # Rules studio: the versions of the shipped example decision.
    "version_id": lambda w: (_decision_version_ids() + _process_version_ids(), []),
    # Process and form studio: the shipped example form.
    "name": lambda w: (["example_review"], []),
    # Clinical data: a stay inside the role's scope, one outside (must 404); imports; dictionaries.
    "stay_id": lambda w: __import__("tests.clinical.crawl", fromlist=["crawl"]).stay_values(w),
    "import_id": lambda w: __import__("tests.clinical.crawl", fromlist=["crawl"]).import_values(w),
    "dictionary": lambda w: (["procedures", "drugs", "diagnoses"], []),
    "entry_id": lambda w: ([1], []),
    # Privileges: the apply page per type; an application and a grant in scope, marker ones outside.
    "ptype": lambda w: __import__("tests.privileges.crawl", fromlist=["crawl"]).ptype_values(w),
    "application_id": lambda w: __import__("tests.privileges.crawl", fromlist=["crawl"]).application_values(w),
    "grant_id": lambda w: __import__("tests.privileges.crawl", fromlist=["crawl"]).grant_values(w),
    # Doctor dossier: the role's own dossier and its records; the planted staff members' dossiers
    # and records where the role's dossier scope does not reach them (must 404).
    **{arg: (lambda a: lambda w: __import__("tests.dossier.crawl", fromlist=["crawl"]).values(w, Marker, a))(arg)
       for arg in ("person_id", "certificate_id", "file_id", "history_id", "adverse_id", "export_id", "batch_id")},
    # Catalog: hospital items and restricted technologies (hospital-wide), their indicators, and a
    # department-catalog row inside the role's scope plus a marker row of the marker department.
    "item_id": lambda w: __import__("tests.catalog.crawl", fromlist=["crawl"]).item_values(w),
    "indicator_id": lambda w: __import__("tests.catalog.crawl", fromlist=["crawl"]).indicator_values(w),
    "row_id": lambda w: __import__("tests.catalog.crawl", fromlist=["crawl"]).row_values(w),
}


@dataclass(frozen=True)
class Visit:
    url: str
    endpoint: str
    is_api: bool
    markers: tuple[Marker, ...] = ()  # marker records whose ids are in the URL
    in_scope_url: str | None = None  # the same route with in-scope ids (for marker URLs)


def _get_rules(app):
    return sorted((r for r in app.url_map.iter_rules()
                   if "GET" in (r.methods or ()) and r.endpoint not in SKIP_ENDPOINTS),
                  key=lambda r: r.rule)


def _missing_arguments(app) -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {}
    for rule in _get_rules(app):
        for arg in sorted(rule.arguments - set(rule.defaults or {})):
            if arg not in ARG_VALUES:
                missing.setdefault(arg, []).append(rule.rule)
    return missing


def _visits(app, world: World) -> list[Visit]:
    missing = _missing_arguments(app)
    if missing:
        lines = [f"  <{arg}> used by {', '.join(rules)}" for arg, rules in sorted(missing.items())]
        pytest.fail("route arguments without crawl values — add them to ARG_VALUES in "
                    "tests/test_route_crawl.py (an id inside the role's scope and the marker "
                    "record's id):\n" + "\n".join(lines), pytrace=False)
    visits: list[Visit] = []
    adapter = app.url_map.bind("localhost")
    for rule in _get_rules(app):
        is_api = rule.endpoint.startswith("api.")
        args = sorted(rule.arguments - set(rule.defaults or {}))
        if not args:
            url = adapter.build(rule.endpoint, {}, method="GET")
            visits.append(Visit(url, rule.endpoint, is_api))
            # Filters must not widen the scope either (and lists are paginated: search the marker).
            for query in ({"q": MARK}, {"department_id": world.markers["dept"].id}):
                visits.append(Visit(f"{url}?{urlencode(query)}", rule.endpoint, is_api))
            continue
        values = {arg: ARG_VALUES[arg](world) for arg in args}
        base = {arg: values[arg][0][0] for arg in args}
        in_scope_url = adapter.build(rule.endpoint, base, method="GET")
        for combo in itertools.product(*(values[arg][0] for arg in args)):
            visits.append(Visit(adapter.build(rule.endpoint, dict(zip(args, combo)), method="GET"),
                                rule.endpoint, is_api))
        for arg in args:
            for marker in values[arg][1]:
                url = adapter.build(rule.endpoint, {**base, arg: marker.id}, method="GET")
                visits.append(Visit(url, rule.endpoint, is_api, (marker,), in_scope_url))
    return visits


def _body_text(response) -> str:
    data = response.get_data()
    if response.mimetype == XLSX:
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(str(value) for sheet in workbook.worksheets
                         for row in sheet.iter_rows(values_only=True)
                         for value in row if value is not None)
    if data[:4] == b"PK\x03\x04":  # other office files: search every member of the zip
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace")
                             for name in archive.namelist())
    return data.decode("utf-8", "replace")


def _plant_markers(db_session) -> dict[str, int]:
    from app.modules.accounts import services as accounts
    from app.modules.org.models import Department
    from tests import factories

    surgery = db_session.scalar(select(Department).where(Department.name == SURGERY))
    assert surgery is not None, f"the demo has no {SURGERY}"
    dept = factories.create_department(name=f"{MARK}-DEPT 标记科室")
    staff_other = factories.create_staff(name=f"{MARK}-OTHER", department=dept)
    staff_same = factories.create_staff(name=f"{MARK}-SAME", department=surgery)
    user = accounts.create_user(None, username="zzmark7f3a", password="not-used-7f3a",
                                display_name=f"{MARK}-USER", staff_id=staff_other.id)
    db_session.flush()
    return {"dept": dept.id, "staff_other": staff_other.id, "staff_same": staff_same.id,
            "user": user.id, "surgery": surgery.id, "staff_other_dept": dept.id,
            "staff_same_dept": surgery.id}


def _world(db_session, username: str | None) -> World:
    """Markers and in-scope ids for `username` (None: anonymous), from its org.view reach."""
    from app.core.scopes import can, reach, scope_filter
    from app.modules.accounts.models import User
    from app.modules.org.models import Department, Staff

    ids = _plant_markers(db_session)
    user = db_session.scalar(select(User).where(User.username == username)) if username else None
    assert username is None or user is not None, f"demo account {username} missing"
    r = reach(user, "org.view")
    own_dept = None
    if user is not None and user.staff_id is not None:
        own_dept = db_session.get(Staff, user.staff_id).department_id

    def dept_visible(dept_id: int) -> bool:
        return r.hospital or dept_id in r.department_ids or (
            r.staff_id is not None and dept_id == own_dept)

    def staff_visible(staff_id: int, dept_id: int) -> bool:
        return r.hospital or dept_id in r.department_ids or staff_id == r.staff_id

    other_visible = staff_visible(ids["staff_other"], ids["staff_other_dept"])
    markers = {
        "dept": Marker("dept", f"{MARK}-DEPT", ids["dept"], dept_visible(ids["dept"])),
        "staff_other": Marker("staff_other", f"{MARK}-OTHER", ids["staff_other"], other_visible),
        "staff_same": Marker("staff_same", f"{MARK}-SAME", ids["staff_same"],
                             staff_visible(ids["staff_same"], ids["staff_same_dept"])),
        # The account of the other-department marker: user management is hospital-wide, so it
        # may show only to those who manage accounts and see that staff member.
        "user": Marker("user", f"{MARK}-USER", ids["user"],
                       other_visible and can(user, "accounts.manage")),
    }

    def first(stmt):
        return db_session.scalar(stmt.limit(1))

    if user is not None:
        own_staff = user.staff_id or first(select(Staff.id).where(scope_filter(user, "staff"))
                                           .order_by(Staff.id))
        own_department = own_dept or first(select(Department.id)
                                           .where(scope_filter(user, "department"))
                                           .order_by(Department.id))
        own_user = user.id
    else:
        own_staff = own_department = own_user = None
    return World(username, markers,
                 own_staff or first(select(Staff.id).order_by(Staff.id)),
                 own_department or first(select(Department.id).order_by(Department.id)),
                 own_user or first(select(User.id).order_by(User.id)))


def _crawl(client, world: World, visits: list[Visit], headers=None) -> tuple[list[str], set[str]]:
    """Visit every URL; return the problems found and the marker keys seen in any body."""
    problems: list[str] = []
    seen: set[str] = set()
    statuses: dict[str, int] = {}
    who = world.username or "anonymous"
    for visit in visits:
        try:
            response = client.get(visit.url, headers=headers or {})
        except Exception as exc:  # a propagated server error is a 500 too
            problems.append(f"{who} GET {visit.url}: raised {exc!r}")
            continue
        status = response.status_code
        statuses[visit.url] = status
        if status >= 500:
            problems.append(f"{who} GET {visit.url}: {status}")
            continue
        if headers:  # the API with a token
            allowed = {200, 400, 404}
        elif visit.is_api:
            allowed = {401}  # the API takes no cookies: the session must not log the browser in
        elif visit.endpoint == "vendor":
            allowed = {200}
        else:
            allowed = PAGE_STATUSES
        if status not in allowed:
            problems.append(f"{who} GET {visit.url}: {status}, expected one of {sorted(allowed)}")
        body = _body_text(response)
        for marker in world.markers.values():
            if marker.text in body:
                seen.add(marker.key)
                if not marker.visible:
                    problems.append(f"{who} GET {visit.url}: shows {marker.text}, outside its scope")
        for marker in visit.markers:
            # The same route with in-scope ids: 200 means the role may use the page, so an
            # out-of-scope record must answer 404; 403 or a login redirect must stay just that.
            baseline = statuses.get(visit.in_scope_url)
            if not marker.visible and status != 404 and (baseline == 200 or status != baseline):
                problems.append(f"{who} GET {visit.url}: {status} for out-of-scope {marker.key} "
                                f"({visit.in_scope_url} answers {baseline}), expected 404")
            elif marker.visible and baseline == 200 and status != 200:
                problems.append(f"{who} GET {visit.url}: {status} for in-scope {marker.key} "
                                f"({visit.in_scope_url} answers 200), expected 200")
    return problems, seen


ACCOUNTS = [account.username for account in DEMO_ACCOUNTS]


@pytest.mark.sqlite_only
@pytest.mark.req("R1.1")
@pytest.mark.parametrize("username", [*ACCOUNTS, None], ids=[*ACCOUNTS, "anonymous"])
def test_crawl_as_role(app, db_session, client, login, username):
    world = _world(db_session, username)
    if username is not None:
        response = login(username)
        assert response.status_code == 303, f"{username} could not log in"
    visits = _visits(app, world)
    problems, seen = _crawl(client, world, visits)
    if username is not None:
        # Still logged in at the end, so the crawl saw the role's pages, not the login page.
        assert client.get("/").status_code == 200, f"{username} was logged out during the crawl"
        # The crawl reaches the markers the role may see (else the leak check proves nothing).
        unseen = [m.text for m in world.markers.values() if m.visible and m.key not in seen]
        assert not unseen, f"{username}: in-scope markers found on no page: {unseen}"
    assert not problems, "\n".join(problems)


@pytest.mark.sqlite_only
@pytest.mark.req("R1.1")
def test_crawl_api_with_token(app, db_session):
    from app.modules.accounts import services as accounts
    from app.modules.accounts.models import User

    world = replace(_world(db_session, None), username="api-token")
    # Tokens read the whole hospital: every marker is in scope, yet no route may fail on one.
    world.markers = {k: replace(m, visible=True) for k, m in world.markers.items()}
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    token, text = accounts.create_token(admin, "route crawl", list(accounts.API_SCOPES), None)
    world.token_id = token.id
    db_session.flush()
    visits = [v for v in _visits(app, world) if v.is_api]
    assert visits, "no API routes found"
    client = app.test_client()
    problems, _seen = _crawl(client, world, visits, headers={"Authorization": f"Bearer {text}"})
    for visit in visits:
        if not visit.markers and "?" not in visit.url:
            response = client.get(visit.url, headers={"Authorization": f"Bearer {text}"})
            if response.status_code != 200 or not response.is_json:
                problems.append(f"token GET {visit.url}: {response.status_code} "
                                f"{response.mimetype}, expected 200 JSON")
    assert not problems, "\n".join(problems)
