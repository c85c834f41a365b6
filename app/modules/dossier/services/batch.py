"""Many people at once: the initial file import and the HIS/HR sync share this (R1.1).

Rows are keyed by 工号 (employee_no): an unknown 工号 creates the person, a known one updates the
fields the row carries (blank cells change nothing), so sending the same rows twice changes nothing
the second time. A batch is checked whole first; one bad row refuses the whole batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.modules.dossier.models import DossierProfile
from app.modules.dossier.services import profile as profiles
from app.modules.org.models import Staff

MAX_ROWS = 5000

# Column names accepted besides the field keys: the template's Chinese headers and API spellings.
HEADERS: tuple[tuple[str, str], ...] = (
    ("employee_no", "工号"), ("name", "姓名"), ("gender", "性别"), ("birth_date", "出生日期"),
    ("id_number", "身份证号"), ("ethnicity", "民族"), ("department_id", "科室"), ("staff_type", "人员类别"),
    ("personnel_category", "用工性质"), ("post", "岗位"), ("hire_date", "入院时间"), ("status", "在职状态"),
    ("education", "学历"), ("degree", "学位"), ("graduated_from", "毕业院校"), ("major", "所学专业"),
    ("graduated_on", "毕业时间"), ("title_code", "职称"), ("title_since", "职称取得时间"),
    ("practice_category", "执业类别"), ("practice_scope", "执业范围"), ("practice_cert_no", "执业证书编号"),
    ("qualification_cert_no", "资格证书编号"), ("practice_registered_on", "执业注册日期"),
    ("practice_institution", "主要执业机构"), ("phone", "手机"), ("office_phone", "办公电话"),
    ("email", "电子邮箱"),
)
ALIASES = {zh: key for key, zh in HEADERS} | {
    "人员类型": "staff_type",
    "科室编码": "department_id", "科室代码": "department_id", "科室名称": "department_id",
    "department_code": "department_id", "department": "department_id", "title": "title_code",
    "职称代码": "title_code", "身份证号码": "id_number", "手机号": "phone", "联系电话": "phone",
    "邮箱": "email", "执业证书编码": "practice_cert_no", "资格证书编码": "qualification_cert_no",
    "职称取得日期": "title_since", "入职日期": "hire_date", "参加工作时间": "hire_date",
}
EXAMPLE = {"employee_no": "200123", "name": "张明", "gender": "男", "birth_date": "1985-06-12",
           "id_number": "110105198506120014", "ethnicity": "汉族", "department_id": "D001", "staff_type": "医师",
           "personnel_category": "在编", "post": "临床医师", "hire_date": "2012-08-01", "status": "在职",
           "education": "硕士研究生", "degree": "硕士", "graduated_from": "北京大学医学部", "major": "外科学",
           "graduated_on": "2012-07-01", "title_code": "主治医师", "title_since": "2018-12-01",
           "practice_category": "临床", "practice_scope": "外科专业", "practice_cert_no": "110110000123456",
           "qualification_cert_no": "201111000123456", "practice_registered_on": "2013-03-15",
           "practice_institution": "示范市第一人民医院", "phone": "13800000000", "office_phone": "010-12345678",
           "email": "zhangming@hospital.cn"}


def column_key(name) -> str | None:
    text = str(name or "").strip().lstrip("\ufeff").rstrip("*")
    if text in profiles.SPECS:
        return text
    return ALIASES.get(text) or ALIASES.get(text.lower())


@dataclass
class Prepared:
    row: int
    employee_no: str
    staff: Staff | None
    values: dict[str, Any]
    action: str = "unchanged"  # new | update | unchanged | error
    errors: dict[str, str] = field(default_factory=dict)


def _plain(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def normalise_rows(rows: list[dict]) -> list[dict]:
    """Rows keyed by field key with JSON-safe values; unknown columns are dropped."""
    result = []
    for raw in rows:
        row = {}
        for name, value in raw.items():
            key = column_key(name)
            if key is not None:
                row[key] = _plain(value)
        result.append(row)
    return result


def prepare(rows: list[dict], first_row: int = 1) -> list[Prepared]:
    """Read and check every row against the database and against the other rows."""
    lookups = profiles.Lookups()
    numbers = [str(r.get("employee_no") or "").strip() for r in rows]
    staff_by_no = {s.employee_no: s for s in db.session.scalars(
        select(Staff).where(Staff.employee_no.in_([n for n in numbers if n])))} if any(numbers) else {}
    profile_by_staff = {p.staff_id: p for p in db.session.scalars(
        select(DossierProfile).where(DossierProfile.staff_id.in_([s.id for s in staff_by_no.values()])))}
    seen_no: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    prepared = []
    for index, raw in enumerate(rows):
        number = profiles._text(raw.get("employee_no") or "")
        values, errors = profiles.read_values(raw, lookups)
        staff = staff_by_no.get(number)
        item = Prepared(first_row + index, number, staff, values, errors=errors)
        if not number:
            item.errors["employee_no"] = _("Required.")
        elif number in seen_no:
            item.errors["employee_no"] = _("The employee number %(no)s is also in row %(row)d.", no=number,
                                           row=seen_no[number])
        else:
            seen_no[number] = item.row
        id_number = values.get("id_number")
        if id_number and id_number in seen_id:
            item.errors.setdefault("id_number", _("The same ID card number is also in row %(row)d.",
                                                  row=seen_id[id_number]))
        elif id_number:
            seen_id[id_number] = item.row
        checked = {k: v for k, v in values.items() if k not in item.errors}
        for key, message in profiles.check(checked, staff, profile_by_staff.get(staff.id) if staff else None).items():
            item.errors.setdefault(key, message)
        if item.errors:
            item.action = "error"
        elif staff is None:
            item.action = "new"
        else:
            current = profiles.current_values(staff, profile_by_staff.get(staff.id))
            item.action = "update" if any(current.get(k) != v for k, v in values.items()) else "unchanged"
        prepared.append(item)
    return prepared


def error_list(prepared: list[Prepared]) -> list[dict]:
    labels = {spec.key: str(spec.label) for spec in profiles.FIELDS}
    return [{"row": p.row, "employee_no": p.employee_no, "field": key, "field_label": labels.get(key, key),
             "message": message} for p in prepared for key, message in p.errors.items()]


def write(actor, prepared: list[Prepared], *, source: str, source_ref: str | None) -> dict[str, int]:
    """Apply checked rows (the caller made sure none has errors); counts per action."""
    counts = {"new": 0, "update": 0, "unchanged": 0}
    for item in prepared:
        _staff, rows = profiles.apply(actor, item.staff, item.values, source=source, source_ref=source_ref,
                                      audit_each=False)
        counts[item.action if rows else "unchanged"] += 1
    return counts
