"""Forms of the catalog pages (the services validate again: these give the fields and their labels)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField

from app.modules.catalog.labels import KIND_LABELS, LEVEL_LABELS, MEASURE_LABELS


def _choices(pairs, blank=None) -> list[SelectChoice]:
    return ([SelectChoice("", blank)] if blank is not None else []) + [SelectChoice(str(k), v) for k, v in pairs]


class ItemForm(FlaskForm):
    code = StringField(_l("Item code"), description=_l("Leave empty to number it automatically."))
    name = StringField(_l("Item name"))
    kind = SelectField(_l("Kind"), choices=_choices(KIND_LABELS.items()))
    level = SelectField(_l("Level"), choices=_choices(LEVEL_LABELS.items(), "—"))
    restricted = BooleanField(_l("Restricted technology"))
    category = StringField(_l("Sub-category"), description=_l("E.g. 检验, 影像, 病理 for medical-technology items; "
                                                                 "the method for anaesthesia items."))
    codes = TextAreaField(_l("Procedure codes (ICD-9-CM-3)"),
                          description=_l("Codes of the procedure dictionary, separated by commas or lines."))
    description = TextAreaField(_l("Description"))


class IndicatorForm(FlaskForm):
    key = StringField(_l("Key"), description=_l("Lower-case letters, digits and _; fixed once saved."))
    name = StringField(_l("Indicator"))
    numerator = TextAreaField(_l("Numerator"))
    denominator = TextAreaField(_l("Denominator"))
    source = StringField(_l("Source document"))
    target = StringField(_l("Target"), description=_l("E.g. ≤5%"))
    measure = SelectField(_l("Computed from the front page as"),
                          choices=_choices(MEASURE_LABELS.items(), _l("Not computable: definition only")))
    complication_codes = StringField(_l("Complication codes (ICD-10 prefixes)"),
                                     description=_l("For complication indicators: e.g. T81.0, T81.4; empty counts "
                                                    "every complication."))
    active = BooleanField(_l("In use"), default=True)


class NoteForm(FlaskForm):
    note = TextAreaField(_l("Department note"))


class ImportForm(FlaskForm):
    file = FileField(_l("File (.xlsx)"))
