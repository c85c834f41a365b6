"""Element-level diff of two process versions (app/workflow/diff.py)."""
from __future__ import annotations

import itertools

import pytest
from flask_babel import force_locale

from app.workflow import registry
from app.workflow.diff import diff_versions
from tests.workflow.conftest import bpmn_doc, make_user

_n = itertools.count(1)


@pytest.fixture()
def admin(ctx):
    with force_locale("en"):
        yield make_user("admin", "hospital")


def _doc(key: str, nodes: str, flows: list[tuple[str, str]], **kw) -> str:
    body = '<bpmn:startEvent id="start"/>' + nodes + '<bpmn:endEvent id="end"/>'
    body += "".join(f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"'
                    + (f'><bpmn:conditionExpression>{kw["conditions"][(a, b)]}</bpmn:conditionExpression>'
                       '</bpmn:sequenceFlow>' if (a, b) in kw.get("conditions", {}) else "/>")
                    for a, b in flows)
    return bpmn_doc(body, key)


def _draft(admin, xml: str):
    [version] = registry.save_process_draft(admin, xml)
    return version


BASE = ('<bpmn:userTask id="a" name="Apply" mt:role="initiator" mt:form="example_request"/>'
        '<bpmn:serviceTask id="s" name="Note" mt:operation="audit.note"/>')
BASE_FLOWS = [("start", "a"), ("a", "s"), ("s", "end")]


@pytest.mark.req("U2")
def test_added_step_and_changed_attributes_are_listed_and_safe(admin):
    key = f"diff_{next(_n)}"
    old = _draft(admin, _doc(key, BASE, BASE_FLOWS))
    new = _draft(admin, _doc(
        key, BASE.replace('name="Apply"', 'name="Apply for it"').replace("example_request", "example_review")
        + '<bpmn:userTask id="b" name="Check" mt:role="initiator"/>',
        [("start", "a"), ("a", "s"), ("s", "b"), ("b", "end")]))
    diff = diff_versions(old, new)
    assert [(e.id, e.name, e.type) for e in diff.added] == [("b", "Check", "userTask")]
    assert diff.removed == []
    changed = {e.id: {c.what: (c.old, c.new) for c in e.changes} for e in diff.changed}
    assert changed["a"]["name"] == ("Apply", "Apply for it")
    assert changed["a"]["form"] == ("example_request", "example_review")
    assert changed["s"]["flow"] == ("end", "b")
    assert diff.safe_to_migrate and diff.reasons == []
    assert diff.as_dict()["added"][0]["type_label"] == "User task"


@pytest.mark.req("U2")
def test_removed_step_and_type_change_are_unsafe_with_reasons(admin):
    key = f"diff_{next(_n)}"
    old = _draft(admin, _doc(key, BASE, BASE_FLOWS))
    removed = _draft(admin, _doc(key, BASE.split("<bpmn:serviceTask")[0], [("start", "a"), ("a", "end")]))
    diff = diff_versions(old, removed)
    assert [(e.id, e.type) for e in diff.removed] == [("s", "serviceTask")]
    assert not diff.safe_to_migrate
    assert any("Note (s)" in r and "removed" in r for r in diff.reasons)

    typed = _draft(admin, _doc(key, BASE.replace("bpmn:serviceTask", "bpmn:userTask").replace(
        ' mt:operation="audit.note"', ' mt:role="initiator"'), BASE_FLOWS))
    diff = diff_versions(old, typed)
    [element] = diff.changed
    assert element.id == "s" and element.changes[0].what == "type"
    assert (element.changes[0].old, element.changes[0].new) == ("Service task", "User task")
    assert any("changed its type" in r for r in diff.reasons) and not diff.safe_to_migrate


