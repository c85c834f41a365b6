"""What each demo department treats: diagnoses, procedures (with the diagnosis that leads to them),
how often its patients are operated on, typical length of stay and cost, and the drugs it orders.

Codes refer to the shipped dictionary subsets in `data/`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    diagnoses: tuple[str, ...]  # main diagnoses of stays without an operation
    procedures: tuple[tuple[str, int, str], ...]  # (procedure code, weight, main diagnosis)
    op_rate: float  # share of stays with an operation
    los: float  # mean length of stay in days
    cost: float  # mean cost of a stay (yuan)
    drugs: tuple[str, ...]  # drug groups ordered in this department
    death_rate: float = 0.003
    emergency_rate: float = 0.06


SURGICAL_DRUGS = ("base", "prophylaxis", "pain", "therapy")
MEDICAL_DRUGS = ("base", "therapy", "chronic")

PROFILES: dict[str, Profile] = {
    "普通外科": Profile(("K56.700", "K80.000", "K35.800"), (
        ("47.0100", 20, "K35.800"), ("47.0900", 4, "K35.800"), ("51.2300", 20, "K80.100"),
        ("51.2200", 2, "K80.000"), ("53.0200", 10, "K40.900"), ("53.0000", 3, "K40.900"),
        ("17.1100", 6, "K40.900"), ("06.4x00", 5, "C73.x00"), ("06.3900", 5, "E04.200"),
        ("85.4500", 4, "C50.900"), ("85.4300", 2, "C50.900"), ("43.8900", 3, "C16.900"),
        ("43.7x00", 1, "C16.900"), ("17.3300", 3, "C18.900"), ("45.7300", 1, "C18.900"),
        ("48.6300", 2, "C20.x00"), ("52.7x00", 1, "C25.900"), ("50.2201", 1, "C22.000"),
        ("86.2200", 5, "K56.700"), ("86.0400", 4, "K56.700"), ("86.3x00", 4, "K56.700"),
        ("49.4600", 4, "K64.900")), 0.8, 6.5, 21000, SURGICAL_DRUGS + ("oncology",), emergency_rate=0.12),
    "骨科": Profile(("S72.000", "M51.202"), (
        ("79.3500", 10, "S72.000"), ("79.3600", 10, "S82.200"), ("79.3200", 8, "S52.500"),
        ("81.5100", 6, "M16.900"), ("81.5200", 5, "S72.000"), ("81.5400", 6, "M17.900"),
        ("80.6x00", 6, "S83.200"), ("81.0800", 3, "M51.202"), ("80.5100", 5, "M51.202"),
        ("78.6x00", 6, "S82.200"), ("86.5900", 5, "S82.200")), 0.85, 9.0, 36000, SURGICAL_DRUGS,
        emergency_rate=0.1),
    "妇科": Profile(("N83.200", "D25.900"), (
        ("68.4100", 10, "D25.900"), ("68.4900", 4, "D25.900"), ("68.2900", 8, "D25.900"),
        ("65.2500", 10, "N83.200"), ("68.1200", 8, "D25.900"), ("69.0900", 6, "D25.900")), 0.8, 5.5, 15000,
        SURGICAL_DRUGS),
    "神经外科": Profile(("S06.500", "I61.900"), (
        ("01.2400", 4, "I61.900"), ("01.3100", 8, "S06.500"), ("01.5900", 4, "D33.200"),
        ("02.3400", 3, "I61.900"), ("39.5100", 2, "I67.100")), 0.6, 13.0, 48000, SURGICAL_DRUGS,
        death_rate=0.02, emergency_rate=0.3),
    "泌尿外科": Profile(("N20.000", "N40.x00"), (
        ("60.2900", 10, "N40.x00"), ("55.0400", 8, "N20.000"), ("56.0x00", 10, "N20.100"),
        ("57.4900", 5, "C67.900"), ("55.5100", 2, "C67.900"), ("64.0x00", 4, "N40.x00")), 0.8, 6.5, 19000,
        SURGICAL_DRUGS),
    "心胸外科": Profile(("C34.900", "I25.103"), (
        ("32.4100", 8, "C34.900"), ("32.2000", 6, "C34.900"), ("36.1000", 4, "I25.103"),
        ("35.2200", 3, "I35.000"), ("34.0400", 6, "C34.900")), 0.75, 12.0, 62000, SURGICAL_DRUGS,
        death_rate=0.01),
    "产科": Profile(("O80.000",), (("74.1x00", 10, "O82.000"), ("73.5900", 4, "O80.000")), 0.7, 4.5, 8000,
                   ("base", "prophylaxis", "pain"), death_rate=0.0, emergency_rate=0.2),
    "眼科": Profile(("H25.900",), (
        ("13.4100", 14, "H25.900"), ("13.7000", 8, "H25.900"), ("14.7400", 4, "H33.000"),
        ("12.6400", 3, "H40.100"), ("08.2000", 4, "H25.900")), 0.9, 3.0, 9000, ("base", "prophylaxis"),
        death_rate=0.0, emergency_rate=0.02),
    "耳鼻咽喉头颈外科": Profile(("J32.900",), (
        ("28.2x00", 8, "J35.000"), ("22.6300", 6, "J32.900"), ("21.5x00", 5, "J34.200"),
        ("30.0900", 2, "J32.900"), ("20.0100", 3, "J32.900")), 0.85, 5.0, 11000, SURGICAL_DRUGS,
        death_rate=0.0),
    "口腔科": Profile(("K04.000",), (("23.1900", 10, "K01.100"), ("24.4x00", 2, "K04.000"),
                                   ("27.5400", 2, "Q36.900")), 0.8, 4.0, 7000, ("base", "prophylaxis"),
                     death_rate=0.0),
    "整形美容科": Profile(("Q36.900",), (("86.8300", 6, "Q36.900"), ("86.8200", 3, "Q36.900"),
                                     ("85.5300", 3, "Q36.900"), ("86.3x00", 6, "Q36.900")), 0.9, 4.0, 15000,
                        ("base", "prophylaxis"), death_rate=0.0, emergency_rate=0.01),
    "心血管内科": Profile(("I25.103", "I21.900", "I20.000", "I48.x00", "I50.900", "I10.x00"), (
        ("36.0700", 6, "I20.000"), ("88.5500", 10, "I25.103"), ("37.3400", 2, "I48.x00"),
        ("37.8300", 2, "I50.900")), 0.35, 7.0, 26000, MEDICAL_DRUGS, death_rate=0.008, emergency_rate=0.15),
    "呼吸与危重症医学科": Profile(("J18.900", "J44.100", "J45.900", "J96.000", "C34.900"), (
        ("33.2200", 8, "C34.900"), ("33.2700", 4, "C34.900"), ("96.0400", 1, "J96.000"),
        ("34.0400", 2, "J18.900")), 0.15, 9.0, 16000, MEDICAL_DRUGS + ("steroid", "infection"),
        death_rate=0.01),
    "消化内科": Profile(("K29.700", "K92.200", "K63.500", "K80.500", "K74.600"), (
        ("45.2300", 6, "K63.500"), ("45.4200", 8, "K63.500"), ("44.4300", 3, "K92.200"),
        ("51.8800", 2, "K80.500"), ("45.1300", 6, "K29.700")), 0.4, 7.5, 14000, MEDICAL_DRUGS),
    "神经内科": Profile(("I63.900", "G40.900", "I61.900"), (("03.3100", 1, "G40.900"),), 0.05, 10.0, 17000,
                    MEDICAL_DRUGS, death_rate=0.006),
    "肾内科": Profile(("N18.500", "N04.900"), (("39.9500", 6, "N18.500"), ("38.9500", 3, "N18.500")), 0.3, 9.0,
                   15000, MEDICAL_DRUGS + ("steroid",)),
    "儿科": Profile(("J18.900", "J06.900", "A09.900"), (("03.3100", 1, "J18.900"),), 0.03, 5.0, 5000,
                  ("base", "therapy"), death_rate=0.0005),
    "内分泌科": Profile(("E11.900", "E05.900"), (), 0.0, 8.0, 9000, MEDICAL_DRUGS),
    "血液科": Profile(("C91.000", "C83.300", "D61.900"), (("41.3100", 8, "C91.000"),), 0.3, 14.0, 42000,
                   MEDICAL_DRUGS + ("oncology", "steroid", "infection"), death_rate=0.02),
    "肿瘤科": Profile(("C34.900", "C16.900", "C50.900", "C18.900"), (("92.2700", 2, "C34.900"),
                                                                   ("41.3100", 2, "C50.900")), 0.05, 8.0,
                   22000, MEDICAL_DRUGS + ("oncology", "pain"), death_rate=0.02),
    "急诊科": Profile(("J18.900", "S06.500", "K92.200"), (("86.5900", 8, "S06.500"), ("86.2200", 5, "S06.500"),
                                                        ("96.0400", 2, "J96.000")), 0.3, 3.0, 6000,
                   ("base", "therapy", "prophylaxis"), death_rate=0.01, emergency_rate=1.0),
    "重症医学科": Profile(("A41.900", "J96.000"), (("96.0400", 8, "J96.000"), ("31.1x00", 3, "J96.000"),
                                                  ("39.6500", 1, "J96.000")), 0.4, 11.0, 80000,
                     ("base", "infection", "steroid", "pain"), death_rate=0.06, emergency_rate=0.9),
    "皮肤科": Profile(("L40.000",), (("86.3x00", 4, "L40.000"),), 0.1, 8.0, 7000, ("base", "steroid")),
    "康复医学科": Profile(("I69.300",), (), 0.0, 20.0, 18000, ("base", "chronic")),
    "中医科": Profile(("R54.x00", "E11.900"), (), 0.0, 10.0, 9000, ("base", "tcm")),
    "感染科": Profile(("A41.900", "J18.900"), (), 0.0, 10.0, 14000, ("base", "infection")),
    "老年医学科": Profile(("R54.x00", "I10.x00", "J18.900"), (), 0.0, 11.0, 13000, MEDICAL_DRUGS,
                     death_rate=0.01),
    "精神心理科": Profile(("F32.900",), (), 0.0, 18.0, 10000, ("base", "psych")),
    "全科医学科": Profile(("J06.900", "I10.x00"), (), 0.0, 6.0, 6000, MEDICAL_DRUGS),
}
GENERIC = Profile(("J18.900", "I10.x00"), (), 0.0, 7.0, 9000, MEDICAL_DRUGS)
NO_BEDS = ("麻醉科",)  # departments without inpatients (their doctors anaesthetise)

# Drug groups: codes of the shipped drug dictionary.
DRUG_GROUPS = {
    "base": ("Y010001", "Y010002", "Y010003", "Y010004", "Y010014", "Y010013"),
    "chronic": ("Y010005", "Y010006", "Y010007", "Y010008", "Y010009", "Y010010", "Y010011"),
    "prophylaxis": ("Y010015", "Y010017", "Y010019"),
    "therapy": ("Y010016", "Y010018", "Y010020", "Y010021", "Y010022", "Y010023", "Y010024", "Y010025"),
    "infection": ("Y010022", "Y010023", "Y010024", "Y010025", "Y010026", "Y010027", "Y010028", "Y010029",
                  "Y010030", "Y010031", "Y010032"),
    "oncology": ("Y010033", "Y010034", "Y010035", "Y010036", "Y010037", "Y010038", "Y010039", "Y010040",
                 "Y010041", "Y010042", "Y010043"),
    "pain": ("Y010012", "Y010044", "Y010045", "Y010047", "Y010049", "Y010055"),
    "psych": ("Y010053", "Y010054", "Y010056", "Y010051"),
    "steroid": ("Y010066", "Y010067", "Y010068", "Y010069"),
    "tcm": ("Y010057", "Y010058", "Y010059", "Y010060", "Y010061", "Y010062", "Y010063", "Y010064", "Y010065"),
}
OUTPATIENT_DRUGS = ("Y010005", "Y010006", "Y010007", "Y010008", "Y010012", "Y010013", "Y010016", "Y010018",
                    "Y010021", "Y010038", "Y010053", "Y010058", "Y010059", "Y010068")
SPECIAL_ANTIMICROBIALS = ("Y010026", "Y010027", "Y010028", "Y010029", "Y010030", "Y010031", "Y010032")
RESTRICTED_ANTICANCER = ("Y010040", "Y010041", "Y010042", "Y010043")
COMPLICATIONS = (("T81.000", "手术后出血"), ("T81.400", "手术后感染"), ("T81.300", "手术伤口裂开"),
                 ("I80.200", "下肢深静脉血栓形成"), ("I26.900", "肺栓塞"), ("J95.800", "手术后肺部并发症"))
DOSES = ("1片 qd", "1片 bid", "1g q8h", "2g qd", "0.5g q12h", "10mg qd", "40mg qd", "100ml qd", "250ml qd",
         "5mg im st", "1支 iv st", "10g 煎服 bid")


def rx_required_level(drug_class: tuple) -> tuple[int, bool]:
    """(minimum title level, TCM physicians only) a drug needs by the default privilege rules
    (DOMAIN.md: antimicrobial tiers by title, anticancer tiers, 麻精 after training — taken as 主治+,
    中药饮片 by TCM physicians). `drug_class` = (antimicrobial, anticancer, controlled, tcm)."""
    antimicrobial, anticancer, controlled, tcm = drug_class
    level = 1
    if antimicrobial == "restricted":
        level = 2
    elif antimicrobial == "special":
        level = 3
    if anticancer == "general":
        level = max(level, 2)
    elif anticancer == "restricted":
        level = 3
    if controlled in ("narcotic", "psych1"):
        level = max(level, 2)
    if tcm == "patent":
        level = max(level, 2)
    return level, tcm == "piece"
