"""Batch initial import of basic information from Excel or CSV (R1.1): upload → check every row with a
preview and a row-level report → commit all rows or none."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from flask_babel import gettext as _

from app.core import audit
from app.core.models import utcnow
from app.extensions import db
from app.modules.dossier.models import DossierImport
from app.modules.dossier.services import batch as batches

SUFFIXES = (".csv", ".xlsx")


class ImportRefused(ValueError):
    pass


def _decode(data: bytes) -> str:
    # Excel on Chinese Windows saves CSV as GB18030/GBK; everything else sends UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRefused(_("The file is neither UTF-8 nor GB18030 text."))


def read_file(filename: str, data: bytes) -> list[dict]:
    """Rows of the CSV or of the first sheet, keyed by the header row as written."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportRefused(_("Upload a .csv or .xlsx file."))
    if not data:
        raise ImportRefused(_("The file is empty."))
    if suffix == ".csv":
        reader = csv.reader(io.StringIO(_decode(data), newline=""))
        table = [row for row in reader]
    else:
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a broken file
            raise ImportRefused(_("The file is not a readable Excel workbook (.xlsx).")) from exc
        table = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
        workbook.close()
    if not table:
        return []
    header = table[0]
    if not any(batches.column_key(name) == "employee_no" for name in header):
        raise ImportRefused(_("The first row must hold the column names of the template, with 工号."))
    return [dict(zip(header, row)) for row in table[1:]
            if any(cell not in (None, "") and str(cell).strip() for cell in row)]


def create(actor, filename: str, data: bytes) -> DossierImport:
    """Read and check a file; the batch keeps its rows, the preview and the problems."""
    rows = batches.normalise_rows(read_file(filename, data))
    if not rows:
        raise ImportRefused(_("The file has no data rows."))
    if len(rows) > batches.MAX_ROWS:
        raise ImportRefused(_("At most %(n)d rows per file.", n=batches.MAX_ROWS))
    batch = DossierImport(filename=Path(filename).name[:200], created_by_id=getattr(actor, "id", None),
                          total_rows=len(rows))
    _check(batch, rows)
    db.session.add(batch)
    db.session.flush()
    audit.record("dossier.import_checked", actor=actor, object_type="dossier_import", object_id=batch.id,
                 data={"filename": batch.filename, "rows": len(rows), "errors": len(batch.errors)})
    return batch


def _check(batch: DossierImport, rows: list[dict]) -> list:
    prepared = batches.prepare(rows, first_row=2)
    batch.errors = batches.error_list(prepared)
    batch.rows = [{"row": p.row, "action": p.action, "values": raw} for p, raw in zip(prepared, rows)]
    batch.new_rows = sum(p.action == "new" for p in prepared)
    batch.changed_rows = sum(p.action == "update" for p in prepared)
    batch.status = "invalid" if batch.errors else "checked"
    return prepared


def commit(batch: DossierImport, actor, ip: str | None = None) -> DossierImport:
    """Check again (the data may have changed since) and write every row, or none."""
    if batch.status != "checked":
        raise ImportRefused(_("Only a checked file without errors can be imported."))
    prepared = _check(batch, [r["values"] for r in batch.rows])
    if batch.errors:
        batch.finished_at = utcnow()
        return batch
    with db.session.begin_nested():  # one bad write undoes the whole file
        counts = batches.write(actor, prepared, source="import", source_ref=f"import#{batch.id}")
    batch.status, batch.finished_at = "done", utcnow()
    audit.record("dossier.imported", actor=actor, object_type="dossier_import", object_id=batch.id, ip=ip,
                 data={"filename": batch.filename, **counts})
    return batch


def template() -> tuple[list[str], list[list]]:
    header = [zh + ("*" if key in ("employee_no", "name", "gender", "department_id", "staff_type") else "")
              for key, zh in batches.HEADERS]
    return header, [[batches.EXAMPLE.get(key, "") for key, _zh in batches.HEADERS]]