def test_role_condition_and_countersign_changes(admin):
    key = f"diff_{next(_n)}"
    nodes = ('<bpmn:userTask id="a" name="Apply" mt:role="initiator"/>'
             '<bpmn:exclusiveGateway id="g" default="f_g_end"/>'
             '<bpmn:userTask id="r" name="Review" mt:assignee="reviewer" mt:countersign="all">'
             '<bpmn:multiInstanceLoopCharacteristics isSequential="false">'
             '<bpmn:loopDataInputRef>reviewers</bpmn:loopDataInputRef>'
             '<bpmn:inputDataItem id="reviewer" name="reviewer"/></bpmn:multiInstanceLoopCharacteristics>'
             '</bpmn:userTask>')
    flows = [("start", "a"), ("a", "g"), ("g", "r"), ("g", "end"), ("r", "end")]
    old = _draft(admin, _doc(key, nodes, flows, conditions={("g", "r"): "amount &gt; 10"}))
    new = _draft(admin, _doc(key, nodes.replace('mt:countersign="all"', 'mt:countersign="any"')
                             .replace('mt:role="initiator"', 'mt:role="medaffairs_staff"'), flows,
                             conditions={("g", "r"): "amount &gt; 100"}))
    diff = diff_versions(old, new)
    changed = {e.id: {c.what: (c.old, c.new) for c in e.changes} for e in diff.changed}
    assert changed["a"]["role"] == ("initiator", "medaffairs_staff")
    assert changed["r"]["countersign"][1] and "any" in changed["r"]["countersign"][1]
    assert "amount > 100" in changed["g"]["condition"][1]
    assert not diff.safe_to_migrate
    assert any("Countersign" in r and "Review (r)" in r for r in diff.reasons)


def test_unconnected_and_unparsable_elements_still_count(admin):
    key = f"diff_{next(_n)}"
    old = _draft(admin, _doc(key, BASE, BASE_FLOWS))
    dangling = _draft(admin, _doc(key, BASE + '<bpmn:userTask id="x" name="Dangling" mt:role="initiator"/>',
                                  BASE_FLOWS))
    assert [e.id for e in diff_versions(old, dangling).added] == ["x"]
    broken = _draft(admin, _doc(key, BASE.replace('mt:role="initiator"', 'mt:role="initiator" mt:countersign="bogus"')
                                .replace('/><bpmn:serviceTask', '><bpmn:multiInstanceLoopCharacteristics>'
                                         '<bpmn:loopCardinality>2</bpmn:loopCardinality>'
                                         '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask><bpmn:serviceTask',
                                         1), BASE_FLOWS))
    diff = diff_versions(old, broken)
    assert not diff.safe_to_migrate
    assert any("cannot be run" in r for r in diff.reasons)
    assert [c.what for c in diff.element("a").changes] == ["countersign"]


@pytest.mark.req("U2")
def test_the_same_flows_in_another_order_are_no_change(admin):
    """A modeler re-saving a file may list a gateway's flows in another order: nothing changed."""
    key = f"diff_{next(_n)}"
    nodes = ('<bpmn:userTask id="a" name="Apply" mt:role="initiator"/>'
             '<bpmn:exclusiveGateway id="g" default="f_g_end"/>'
             '<bpmn:userTask id="r" name="Review" mt:role="initiator"/>'
             '<bpmn:userTask id="q" name="Query" mt:role="initiator"/>')
    flows = [("start", "a"), ("a", "g"), ("g", "r"), ("g", "q"), ("g", "end"), ("r", "end"), ("q", "end")]
    conditions = {("g", "r"): "amount &gt; 10", ("g", "q"): "amount &lt; 0"}
    old = _draft(admin, _doc(key, nodes, flows, conditions=conditions))
    reordered = [flows[0], flows[1], flows[4], flows[3], flows[2], flows[6], flows[5]]
    new = _draft(admin, _doc(key, nodes, reordered, conditions=conditions))
    diff = diff_versions(old, new)
    assert diff.empty, diff.as_dict()
    changed = _draft(admin, _doc(key, nodes, reordered, conditions={**conditions, ("g", "q"): "amount &lt; 1"}))
    assert {e.id for e in diff_versions(old, changed).changed} == {"g"}
