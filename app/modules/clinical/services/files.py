"""File imports (CSV, Excel): upload → check with a preview and a row-level report → commit.

The uploaded file is kept under `instance/clinical_imports/` between the check and the commit.
Commit is all-or-nothing: it checks again and writes only when every row passes. Big files are
checked and committed by a tracked job (progress bar); small ones right in the request.
"""
from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from app.core import audit
from app.core.models import utcnow
from app.extensions import db
from app.modules.clinical.models import ImportBatch
from app.modules.clinical.services import ingest
from app.modules.clinical.services.kinds import KINDS

INLINE_BYTES = 256 * 1024  # files up to this size are handled in the request
PREVIEW_ROWS = 20
SOURCES = {".csv": "csv", ".xlsx": "xlsx"}

# Chinese column headers accepted besides the field names.
HEADER_ALIASES = {
    "住院流水号": "source_id", "流水号": "source_id", "编码": "code", "代码": "code", "名称": "name",
    "病案号": "mrn", "姓名": "name", "性别": "gender", "出生日期": "birth_date",
    "患者流水号": "patient_source_id", "患者姓名": "patient_name", "患者性别": "patient_gender",
    "患者出生日期": "patient_birth_date", "住院号": "admission_no", "入院时间": "admitted_at",
    "出院时间": "discharged_at", "入院科室代码": "admit_department_code", "出院科室代码": "discharge_department_code",
    "主治医师工号": "attending_employee_no", "责任医师工号": "responsible_employee_no", "离院方式": "discharge_method",
    "31天内再住院计划": "readmission_plan", "非计划再入院": "unplanned_readmission", "总费用": "total_cost",
    "主要诊断编码": "main_diagnosis_code", "主要诊断名称": "main_diagnosis_name", "其他诊断": "other_diagnoses",
    "住院记录流水号": "stay_source_id", "手术序号": "seq", "手术编码": "code", "手术名称": "name",
    "手术日期": "performed_at", "手术级别": "level", "术者工号": "surgeon_employee_no",
    "Ⅰ助工号": "assistant1_employee_no", "Ⅱ助工号": "assistant2_employee_no", "切口等级": "incision_grade",
    "愈合等级": "healing_grade", "麻醉方式": "anesthesia_method", "麻醉医师工号": "anesthetist_employee_no",
    "急诊手术": "emergency", "非计划再手术": "unplanned_reoperation", "手术流水号": "operation_source_id",
    "计划手术时间": "scheduled_at", "计划术者工号": "scheduled_surgeon_employee_no",
    "实际术者工号": "actual_surgeon_employee_no", "手术间": "room", "科室代码": "department_code",
    "开立医师工号": "prescriber_employee_no", "药品编码": "drug_code", "开立日期": "prescribed_on",
    "门诊住院": "setting", "剂量": "dose", "天数": "days", "事件类型": "kind", "发生时间": "occurred_at",
    "主持人工号": "chair_employee_no", "发生日期": "occurred_on", "级别": "level", "类别": "category",
    "微创": "minimally_invasive", "限制类技术": "restricted", "启用": "active", "规格": "spec",
    "抗菌药物分级": "antimicrobial_tier", "抗肿瘤药物分级": "anticancer_tier", "麻精类别": "controlled_class",
    "中药类别": "tcm_type", "糖皮质激素": "glucocorticoid",
}


class FileRefused(ValueError):
    pass


def _storage() -> Path:
    path = Path(current_app.instance_path) / "clinical_imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _header(name) -> str:
    text = str(name or "").strip().lstrip("\ufeff")
    return HEADER_ALIASES.get(text, text.lower())


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRefused(_("The file is neither UTF-8 nor GB18030 text."))


def read_rows(data: bytes, source: str) -> list[dict]:
    """Rows of the first sheet (xlsx) or of the CSV text, keyed by field name."""
    if source == "csv":
        reader = csv.reader(io.StringIO(_decode(data), newline=""))
        try:
            header = [_header(h) for h in next(reader)]
        except StopIteration:
            return []
        return [dict(zip(header, row)) for row in reader if "".join(row).strip()]  # blank lines skipped
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise FileRefused(_("The file is not a readable Excel workbook (.xlsx).")) from exc
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        header = [_header(h) for h in next(rows)]
    except StopIteration:
        return []
    result = [dict(zip(header, row)) for row in rows if any(v not in (None, "") for v in row)]
    workbook.close()
    return result


def create(actor, kind: str, filename: str, data: bytes) -> ImportBatch:
    if kind not in KINDS:
        raise FileRefused(_("Choose what the file contains."))
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SOURCES:
        raise FileRefused(_("Upload a .csv or .xlsx file."))
    if not data:
        raise FileRefused(_("The file is empty."))
    stored = _storage() / f"{uuid.uuid4().hex}{suffix}"
    stored.write_bytes(data)
    batch = ImportBatch(kind=kind, source=SOURCES[suffix], filename=Path(filename).name[:200],
                        stored_path=stored.name, status="uploaded", created_by_id=getattr(actor, "id", None))
    db.session.add(batch)
    db.session.flush()
    audit.record("clinical.import_uploaded", actor=actor, object_type="clinical_import", object_id=batch.id,
                 data={"kind": kind, "filename": batch.filename, "bytes": len(data)})
    return batch


