"""JSON API for integrations (/api/v1): bearer-token auth with scopes, no cookies, no CSRF."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, g, jsonify, request

from app.extensions import csrf

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(blueprint)


def token_required(scope: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            from app.modules.accounts.services import note_token_use, token_for

            header = request.headers.get("Authorization", "")
            text = header[7:].strip() if header.lower().startswith("bearer ") else ""
            token = token_for(text) if text else None
            if token is None:
                response = jsonify({"error": {"status": 401, "message": "missing or invalid token"}})
                response.headers["WWW-Authenticate"] = 'Bearer realm="medtech"'
                return response, 401
            if scope not in (token.scopes or []):
                abort(403, description=f"token lacks scope {scope}")
            note_token_use(token)
            g.api_token = token
            return view(*args, **kwargs)

        return wrapped

    return decorator


from app.api import org  # noqa: E402,F401
