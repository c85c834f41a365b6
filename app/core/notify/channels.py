"""Channel adapters: e-mail over SMTP, WeCom (企业微信) application messages, SMS over an HTTP gateway.

Each adapter takes the app config and one message and returns normally when the channel accepted
it, or raises `ChannelError` (`retry=False` when trying again cannot help, e.g. no endpoint is
configured). Adapters know nothing about the outbox; `service.send_outbox` records the outcome.
"""
from __future__ import annotations

import hashlib
import json
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

TIMEOUT = 15  # seconds for every network call
WECOM_TOKEN_ERRORS = {40001, 40014, 42001}  # invalid / expired access_token: fetch a new one


class ChannelError(Exception):
    def __init__(self, message: str, *, retry: bool = True):
        super().__init__(message)
        self.retry = retry


class NotConfigured(ChannelError):
    def __init__(self, channel: str, missing: str):
        super().__init__(f"channel not configured: {channel} needs {missing}", retry=False)


@dataclass(frozen=True)
class Outgoing:
    channel: str
    address: str
    subject: str
    body: str
    key: str  # the outbox idempotency key


def _require(config: Mapping[str, Any], channel: str, *names: str) -> None:
    missing = [name for name in names if not config.get(name)]
    if missing:
        raise NotConfigured(channel, ", ".join(missing))


# --- e-mail -----------------------------------------------------------------------------------

def send_email(config: Mapping[str, Any], message: Outgoing) -> None:
    _require(config, "email", "SMTP_HOST")
    sender = config.get("SMTP_FROM") or config.get("SMTP_USER")
    if not sender:
        raise NotConfigured("email", "SMTP_FROM")
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.address
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=True)
    # A stable Message-ID lets mail systems drop a duplicate if a send is ever repeated.
    mail["Message-ID"] = f"<{hashlib.sha256(message.key.encode()).hexdigest()[:32]}@medtech>"
    mail.set_content(message.body or message.subject)
    host, port, tls = config["SMTP_HOST"], int(config.get("SMTP_PORT") or 25), config.get("SMTP_TLS")
    try:
        if tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=TIMEOUT)
        with client:
            if tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                client.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        raise ChannelError(f"SMTP refused the recipient: {exc.recipients}", retry=False) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise ChannelError(f"SMTP login failed: {exc.smtp_code} {exc.smtp_error!r}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"SMTP error: {exc}") from None


# --- HTTP helpers -----------------------------------------------------------------------------

def _http_json(method: str, url: str, payload: dict | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise ChannelError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {exc}") from None
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    return status, body


# --- WeCom ------------------------------------------------------------------------------------

_token_cache: dict[tuple[str, str, str], tuple[str, float]] = {}
_token_lock = threading.Lock()


def _wecom_token(config: Mapping[str, Any], *, fresh: bool = False) -> str:
    base = config["WECOM_API_BASE"].rstrip("/")
    cache_key = (base, config["WECOM_CORP_ID"], config["WECOM_CORP_SECRET"])
    with _token_lock:
        cached = _token_cache.get(cache_key)
        if cached and not fresh and cached[1] > time.monotonic():
            return cached[0]
        query = urllib.parse.urlencode({"corpid": config["WECOM_CORP_ID"],
                                        "corpsecret": config["WECOM_CORP_SECRET"]})
        status, body = _http_json("GET", f"{base}/cgi-bin/gettoken?{query}")
        if status // 100 != 2 or not isinstance(body, dict):
            raise ChannelError(f"WeCom gettoken answered HTTP {status}")
        if body.get("errcode", 0) != 0 or not body.get("access_token"):
            raise ChannelError(f"WeCom gettoken failed: {body.get('errcode')} {body.get('errmsg')}")
        # Renew a minute early; WeCom tokens live 7200 s.
        expires = time.monotonic() + max(60, int(body.get("expires_in", 7200)) - 60)
        _token_cache[cache_key] = (body["access_token"], expires)
        return body["access_token"]


def clear_wecom_tokens() -> None:
    with _token_lock:
        _token_cache.clear()


def send_wecom(config: Mapping[str, Any], message: Outgoing) -> None:
    _require(config, "wecom", "WECOM_API_BASE", "WECOM_CORP_ID", "WECOM_CORP_SECRET",
             "WECOM_AGENT_ID")
    try:
        agent_id = int(config["WECOM_AGENT_ID"])
    except ValueError:
        raise NotConfigured("wecom", "a numeric WECOM_AGENT_ID") from None
    content = message.subject if not message.body else f"{message.subject}\n{message.body}"
    payload = {"touser": message.address, "msgtype": "text", "agentid": agent_id,
               "text": {"content": content},
               # WeCom drops a repeat of the same content to the same user within the interval.
               "enable_duplicate_check": 1, "duplicate_check_interval": 1800}
    base = config["WECOM_API_BASE"].rstrip("/")
    for fresh in (False, True):
        token = _wecom_token(config, fresh=fresh)
        status, body = _http_json("POST", f"{base}/cgi-bin/message/send?access_token="
                                  f"{urllib.parse.quote(token)}", payload)
        if status // 100 != 2 or not isinstance(body, dict):
            raise ChannelError(f"WeCom message/send answered HTTP {status}")
        errcode = body.get("errcode", 0)
        if errcode == 0:
            if body.get("invaliduser"):
                raise ChannelError(f"WeCom rejected the user: {body['invaliduser']}", retry=False)
            return
        if errcode not in WECOM_TOKEN_ERRORS or fresh:
            raise ChannelError(f"WeCom error {errcode}: {body.get('errmsg', '')}")


# --- SMS --------------------------------------------------------------------------------------

def send_sms(config: Mapping[str, Any], message: Outgoing) -> None:
    _require(config, "sms", "SMS_GATEWAY_URL")
    headers = {}
    if config.get("SMS_GATEWAY_TOKEN"):
        headers["Authorization"] = f"Bearer {config['SMS_GATEWAY_TOKEN']}"
    content = message.subject if not message.body else f"{message.subject}：{message.body}"
    status, body = _http_json("POST", config["SMS_GATEWAY_URL"],
                              {"mobile": message.address, "content": content,
                               "sign": config.get("SMS_SIGN") or ""}, headers)
    if status // 100 != 2:
        raise ChannelError(f"SMS gateway answered HTTP {status}")
    if not isinstance(body, dict) or body.get("code") != 0:
        detail = body.get("message") or body.get("msg") if isinstance(body, dict) else None
        code = body.get("code") if isinstance(body, dict) else None
        raise ChannelError(f"SMS gateway refused the message: code {code} {detail or ''}".strip())


SENDERS: dict[str, Callable[[Mapping[str, Any], Outgoing], None]] = {
    "email": send_email,
    "wecom": send_wecom,
    "sms": send_sms,
}
