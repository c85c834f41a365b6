"""Display labels of the clinical module's coded values."""
from flask_babel import lazy_gettext as _l

DISCHARGE_METHOD_LABELS = {"1": _l("Discharged on order"), "2": _l("Transferred on order"),
                           "3": _l("Transferred to community care"), "4": _l("Left against advice"),
                           "5": _l("Died"), "9": _l("Other")}
SETTING_LABELS = {"inpatient": _l("Inpatient"), "outpatient": _l("Outpatient")}
EVENT_LABELS = {"preop_discussion": _l("Pre-operative discussion"), "death_discussion": _l("Death case discussion"),
                "difficult_case_discussion": _l("Difficult case discussion")}
CATEGORY_LABELS = {"surgery": _l("Surgery"), "diagnostic": _l("Diagnostic procedure"),
                   "therapeutic": _l("Therapeutic procedure"), "interventional": _l("Interventional"),
                   "endoscopic": _l("Endoscopic")}
ANTIMICROBIAL_LABELS = {"unrestricted": _l("Antimicrobial: unrestricted"),
                        "restricted": _l("Antimicrobial: restricted"), "special": _l("Antimicrobial: special use")}
ANTICANCER_LABELS = {"general": _l("Anticancer: general"), "restricted": _l("Anticancer: restricted")}
CONTROLLED_LABELS = {"narcotic": _l("Narcotic"), "psych1": _l("Psychotropic class I"),
                     "psych2": _l("Psychotropic class II")}
TCM_LABELS = {"patent": _l("Chinese patent medicine"), "piece": _l("Decoction pieces")}
LEVEL_LABELS = {1: _l("Level 1"), 2: _l("Level 2"), 3: _l("Level 3"), 4: _l("Level 4")}
STAY_FLAGS = {"death": _l("Died"), "unplanned": _l("Unplanned readmission"), "long": _l("Stay over 30 days"),
              "complication": _l("With complications"), "operated": _l("With operations")}
OPERATION_FLAGS = {"above_level": _l("Above the surgeon's level"), "reoperation": _l("Unplanned reoperation"),
                   "emergency": _l("Emergency")}
IMPORT_STATUS_LABELS = {"uploaded": _l("Uploaded"), "checking": _l("Checking"), "checked": _l("Checked"),
                        "invalid": _l("Has errors"), "queued": _l("Queued"), "running": _l("Importing"),
                        "done": _l("Imported"), "failed": _l("Failed")}
SOURCE_LABELS = {"api": _l("Interface"), "csv": "CSV", "xlsx": "Excel"}
DICTIONARY_LABELS = {"procedures": _l("Procedure codes"), "drugs": _l("Drugs"), "diagnoses": _l("Diagnosis codes")}
UNKNOWN_DICTIONARY = {"procedure": "procedures", "drug": "drugs", "diagnosis": "diagnoses"}
TITLE_LEVEL_LABELS = {1: _l("Resident physician"), 2: _l("Attending physician"),
                      3: _l("Associate chief physician"), 4: _l("Chief physician")}
