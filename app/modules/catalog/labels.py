"""Display labels of the catalog's coded values."""
from flask_babel import lazy_gettext as _l

KIND_LABELS = {"surgery": _l("Surgery"), "diagnostic": _l("Diagnostic procedure"),
               "therapeutic": _l("Therapeutic procedure"), "interventional": _l("Interventional"),
               "endoscopic": _l("Endoscopic"), "restricted": _l("Restricted technology"),
               "medtech": _l("Medical-technology item"), "anaesthesia": _l("Anaesthesia item")}
LEVEL_LABELS = {1: _l("Level 1"), 2: _l("Level 2"), 3: _l("Level 3"), 4: _l("Level 4")}
DEPARTMENT_STATUS_LABELS = {"active": _l("In use"), "removed": _l("Removed")}
MEASURE_LABELS = {"complication": _l("Complications in the cases' stays"),
                  "mortality": _l("Deaths at discharge"), "survival": _l("Discharged alive"),
                  "reoperation": _l("Unplanned reoperations")}
# Item codes the catalog proposes for a new item, by kind (the hospital may use its own).
KIND_PREFIX = {"surgery": "SS", "diagnostic": "ZD", "therapeutic": "ZL", "interventional": "JR",
               "endoscopic": "NJ", "restricted": "XZ", "medtech": "YJ", "anaesthesia": "MZ"}
