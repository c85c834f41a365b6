"""xlsx export and import of the hospital catalog (R2.7): the export is also the import template.

Import: upload → every row checked (a message per row and column) → preview → commit. The file waits
under `instance/catalog_imports/` between preview and commit; the commit checks it again and writes
all rows or none. Rows are matched by item code: a new code creates an item, a known one updates it.
"""
from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.core import audit
from app.extensions import db
from app.modules.catalog import maintenance
from app.modules.catalog.labels import KIND_LABELS
from app.modules.catalog.models import KINDS, CatalogItem
from app.modules.clinical.models import ProcedureCode

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
PREVIEW_ROWS = 50
TOKEN_LENGTH = 32
# Column keys in file order, with the Chinese headers the export writes (accepted besides the keys).
COLUMNS = ("code", "name", "kind", "level", "restricted", "category", "codes", "description", "active")
HEADERS_ZH = {"code": "项目编码", "name": "项目名称", "kind": "类别", "level": "级别", "restricted": "限制类技术",
              "category": "分类", "codes": "手术操作编码", "description": "说明", "active": "启用"}
KINDS_ZH = {"手术": "surgery", "诊断性操作": "diagnostic", "治疗性操作": "therapeutic", "介入": "interventional",
            "内镜": "endoscopic", "限制类技术": "restricted", "医技项目": "medtech", "麻醉项目": "anaesthesia"}
LEVELS_ZH = {"一级": 1, "二级": 2, "三级": 3, "四级": 4}


class FileRefused(ValueError):
    pass


def headers() -> list[str]:
    return [HEADERS_ZH[c] for c in COLUMNS]


def export_rows(items: list[CatalogItem]) -> list[list]:
    yes, no = "是", "否"
    return [[i.code, i.name, str(KIND_LABELS.get(i.kind, i.kind)), i.level, yes if i.restricted else no,
             i.category or "", ",".join(i.code_list), i.description or "", yes if i.active else no] for i in items]


# --- reading ---------------------------------------------------------------------------------

def _header_key(value) -> str | None:
    text = str(value or "").strip().lstrip("\ufeff")
    for key, zh in HEADERS_ZH.items():
        if text in (key, zh):
            return key
    return None


def read_rows(data: bytes) -> list[dict]:
    """The first sheet's rows keyed by column, each with its sheet row number under "_row"."""
    from openpyxl import load_workbook

    if not data:
        raise FileRefused(_("The file is empty."))
    if len(data) > MAX_BYTES:
        raise FileRefused(_("The file is larger than %(n)s MB.", n=MAX_BYTES // (1024 * 1024)))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds of error for a broken file
        raise FileRefused(_("The file is not a readable Excel workbook (.xlsx).")) from exc
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [_header_key(h) for h in next(rows, [])]
        if "code" not in header or "name" not in header or "kind" not in header:
            raise FileRefused(_("The first row must hold the column headers of the template (项目编码, 项目名称, "
                                "类别 …)."))
        found = []
        for number, values in enumerate(rows, start=2):
            if not any(v not in (None, "") for v in values):
                continue
            row = {key: values[i] for i, key in enumerate(header) if key and i < len(values)}
            row["_row"] = number
            found.append(row)
            if len(found) > MAX_ROWS:
                raise FileRefused(_("The file has more than %(n)s rows.", n=MAX_ROWS))
        return found
    finally:
        workbook.close()


def _normalise(row: dict) -> dict:
    out = dict(row)
    kind = str(row.get("kind") or "").strip()
    labels = {str(label): key for key, label in KIND_LABELS.items()}
    out["kind"] = kind if kind in KINDS else KINDS_ZH.get(kind) or labels.get(kind) or kind
    level = row.get("level")
    if isinstance(level, str) and level.strip() in LEVELS_ZH:
        out["level"] = LEVELS_ZH[level.strip()]
    for key in ("restricted", "active"):
        value = row.get(key)
        if isinstance(value, str) and value.strip() in ("否", "no", "No", "0", "false"):
            out[key] = False
        elif key == "active" and value in (None, ""):
            out[key] = True
    return out


@dataclass
class CheckResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)  # {row, column, message}
    preview: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.rows > 0


def check(rows: list[dict]) -> tuple[CheckResult, list[tuple[CatalogItem | None, dict]]]:
    result = CheckResult(rows=len(rows))
    existing = {i.code: i for i in db.session.scalars(select(CatalogItem).options(selectinload(CatalogItem.codes)))}
    owners = {code: item.id for code, item in existing.items()}
    dictionary = set(db.session.scalars(select(ProcedureCode.code)))
    seen: set[str] = set()
    prepared: list[tuple[CatalogItem | None, dict]] = []
    for row in rows:
        data = _normalise(row)
        code = str(data.get("code") or "").strip()
        item = existing.get(code)
        try:
            clean = maintenance.check_item(data, item, taken_codes=seen, code_owners=owners,
                                               dictionary=dictionary)
        except maintenance.Invalid as exc:
            for column, message in exc.errors.items():
                result.errors.append({"row": row["_row"], "column": HEADERS_ZH.get(column, column),
                                      "message": message})
            continue
        seen.add(clean["code"])
        prepared.append((item, clean))
        if item is None:
            result.created += 1
        else:
            result.updated += 1
        if len(result.preview) < PREVIEW_ROWS:
            result.preview.append({**clean, "row": row["_row"], "new": item is None})
    if not rows:
        result.errors.append({"row": None, "column": None, "message": _("The file has no data rows.")})
    return result, prepared


# --- the upload between preview and commit ------------------------------------------------------

def _storage() -> Path:
    path = Path(current_app.instance_path) / "catalog_imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(data: bytes) -> str:
    token = uuid.uuid4().hex
    (_storage() / f"{token}.xlsx").write_bytes(data)
    return token


def _path(token: str) -> Path | None:
    if len(token or "") != TOKEN_LENGTH or not all(c in "0123456789abcdef" for c in token):
        return None
    path = _storage() / f"{token}.xlsx"
    return path if path.exists() else None


def load(token: str) -> bytes | None:
    path = _path(token)
    return path.read_bytes() if path else None


def commit(actor, token: str, filename: str | None = None) -> CheckResult:
    """Check the stored file again and write every row, or nothing when any row fails."""
    maintenance.require_manage(actor)
    data = load(token)
    if data is None:
        raise FileRefused(_("The uploaded file is no longer available. Upload it again."))
    result, prepared = check(read_rows(data))
    if not result.ok:
        return result
    for item, clean in prepared:
        if item is None:
            item = CatalogItem()
            db.session.add(item)
        maintenance.apply_values(item, clean)
    db.session.flush()
    audit.record("catalog.items_imported", actor=actor, object_type="catalog_item",
                 data={"filename": filename, "rows": result.rows, "created": result.created,
                       "updated": result.updated},
                 summary=_("Catalog import: %(created)s new, %(updated)s updated", created=result.created,
                           updated=result.updated))
    path = _path(token)
    if path is not None:
        path.unlink(missing_ok=True)
    return result
