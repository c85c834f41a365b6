"""Building blocks for dossier tests: real image and PDF bytes, uploads, logged-in users' staff."""
from __future__ import annotations

import io
import re

from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.modules.accounts.models import User
from app.modules.org.models import Staff


def png(width: int = 120, height: int = 80, colour=(30, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 120, height: int = 80) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 140), (250, 250, 240)).save(out, "PDF")
    return out.getvalue()


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def staff_of(username: str) -> Staff:
    return db.session.get(Staff, user(username).staff_id)


def token_of(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
