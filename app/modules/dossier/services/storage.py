"""Certificate files on disk: checked by their content, stored under the storage folder, thumbnailed.

Images (JPEG, PNG, WebP) are opened and verified with Pillow; a PDF must start with `%PDF-` and open
in PDFium. The claimed file name or content type counts for nothing. Thumbnails are JPEGs made on
the server: the image itself, or the first page of a PDF rendered by PDFium (pypdfium2); without
PDFium a PDF simply has no thumbnail and pages show a PDF icon.
"""
from __future__ import annotations

import hashlib
import io
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

IMAGE_FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
PDF = ("application/pdf", ".pdf")
THUMB_SIZE = (360, 360)
MAX_PIXELS = 80_000_000  # a decompression bomb is refused, not decoded


class FileRefused(ValueError):
    pass


@dataclass(frozen=True)
class Checked:
    data: bytes
    mime: str
    suffix: str
    original_name: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def root() -> Path:
    configured = current_app.config.get("DOSSIER_STORAGE")
    path = Path(configured) if configured else Path(current_app.instance_path) / "dossier"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_of(name: str) -> Path:
    base = root().resolve()
    target = (base / name).resolve()
    if base not in target.parents:  # stored names are ours, but never follow one out of the folder
        raise FileNotFoundError(name)
    return target


def max_bytes() -> int:
    return int(current_app.config.get("DOSSIER_MAX_FILE_MB", 10)) * 1024 * 1024


def pdfium():
    try:
        import pypdfium2
    except ImportError:  # optional: without it PDFs get no thumbnail
        return None
    return pypdfium2


def check(original_name: str, data: bytes) -> Checked:
    """The file's real type from its content, or FileRefused with a message naming the file."""
    name = Path(original_name or "").name[:200] or "file"
    if not data:
        raise FileRefused(_("The file %(name)s is empty.", name=name))
    if len(data) > max_bytes():
        raise FileRefused(_("The file %(name)s is %(size).1f MB; at most %(max)d MB is accepted.", name=name,
                            size=len(data) / 1024 / 1024, max=max_bytes() // 1024 // 1024))
    if data[:5] == b"%PDF-":
        _check_pdf(name, data)
        return Checked(data, PDF[0], PDF[1], name)
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
            if fmt not in IMAGE_FORMATS:
                raise FileRefused(_("The file %(name)s is a %(format)s image; upload JPEG, PNG, WebP or PDF.",
                                    name=name, format=fmt or "?"))
            if image.width * image.height > MAX_PIXELS:
                raise FileRefused(_("The image %(name)s is too large (%(w)d × %(h)d pixels).", name=name,
                                    w=image.width, h=image.height))
            image.verify()
        with Image.open(io.BytesIO(data)) as image:  # verify() leaves the image unusable: decode anew
            image.load()
    except FileRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise FileRefused(_("The file %(name)s is not a valid image or PDF: upload a JPEG, PNG, WebP or PDF "
                            "file.", name=name)) from None
    mime, suffix = IMAGE_FORMATS[fmt]
    return Checked(data, mime, suffix, name)


def _check_pdf(name: str, data: bytes) -> None:
    module = pdfium()
    if module is None:
        if b"%%EOF" not in data[-2048:]:
            raise FileRefused(_("The file %(name)s is not a complete PDF document.", name=name))
        return
    try:
        document = module.PdfDocument(data)
        pages = len(document)
        document.close()
    except Exception:  # PDFium raises PdfiumError for a broken or encrypted file
        raise FileRefused(_("The file %(name)s is not a readable PDF document (damaged or password-protected).",
                            name=name)) from None
    if pages < 1:
        raise FileRefused(_("The PDF %(name)s has no pages.", name=name))


def _thumbnail(checked: Checked) -> bytes | None:
    try:
        if checked.mime == PDF[0]:
            module = pdfium()
            if module is None:
                return None
            document = module.PdfDocument(checked.data)
            try:
                page = document[0]
                width = page.get_width() or 1
                image = page.render(scale=max(0.1, min(2.0, THUMB_SIZE[0] / width))).to_pil()
                page.close()
            finally:
                document.close()
        else:
            image = Image.open(io.BytesIO(checked.data))
            image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
        image.thumbnail(THUMB_SIZE)
        if image.mode not in ("RGB", "L"):
            background = Image.new("RGB", image.size, "white")
            background.paste(image, mask=image.convert("RGBA").split()[-1])
            image = background
        out = io.BytesIO()
        image.save(out, "JPEG", quality=82)
        return out.getvalue()
    except Exception:  # a thumbnail is a convenience: the file itself was already checked
        log.warning("no thumbnail for %s", checked.original_name, exc_info=True)
        return None


def store(staff_id: int, checked: Checked, token: str | None = None) -> tuple[str, str | None]:
    """Write the file and its thumbnail; returns their names relative to the storage folder."""
    token = token or uuid.uuid4().hex
    folder = root() / str(staff_id)
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{staff_id}/{token}{checked.suffix}"
    (root() / stored).write_bytes(checked.data)
    thumb = _thumbnail(checked)
    thumb_name = None
    if thumb is not None:
        thumb_name = f"{staff_id}/{token}.thumb.jpg"
        (root() / thumb_name).write_bytes(thumb)
    return stored, thumb_name


def remove(*names: str | None) -> None:
    for name in names:
        if not name:
            continue
        try:
            path_of(name).unlink(missing_ok=True)
        except OSError:
            log.warning("could not remove %s", name, exc_info=True)
