"""Every privilege type applied for and approved end to end through its own BPMN process (R3.1–R3.7),
an automatic approval and rejection with the matched rules on the record, and the countersign."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.modules.privileges import check
from app.modules.privileges.models import Grant
from app.modules.privileges.types import TYPES


def _right(code: str) -> str:
    return f"right:{code}"


def _case(pv, ptype: str):
    """(applicant, item keys, extra data, kind of check and code) for one privilege type."""
    from app.modules.org.models import Department

    db = pv.db
    if ptype == "surgery":
        user = pv.physician(title="chief")
        item = pv.catalog_item(("surgery",), level=2)
        return user, [f"item:{item.id}"], {}, ("surgery", pv.item_code(item))
    if ptype == "procedure":
        user = pv.physician(title="chief")
        item = pv.catalog_item(("diagnostic", "therapeutic", "interventional", "endoscopic"))
        return user, [f"item:{item.id}"], {}, ("procedure", pv.item_code(item))
    if ptype == "medtech":
        lab = db.session.scalar(select(Department).where(Department.name == "检验科"))
        user = pv.physician(title="chief", department=lab, scope="医学检验、病理专业")
        item = pv.catalog_item(("medtech",), department=lab)
        return user, [f"item:{item.id}:report"], {"training_name": "检验报告审核培训"}, ("medtech", item.code)
    if ptype == "anaesthesia":
        user = pv.physician(title="chief", scope="麻醉专业")
        item = pv.catalog_item(("anaesthesia",), level=3)
        return user, [f"item:{item.id}"], {"training_name": "麻醉专科培训"}, ("anaesthesia", item.code)
    rights = {"rx_general": ("general", "Y010001"), "rx_controlled": ("narcotic", "Y010044"),
              "rx_antimicrobial": ("antimicrobial.special", "Y010026"),
              "rx_anticancer": ("anticancer.restricted", "Y010040"), "rx_tcm": ("tcm.patent", "Y010057"),
              "rx_glucocorticoid": ("glucocorticoid.pulse", "Y010066"), "capability": ("brain_death", "brain_death")}
    code, target = rights[ptype]
    user = pv.physician(title="chief")
    kind = "capability" if ptype == "capability" else "drug"
    if kind == "drug" and ptype != "rx_general":
        pv.grant(user, "rx_general", "right:general")
    return user, [_right(code)], {"training_name": "院内培训考核合格", "training_date": "2026-01-10"}, (kind, target)


@pytest.mark.req("R3.1")
@pytest.mark.req("R3.2")
@pytest.mark.req("R3.3")
@pytest.mark.req("R3.4")
@pytest.mark.req("R3.5")
@pytest.mark.req("R3.6")
@pytest.mark.req("R3.7")
@pytest.mark.parametrize("ptype", list(TYPES))
def test_each_type_is_applied_for_and_approved_end_to_end(pv, ptype):
    pv.experts(3)
    user, keys, data, (kind, code) = _case(pv, ptype)
    holder = user.staff.employee_no
    before = check.answer_one(check.Query(holder, kind, code, date.today()))
    if ptype != "rx_general" and ptype not in ("rx_tcm",):
        assert before["allowed"] is False
    instance = pv.apply(user, ptype, keys, reason="开展需要", **data)
    application = pv.application(instance)
    assert application is not None and application.ptype == ptype
    assert instance.process_key == f"privilege_{ptype}"
    steps = pv.run(instance)
    assert instance.status == "completed", instance.incident
    pv.db.session.refresh(application)
    assert application.status == "approved", (steps, application.decision_note)
    grants = pv.db.session.scalars(select(Grant).where(Grant.application_id == application.id)).all()
    assert len(grants) == len(keys) and all(g.status == "active" and g.staff_id == user.staff_id for g in grants)
    assert all(g.instance_id == instance.id for g in grants)
    answer = check.answer_one(check.Query(holder, kind, code, date.today(),
                                          "report" if ptype == "medtech" else None))
    assert answer["allowed"] is True, answer
    # The reviewer table chose the steps; the steps the process took are those.
    chosen = application.reviewers or {}
    if application.auto_outcome == "review":
        assert ("dept_review" in steps) == bool(chosen["need_dept"])
        assert ("pharmacy_review" in steps) == bool(chosen["need_pharmacy"])
        assert ("leader_approval" in steps) == bool(chosen["need_leader"])
        assert ("expert_review" in steps) == bool(chosen["experts"])


EXPECTED_STEPS = {  # (steps the default tables choose for the cases above)
    "surgery": ["dept_review", "medaffairs_review"],
    "rx_controlled": ["dept_review", "pharmacy_review", "medaffairs_review"],
    "rx_antimicrobial": ["dept_review", "pharmacy_review", "medaffairs_review", "expert_review"],
    "capability": ["dept_review", "medaffairs_review", "expert_review", "expert_review", "expert_review",
                   "leader_approval"],
}


@pytest.mark.req("R3.7")
@pytest.mark.parametrize("ptype", list(EXPECTED_STEPS))
def test_the_reviewer_table_chooses_the_steps(pv, ptype):
    pv.experts(3)
    user, keys, data, _check = _case(pv, ptype)
    instance = pv.apply(user, ptype, keys, **data)
    assert pv.run(instance) == EXPECTED_STEPS[ptype]


@pytest.mark.req("R3.7")
def test_automatic_approval_shows_its_rule(pv, client, login):
    user = pv.physician(title="attending", years=2)
    item = pv.catalog_item(("surgery",), level=2)
    pv.operations(user.staff, item, 12, role="assistant1")
    instance = pv.apply(user, "surgery", [f"item:{item.id}"])
    application = pv.application(instance)
    assert instance.status == "completed" and pv.open_tasks(instance) == []
    assert application.status == "approved" and application.auto_outcome == "approve"
    assert [r["id"] for r in application.auto_rules["matched"]] == ["low_level_experienced"]
    assert application.auto_rules["inputs"]["min_cases"] == 12
    grant = pv.db.session.scalar(select(Grant).where(Grant.application_id == application.id))
    assert grant.granted_by_id is None and grant.level == 2
    login(user.username)
    page = client.get(f"/privileges/applications/{application.id}").get_data(as_text=True)
    assert 'data-rule="low_level_experienced"' in page and 'data-outcome="approve"' in page


@pytest.mark.req("R3.7")
def test_automatic_rejection_shows_its_rule(pv):
    user = pv.physician(title="chief")
    item = pv.catalog_item(("surgery",), level=3)
    pv.operations(user.staff, item, 2, role="assistant1")
    instance = pv.apply(user, "surgery", [f"item:{item.id}"])
    application = pv.application(instance)
    assert application.status == "rejected" and application.auto_outcome == "reject"
    assert [r["id"] for r in application.auto_rules["matched"]] == ["high_level_no_cases"]
    assert "本次最少2例" in application.decision_note
    assert pv.db.session.scalar(select(Grant).where(Grant.application_id == application.id)) is None
    from app.core.notify.models import Notification

    note = pv.db.session.scalar(select(Notification).where(Notification.user_id == user.id,
                                                           Notification.kind == "privileges.application"))
    assert note is not None and "未通过" in note.title


@pytest.mark.req("R3.7")
def test_countersign_all_experts_must_agree(pv):
    experts = pv.experts(3)
    user = pv.physician(title="chief")
    item = pv.catalog_item(("surgery",), level=3)
    pv.operations(user.staff, item, 8, role="assistant1")
    instance = pv.apply(user, "surgery", [f"item:{item.id}"])
    application = pv.application(instance)
    assert application.auto_outcome == "review"
    assert len(application.reviewers["experts"]) == 3
    assert set(application.reviewers["experts"]) <= {e.id for e in experts} | {pv.user("expert").id}
    no = application.reviewers["experts"][1]
    steps = pv.run(instance, decide=lambda task: "reject" if task.assignee_id == no else "approve")
    assert steps.count("expert_review") == 3  # 会签: everyone signs
    pv.db.session.refresh(application)
    assert application.status == "rejected" and application.decision_note == "专家组会签未通过"
    assert pv.db.session.scalar(select(Grant).where(Grant.application_id == application.id)) is None


@pytest.mark.req("R3.7")
def test_countersign_with_a_veto_stops_at_the_first_no(pv):
    pv.experts(3)
    user = pv.physician(title="chief")
    item = pv.catalog_item(("diagnostic", "therapeutic", "interventional", "endoscopic"), level=3)
    pv.operations(user.staff, item, 8, role="assistant1")
    instance = pv.apply(user, "procedure", [f"item:{item.id}"])
    application = pv.application(instance)
    assert len(application.reviewers["experts"]) == 2
    steps = pv.run(instance, decide=lambda task: "reject" if task.spec == "expert_review" else "approve")
    assert steps.count("expert_review") == 1  # 一票否决
    pv.db.session.refresh(application)
    assert application.status == "rejected"


@pytest.mark.req("R3.7")
def test_the_department_head_rejects_and_the_record_says_so(pv):
    from app.workflow import runtime

    user = pv.physician(title="chief")
    item = pv.catalog_item(("surgery",), level=2)
    instance = pv.apply(user, "surgery", [f"item:{item.id}"])
    task = pv.open_tasks(instance)[0]
    assert task.spec == "dept_review"
    head = pv.actor_of(task)
    assert head.id != user.id
    runtime.reject(head, task.id, "例数不足")
    from app.modules.privileges.applications import status_of

    assert status_of(pv.application(instance)) == "rejected"


@pytest.mark.req("R3.7")
def test_a_head_applying_is_not_reviewed_by_himself(pv):
    head = pv.physician(title="chief", role="dept_head")
    item = pv.catalog_item(("surgery",), level=2)
    instance = pv.apply(head, "surgery", [f"item:{item.id}"])
    task = pv.open_tasks(instance)[0]
    assert task.spec == "dept_review"
    people = {task.assignee_id} | {c.user_id for c in task.candidates}
    assert head.id not in people and people - {None}


@pytest.mark.req("R3.5")
def test_anaesthesia_by_level_after_the_hospital_switches(pv):
    from datetime import timedelta

    from app.modules.privileges import settings

    settings.set_value(None, settings.ANAESTHESIA_MODE, "level", date.today() - timedelta(days=1))
    user = pv.physician(title="chief", scope="麻醉专业")
    instance = pv.apply(user, "anaesthesia", ["right:anaesthesia.level2"])
    pv.run(instance)
    assert pv.application(instance).status == "approved"
    answer = check.answer_one(check.Query(user.staff.employee_no, "anaesthesia", "2", date.today()))
    assert answer["allowed"] is True
    answer = check.answer_one(check.Query(user.staff.employee_no, "anaesthesia", "3", date.today()))
    assert answer["allowed"] is False and "三级麻醉" in answer["reason"]
    # Before the switch the catalog mode applies: a level is no catalog item code.
    answer = check.answer_one(check.Query(user.staff.employee_no, "anaesthesia", "2",
                                          date.today() - timedelta(days=5)))
    assert answer["error"]["status"] == 404
