import re

import pytest
from sqlalchemy import select

from app.core import audit
from app.extensions import db
from app.modules.studio import rules_service as service
from app.workflow import decisions
from app.workflow.models import DecisionLog, DecisionVersion

KEY = "example_risk"


def _xml(version=None):
    return (version or service.working_version(KEY)).dmn_xml


def _raise_small_limit(xml: str) -> str:
    # "< 1000" → "< 10000": requests up to 10,000 become low-risk and auto-approved.
    return xml.replace("&lt; 1000", "&lt; 10000").replace("[1000..100000)", "[10000..100000)")


def _log(amount, outputs, rules):
    db.session.add(DecisionLog(decision_key=KEY, decision_version=1, inputs={"amount": amount},
                               matched_rules=[{"id": r, "index": 0} for r in rules], outputs=outputs))
    db.session.flush()


def _post(client, csrf, url, body):
    return client.post(url, json=body, headers={"X-CSRFToken": csrf()})


@pytest.mark.req("U3")
def test_rule_author_lists_and_opens_a_decision(client, login):
    login("ruleauthor")
    listing = client.get("/studio/rules").get_data(as_text=True)
    assert KEY in listing
    page = client.get(f"/studio/rules/{KEY}").get_data(as_text=True)
    assert 'data-name="amount"' in page and "dmn-modeler.production.min.js" in page


def test_other_roles_cannot_reach_the_studio(client, login, csrf):
    login("doctor")
    assert client.get("/studio/rules").status_code == 403
    assert _post(client, csrf, f"/studio/rules/{KEY}/drafts", {"xml": "<x/>"}).status_code == 403


@pytest.mark.req("U3")
def test_check_reports_cell_errors_and_unique_overlaps(client, login, csrf, ctx):
    login("ruleauthor")
    broken = _xml().replace("&lt; 1000", "&lt;&lt; 1000")
    problems = _post(client, csrf, f"/studio/rules/{KEY}/check", {"xml": broken}).json["problems"]
    assert any(p["level"] == "error" and p["rule"] for p in problems)
    overlapping = _xml().replace('hitPolicy="FIRST"', 'hitPolicy="UNIQUE"')
    problems = _post(client, csrf, f"/studio/rules/{KEY}/check", {"xml": overlapping}).json["problems"]
    assert problems and all(p["level"] == "warning" for p in problems)
    assert any("large_amount" in (p["message"] + str(p["rule"])) for p in problems)


@pytest.mark.req("U3")
def test_test_panel_shows_matched_rules_and_outputs(client, login, csrf, ctx):
    login("ruleauthor")
    answer = _post(client, csrf, f"/studio/rules/{KEY}/test", {"xml": _xml(), "inputs": {"amount": 5000}}).json
    assert answer["ok"] is True
    assert answer["result"] == {"risk": "medium", "auto_approve": False}
    assert [m["id"] for m in answer["matched"]] == ["medium_amount"]


@pytest.mark.req("U3")
def test_backtest_lists_the_outcomes_a_draft_would_change(client, login, csrf, ctx):
    _log(500, {"risk": "low", "auto_approve": True}, ["small_amount"])
    _log(5000, {"risk": "medium", "auto_approve": False}, ["medium_amount"])
    _log(200000, {"risk": "high", "auto_approve": False}, ["large_amount"])
    login("ruleauthor")
    report = _post(client, csrf, f"/studio/rules/{KEY}/backtest",
                   {"xml": _raise_small_limit(_xml()), "limit": 50}).json
    assert report["checked"] == 3
    assert len(report["changed"]) == 1
    change = report["changed"][0]
    assert change["inputs"] == {"amount": 5000}
    assert change["before"] == {"risk": "medium", "auto_approve": False}
    assert change["after"] == {"risk": "low", "auto_approve": True}
    assert change["before_rules"] == ["medium_amount"] and change["after_rules"] == ["small_amount"]


@pytest.mark.req("U3")
def test_save_publish_and_roll_back_are_versioned_and_audited(client, login, csrf, ctx):
    login("ruleauthor")
    first = service.working_version(KEY)
    saved = _post(client, csrf, f"/studio/rules/{KEY}/drafts", {"xml": _raise_small_limit(_xml())})
    assert saved.status_code == 200
    draft = db.session.get(DecisionVersion, saved.json["id"])
    assert draft.status == "draft" and draft.version == first.version + 1
    # Evaluations keep using the published version until the draft is published.
    assert decisions.evaluate(KEY, {"amount": 5000})[1].result["risk"] == "medium"
    response = client.post(f"/studio/rules/{KEY}/versions/{draft.id}/publish", data={"csrf_token": csrf()})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(DecisionVersion, draft.id).status == "published"
    assert db.session.get(DecisionVersion, first.id).status == "retired"
    assert decisions.evaluate(KEY, {"amount": 5000})[1].result["risk"] == "low"
    response = client.post(f"/studio/rules/{KEY}/versions/{first.id}/rollback", data={"csrf_token": csrf()})
    assert response.status_code == 303
    db.session.expire_all()
    current = service.working_version(KEY)
    assert current.status == "published" and current.version == draft.version + 1
    assert current.dmn_xml == first.dmn_xml
    assert decisions.evaluate(KEY, {"amount": 5000})[1].result["risk"] == "medium"
    actions = set(db.session.scalars(select(audit.AuditEntry.action)
                                     .where(audit.AuditEntry.object_type == "wf_decision_version")))
    assert {"workflow.decision.draft", "workflow.decision.publish", "workflow.decision.rollback"} <= actions
    assert audit.verify().ok


