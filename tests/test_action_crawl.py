"""Action crawl: every state-changing route (POST, PUT, PATCH, DELETE) is refused where it must be,
and a refused request writes nothing (R1.1 and the rule "check the right on every action").

1. CSRF: a logged-in administrator's POST without a token to every non-API route answers 400.
2. Rights and scope: as every demo role and anonymously, a POST with a valid CSRF token aimed at a
   record outside the role's scope (the GET crawl's markers) or at an action the role lacks the right
   for answers 403/404 (anonymous: a redirect to the login page; the API: 401 without a token).
3. A token without the route's scope is refused by every API action.

"Writes nothing" is checked with a change journal: temporary SQLite triggers on every table (insert,
delete, and an update that changes a value) note the table in a temporary table. The journal is part
of the transaction, so what a refused request rolls back disappears from it too, and what stays is
exactly what the request left in the database — cheaper and stricter than hashing every table
before and after each of the ~2,500 requests.

The route arguments come from the GET crawl's ARG_VALUES (plus the few only actions use, below), so a
new argument name fails this test as it fails the GET crawl. RIGHTS says who may act on an in-scope
record (tests/action_rights.py); a new state-changing endpoint fails the test until it is listed there.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from werkzeug.routing.converters import AnyConverter

from tests.action_rights import ACTION_ARG_VALUES, PAYLOADS, PUBLIC, RIGHTS, Rule, seen_only_records
from tests.conftest import csrf_token
from tests.test_route_crawl import ACCOUNTS, SKIP_ENDPOINTS, Marker, World, _world

STATE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REFUSED = {403, 404}
# Tables a refused request may legitimately change. None: logging in happens before the journal
# starts (so the session and login bookkeeping of user_account is not in it), the unit of work rolls
# back every response >= 400, refused attempts are not written to the audit log, and the API notes a
# token's use only after its scope was accepted. A table added here needs its reason beside it.
UNWATCHED_TABLES: set[str] = set()


# --- the crawl -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    endpoint: str
    method: str
    url: str
    is_api: bool
    args: dict
    outside: tuple[Marker, ...] = ()  # invisible marker records in the URL


def action_rules(app) -> list:
    return sorted((r for r in app.url_map.iter_rules()
                   if set(r.methods or ()) & STATE_METHODS and r.endpoint not in SKIP_ENDPOINTS),
                  key=lambda r: (r.rule, r.endpoint))


def _arguments(rule) -> list[str]:
    return sorted(rule.arguments - set(rule.defaults or {}))


def _check_complete(app) -> None:
    problems = []
    for rule in action_rules(app):
        if not rule.endpoint.startswith("api.") and rule.endpoint not in RIGHTS:
            problems.append(f"  {rule.endpoint} ({rule.rule}): add it to RIGHTS in tests/action_rights.py")
        for arg in _arguments(rule):
            if arg not in ACTION_ARG_VALUES and not isinstance(rule._converters.get(arg), AnyConverter):
                problems.append(f"  <{arg}> of {rule.rule}: add it to ARG_VALUES (tests/test_route_crawl.py) "
                                "or ACTION_ARG_VALUES")
    endpoints = {rule.endpoint for rule in action_rules(app)}
    problems += [f"  {name}: in RIGHTS or PAYLOADS but no longer a state-changing endpoint"
                 for name in sorted((set(RIGHTS) | set(PAYLOADS)) - endpoints)]
    if problems:
        pytest.fail("state-changing routes the action crawl does not cover:\n" + "\n".join(problems),
                    pytrace=False)


def _attempts(app, world: World) -> list[Attempt]:
    _check_complete(app)
    cache: dict[str, tuple[list, list]] = {}
    extra = seen_only_records(world)

    def values(rule, arg):
        converter = rule._converters.get(arg)
        if isinstance(converter, AnyConverter):
            return sorted(converter.items), []
        if arg not in cache:
            inside, outside = ACTION_ARG_VALUES[arg](world)
            cache[arg] = ([*inside, *extra.get(arg, [])], outside)
        return cache[arg]

    adapter = app.url_map.bind("localhost")
    attempts = []
    for rule in action_rules(app):
        is_api = rule.endpoint.startswith("api.")
        method = next(m for m in ("POST", "PUT", "PATCH", "DELETE") if m in rule.methods)
        args = _arguments(rule)
        found = {arg: values(rule, arg) for arg in args}
        base = {arg: found[arg][0][0] for arg in args}
        for combo in itertools.product(*(found[arg][0] for arg in args)):
            given = dict(zip(args, combo))
            attempts.append(Attempt(rule.endpoint, method, adapter.build(rule.endpoint, given, method=method),
                                    is_api, given))
        for arg in args:
            for marker in found[arg][1]:
                given = {**base, arg: marker.id}
                attempts.append(Attempt(rule.endpoint, method, adapter.build(rule.endpoint, given, method=method),
                                        is_api, given, () if marker.visible else (marker,)))
    return attempts


class Journal:
    """Tables changed since the last `clear()` and still changed (rolled-back writes vanish)."""

    def __init__(self, session):
        # On the test's connection itself, outside the session's savepoints: a request's rollback
        # must take its journal rows with it, not the journal. What the test planted is committed
        # (to the test's outer transaction) first, so the journal starts after it.
        self.session = session
        session.commit()
        self.conn = conn = session.session_factory.kw["bind"]
        conn.exec_driver_sql("CREATE TEMP TABLE crawl_journal (tbl TEXT, op TEXT)")
        tables = [name for (name,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            if table in UNWATCHED_TABLES:
                continue
            columns = [row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')]
            changed = " OR ".join(f'OLD."{c}" IS NOT NEW."{c}"' for c in columns)
            for op, when in (("INSERT", ""), ("DELETE", ""), ("UPDATE", f"WHEN {changed}")):
                conn.exec_driver_sql(
                    f'CREATE TEMP TRIGGER "crawl_{table}_{op}" AFTER {op} ON main."{table}" {when} '
                    f"BEGIN INSERT INTO crawl_journal VALUES ('{table}', '{op}'); END")
        self.tables = len(tables)

    def clear(self) -> None:
        # The test's own reads (RIGHTS) may have opened a savepoint: end it first, or a refused
        # request's rollback to it would bring back the rows deleted here.
        self.session.commit()
        self.conn.exec_driver_sql("DELETE FROM crawl_journal")

    def changed(self) -> list[str]:
        rows = self.conn.exec_driver_sql(
            "SELECT tbl, op, count(*) FROM crawl_journal GROUP BY tbl, op ORDER BY tbl, op").all()
        return [f"{op.lower()} {table} ×{n}" for table, op, n in rows]


def _payload(world: World, endpoint: str, token: str | None) -> dict:
    data = PAYLOADS[endpoint](world) if endpoint in PAYLOADS else {}
    if token is not None:
        data["csrf_token"] = token
    return data


def _post(client, attempt: Attempt, data: dict, headers=None):
    try:
        return client.open(attempt.url, method=attempt.method, data=data, headers=headers or {}), None
    except Exception as exc:  # a propagated server error
        return None, repr(exc)


def _refusal_problem(who: str, attempt: Attempt, response, anonymous: bool) -> str | None:
    status = response.status_code
    if attempt.is_api:
        expected = {401}  # the API takes no session cookie, logged in or not
    elif anonymous:
        location = response.headers.get("Location", "")
        if status in (302, 303) and "/login" in location:
            return None
        return f"{who} POST {attempt.url}: {status} {location}, expected a redirect to the login page"
    else:
        expected = REFUSED
    if status not in expected:
        why = f"out-of-scope {', '.join(m.key for m in attempt.outside)}" if attempt.outside else "without the right"
        return f"{who} POST {attempt.url} ({why}): {status}, expected one of {sorted(expected)}"
    return None


def _may(rule: Rule, user, args: dict) -> bool:
    from flask import current_app

    with current_app.test_request_context():  # some rules build URLs
        return rule(user, args)


def crawl_actions(client, world: World, user, attempts: list[Attempt], token: str | None,
                  journal: Journal) -> tuple[list[str], int]:
    from app.core.scopes import can  # noqa: F401  (RIGHTS helpers import lazily)

    problems, posted = [], 0
    who = world.username or "anonymous"
    anonymous = user is None
    for attempt in attempts:
        rule = RIGHTS.get(attempt.endpoint)
        if not attempt.outside and not attempt.is_api:
            if rule == PUBLIC or (not anonymous and _may(rule, user, attempt.args)):
                continue  # the role may do this here
        journal.clear()
        response, error = _post(client, attempt, _payload(world, attempt.endpoint, token))
        posted += 1
        if error:
            problems.append(f"{who} POST {attempt.url}: raised {error}")
            continue
        problem = _refusal_problem(who, attempt, response, anonymous)
        if problem:
            problems.append(problem)
        changed = journal.changed()
        if changed:
            problems.append(f"{who} POST {attempt.url} ({response.status_code}) changed {', '.join(changed)}")
    return problems, posted


@pytest.mark.sqlite_only
@pytest.mark.req("R1.1")
@pytest.mark.parametrize("username", [*ACCOUNTS, None], ids=[*ACCOUNTS, "anonymous"])
def test_actions_refused_outside_right_and_scope(app, db_session, client, login, username):
    from app.modules.accounts.models import User

    world = _world(db_session, username)
    user = None
    if username is not None:
        assert login(username).status_code == 303, f"{username} could not log in"
        user = db_session.scalar(select(User).where(User.username == username))
    attempts = _attempts(app, world)
    token = csrf_token(client, "/account" if username else "/login")
    journal = Journal(db_session)
    started = time.monotonic()
    problems, posted = crawl_actions(client, world, user, attempts, token, journal)
    assert posted, "nothing was posted"
    if username is not None:
        assert client.get("/").status_code == 200, f"{username} was logged out during the crawl"
    assert not problems, f"{len(problems)} problems in {posted} posts ({time.monotonic() - started:.1f}s):\n" + \
        "\n".join(problems)


@pytest.mark.sqlite_only
@pytest.mark.req("R1.1")
def test_actions_of_a_manager_scoped_to_one_department(app, db_session, client, login):
    """Roles are data and any grant may be scoped to departments: someone who sees the whole hospital
    (院领导) and manages one department (医务科管理员 for 普通外科) manages only that department."""
    from app.modules.accounts import services as accounts
    from app.modules.org.models import Department
    from tests.factories import create_staff, create_user
    from tests.test_route_crawl import SURGERY

    surgery = db_session.scalar(select(Department).where(Department.name == SURGERY))
    user = create_user("leader", "hospital", staff=create_staff(department=surgery), username="zzscoped")
    accounts.set_grants(None, user, [accounts.GrantSpec("leader", "hospital"),
                                     accounts.GrantSpec("medaffairs_admin", "departments", (surgery.id,))])
    world = _world(db_session, "zzscoped")
    assert login("zzscoped").status_code == 303
    attempts = _attempts(app, world)
    token = csrf_token(client, "/account")
    journal = Journal(db_session)
    problems, posted = crawl_actions(client, world, user, attempts, token, journal)
    assert posted, "nothing was posted"
    assert not problems, f"{len(problems)} problems in {posted} posts:\n" + "\n".join(problems)


@pytest.mark.sqlite_only
def test_actions_need_csrf_token(app, db_session, client, login):
    world = _world(db_session, "admin")
    assert login("admin").status_code == 303
    problems = []
    attempts = [a for a in _attempts(app, world) if not a.is_api and not a.outside]
    journal = Journal(db_session)
    covered = {a.endpoint for a in attempts}
    assert covered == {r.endpoint for r in action_rules(app) if not r.endpoint.startswith("api.")}
    for attempt in attempts:
        journal.clear()
        response, error = _post(client, attempt, _payload(world, attempt.endpoint, None))
        if error:
            problems.append(f"admin POST {attempt.url} without CSRF token: raised {error}")
            continue
        if response.status_code != 400:
            problems.append(f"admin POST {attempt.url} without CSRF token: {response.status_code}, expected 400")
        changed = journal.changed()
        if changed:
            problems.append(f"admin POST {attempt.url} without CSRF token changed {', '.join(changed)}")
    assert client.get("/").status_code == 200, "a POST without CSRF token logged the administrator out"
    assert not problems, "\n".join(problems)
    # The journal sees what an accepted action writes (else "nothing changed" would prove nothing).
    journal.clear()
    response = client.post("/locale", data={"locale": "en", "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 303 and "update user_account ×1" in journal.changed()


@pytest.mark.sqlite_only
@pytest.mark.req("R15.1")
def test_api_actions_need_their_token_scope(app, db_session):
    """Each API action answers 403 to a token holding any one scope but its own, and writes nothing."""
    from app.modules.accounts import services as accounts
    from app.modules.accounts.models import User

    world = _world(db_session, None)
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    tokens = {}
    for scope in accounts.API_SCOPES:
        _row, text = accounts.create_token(admin, f"crawl {scope}", [scope], None)
        tokens[scope] = text
    db_session.flush()
    attempts = [a for a in _attempts(app, world) if a.is_api]
    assert attempts, "no API actions found"
    journal = Journal(db_session)
    client = app.test_client()
    problems = []
    for attempt in attempts:
        accepted = []
        for scope, text in tokens.items():
            journal.clear()
            response, error = _post(client, attempt, {}, {"Authorization": f"Bearer {text}"})
            if error:
                problems.append(f"token {scope} POST {attempt.url}: raised {error}")
                continue
            if response.status_code != 403:
                accepted.append(scope)
                continue
            changed = journal.changed()
            if changed:
                problems.append(f"token {scope} POST {attempt.url} (403) changed {', '.join(changed)}")
        if len(accepted) > 1:
            problems.append(f"POST {attempt.url}: accepted by tokens of {accepted}; one scope should suffice")
    assert not problems, "\n".join(problems)
