"""Every setting once, with its default, read from the environment and validated at start-up.

`load_config(environ, instance_path, overrides)` returns a plain dict for `app.config`; a malformed
value raises `ConfigError` naming the setting, and the CLI turns that into a one-line refusal.
The README's configuration reference is checked against `SETTINGS` by a test.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(ValueError):
    def __init__(self, name: str, message: str):
        super().__init__(f"invalid setting {name}: {message}")
        self.name = name


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _int(raw: str) -> int:
    value = int(raw.strip())
    if value < 0:
        raise ValueError("expected a non-negative integer")
    return value


def _str(raw: str) -> str:
    return raw.strip()


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _database_url(raw: str) -> str:
    try:
        url = make_url(raw.strip())
    except ArgumentError as exc:
        raise ValueError("not an SQLAlchemy database URL") from exc
    if url.drivername in ("postgresql", "postgres"):
        # We ship psycopg2; SQLAlchemy 2.1 would otherwise pick psycopg 3 for a bare scheme.
        url = url.set(drivername="postgresql+psycopg2")
    return url.render_as_string(hide_password=False)


def _int_list(raw: str) -> list[int]:
    values = [_int(part) for part in raw.split(",") if part.strip()]
    if not values:
        raise ValueError("expected comma-separated non-negative integers")
    return values


def _locale(raw: str) -> str:
    value = raw.strip()
    if value not in {"zh_CN", "en"}:
        raise ValueError("expected zh_CN or en")
    return value


def _redis_url(raw: str) -> str:
    value = raw.strip()
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected redis://, rediss:// or unix:// URL")
    return value


def _smtp_tls(raw: str) -> str:
    value = raw.strip().lower()
    aliases = {"": "", "none": "", "false": "", "0": "", "off": "", "starttls": "starttls",
               "true": "starttls", "1": "starttls", "on": "starttls", "ssl": "ssl"}
    if value not in aliases:
        raise ValueError("expected starttls, ssl or empty")
    return aliases[value]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    doc: str


# The order here is the order of the README's configuration reference.
SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None, _database_url,
            "Any SQLAlchemy URL. Default: SQLite file `instance/medtech.db`."),
    Setting("DB_PREPARED_STATEMENTS", True, _bool,
            "PostgreSQL: keep the workflow kernel's frequent statements prepared on each connection. "
            "Turn off behind a pooler in transaction mode (PgBouncer `pool_mode = transaction`)."),
    Setting("REDIS_URL", "", _redis_url,
            "Redis for RQ jobs and the cron scheduler. Empty: jobs run in-process (embedded mode)."),
    Setting("SECRET_KEY", None, _str,
            "Signs sessions and CSRF tokens. Default: generated once into `instance/secret_key`."),
    Setting("DEFAULT_LOCALE", "zh_CN", _locale, "UI language when the user has not chosen one: zh_CN or en."),
    Setting("LOGIN_MAX_FAILURES", 5, _int, "Failed logins in a row that lock an account."),
    Setting("LOGIN_LOCK_MINUTES", 15, _int, "How long a locked account stays locked."),
    Setting("SESSION_HOURS", 12, _int, "Lifetime of a login session."),
    Setting("FORCE_HTTPS_COOKIES", False, _bool,
            "Mark cookies Secure even when the request did not arrive over HTTPS (behind a TLS proxy)."),
    Setting("TRUSTED_PROXIES", 0, _int,
            "Number of reverse proxies whose X-Forwarded-* headers are trusted (0: none)."),
    Setting("OFFICE_APP_HOSTS", [], _list,
            "Comma-separated origins allowed to frame the app (e.g. WeCom workbench hosts)."),
    Setting("MAX_UPLOAD_MB", 20, _int, "Largest accepted upload, in MiB."),
    Setting("PAGE_SIZE", 50, _int, "Rows per page in lists."),
    Setting("STUDIO_MAX_MODEL_KB", 2048, _int,
            "Largest BPMN file or form schema the process and form studio accepts, in KiB."),
    Setting("DEMO_PASSWORD", "demo", _str, "Password given to demo accounts by `medtech demo`."),
    Setting("NODE_MODULES", None, _str,
            "Folder of the installed front-end packages. Default: `node_modules` in the project."),
    Setting("SMTP_HOST", "", _str, "Mail server for e-mail notifications. Empty: e-mail is not sent."),
    Setting("SMTP_PORT", 25, _int, "Port of the mail server."),
    Setting("SMTP_USER", "", _str, "Login of the mail server (empty: no login)."),
    Setting("SMTP_PASSWORD", "", _str, "Password of the mail server login."),
    Setting("SMTP_FROM", "", _str, "Sender address of notification e-mails. Default: `SMTP_USER`."),
    Setting("SMTP_TLS", "", _smtp_tls,
            "Encryption to the mail server: `starttls`, `ssl` (implicit TLS, port 465) or empty (none)."),
    Setting("WECOM_API_BASE", "https://qyapi.weixin.qq.com", _str,
            "Base URL of the WeCom (企业微信) API; change it for a proxy or a private deployment."),
    Setting("WECOM_CORP_ID", "", _str, "WeCom corp id (企业ID). Empty: WeCom messages are not sent."),
    Setting("WECOM_CORP_SECRET", "", _str, "Secret of the WeCom application that sends notifications."),
    Setting("WECOM_AGENT_ID", "", _str, "Agent id (AgentId) of that WeCom application."),
    Setting("SMS_GATEWAY_URL", "", _str,
            "HTTP endpoint of the SMS gateway (POST JSON {mobile, content, sign}). Empty: SMS is not sent."),
    Setting("SMS_GATEWAY_TOKEN", "", _str, "Bearer token sent to the SMS gateway."),
    Setting("SMS_SIGN", "", _str, "SMS signature (短信签名) sent with every message, e.g. the hospital's name."),
    Setting("DOSSIER_STORAGE", "", _str,
            "Folder for certificate files and exports of the doctor dossier. Default: `instance/dossier`."),
    Setting("DOSSIER_MAX_FILE_MB", 10, _int, "Largest accepted certificate file (image or PDF), in MiB."),
    Setting("DOSSIER_REMINDER_DAYS", [90, 30, 7], _int_list,
            "Days before a certificate expires at which its holder is reminded (comma-separated)."),
    Setting("LOG_LEVEL", "INFO", _str, "Python logging level."),
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _secret_key(instance_path: Path) -> str:
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Written with owner-only permissions: whoever reads it can forge sessions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_config(environ: dict[str, str], instance_path: Path,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            value = overrides.pop(setting.name)
            values[setting.name] = setting.parse(value) if isinstance(value, str) else value
            continue
        raw = environ.get(setting.name)
        if raw is None:
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(setting.name, str(exc)) from None

    if not values["DATABASE_URL"]:
        instance_path.mkdir(parents=True, exist_ok=True)
        values["DATABASE_URL"] = f"sqlite:///{instance_path / 'medtech.db'}"
    if not values["SECRET_KEY"]:
        values["SECRET_KEY"] = _secret_key(instance_path)
    elif len(values["SECRET_KEY"]) < 16:
        raise ConfigError("SECRET_KEY", "must be at least 16 characters")
    if not values["NODE_MODULES"]:
        values["NODE_MODULES"] = str(PROJECT_ROOT / "node_modules")

    flask_config = {
        "SQLALCHEMY_DATABASE_URI": values["DATABASE_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(values["DATABASE_URL"]),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "medtech_session",
        "PERMANENT_SESSION_LIFETIME": values["SESSION_HOURS"] * 3600,
        "MAX_CONTENT_LENGTH": values["MAX_UPLOAD_MB"] * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": False,
        "BABEL_DEFAULT_LOCALE": values["DEFAULT_LOCALE"],
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "app" / "translations"),
        "JSON_AS_ASCII": False,
    }
    values.update(flask_config)
    # Remaining overrides are plain Flask settings (TESTING, WTF_CSRF_ENABLED, ...).
    values.update(overrides)
    return values


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Threads of the dev server and the in-process job runner share the file.
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_pre_ping": True}
