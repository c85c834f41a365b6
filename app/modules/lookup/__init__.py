"""Lookup: the typeahead behind data-source form fields (/api/lookup/<source>?q=).

A session (cookie) endpoint for the task pages, kept apart from the token-only /api/v1. Sources are
registered in app.workflow.forms; this module registers `staff` and `departments`.
"""
from flask import Blueprint

blueprint = Blueprint("lookup", __name__, url_prefix="/api/lookup")

from app.modules.lookup import sources, views  # noqa: E402,F401  (sources register, routes attach)
