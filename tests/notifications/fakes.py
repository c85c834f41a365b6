"""Local stand-ins for the outside world: an SMTP server (aiosmtpd), an HTTP server that plays the
WeCom API and an SMS gateway, and in-line job execution with captured delayed jobs."""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.core import jobs

CORP_ID, CORP_SECRET, AGENT_ID = "ww-test-corp", "test-secret", "1000002"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPServer:
    """A real SMTP server on localhost that keeps what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                server.messages.append(envelope)
                return "250 Message accepted"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeHTTP:
    """WeCom (`/cgi-bin/gettoken`, `/cgi-bin/message/send`) and an SMS gateway (`/sms`).

    Queue answers in `wecom_replies` (JSON bodies) and `sms_replies` ((status, body)); when empty,
    both succeed. `expire_tokens()` makes every issued token answer 42001.
    """

    requests: list[Recorded] = field(default_factory=list)
    wecom_replies: list[dict] = field(default_factory=list)
    sms_replies: list[tuple[int, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)

    def start(self) -> FakeHTTP:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _answer(self, status: int, body: Any) -> None:
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _record(self) -> Recorded:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                entry = Recorded(self.command, url.path, parse_qs(url.query), dict(self.headers), body)
                fake.requests.append(entry)
                return entry

            def do_GET(self):
                entry = self._record()
                if entry.path != "/cgi-bin/gettoken":
                    return self._answer(404, {})
                if entry.query.get("corpid") != [CORP_ID] or entry.query.get("corpsecret") != [CORP_SECRET]:
                    return self._answer(200, {"errcode": 40001, "errmsg": "invalid credential"})
                fake.tokens_issued += 1
                token = f"token-{fake.tokens_issued}"
                fake.valid_tokens.add(token)
                self._answer(200, {"errcode": 0, "errmsg": "ok", "access_token": token,
                                   "expires_in": 7200})

            def do_POST(self):
                entry = self._record()
                if entry.path == "/cgi-bin/message/send":
                    if entry.query.get("access_token", [""])[0] not in fake.valid_tokens:
                        return self._answer(200, {"errcode": 42001, "errmsg": "access_token expired"})
                    reply = fake.wecom_replies.pop(0) if fake.wecom_replies else {"errcode": 0,
                                                                                  "errmsg": "ok"}
                    return self._answer(200, reply)
                if entry.path == "/sms":
                    status, body = fake.sms_replies.pop(0) if fake.sms_replies else (200, {"code": 0})
                    return self._answer(status, body)
                self._answer(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def sent(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path and r.method == "POST"]

    def channel_config(self) -> dict[str, str]:
        return {"WECOM_API_BASE": self.url, "WECOM_CORP_ID": CORP_ID,
                "WECOM_CORP_SECRET": CORP_SECRET, "WECOM_AGENT_ID": AGENT_ID,
                "SMS_GATEWAY_URL": f"{self.url}/sms", "SMS_GATEWAY_TOKEN": "sms-token",
                "SMS_SIGN": "测试医院"}


class _InlinePool:
    def submit(self, fn, *args, **kwargs):
        fn(*args, **kwargs)


@dataclass
class Delayed:
    delay: float
    name: str
    args: list
    kwargs: dict
    run_id: int | None
    attempt: int


class EagerJobs:
    """Embedded-mode jobs run in the test's thread right after the commit; delayed jobs (retries,
    `enqueue_in`) are captured in `delayed` and run by `fire()` — the test decides when time passes."""

    def __init__(self, app, monkeypatch):
        self.app = app
        self.delayed: list[Delayed] = []
        monkeypatch.setattr(jobs, "_local_pool", lambda: _InlinePool())
        monkeypatch.setattr(jobs, "_schedule_local", self._capture)

    def _capture(self, app, delay, name, args, kwargs, run_id, attempt):
        self.delayed.append(Delayed(delay, name, list(args), dict(kwargs), run_id, attempt))

    def fire(self) -> Delayed:
        item = self.delayed.pop(0)
        jobs._run_local(self.app, item.name, item.args, item.kwargs, item.run_id, item.attempt)
        return item


def redis_or_skip(url: str):
    import os

    import pytest
    import redis

    try:
        connection = redis.Redis.from_url(url)
        connection.ping()
    except redis.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis must run in CI")
        pytest.skip("Redis not reachable")
    return connection
