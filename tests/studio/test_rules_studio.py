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
