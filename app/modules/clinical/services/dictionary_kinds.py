"""The dictionary kinds (procedure codes, drugs, diagnoses), keyed by their code."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.modules.clinical import models as m
from app.modules.clinical.services.base import Kind
from app.modules.clinical.services.parsing import RowReader

CATEGORY_CHOICES = {**{k: k for k in m.PROCEDURE_CATEGORIES}, "手术": "surgery", "诊断性操作": "diagnostic",
                    "治疗性操作": "therapeutic", "介入治疗": "interventional", "介入": "interventional",
                    "内镜": "endoscopic", "内镜治疗": "endoscopic"}
ANTIMICROBIAL_CHOICES = {**{k: k for k in m.ANTIMICROBIAL_TIERS}, "非限制使用级": "unrestricted",
                         "非限制": "unrestricted", "限制使用级": "restricted", "限制": "restricted",
                         "特殊使用级": "special", "特殊": "special"}
ANTICANCER_CHOICES = {**{k: k for k in m.ANTICANCER_TIERS}, "普通使用级": "general", "普通": "general",
                      "限制使用级": "restricted", "限制": "restricted"}
CONTROLLED_CHOICES = {**{k: k for k in m.CONTROLLED_CLASSES}, "麻醉药品": "narcotic", "麻醉": "narcotic",
                      "第一类精神药品": "psych1", "精一": "psych1", "第二类精神药品": "psych2", "精二": "psych2"}
TCM_CHOICES = {**{k: k for k in m.TCM_TYPES}, "中成药": "patent", "中药饮片": "piece", "饮片": "piece"}


# --- dictionaries -----------------------------------------------------------------------------

def _active(r: RowReader) -> bool:
    return True if r.data.get("active") in (None, "") else r.flag("active")


class Procedures(Kind):
    name, label, model, key, dictionary = "procedures", _l("Procedure codes"), m.ProcedureCode, "code", "procedure"
    fields = ("code", "name", "level", "category", "minimally_invasive", "restricted", "active")
    required = ("code", "name")
    compare = ("name", "level", "category", "minimally_invasive", "restricted", "active")

    def convert(self, ctx, r):
        return dict(code=r.text("code", 20, True), name=r.text("name", 120, True), level=r.integer("level", 1, 4),
                    category=r.choice("category", CATEGORY_CHOICES) or "surgery",
                    minimally_invasive=r.flag("minimally_invasive"), restricted=r.flag("restricted"),
                    active=_active(r))


class Drugs(Kind):
    name, label, model, key, dictionary = "drugs", _l("Drugs"), m.Drug, "code", "drug"
    fields = ("code", "name", "spec", "antimicrobial_tier", "anticancer_tier", "controlled_class", "tcm_type",
              "glucocorticoid", "active")
    required = ("code", "name")
    compare = ("name", "spec", "antimicrobial_tier", "anticancer_tier", "controlled_class", "tcm_type",
               "glucocorticoid", "active")

    def convert(self, ctx, r):
        return dict(code=r.text("code", 32, True), name=r.text("name", 120, True), spec=r.text("spec", 80),
                    antimicrobial_tier=r.choice("antimicrobial_tier", ANTIMICROBIAL_CHOICES),
                    anticancer_tier=r.choice("anticancer_tier", ANTICANCER_CHOICES),
                    controlled_class=r.choice("controlled_class", CONTROLLED_CHOICES),
                    tcm_type=r.choice("tcm_type", TCM_CHOICES), glucocorticoid=r.flag("glucocorticoid"),
                    active=_active(r))


class Diagnoses(Kind):
    name, label, model, key, dictionary = "diagnoses", _l("Diagnosis codes"), m.DiagnosisCode, "code", "diagnosis"
    fields = ("code", "name", "active")
    required = ("code", "name")
    compare = ("name", "active")

    def convert(self, ctx, r):
        return dict(code=r.text("code", 20, True), name=r.text("name", 120, True), active=_active(r))
