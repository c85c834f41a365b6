"""Basic information and identity (R1.1): one set of fields, written by hand, by file import or by the
HIS/HR sync, every change of a field logged (field, old, new, source, time) in `dossier_change`.

Values arrive raw (strings from a file or JSON, typed values from a web form): `read_values` turns
them into typed values field by field with Chinese messages, `check` applies the rules that span
fields and rows (unique 工号 and ID number, scope belongs to category …), `apply` writes and logs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core import audit
from app.extensions import db
from app.modules.clinical.services.parsing import GENDERS, blank, to_date
from app.modules.dossier import labels
from app.modules.dossier.models import DossierChange, DossierProfile
from app.modules.dossier.services import identity
from app.modules.org.dictionaries import PRACTICE_SCOPES
from app.modules.org.forms import GENDER_LABELS, STAFF_TYPE_LABELS, STATUS_LABELS
from app.modules.org.models import STAFF_STATUSES, STAFF_TYPES, Department, Staff, Title


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: Any
    target: str  # staff | profile
    kind: str = "text"  # text | date | choice | department | title | id_number | email
    max_len: int | None = None
    choices: dict | None = None  # code → label (kind "choice")
    aliases: dict | None = None  # other spellings → code
    owner: bool = False  # the person may change it in their own dossier


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("employee_no", _l("Employee no."), "staff", max_len=32),
    FieldSpec("name", _l("Name"), "staff", max_len=60),
    FieldSpec("gender", _l("Gender"), "staff", "choice", choices=GENDER_LABELS, aliases=GENDERS),
    FieldSpec("birth_date", _l("Birth date"), "staff", "date"),
    FieldSpec("id_number", _l("ID card number"), "profile", "id_number"),
    FieldSpec("ethnicity", _l("Ethnicity"), "profile", max_len=20, owner=True),
    FieldSpec("department_id", _l("Department"), "staff", "department"),
    FieldSpec("staff_type", _l("Staff type"), "staff", "choice", choices=STAFF_TYPE_LABELS,
              aliases=labels.STAFF_TYPE_ALIASES),
    FieldSpec("personnel_category", _l("Employment form"), "profile", "choice",
              choices=labels.PERSONNEL_CATEGORIES, aliases=labels.PERSONNEL_ALIASES),
    FieldSpec("post", _l("Post"), "staff", max_len=60),
    FieldSpec("hire_date", _l("Joined the hospital on"), "staff", "date"),
    FieldSpec("status", _l("Status"), "staff", "choice", choices=STATUS_LABELS, aliases=labels.STATUS_ALIASES),
    FieldSpec("education", _l("Education"), "profile", "choice", choices=labels.EDUCATION,
              aliases=labels.EDUCATION_ALIASES, owner=True),
    FieldSpec("degree", _l("Degree"), "profile", "choice", choices=labels.DEGREES, aliases=labels.DEGREE_ALIASES,
              owner=True),
    FieldSpec("graduated_from", _l("Graduated from"), "profile", max_len=100, owner=True),
    FieldSpec("major", _l("Major"), "profile", max_len=60, owner=True),
    FieldSpec("graduated_on", _l("Graduated on"), "profile", "date", owner=True),
    FieldSpec("title_code", _l("Title"), "staff", "title"),
    FieldSpec("title_since", _l("Title obtained on"), "staff", "date"),
    FieldSpec("practice_category", _l("Practice category"), "staff", "choice",
              choices={c: c for c in PRACTICE_SCOPES}),
    FieldSpec("practice_scope", _l("Practice scope"), "staff", max_len=60),
    FieldSpec("practice_cert_no", _l("Practice certificate no."), "staff", max_len=40),
    FieldSpec("qualification_cert_no", _l("Qualification certificate no."), "staff", max_len=40),
    FieldSpec("practice_registered_on", _l("Practice registered on"), "profile", "date"),
    FieldSpec("practice_institution", _l("Main practice institution"), "profile", max_len=100),
    FieldSpec("phone", _l("Mobile phone"), "staff", max_len=20, owner=True),
    FieldSpec("office_phone", _l("Office phone"), "profile", max_len=20, owner=True),
    FieldSpec("email", _l("E-mail"), "profile", "email", max_len=120, owner=True),
)
SPECS = {f.key: f for f in FIELDS}
OWNER_KEYS = tuple(f.key for f in FIELDS if f.owner)
# A new person needs these; an update changes only what it sends.
REQUIRED_NEW = ("employee_no", "name", "gender", "department_id", "staff_type")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ProfileRefused(ValueError):
    """Field-by-field errors (field key → message); nothing was written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- reading raw values -------------------------------------------------------------------------

