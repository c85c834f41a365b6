"""Table-driven tests of every shipped privileges decision table (rules/privileges/*.dmn): which rule
matches, and what it answers (R3.1–R3.7 defaults of DOMAIN.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.workflow.rules import load_definitions

RULES = Path(__file__).resolve().parents[2] / "rules" / "privileges"


def evaluate(key: str, inputs: dict):
    definitions = load_definitions((RULES / f"{key}.dmn").read_bytes())
    result = definitions.evaluate_detailed(key, inputs)
    return result.result, result.matched_rules[0] if result.matched_rules else None


CEILING = [
    ("resident", 1, 1, "resident"), ("resident", 3, 2, "senior_resident"), ("attending", 2, 2, "attending"),
    ("attending", 5, 3, "senior_attending"), ("assoc_chief", 0, 3, "assoc_chief"),
    ("assoc_chief", 6, 4, "senior_assoc_chief"), ("chief", 0, 4, "chief"), ("nurse", 10, 0, "no_title"),
    ("", 0, 0, "no_title"),
]


@pytest.mark.req("R3.1")
@pytest.mark.parametrize("title, years, ceiling, rule", CEILING)
def test_title_ceiling(title, years, ceiling, rule):
    assert evaluate("privileges_title_ceiling", {"title_code": title, "years_in_title": years}) == (ceiling, rule)


def person(**kw):
    base = {"ptype": "surgery", "group": "surgery", "right": "", "level": 2, "variant": "", "staff_type": "physician",
            "title_rank": 2, "ceiling": 2, "years_practising": 8, "practice_category": "临床",
            "practice_scope": "外科专业", "in_department_catalog": True, "has_training": True, "restricted": False,
            "item_label": "二级手术"}
    base.update(kw)
    return base


ELIGIBILITY = [
    (person(), True, "eligible", ""),
    (person(staff_type="nurse"), False, "not_physician", "二级手术，须为执业医师"),
    (person(ptype="medtech", group="medtech", staff_type="technician", variant="operate", item_label="CT平扫"), True,
     "eligible", ""),
    (person(ptype="medtech", group="medtech", staff_type="technician", variant="report", item_label="CT平扫"), False,
     "medtech_report", "CT平扫报告权，须为执业医师"),
    (person(ptype="medtech", group="medtech", staff_type="nurse", item_label="CT平扫"), False, "medtech_staff",
     "CT平扫，须为医技专业技术人员"),
    (person(practice_category=""), False, "no_category", "未登记执业类别，不能申请授权"),
    (person(in_department_catalog=False), False, "not_in_catalog", "二级手术，不在本科室技术目录中"),
    (person(level=4, item_label="四级手术"), False, "surgery_title", "四级手术，职称不符"),
    (person(ptype="procedure", group="endoscopic", level=3, ceiling=3, item_label="三级内镜操作"), True, "eligible",
     ""),
    (person(level=4, ceiling=4, restricted=True, has_training=False, item_label="四级手术"), False,
     "restricted_training", "四级手术，须提供限制类技术培训合格证明"),
    (person(ptype="rx_antimicrobial", group="antimicrobial", right="antimicrobial.special", level=3, title_rank=2,
            item_label="特殊使用级抗菌药物"), False, "antimicrobial_special", "特殊使用级抗菌药物，职称不符"),
    (person(ptype="rx_antimicrobial", group="antimicrobial", right="antimicrobial.special", level=3, title_rank=3,
            item_label="特殊使用级抗菌药物"), True, "eligible", ""),
    (person(ptype="rx_antimicrobial", group="antimicrobial", right="antimicrobial.restricted", level=2, title_rank=1,
            item_label="限制使用级抗菌药物"), False, "antimicrobial_restricted", "限制使用级抗菌药物，职称不符"),
    (person(ptype="rx_antimicrobial", group="antimicrobial", level=1, title_rank=1, item_label="非限制使用级抗菌药物"),
     True, "eligible", ""),
    (person(ptype="rx_anticancer", group="anticancer", level=2, title_rank=2, item_label="限制使用级抗肿瘤药物"), False,
     "anticancer_restricted", "限制使用级抗肿瘤药物，职称不符"),
    (person(ptype="rx_anticancer", group="anticancer", level=1, title_rank=1, item_label="普通使用级抗肿瘤药物"), False,
     "anticancer_general", "普通使用级抗肿瘤药物，职称不符"),
    (person(ptype="rx_controlled", group="narcotic", right="narcotic", level=1, title_rank=1,
            item_label="麻醉药品处方权"), False, "controlled_title", "麻醉药品处方权，职称不符"),
    (person(ptype="rx_controlled", group="narcotic", right="narcotic", level=1, has_training=False,
            item_label="麻醉药品处方权"), False, "controlled_training", "麻醉药品处方权，须经院内培训考核合格"),
    (person(ptype="rx_controlled", group="psych2", right="psych2", level=1, title_rank=1, has_training=False,
            item_label="第二类精神药品处方权"), True, "eligible", ""),
    (person(ptype="rx_tcm", group="tcm", right="tcm.piece", level=1, item_label="中药饮片处方权"), False, "tcm_piece",
     "中药饮片处方权，限中医类别医师"),
    (person(ptype="rx_tcm", group="tcm", right="tcm.piece", level=1, practice_category="中医",
            item_label="中药饮片处方权"), True, "eligible", ""),
    (person(ptype="rx_tcm", group="tcm", right="tcm.patent", level=1, has_training=False, item_label="中成药处方权"),
     False, "tcm_patent", "中成药处方权，非中医类别医师须经中医药知识培训考核合格"),
    (person(ptype="rx_glucocorticoid", group="glucocorticoid", right="glucocorticoid.pulse", level=2, title_rank=1,
            item_label="冲击疗法"), False, "glucocorticoid_pulse", "冲击疗法，职称不符"),
    (person(ptype="anaesthesia", group="anaesthesia", level=2, item_label="二级麻醉"), False, "anaesthesia_scope",
     "二级麻醉，限麻醉专业医师"),
    (person(ptype="anaesthesia", group="anaesthesia", level=3, ceiling=2, practice_scope="麻醉专业",
            item_label="三级麻醉"), False, "anaesthesia_title", "三级麻醉，职称不符"),
    (person(ptype="capability", group="cosmetic_surgery", right="cosmetic_surgery", level=1, title_rank=1,
            item_label="美容主诊医师"), False, "cosmetic_title", "美容主诊医师，职称不符"),
    (person(ptype="capability", group="cosmetic_surgery", right="cosmetic_surgery", level=1, years_practising=5,
            item_label="美容主诊医师"), False, "cosmetic_surgery_years", "美容主诊医师，从事相关专业不足6年"),
    (person(ptype="capability", group="cosmetic_dental", right="cosmetic_dental", level=1, years_practising=4,
            item_label="美容牙科"), False, "cosmetic_dental_years", "美容牙科，从事相关专业不足5年"),
    (person(ptype="capability", group="cosmetic_dermatology", right="cosmetic_dermatology", level=1,
            years_practising=2, item_label="美容皮肤"), False, "cosmetic_other_years", "美容皮肤，从事相关专业不足3年"),
    (person(ptype="capability", group="brain_death", right="brain_death", level=1, title_rank=1,
            item_label="脑死亡判定"), False, "brain_death_title", "脑死亡判定，职称不符"),
    (person(ptype="capability", group="equipment", right="equipment.ct", level=1, has_training=False,
            item_label="CT上岗"), False, "capability_evidence", "CT上岗，须上传培训或资格证明"),
    (person(ptype="capability", group="equipment", right="equipment.ct", level=1, item_label="CT上岗"), True,
     "eligible", ""),
]


@pytest.mark.req("R3.1")
@pytest.mark.req("R3.3")
@pytest.mark.req("R3.6")
@pytest.mark.parametrize("inputs, allowed, rule, reason", ELIGIBILITY)
def test_eligibility(inputs, allowed, rule, reason):
    result, matched = evaluate("privileges_eligibility", inputs)
    assert (result["allowed"], matched, result["reason"]) == (allowed, rule, reason)


def auto(**kw):
    base = {"ptype": "surgery", "eligible": True, "refusal": "", "max_level": 2, "min_cases": 0, "renewal": False}
    base.update(kw)
    return base


AUTO = [
    (auto(eligible=False, refusal="四级手术，职称不符"), "reject", "ineligible", "不符合申请条件：四级手术，职称不符"),
    (auto(max_level=3, min_cases=4), "reject", "high_level_no_cases", None),
    (auto(max_level=4, min_cases=5), "review", "manual", "需人工审核"),
    (auto(ptype="rx_antimicrobial", max_level=3, renewal=True), "approve", "renewal", None),
    (auto(ptype="surgery", renewal=True, min_cases=3), "review", "manual", None),
    (auto(max_level=2, min_cases=10), "approve", "low_level_experienced", None),
    (auto(max_level=2, min_cases=9), "review", "manual", None),
    (auto(ptype="procedure", max_level=1, min_cases=12), "approve", "low_level_experienced", None),
    (auto(ptype="rx_general", max_level=1), "approve", "general_prescription", None),
    (auto(ptype="rx_antimicrobial", max_level=1), "approve", "antimicrobial_basic", None),
    (auto(ptype="rx_antimicrobial", max_level=2), "review", "manual", None),
    (auto(ptype="rx_glucocorticoid", max_level=1), "approve", "glucocorticoid_basic", None),
    (auto(ptype="capability", max_level=1), "review", "manual", None),
]


@pytest.mark.req("R3.7")
@pytest.mark.parametrize("inputs, outcome, rule, reason", AUTO)
def test_automatic_decision(inputs, outcome, rule, reason):
    result, matched = evaluate("privileges_auto_decision", inputs)
    assert (result["auto_outcome"], matched) == (outcome, rule)
    if reason:
        assert result["auto_reason"] == reason


REVIEWERS = [  # ptype, level, restricted → dept, pharmacy, medaffairs, experts, leader, rule
    ("surgery", 4, True, (True, False, True, 3, True), "surgery_restricted"),
    ("surgery", 4, False, (True, False, True, 3, True), "surgery_level4"),
    ("surgery", 3, False, (True, False, True, 3, False), "surgery_level3"),
    ("surgery", 2, False, (True, False, True, 0, False), "surgery_low"),
    ("procedure", 3, False, (True, False, True, 2, False), "procedure_high"),
    ("procedure", 1, False, (True, False, True, 0, False), "procedure_low"),
    ("rx_antimicrobial", 3, False, (True, True, True, 2, False), "antimicrobial_special"),
    ("rx_antimicrobial", 2, False, (True, True, True, 0, False), "antimicrobial"),
    ("rx_anticancer", 2, False, (True, True, True, 2, False), "anticancer_restricted"),
    ("rx_controlled", 1, False, (True, True, True, 0, False), "prescription_pharmacy"),
    ("rx_general", 1, False, (True, False, True, 0, False), "general_prescription"),
    ("anaesthesia", 4, False, (True, False, True, 2, False), "anaesthesia_high"),
    ("capability", 1, False, (True, False, True, 3, True), "capability"),
    ("medtech", 2, False, (True, False, True, 0, False), "default"),
]


@pytest.mark.req("R3.7")
@pytest.mark.parametrize("ptype, level, restricted, expected, rule", REVIEWERS)
def test_reviewers(ptype, level, restricted, expected, rule):
    result, matched = evaluate("privileges_reviewers", {"ptype": ptype, "max_level": level, "restricted": restricted})
    got = (result["need_dept"], result["need_pharmacy"], result["need_medaffairs"], result["expert_count"],
           result["need_leader"])
    assert (got, matched, result["expert_role"]) == (expected, rule, "expert")


TERMS = [("surgery", 4, 1, "level4"), ("procedure", 3, 2, "level3"), ("surgery", 1, 3, "level12"),
         ("anaesthesia", 3, 2, "anaesthesia_high"), ("anaesthesia", 1, 3, "default"),
         ("capability", 1, 2, "capability"),
         ("rx_antimicrobial", 3, 3, "default")]


@pytest.mark.req("R3.8")
@pytest.mark.parametrize("ptype, level, years, rule", TERMS)
def test_terms(ptype, level, years, rule):
    result, matched = evaluate("privileges_term", {"ptype": ptype, "level": level})
    assert (result["term_years"], result["remind_days"], matched) == (years, 60, rule)
