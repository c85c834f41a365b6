"""Web forms of the dossier. Rules live in the services; the forms only carry typed values."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from sqlalchemy import select
from wtforms import DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.extensions import db
from app.modules.dossier import labels
from app.modules.dossier.services import profile as profiles
from app.modules.org.dictionaries import PRACTICE_SCOPES
from app.modules.org.models import Department, Title


def _choices(pairs, blank: bool = True) -> list[SelectChoice]:
    return ([SelectChoice("", "—")] if blank else []) + [SelectChoice(str(k), v) for k, v in pairs]


def _int_or_none(value):
    return int(value) if value not in (None, "", "None") else None


def _none_if_blank(value):
    return value or None


def _number_text(value):
    """Hours and credits come from the row as decimals: edit them as text (12.0 → "12")."""
    if value is None or isinstance(value, str):
        return value
    return f"{value:g}"


class ProfileForm(FlaskForm):
    """Every field of basic information; the view disables those the user may not change."""

    employee_no = StringField(profiles.SPECS["employee_no"].label, validators=[Length(max=32)])
    name = StringField(profiles.SPECS["name"].label, validators=[Length(max=60)])
    gender = SelectField(profiles.SPECS["gender"].label, choices=_choices(profiles.SPECS["gender"].choices.items()),
                         coerce=_none_if_blank)
    birth_date = DateField(profiles.SPECS["birth_date"].label, validators=[Optional()])
    id_number = StringField(profiles.SPECS["id_number"].label, validators=[Length(max=18)])
    ethnicity = SelectField(profiles.SPECS["ethnicity"].label, choices=_choices((e, e) for e in labels.ETHNICITIES),
                            coerce=_none_if_blank)
    department_id = SelectField(profiles.SPECS["department_id"].label, coerce=_int_or_none, validate_choice=False)
    staff_type = SelectField(profiles.SPECS["staff_type"].label,
                             choices=_choices(profiles.SPECS["staff_type"].choices.items()), coerce=_none_if_blank)
    personnel_category = SelectField(profiles.SPECS["personnel_category"].label,
                                     choices=_choices(labels.PERSONNEL_CATEGORIES.items()), coerce=_none_if_blank)
    post = StringField(profiles.SPECS["post"].label, validators=[Length(max=60)])
    hire_date = DateField(profiles.SPECS["hire_date"].label, validators=[Optional()])
    status = SelectField(profiles.SPECS["status"].label, choices=_choices(profiles.SPECS["status"].choices.items()),
                         coerce=_none_if_blank)
    education = SelectField(profiles.SPECS["education"].label, choices=_choices(labels.EDUCATION.items()),
                            coerce=_none_if_blank)
    degree = SelectField(profiles.SPECS["degree"].label, choices=_choices(labels.DEGREES.items()),
                         coerce=_none_if_blank)
    graduated_from = StringField(profiles.SPECS["graduated_from"].label, validators=[Length(max=100)])
    major = StringField(profiles.SPECS["major"].label, validators=[Length(max=60)])
    graduated_on = DateField(profiles.SPECS["graduated_on"].label, validators=[Optional()])
    title_code = SelectField(profiles.SPECS["title_code"].label, validate_choice=False, coerce=_none_if_blank)
    title_since = DateField(profiles.SPECS["title_since"].label, validators=[Optional()])
    practice_category = SelectField(profiles.SPECS["practice_category"].label,
                                    choices=_choices((c, c) for c in PRACTICE_SCOPES), coerce=_none_if_blank)
    practice_scope = SelectField(profiles.SPECS["practice_scope"].label, validate_choice=False,
                                 coerce=_none_if_blank,
                                 choices=_choices((s, f"{c}·{s}") for c, scopes in PRACTICE_SCOPES.items()
                                                  for s in scopes))
    practice_cert_no = StringField(profiles.SPECS["practice_cert_no"].label, validators=[Length(max=40)])
    qualification_cert_no = StringField(profiles.SPECS["qualification_cert_no"].label, validators=[Length(max=40)])
    practice_registered_on = DateField(profiles.SPECS["practice_registered_on"].label, validators=[Optional()])
    practice_institution = StringField(profiles.SPECS["practice_institution"].label, validators=[Length(max=100)])
    phone = StringField(profiles.SPECS["phone"].label, validators=[Length(max=20)])
    office_phone = StringField(profiles.SPECS["office_phone"].label, validators=[Length(max=20)])
    email = StringField(profiles.SPECS["email"].label, validators=[Length(max=120)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rows = db.session.execute(select(Department.id, Department.name, Department.code)
                                  .where(Department.active.is_(True))
                                  .order_by(Department.sort_order, Department.code)).all()
        self.department_id.choices = _choices((r.id, f"{r.name}（{r.code}）") for r in rows)
        titles = db.session.execute(select(Title.code, Title.name).order_by(Title.sort_order)).all()
        self.title_code.choices = _choices((t.code, t.name) for t in titles)

    def values(self, keys) -> dict:
        result = {}
        for key in keys:
            value = self[key].data
            result[key] = (value.strip() or None) if isinstance(value, str) else value
        if result.get("id_number"):
            result["id_number"] = result["id_number"].upper()
        return result


class CertificateForm(FlaskForm):
    cert_type = SelectField(_l("Certificate type"), choices=_choices(labels.CERT_TYPES.items()))
    name = StringField(_l("Certificate name"), validators=[Length(max=100)])
    number = StringField(_l("Certificate no."), validators=[Length(max=60)])
    issuer = StringField(_l("Issued by"), validators=[Length(max=100)])
    issued_on = DateField(_l("Issued on"), validators=[Optional()])
    expires_on = DateField(_l("Expires on"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])
    files = MultipleFileField(_l("Images or PDF of the certificate"))


class HistoryForm(FlaskForm):
    started_on = DateField(_l("From"), validators=[Optional()])
    ended_on = DateField(_l("To"), validators=[Optional()])
    institution = StringField(_l("Institution"), validators=[Length(max=120)])
    department = StringField(_l("Department"), validators=[Length(max=60)])
    role = StringField(_l("Post or title held"), validators=[Length(max=60)])
    title = StringField(_l("Training name"), validators=[Length(max=120)])
    content = TextAreaField(_l("Content"), validators=[Length(max=4000)])
    hours = StringField(_l("Hours"), validators=[Length(max=10)], filters=[_number_text])
    credits = StringField(_l("Credits"), validators=[Length(max=10)], filters=[_number_text])
    certificate_id = SelectField(_l("Certificate"), coerce=_int_or_none, validate_choice=False)


class AdverseForm(FlaskForm):
    occurred_on = DateField(_l("Date"), validators=[Optional()])
    category = SelectField(_l("Kind of behaviour"), choices=_choices(labels.ADVERSE_CATEGORIES.items()))
    content = TextAreaField(_l("What happened"), validators=[Length(max=4000)])
    handling = TextAreaField(_l("Handling and result"), validators=[Length(max=4000)])
    duty_department_id = SelectField(_l("Responsible department"), coerce=_int_or_none, validate_choice=False)


class ImportForm(FlaskForm):
    file = FileField(_l("File (.csv or .xlsx)"))