class Lookups:
    """Departments and titles by code and by name, loaded once per batch."""

    def __init__(self):
        self.departments: dict[str, int] = {}
        names: dict[str, list[int]] = {}
        for dept_id, code, name in db.session.execute(select(Department.id, Department.code, Department.name)):
            self.departments[code] = dept_id
            names.setdefault(name, []).append(dept_id)
        for name, ids in names.items():
            if len(ids) == 1:  # a name shared by two departments is not a key
                self.departments.setdefault(name, ids[0])
        self.titles: dict[str, str] = {}
        for code, name in db.session.execute(select(Title.code, Title.name)):
            self.titles[code] = code
            self.titles[name] = code


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel gives 工号 100123 as 100123.0
    return str(value).strip()


def read_values(raw: dict[str, Any], lookups: Lookups) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values of the known fields present in `raw` (blank cells are left out), and errors."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in raw.items():
        spec = SPECS.get(key)
        if spec is None or blank(value):
            continue
        try:
            values[key] = _read(spec, value, lookups)
        except _Bad as exc:
            errors[key] = str(exc)
    return values, errors


class _Bad(ValueError):
    pass


def _read(spec: FieldSpec, value, lookups: Lookups):
    if spec.kind == "date":
        try:
            return to_date(value)
        except (TypeError, ValueError):
            raise _Bad(_("Enter a date as YYYY-MM-DD.")) from None
    text = _text(value)
    if spec.kind == "choice":
        if text in (spec.choices or {}):
            return text
        alias = (spec.aliases or {}).get(text) or (spec.aliases or {}).get(text.lower())
        if alias:
            return alias
        for code, label in (spec.choices or {}).items():
            if str(label) == text:
                return code
        raise _Bad(_("Unknown value %(value)s: choose from the list.", value=text))
    if spec.kind == "department":
        found = lookups.departments.get(text)
        if found is None:
            raise _Bad(_("Unknown department %(value)s.", value=text))
        return found
    if spec.kind == "title":
        found = lookups.titles.get(text)
        if found is None:
            raise _Bad(_("Unknown title %(value)s.", value=text))
        return found
    if spec.kind == "id_number":
        return identity.normalise(text)
    if spec.max_len and len(text) > spec.max_len:
        raise _Bad(_("At most %(n)d characters.", n=spec.max_len))
    return text


# --- checking -----------------------------------------------------------------------------------

def current_values(staff: Staff | None, profile: DossierProfile | None) -> dict[str, Any]:
    result = {}
    for spec in FIELDS:
        holder = staff if spec.target == "staff" else profile
        result[spec.key] = getattr(holder, spec.key) if holder is not None else None
    return result


def check(values: dict[str, Any], staff: Staff | None, profile: DossierProfile | None) -> dict[str, str]:
    """Errors of `values` applied onto the current record (None: a new person)."""
    merged = {**current_values(staff, profile), **values}
    errors: dict[str, str] = {}
    if staff is None:
        for key in REQUIRED_NEW:
            if blank(merged.get(key)):
                errors[key] = _("Required for a new person.")
    for key, value in values.items():
        spec = SPECS[key]
        if spec.kind == "text" and spec.key in ("employee_no", "name") and blank(value):
            errors[key] = _("Required.")
        elif spec.kind == "choice" and value is not None and value not in (spec.choices or {}):
            errors[key] = _("Unknown value %(value)s: choose from the list.", value=value)
        elif spec.kind == "email" and value and not EMAIL.match(value):
            errors[key] = _("Enter an e-mail address such as name@hospital.cn.")
    employee_no = (merged.get("employee_no") or "").strip()
    if employee_no and "employee_no" in values and db.session.scalar(select(Staff.id).where(
            Staff.employee_no == employee_no, Staff.id != (staff.id if staff else -1))):
        errors["employee_no"] = _("The employee number %(no)s is already used.", no=employee_no)
    if merged.get("department_id") and db.session.get(Department, merged["department_id"]) is None:
        errors["department_id"] = _("Choose an existing department.")
    if merged.get("staff_type") and merged["staff_type"] not in STAFF_TYPES:
        errors["staff_type"] = _("Choose the staff type.")
    if merged.get("status") and merged["status"] not in STAFF_STATUSES:
        errors["status"] = _("Choose the status.")
    _check_practice(merged, errors)
    _check_id_number(merged, values, profile, errors)
    _check_dates(merged, errors)
    return errors


def _check_practice(merged: dict, errors: dict) -> None:
    category, scope = merged.get("practice_category"), merged.get("practice_scope")
    if category and category not in PRACTICE_SCOPES:
        errors.setdefault("practice_category", _("Choose a practice category from the list."))
    elif category and scope and scope not in PRACTICE_SCOPES[category]:
        errors.setdefault("practice_scope", _("This practice scope does not belong to the category "
                                              "%(category)s.", category=category))
    elif scope and not category:
        errors.setdefault("practice_category", _("Choose the practice category of this scope."))


