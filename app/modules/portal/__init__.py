"""Portal: each role's home page (the task inbox joins it with the kernel)."""
from flask import Blueprint

blueprint = Blueprint("portal", __name__)

from app.modules.portal import views  # noqa: E402,F401
