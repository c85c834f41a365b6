"""The privilege types: what each one grants, where its items come from, its process and forms.

Items come from the technology catalog (surgery, procedures, medical-technology rights, anaesthesia
in catalog mode) or from the rights dictionary (`privilege_right`: prescription tiers, practice
capabilities, anaesthesia levels). Each type has its own start form `privilege_<code>_apply` in
`forms/privileges/` and its own process `privilege_<code>` in `processes/privileges/`.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

CATALOG, RIGHT, ANAESTHESIA = "catalog", "right", "anaesthesia"
PROCEDURE_KINDS = ("surgery", "diagnostic", "therapeutic", "interventional", "endoscopic", "restricted")
LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
VARIANTS = ("operate", "report")
VARIANT_LABELS = {"operate": _l("Operation right"), "report": _l("Report right")}


@dataclass(frozen=True)
class PrivilegeType:
    code: str
    label: object
    requirement: str  # R-number it implements
    source: str  # CATALOG | RIGHT | ANAESTHESIA
    catalog_kinds: tuple[str, ...] = ()
    history: str | None = None  # "operations" | "prescriptions" | None
    icon: str = "shield-check"

    @property
    def process_key(self) -> str:
        return f"privilege_{self.code}"

    @property
    def form(self) -> str:
        return f"privilege_{self.code}_apply"


TYPES: dict[str, PrivilegeType] = {t.code: t for t in (
    PrivilegeType("surgery", _l("Surgery privileges"), "R3.1", CATALOG, ("surgery", "restricted"),
                  "operations", "scissors"),
    PrivilegeType("procedure", _l("Procedure privileges"), "R3.2", CATALOG,
                  ("diagnostic", "therapeutic", "interventional", "endoscopic"), "operations", "activity"),
    PrivilegeType("rx_general", _l("Prescription right"), "R3.3", RIGHT, history="prescriptions",
                  icon="prescription2"),
    PrivilegeType("rx_controlled", _l("Narcotic and psychotropic drugs"), "R3.3", RIGHT,
                  history="prescriptions", icon="capsule"),
    PrivilegeType("rx_antimicrobial", _l("Antimicrobial drugs"), "R3.3", RIGHT, history="prescriptions",
                  icon="virus"),
    PrivilegeType("rx_anticancer", _l("Anticancer drugs"), "R3.3", RIGHT, history="prescriptions",
                  icon="capsule-pill"),
    PrivilegeType("rx_tcm", _l("Chinese patent medicines and decoction pieces"), "R3.3", RIGHT,
                  history="prescriptions", icon="flower1"),
    PrivilegeType("rx_glucocorticoid", _l("Glucocorticoids"), "R3.3", RIGHT, history="prescriptions",
                  icon="droplet"),
    PrivilegeType("medtech", _l("Medical-technology operation and report rights"), "R3.4", CATALOG,
                  ("medtech",), None, "clipboard2-data"),
    PrivilegeType("anaesthesia", _l("Anaesthesia privileges"), "R3.5", ANAESTHESIA, ("anaesthesia",),
                  "operations", "heart-pulse"),
    PrivilegeType("capability", _l("Practice capabilities"), "R3.6", RIGHT, icon="award"),
)}

PROCESS_TYPES = {t.process_key: t for t in TYPES.values()}
# Grants of these types set a surgeon's level ceiling (越级, Operation.above_level).
CEILING_TYPES = ("surgery", "procedure")


def get(code: str) -> PrivilegeType | None:
    return TYPES.get(code)


def label(code: str | None) -> str:
    found = TYPES.get(code or "")
    return str(found.label) if found else (code or "")


def level_name(level: int | None) -> str:
    return LEVEL_NAMES.get(level or 0, "")


def catalog_key(item_id: int, variant: str | None = None) -> str:
    return f"item:{item_id}:{variant}" if variant else f"item:{item_id}"


def parse_catalog_key(key: str) -> tuple[int, str | None] | None:
    parts = key.split(":")
    if len(parts) in (2, 3) and parts[0] == "item" and parts[1].isdigit():
        variant = parts[2] if len(parts) == 3 else None
        if variant is None or variant in VARIANTS:
            return int(parts[1]), variant
    return None
