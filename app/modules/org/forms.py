from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.extensions import db
from app.modules.org.dictionaries import PRACTICE_SCOPES
from app.modules.org.models import Campus, Department, Title

CATEGORY_LABELS = {"clinical": _l("Clinical"), "medtech": _l("Medical-technical"),
                   "functional": _l("Functional")}
UNIT_LABELS = {"department": _l("Department"), "ward": _l("Ward")}
GENDER_LABELS = {"M": _l("Male"), "F": _l("Female")}
STAFF_TYPE_LABELS = {"physician": _l("Physician"), "nurse": _l("Nurse"),
                     "pharmacist": _l("Pharmacist"), "technician": _l("Technician"),
                     "administrative": _l("Administrative")}
STATUS_LABELS = {"active": _l("Active"), "leave": _l("On leave"), "retired": _l("Retired"),
                 "resigned": _l("Resigned")}
LEVEL_LABELS = {"junior": _l("Junior"), "intermediate": _l("Intermediate"),
                "associate_senior": _l("Associate senior"), "senior": _l("Senior")}


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(str(value), label) for value, label in pairs]


def _department_choices(blank: bool) -> list:
    rows = db.session.execute(select(Department.id, Department.name, Department.code)
                              .order_by(Department.sort_order, Department.code)).all()
    choices = [(r.id, f"{r.name}（{r.code}）") for r in rows]
    return _choices(([("", "—")] if blank else []) + choices)


def _int_or_none(value):
    return int(value) if value not in (None, "", "None") else None


class DepartmentForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter the department code.")),
                                               Length(max=32)])
    name = StringField(_l("Department name"), validators=[DataRequired(_l("Enter the department name.")),
                                               Length(max=120)])
    category = SelectField(_l("Type"), choices=_choices(CATEGORY_LABELS.items()))
    unit_type = SelectField(_l("Unit"), choices=_choices(UNIT_LABELS.items()))
    parent_id = SelectField(_l("Parent department"), coerce=_int_or_none, validate_choice=False)
    campus_id = SelectField(_l("Campus"), coerce=_int_or_none, validate_choice=False)
    sort_order = IntegerField(_l("Sort order"), default=0, validators=[Optional()])
    active = BooleanField(_l("In use"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent_id.choices = _department_choices(blank=True)
        campuses = db.session.execute(select(Campus.id, Campus.name).order_by(Campus.id)).all()
        self.campus_id.choices = _choices([("", "—")] + [(c.id, c.name) for c in campuses])


class StaffForm(FlaskForm):
    employee_no = StringField(_l("Employee no."), validators=[
        DataRequired(_l("Enter the employee number.")), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=60)])
    gender = SelectField(_l("Gender"), choices=_choices(GENDER_LABELS.items()))
    birth_date = DateField(_l("Birth date"), validators=[Optional()])
    department_id = SelectField(_l("Department"), coerce=_int_or_none, validate_choice=False)
    staff_type = SelectField(_l("Staff type"), choices=_choices(STAFF_TYPE_LABELS.items()))
    post = StringField(_l("Post"), validators=[Optional(), Length(max=60)])
    title_code = SelectField(_l("Title"), validate_choice=False)
    title_since = DateField(_l("Title obtained on"), validators=[Optional()])
    practice_category = SelectField(_l("Practice category"), validate_choice=False)
    practice_scope = SelectField(_l("Practice scope"), validate_choice=False)
    practice_cert_no = StringField(_l("Practice certificate no."), validators=[Optional(), Length(max=40)])
    qualification_cert_no = StringField(_l("Qualification certificate no."),
                                        validators=[Optional(), Length(max=40)])
    hire_date = DateField(_l("Hire date"), validators=[Optional()])
    status = SelectField(_l("Status"), choices=_choices(STATUS_LABELS.items()))
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.department_id.choices = _department_choices(blank=True)
        titles = db.session.execute(select(Title.code, Title.name).order_by(Title.sort_order)).all()
        self.title_code.choices = _choices([("", "—")] + [(t.code, t.name) for t in titles])
        self.practice_category.choices = _choices([("", "—")] + [(c, c) for c in PRACTICE_SCOPES])
        self.practice_scope.choices = _choices([("", "—")] + [
            (s, f"{c}·{s}") for c, scopes in PRACTICE_SCOPES.items() for s in scopes])

    def service_data(self) -> dict:
        data = {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
        for key in ("title_code", "practice_category", "practice_scope"):
            data[key] = data[key] or None
        return data