def test_a_broken_table_is_not_saved(client, login, csrf, ctx):
    login("ruleauthor")
    before = db.session.scalar(select(db.func.count(DecisionVersion.id)))
    response = _post(client, csrf, f"/studio/rules/{KEY}/drafts", {"xml": "<definitions><oops"})
    assert response.status_code == 422 and response.json["error"]
    bad_cell = _xml().replace("&lt; 1000", "&lt;&lt; 1000")
    response = _post(client, csrf, f"/studio/rules/{KEY}/drafts", {"xml": bad_cell})
    assert response.status_code == 422 and response.json["problems"]
    assert db.session.scalar(select(db.func.count(DecisionVersion.id))) == before


def test_unknown_decision_is_404(client, login):
    login("ruleauthor")
    assert client.get("/studio/rules/no_such_decision").status_code == 404


def _broken_tables(xml: str) -> dict[str, str]:
    return {
        "cell": xml.replace("&lt; 1000", "&lt;&lt; 1000"),
        "duplicate id": xml.replace("</definitions>", '<decision id="example_risk" name="again"><literalExpression>'
                                                      "<text>1</text></literalExpression></decision></definitions>"),
        "aggregation": xml.replace('hitPolicy="FIRST"', 'hitPolicy="COLLECT" aggregation="AVG"'),
        "xml": xml.replace("</decisionTable>", ""),
    }


def _check(client, csrf, xml: str) -> list[dict]:
    return _post(client, csrf, f"/studio/rules/{KEY}/check", {"xml": xml}).json["problems"]


@pytest.mark.req("U3")
def test_check_names_decision_rule_and_column_in_chinese(client, login, csrf, ctx):
    login("ruleauthor")
    tables = _broken_tables(_xml())
    [cell] = _check(client, csrf, tables["cell"])
    assert cell["message"] == ("决策“示例·申请风险分级”，规则 1（id small_amount），输入列“Amount”："
                               "无法解析“<< 1000”：此处应为一个值，实际是“<”")
    assert (cell["level"], cell["decision"], cell["rule"], cell["column"]) == (
        "error", "示例·申请风险分级", 1, "Amount")
    assert [p["message"] for p in _check(client, csrf, tables["duplicate id"])] == [
        "决策“again”：决策 id“example_risk”重复"]
    assert [p["message"] for p in _check(client, csrf, tables["aggregation"])] == [
        "决策“示例·申请风险分级”：未知的聚合方式“AVG”；应为 SUM、COUNT、MIN 或 MAX"]
    [malformed] = _check(client, csrf, tables["xml"])
    assert re.fullmatch(r"DMN 文件不是格式正确的 XML：第 \d+ 行第 \d+ 列：结束标签 </decision> 与第 \d+ 行的开始标签 "
                        r"<decisionTable> 不匹配", malformed["message"])


@pytest.mark.req("U3")
def test_check_speaks_english_when_the_user_chose_english(client, login, csrf, ctx):
    login("ruleauthor")
    client.post("/locale", data={"csrf_token": csrf(), "locale": "en", "next": "/"})
    tables = _broken_tables(_xml())
    [cell] = _check(client, csrf, tables["cell"])
    assert cell["message"] == ("Decision '示例·申请风险分级', rule 1 (id small_amount), input 'Amount': "
                               "cannot parse '<< 1000': expected a value, found '<'")
    assert [p["message"] for p in _check(client, csrf, tables["duplicate id"])] == [
        "Decision 'again': duplicate decision id 'example_risk'"]
    assert [p["message"] for p in _check(client, csrf, tables["aggregation"])] == [
        "Decision '示例·申请风险分级': unknown aggregation 'AVG'; expected SUM, COUNT, MIN or MAX"]
    [malformed] = _check(client, csrf, tables["xml"])
    assert re.fullmatch(r"malformed DMN XML: line \d+, column \d+: the end tag </decision> does not match the start "
                        r"tag <decisionTable> of line \d+", malformed["message"])


@pytest.mark.req("U3")
def test_the_test_panel_explains_conflicts_and_bad_inputs_in_chinese(client, login, csrf, ctx):
    login("ruleauthor")
    unique = _xml().replace('hitPolicy="FIRST"', 'hitPolicy="UNIQUE"')
    answer = _post(client, csrf, f"/studio/rules/{KEY}/test", {"xml": unique, "inputs": {"amount": 5}}).json
    assert answer == {"ok": False, "error": "决策“示例·申请风险分级”：规则 1（id small_amount）和"
                                            "规则 3（id large_amount）同时命中，"
                                            "但命中策略 UNIQUE（唯一）只允许命中一条规则"}
    answer = _post(client, csrf, f"/studio/rules/{KEY}/test", {"xml": _xml(), "inputs": {"amount": "abc"}}).json
    assert answer["error"] == "决策“示例·申请风险分级”，输入列“Amount”：无法转换输入值：应为数字，实际是 'abc'"
