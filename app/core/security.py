"""Password hashing, session cookies, security headers and the login manager."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import db, login_manager

_hasher = PasswordHasher()  # argon2id with the library's recommended cost


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class _SessionInterface(SecureCookieSessionInterface):
    """Cookies are Secure whenever the request came over HTTPS (directly or via a trusted proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["FORCE_HTTPS_COOKIES"] or request.is_secure)


def _csp(app: Flask) -> str:
    frame_ancestors = " ".join(["'self'", *app.config["OFFICE_APP_HOSTS"]])
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        # bpmn-js and ECharts set inline style attributes.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ])


def init_app(app: Flask) -> None:
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.session_interface = _SessionInterface()
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    csp = _csp(app)
    framing_allowed = bool(app.config["OFFICE_APP_HOSTS"])

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=()")
        if not framing_allowed:
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"

    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "warning"

    @login_manager.user_loader
    def _load_user(ident: str):
        from app.modules.accounts.models import User

        try:
            user_id, epoch = (int(part) for part in ident.split(":", 1))
        except ValueError:
            return None
        user = db.session.get(User, user_id)
        if user is None or user.session_epoch != epoch or not user.active:
            return None
        return user