def _check_id_number(merged: dict, values: dict, profile: DossierProfile | None, errors: dict) -> None:
    number = merged.get("id_number")
    if not number:
        return
    reason = identity.problem(number)
    if reason is not None:
        errors["id_number"] = {
            "format": _("An ID card number has 18 characters: 17 digits and a digit or X."),
            "birth": _("The birth date inside the ID card number is not a real date."),
            "checksum": _("The check digit of this ID card number is wrong: please check the number."),
        }[reason]
        return
    if merged.get("birth_date") and identity.birth_date(number) != merged["birth_date"]:
        errors["id_number"] = _("The ID card number gives the birth date %(date)s, which differs from the "
                                "birth date entered.", date=identity.birth_date(number).isoformat())
    elif merged.get("gender") in ("M", "F") and identity.gender(number) != merged["gender"]:
        errors["id_number"] = _("The ID card number does not match the gender entered.")
    elif "id_number" in values and db.session.scalar(select(DossierProfile.id).where(
            DossierProfile.id_number == number, DossierProfile.id != (profile.id if profile else -1))):
        errors["id_number"] = _("This ID card number is already registered for another person.")


def _check_dates(merged: dict, errors: dict) -> None:
    today = date.today()
    birth = merged.get("birth_date")
    for key in ("birth_date", "hire_date", "title_since", "graduated_on", "practice_registered_on"):
        value = merged.get(key)
        if value and value > today:
            errors.setdefault(key, _("The date cannot be in the future."))
        elif value and birth and key != "birth_date" and value <= birth:
            errors.setdefault(key, _("The date must be after the birth date."))


# --- writing ------------------------------------------------------------------------------------

def profile_of(staff: Staff) -> DossierProfile | None:
    return db.session.scalar(select(DossierProfile).where(DossierProfile.staff_id == staff.id))


def _log_text(key: str, value) -> str | None:
    if value is None or value == "":
        return None
    if key == "department_id":
        dept = db.session.get(Department, value)
        return f"{dept.name}（{dept.code}）" if dept else str(value)
    if key == "title_code":
        title = db.session.get(Title, value)
        return title.name if title else str(value)
    if key == "id_number":
        return identity.mask(value)  # the log is read by everyone who sees the dossier
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def apply(actor, staff: Staff | None, values: dict[str, Any], *, source: str, source_ref: str | None = None,
          ip: str | None = None, audit_each: bool = True) -> tuple[Staff, list[DossierChange]]:
    """Write `values` (already read and checked) and log each changed field; a new person when
    `staff` is None. Returns the person and the change rows (empty when nothing changed). Batches
    pass `audit_each=False` and write one audit entry for the whole batch."""
    from app.modules.org.services import the_hospital

    created = staff is None
    if created:
        staff = Staff(hospital_id=the_hospital().id, status="active")
        db.session.add(staff)
    profile = None if created else profile_of(staff)
    before = current_values(None if created else staff, profile)
    changed: dict[str, tuple[Any, Any]] = {}
    for key, value in values.items():
        spec = SPECS[key]
        if isinstance(value, str):
            value = value.strip() or None
        if before.get(key) == value:
            continue
        if spec.target == "profile" and profile is None:
            profile = DossierProfile(staff=staff)
            db.session.add(profile)
        setattr(staff if spec.target == "staff" else profile, key, value)
        changed[key] = (before.get(key), value)
    if not changed:
        return staff, []
    db.session.flush()
    actor_id = getattr(actor, "id", None)
    rows = [DossierChange(staff_id=staff.id, field=key, old_value=None if created else _log_text(key, old),
                          new_value=_log_text(key, new), source=source, source_ref=source_ref, actor_id=actor_id)
            for key, (old, new) in changed.items()]
    db.session.add_all(rows)
    db.session.flush()
    if not audit_each:
        return staff, rows
    audit.record("dossier.person_created" if created else "dossier.profile_changed", actor=actor,
                 object_type="staff", object_id=staff.id, ip=ip,
                 data={"source": source, "ref": source_ref,
                       "changes": {r.field: [r.old_value, r.new_value] for r in rows}})
    return staff, rows


def save(actor, staff: Staff, values: dict[str, Any], *, allowed: tuple[str, ...], ip: str | None = None
         ) -> list[DossierChange]:
    """A manual edit: only the `allowed` fields are taken; refused whole when any field is wrong."""
    values = {k: v for k, v in values.items() if k in allowed}
    errors = check(values, staff, profile_of(staff))
    if errors:
        raise ProfileRefused(errors)
    _staff, rows = apply(actor, staff, values, source="manual", ip=ip)
    return rows


def display(key: str, value) -> str:
    """A logged or current value as the page shows it (codes become their labels)."""
    if value is None or value == "":
        return "—"
    spec = SPECS.get(key)
    if spec is not None and spec.kind == "choice" and spec.choices and value in spec.choices:
        return str(spec.choices[value])
    return str(value)


def masked_id(user, staff: Staff, profile: DossierProfile | None) -> str:
    """The ID number as `user` may see it: whole for the person and who holds dossier.view_identity."""
    from app.modules.dossier import access

    number = profile.id_number if profile is not None else None
    if not number:
        return "—"
    return number if access.can_see_identity(user, staff) else identity.mask(number)