def is_big(batch: ImportBatch) -> bool:
    path = _storage() / batch.stored_path
    return path.exists() and path.stat().st_size > INLINE_BYTES


def _rows(batch: ImportBatch) -> list[dict]:
    return read_rows((_storage() / batch.stored_path).read_bytes(), batch.source)


def _progress(base: int, span: int):
    from app.core import jobs

    run_id = jobs.current_run_id()
    if run_id is None:
        return None

    def report(done: int, total: int) -> None:
        jobs.progress(run_id, base + span * done // max(total, 1), None)

    return report


def _store_result(batch: ImportBatch, result: ingest.Result) -> None:
    batch.total_rows, batch.error_rows = result.total, result.error_rows
    batch.errors, batch.unknown_codes = result.errors, result.unknown_codes
    if result.preview:
        batch.preview = result.preview


def check(batch: ImportBatch) -> ImportBatch:
    """Check every row and keep the report and a preview; writes no records."""
    try:
        rows = _rows(batch)
    except FileRefused as exc:
        batch.status, batch.message, batch.finished_at = "invalid", str(exc), utcnow()
        return batch
    result, _prepared, _ctx = ingest.check(batch.kind, rows, first_row=2, preview=PREVIEW_ROWS,
                                           progress=_progress(0, 100))
    _store_result(batch, result)
    batch.status = "invalid" if result.errors or not rows else "checked"
    batch.message = None if rows else _("The file has no data rows.")
    batch.finished_at = utcnow()
    return batch


def commit(batch: ImportBatch, actor=None) -> ImportBatch:
    """Write every row or none (a row that fails now refuses the whole file)."""
    rows = _rows(batch)
    result = ingest.upsert(batch.kind, rows, first_row=2, progress=_progress(0, 100))
    _store_result(batch, result)
    batch.finished_at = utcnow()
    if not result.written:
        batch.status = "invalid"
        return batch
    batch.status = "done"
    batch.inserted, batch.updated, batch.unchanged = result.inserted, result.updated, result.unchanged
    audit.record("clinical.imported", actor=actor, object_type="clinical_import", object_id=batch.id,
                 data={"kind": batch.kind, "source": batch.source, "rows": result.total,
                       "inserted": result.inserted, "updated": result.updated, "unchanged": result.unchanged})
    return batch


def record_api_batch(actor_name: str | None, kind: str, result: ingest.Result) -> ImportBatch:
    """The import-history entry of one API call: written, or refused with its row-level report."""
    batch = ImportBatch(kind=kind, source="api", status="done" if result.written else "invalid",
                        total_rows=result.total, error_rows=result.error_rows, inserted=result.inserted,
                        updated=result.updated, unchanged=result.unchanged, unknown_codes=result.unknown_codes[:200],
                        errors=result.errors, preview=[], finished_at=utcnow(), message=actor_name)
    db.session.add(batch)
    db.session.flush()
    return batch


def template_rows(kind: str) -> tuple[list[str], list[list]]:
    """Header and one example row for the downloadable template of `kind`."""
    example = EXAMPLES.get(kind, {})
    fields = list(KINDS[kind].fields)
    return fields, [[example.get(f, "") for f in fields]]


EXAMPLES = {
    "patients": {"source_id": "P000123", "mrn": "0012345", "name": "王小明", "gender": "M",
                 "birth_date": "1968-04-02"},
    "stays": {"source_id": "S20250001", "patient_source_id": "P000123", "patient_name": "王小明",
              "patient_gender": "M", "admitted_at": "2025-03-01 09:30", "discharged_at": "2025-03-08 10:00",
              "discharge_department_code": "D001", "attending_employee_no": "100002", "discharge_method": "1",
              "readmission_plan": "0", "total_cost": "23456.78", "main_diagnosis_code": "K80.100",
              "main_diagnosis_name": "胆囊结石伴慢性胆囊炎", "other_diagnoses": "I10.x00 高血压"},
    "operations": {"source_id": "O20250001", "stay_source_id": "S20250001", "code": "51.2300",
                   "name": "腹腔镜下胆囊切除术", "performed_at": "2025-03-03 08:30", "level": "3",
                   "surgeon_employee_no": "100002", "incision_grade": "II", "healing_grade": "甲",
                   "anesthesia_method": "全身麻醉", "emergency": "0"},
    "prescriptions": {"source_id": "R20250001", "stay_source_id": "S20250001", "prescriber_employee_no": "100002",
                      "drug_code": "Y010015", "prescribed_on": "2025-03-03", "setting": "inpatient",
                      "dose": "1g q8h", "days": "2"},
}

