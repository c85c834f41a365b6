"""Accounts: login, logout, password, language; roles and API tokens (services)."""
from flask import Blueprint

blueprint = Blueprint("accounts", __name__)

from app.modules.accounts import views  # noqa: E402,F401  (routes attach to the blueprint)


def init_app(app):
    from app.core.sync import register_sync
    from app.modules.accounts.services import sync_roles

    register_sync("roles", sync_roles)
    from app.modules.accounts import resolvers  # noqa: F401  (registers the BPM kernel's role resolvers)
