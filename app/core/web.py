"""Web plumbing shared by every module: error pages, navigation, vendored assets, list helpers."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (Flask, abort, current_app, jsonify, render_template, request,
                   send_from_directory, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from app.core import i18n, scopes
from app.extensions import db

# Front-end packages from package.json, served from node_modules under /vendor/<name>/.
VENDOR_PACKAGES = {
    "bootstrap": "bootstrap/dist",
    "bootstrap-icons": "bootstrap-icons/font",
    "htmx": "htmx.org/dist",
    "bpmn-js": "bpmn-js/dist",
    "dmn-js": "dmn-js/dist",
    "echarts": "echarts/dist",
}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any
    icon: str
    permission: str | None
    order: int


_NAV: list[NavItem] = []


def register_nav(endpoint: str, label, icon: str, permission: str | None = None,
                 order: int = 100) -> None:
    if any(item.endpoint == endpoint for item in _NAV):
        return
    _NAV.append(NavItem(endpoint, label, icon, permission, order))
    _NAV.sort(key=lambda item: item.order)


def nav_items(user) -> list[NavItem]:
    return [item for item in _NAV if item.permission is None or scopes.can(user, item.permission)]


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def url(self, page: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(page)
        return f"{request.path}?{urlencode(args)}"


def paginate(stmt, per_page: int | None = None) -> Page:
    """Paginate a select; the page number comes from ?page= and is clamped, never an error."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, page, per_page, total or 0)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error(status: int, title, message) -> Any:
    if _wants_json():
        return jsonify({"error": {"status": status, "message": str(message)}}), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


ERROR_TEXT = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("No permission"), _l("You do not have permission to do this.")),
    404: (_l("Not found"), _l("The page or record does not exist, or is outside your scope.")),
    405: (_l("Not allowed"), _l("This action is not allowed here.")),
    409: (_l("Conflict"), _l("The record was changed by someone else. Reload and try again.")),
    413: (_l("File too large"), _l("The upload exceeds the size limit.")),
    429: (_l("Too many requests"), _l("Please wait a moment and try again.")),
    500: (_l("Server error"), _l("Something went wrong on our side. The error was logged.")),
}


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return _error(400, _("Session expired"),
                      _("The form expired or was not sent from this site. Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        title, default = ERROR_TEXT.get(exc.code or 500, (exc.name, exc.description))
        # abort(409, description=...) passes a specific reason; keep Werkzeug's stock texts out.
        stock = type(exc).description
        message = exc.description if exc.description and exc.description != stock else default
        return _error(exc.code or 500, title, message)

    @app.errorhandler(Exception)
    def _server_error(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        db.session.rollback()
        title, message = ERROR_TEXT[500]
        return _error(500, title, message)

    @app.route("/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str):
        base = VENDOR_PACKAGES.get(package)
        if base is None:
            abort(404)
        root = Path(app.config["NODE_MODULES"]) / base
        return send_from_directory(root, filename, max_age=86400)

    @app.context_processor
    def _template_globals():
        return {
            "can": lambda perm: scopes.can(current_user, perm),
            "nav_items": nav_items(current_user) if current_user.is_authenticated else [],
            "locales": i18n.LOCALES,
            "current_locale": i18n.select_locale(),
        }

    app.jinja_env.filters["date"] = i18n.format_date
    app.jinja_env.filters["datetime"] = i18n.format_datetime
    app.jinja_env.filters["money"] = i18n.format_money
    app.jinja_env.globals["url_for"] = url_for
