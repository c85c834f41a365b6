"""Browser fixtures: the system Chromium driven by Playwright, against a live server of its own.

`chromium` is the one place that owns the launch flags. Debian's `/usr/bin/chromium` is used (or
$CHROMIUM_PATH) — never a downloaded browser. Without it the browser tests are skipped, except
under CI=true where a missing browser fails the run. The live server builds its own app on its
own SQLite file (tiny demo), independent of the `backend`/`app` fixtures, and serves it from a
daemon thread. Screenshots go to reports/screenshots/ (kept as CI artifacts).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.conftest import make_app, migrate_and_seed

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "reports" / "screenshots"
CI = os.environ.get("CI", "").lower() == "true"

DESKTOP = dict(viewport={"width": 1280, "height": 800})
MOBILE = dict(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)

CHROMIUM_FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _unavailable(reason: str):
    if CI:
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


def _chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium():
    """The launched browser. Playwright gives every launch a fresh temporary profile
    (user-data-dir) and removes it on close; the profile flag itself is Playwright's to pass."""
    path = _chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _unavailable(f"no Chromium at {path} (apt-get install chromium, or set CHROMIUM_PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the dev extra pins it
        _unavailable(f"the playwright package is not installed ({exc})")
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    args = [*CHROMIUM_FLAGS, *(["--no-sandbox"] if as_root else [])]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=args,
                                             chromium_sandbox=not as_root)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """An app on its own SQLite file with the tiny demo (password "demo")."""
    instance = tmp_path_factory.mktemp("e2e-instance")
    app = make_app(f"sqlite:///{instance / 'e2e.db'}", instance)
    migrate_and_seed(app)
    yield app
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    """The base URL of `live_app` served by Werkzeug on a free port, in a daemon thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture()
def new_page(chromium, live_server):
    """new_page(mobile=False) → a page in its own context (cookies), closed after the test.
    Failed same-origin requests and page errors are collected in `page.problems`."""
    contexts = []

    def make(mobile: bool = False):
        context = chromium.new_context(base_url=live_server, **(MOBILE if mobile else DESKTOP))
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))

        def on_console(message):
            if message.type == "error" and \
                    not (message.location or {}).get("url", "").endswith("/favicon.ico"):
                page.problems.append(f"console error: {message.text}")

        def on_response(response):
            if response.url.startswith(live_server) and response.status >= 400 \
                    and not response.url.endswith("/favicon.ico"):
                page.problems.append(f"{response.status} for {response.url}")

        page.on("console", on_console)
        page.on("response", on_response)
        return page

    yield make
    for context in contexts:
        context.close()

