"""Forms: uploading an import file, editing a dictionary entry."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.modules.clinical.labels import (ANTICANCER_LABELS, ANTIMICROBIAL_LABELS, CATEGORY_LABELS,
                                         CONTROLLED_LABELS, TCM_LABELS)


def _choices(pairs, blank: bool = False) -> list[SelectChoice]:
    return ([SelectChoice("", "—")] if blank else []) + [SelectChoice(str(k), v) for k, v in pairs]


class ImportForm(FlaskForm):
    kind = SelectField(_l("Contents"), validate_choice=False)
    file = FileField(_l("File (.csv or .xlsx)"))


class ProcedureForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter the code.")), Length(max=20)])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=120)])
    level = IntegerField(_l("Surgery level"), validators=[Optional(), NumberRange(1, 4, _l("1 to 4."))])
    category = SelectField(_l("Category"), choices=_choices(CATEGORY_LABELS.items()))
    minimally_invasive = BooleanField(_l("Minimally invasive"))
    restricted = BooleanField(_l("Restricted technology"))
    active = BooleanField(_l("In use"), default=True)


class DrugForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter the code.")), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=120)])
    spec = StringField(_l("Specification"), validators=[Optional(), Length(max=80)])
    antimicrobial_tier = SelectField(_l("Antimicrobial tier"), choices=_choices(ANTIMICROBIAL_LABELS.items(), True))
    anticancer_tier = SelectField(_l("Anticancer tier"), choices=_choices(ANTICANCER_LABELS.items(), True))
    controlled_class = SelectField(_l("Narcotic or psychotropic class"),
                                   choices=_choices(CONTROLLED_LABELS.items(), True))
    tcm_type = SelectField(_l("Traditional Chinese medicine"), choices=_choices(TCM_LABELS.items(), True))
    glucocorticoid = BooleanField(_l("Glucocorticoid"))
    active = BooleanField(_l("In use"), default=True)


class DiagnosisForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter the code.")), Length(max=20)])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=120)])
    active = BooleanField(_l("In use"), default=True)


DICTIONARY_FORMS = {"procedures": ProcedureForm, "drugs": DrugForm, "diagnoses": DiagnosisForm}


def form_row(form) -> dict:
    """The form's data as an import row (the ingest service validates and saves it)."""
    row = {}
    for name, field in form._fields.items():
        if name == "csrf_token":
            continue
        value = field.data
        if isinstance(value, bool):
            value = "1" if value else "0"
        row[name] = value
    return row
