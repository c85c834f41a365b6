"""What the portal accepts as an upload: images, PDF, Word and Excel files whose content matches
their extension, up to MAX_UPLOAD_MB. A renamed executable, a script called .jpg or a truncated
image is refused with a message naming the file."""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

import filetype
from flask_babel import gettext as _

# extension → (accepted MIME types of the content, the MIME type stored)
ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    ".jpg": (frozenset({"image/jpeg"}), "image/jpeg"),
    ".jpeg": (frozenset({"image/jpeg"}), "image/jpeg"),
    ".png": (frozenset({"image/png"}), "image/png"),
    ".gif": (frozenset({"image/gif"}), "image/gif"),
    ".webp": (frozenset({"image/webp"}), "image/webp"),
    ".heic": (frozenset({"image/heic", "image/heif"}), "image/heic"),
    ".pdf": (frozenset({"application/pdf"}), "application/pdf"),
    ".docx": (frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ".xlsx": (frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
OFFICE_PARTS = {".docx": "word/document.xml", ".xlsx": "xl/workbook.xml"}


class UploadRefused(ValueError):
    """The message says why, in the user's language."""


@dataclass(frozen=True)
class Checked:
    name: str
    content: bytes
    mime: str


def accepted_extensions() -> str:
    return ", ".join(sorted(ALLOWED))


def check(name: str, content: bytes, limit_mb: int) -> Checked:
    """The upload if acceptable, else UploadRefused."""
    name = PurePath((name or "").replace("\\", "/")).name.strip()
    if not name:
        raise UploadRefused(_("The file has no name."))
    if len(content) > limit_mb * 1024 * 1024:
        raise UploadRefused(_("“%(name)s” is larger than %(mb)s MB.", name=name, mb=limit_mb))
    if not content:
        raise UploadRefused(_("“%(name)s” is empty.", name=name))
    ext = PurePath(name).suffix.lower()
    if ext not in ALLOWED:
        raise UploadRefused(_("“%(name)s”: only these file types are accepted: %(types)s.", name=name,
                              types=accepted_extensions()))
    wanted, mime = ALLOWED[ext]
    kind = filetype.guess(content[:8192])
    if ext in OFFICE_PARTS:
        ok = _office_file(content, OFFICE_PARTS[ext])
    else:
        ok = kind is not None and kind.mime in wanted
        if ok and kind.mime in PILLOW_FORMATS:
            ok = _image_ok(content, PILLOW_FORMATS[kind.mime])
    if not ok:
        raise UploadRefused(_("“%(name)s” is not really a %(ext)s file (its content does not match its "
                              "extension).", name=name, ext=ext.lstrip(".").upper()))
    return Checked(name, content, mime)


def _image_ok(content: bytes, fmt: str) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.format != fmt:
                return False
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False
    return True


def _office_file(content: bytes, part: str) -> bool:
    """An Office Open XML file: a zip with the content-types part and the document's main part."""
    if not content.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False
    return "[Content_Types].xml" in names and part in names
