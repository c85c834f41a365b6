"""Process validation (on load, on publish, `medtech processes validate`) and the conformance models."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.workflow import operations, parsing
from app.workflow.process_cli import processes
from app.workflow.scripting import SandboxScriptEngine
from app.workflow.specs import APPROVE, OUTCOME_KEY
from app.workflow.validation import Catalog, validate_bpmn
from tests.workflow.conftest import bpmn_doc, chain

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "bpmn"
MIWG = sorted((CONFORMANCE / "bpmn-miwg-reference").glob("*.bpmn"))
CAMUNDA = sorted((CONFORMANCE / "camunda-bpm-platform").glob("*.bpmn20.xml"))
NOT_EXECUTABLE = {"A.1.0.bpmn", "A.2.1.bpmn", "A.4.1.bpmn", "B.2.0.bpmn"}

CATALOG = Catalog(forms={"leave_form"}, decisions={"auto_approval"}, roles={"dept_head", "medaffairs_staff"},
                  operations=operations.registered())

GOOD = chain(
    '<bpmn:userTask id="fill" name="Fill in" mt:form="leave_form" mt:role="dept_head"/>',
    '<bpmn:businessRuleTask id="rule" name="Auto approval" mt:decision="auto_approval"/>',
    '<bpmn:serviceTask id="note" name="Note" mt:operation="audit.note">'
    '<bpmn:extensionElements><mt:param name="text" value="\'done\'"/></bpmn:extensionElements>'
    '</bpmn:serviceTask>',
)


def _messages(report) -> list[str]:
    return [str(issue) for issue in report.issues]


@pytest.mark.req("U2")
def test_a_complete_process_is_valid():
    report = validate_bpmn(bpmn_doc(GOOD), "good.bpmn", CATALOG)
    assert report.ok, _messages(report)
    assert report.executable_ids == ["p"]


@pytest.mark.req("U2")
@pytest.mark.parametrize("node, expected, element", [
    ('<bpmn:userTask id="u1" name="Approve" mt:form="nope" mt:role="dept_head"/>',
     "user task 'Approve' (u1): form 'nope' not found", "u1"),
    ('<bpmn:userTask id="u2" name="Approve" mt:form="leave_form" mt:role="pope"/>',
     "user task 'Approve' (u2): unknown role 'pope'", "u2"),
    ('<bpmn:userTask id="u3" name="Approve" camunda:formKey="leave_form" camunda:candidateGroups="dept_head,cook"/>',
     "unknown role 'cook'", "u3"),
    ('<bpmn:serviceTask id="s1" name="Grant"/>', "service task 'Grant' (s1) names no operation", "s1"),
    ('<bpmn:serviceTask id="s2" name="Grant" mt:operation="privileges.grantx"/>',
     "unknown operation 'privileges.grantx'", "s2"),
    ('<bpmn:serviceTask id="s3" name="Note" mt:operation="audit.note"/>',
     "operation 'audit.note' needs parameter(s) text", "s3"),
    ('<bpmn:businessRuleTask id="b1" name="Decide" mt:decision="unknown_table"/>',
     "business rule task 'Decide' (b1): decision 'unknown_table' not found", "b1"),
    ('<bpmn:businessRuleTask id="b2" name="Decide" camunda:decisionRef="unknown_table"/>',
     "decision 'unknown_table' not found", "b2"),
    ('<bpmn:businessRuleTask id="b3" name="Decide"/>', "names no decision", "b3"),
    ('<bpmn:userTask id="u4" name="Approve" mt:form="leave_form" mt:assignee="__import__(\'os\')"/>',
     "user task 'Approve' (u4): assignee", "u4"),
    ('<bpmn:userTask id="u5" name="Approve" mt:form="leave_form" mt:role="dept_head" mt:countersign="most"/>',
     "unknown countersign policy 'most'", "u5"),
    ('<bpmn:userTask id="u6" name="Approve" mt:form="leave_form" mt:role="dept_head" mt:countersign="all"/>',
     "mt:countersign needs multi-instance loop characteristics", "u6"),
])
def test_errors_name_the_element(node, expected, element):
    report = validate_bpmn(bpmn_doc(chain(node)), "bad.bpmn", CATALOG)
    assert not report.ok
    matching = [issue for issue in report.errors if expected in issue.message]
    assert matching, _messages(report)
    assert matching[0].element_id == element


@pytest.mark.req("U2")
def test_unknown_lane_role_is_an_error():
    body = ('<bpmn:laneSet id="ls"><bpmn:lane id="lane1" name="Heads" mt:role="kings">'
            '<bpmn:flowNodeRef>u</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>'
            + chain('<bpmn:userTask id="u" name="Approve" mt:form="leave_form"/>'))
    report = validate_bpmn(bpmn_doc(body), "lane.bpmn", CATALOG)
    assert [issue.message for issue in report.errors] == ["lane 'Heads' (lane1): unknown role 'kings'"]


@pytest.mark.req("U2")
def test_unsafe_gateway_condition_is_refused():
    body = """
    <bpmn:startEvent id="start"/>
    <bpmn:exclusiveGateway id="gw" name="Which way" default="f3"/>
    <bpmn:endEvent id="end1"/><bpmn:endEvent id="end2"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>
    <bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="end1">
      <bpmn:conditionExpression>().__class__.__bases__</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end2"/>"""
    report = validate_bpmn(bpmn_doc(body), "gw.bpmn", CATALOG)
    assert not report.ok
    assert any("Which way" in issue.message and "unsafe" in issue.message for issue in report.errors), \
        _messages(report)


@pytest.mark.req("U2")
def test_parser_errors_name_the_element():
    body = """
    <bpmn:startEvent id="start"/>
    <bpmn:exclusiveGateway id="gw" name="Split"/>
    <bpmn:endEvent id="end1"/><bpmn:endEvent id="end2"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>
    <bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="end1"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end2"/>"""
    report = validate_bpmn(bpmn_doc(body), "split.bpmn", CATALOG)
    assert [issue.message for issue in report.errors] == [
        "process 'Test process' (p): sequenceFlow (f2): Non-default exclusive outgoing sequence flow without "
        "condition"]
    assert report.errors[0].element_id == "f2"


@pytest.mark.req("U2")
@pytest.mark.parametrize("source, expected", [
    ("<not xml", "not well-formed XML"),
    ("<root/>", "not a BPMN 2.0 document"),
    ("", "not well-formed XML"),
])
def test_files_that_are_not_bpmn_give_a_report(source, expected):
    report = validate_bpmn(source, "junk.bpmn", CATALOG)
    assert not report.ok and expected in report.errors[0].message


@pytest.mark.req("U2")
def test_a_non_executable_process_is_only_a_warning():
    doc = bpmn_doc(GOOD).replace('isExecutable="true"', 'isExecutable="false"')
    report = validate_bpmn(doc, "draft.bpmn", CATALOG)
    assert report.ok
    assert [issue.message for issue in report.warnings][-1] == "no executable process in this file"


@pytest.mark.req("U2")
@pytest.mark.parametrize("path", MIWG + CAMUNDA, ids=lambda p: p.name)
def test_conformance_models_give_a_report(path):
    report = validate_bpmn(path.read_bytes(), path.name, CATALOG)
    assert report.issues, "every conformance model deserves at least a remark"
    if path.name in NOT_EXECUTABLE:
        assert report.ok and any("not executable" in issue.message for issue in report.warnings)
    for issue in report.issues:
        assert "Traceback" not in issue.message and issue.message.strip()


@pytest.mark.req("U2")
def test_zeebe_multi_instance_is_reported_with_its_element():
    report = validate_bpmn((CONFORMANCE / "bpmn-miwg-reference" / "C.9.2.bpmn").read_bytes(), "C.9.2.bpmn", CATALOG)
    assert any(issue.element_id == "CallActivity_RequestDocument" and "multiinstance" in issue.message
               for issue in report.errors), _messages(report)


@pytest.mark.req("R3.7")
def test_camunda_completion_condition_runs_with_kernel_counters():
    """`${nrOfCompletedInstances/nrOfInstances >= 0.5}` over 5 parallel tasks ends after the third."""
    path = CONFORMANCE / "camunda-bpm-platform" / \
        "MultiInstanceTest.testParallelUserTasksCompletionCondition.bpmn20.xml"
    parsed = parsing.build_process(path.read_bytes(), "miParallelUserTasksCompletionCondition")
    workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=SandboxScriptEngine())
    workflow.do_engine_steps()
    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert len(ready) == 5
    for task in ready[:3]:
        assert not workflow.is_completed()
        task.internal_data[OUTCOME_KEY] = APPROVE
        task.run()
        workflow.do_engine_steps()
    assert workflow.is_completed()


# --- the command line ------------------------------------------------------------------------

def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.req("U2")
def test_cli_reports_each_file_and_exits_1_on_errors(tmp_path):
    two = bpmn_doc(chain('<bpmn:task id="t1"/>'), "first").replace(
        "</bpmn:definitions>",
        '<bpmn:process id="second" isExecutable="true">' + chain('<bpmn:task id="t2"/>', start="s2", end="e2")
        + "</bpmn:process></bpmn:definitions>")
    good = _write(tmp_path, "two.bpmn20.xml", two)
    draft = _write(tmp_path, "draft.xml", bpmn_doc(GOOD).replace('isExecutable="true"', 'isExecutable="false"'))
    bad = _write(tmp_path, "bad.bpmn", bpmn_doc(chain('<bpmn:serviceTask id="s" name="Do it"/>')))
    runner = CliRunner()
    result = runner.invoke(processes, ["validate", str(good), str(draft)])
    assert result.exit_code == 0, result.output
    assert f"{good}: OK (first, second)" in result.output
    assert "no executable process" in result.output
    result = runner.invoke(processes, ["validate", str(good), str(bad), str(tmp_path / "missing.bpmn")])
    assert result.exit_code == 1
    assert "service task 'Do it' (s) names no operation" in result.output
    assert "missing.bpmn: 1 error" in result.output and "cannot read the file" in result.output
    assert "Traceback" not in result.output


@pytest.mark.req("U2")
def test_cli_json_and_dmn_files_count_as_decisions(tmp_path):
    dmn = _write(tmp_path, "extra.dmn", """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="x">
  <decision id="extra_decision" name="Extra"><decisionTable id="t">
    <input id="i" label="x"><inputExpression id="ie" typeRef="number"><text>x</text></inputExpression></input>
    <output id="o" name="y" typeRef="number"/>
    <rule id="r"><inputEntry id="e1"><text>-</text></inputEntry><outputEntry id="e2"><text>1</text></outputEntry></rule>
  </decisionTable></decision></definitions>""")
    bpmn = _write(tmp_path, "uses.bpmn", bpmn_doc(chain(
        '<bpmn:businessRuleTask id="b" name="Decide" mt:decision="extra_decision"/>')))
    result = CliRunner().invoke(processes, ["validate", "--json", str(bpmn), str(dmn)])
    assert result.exit_code == 0, result.output
    reports = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [report["ok"] for report in reports] == [True, True]
    assert reports[0]["processes"] == [{"id": "p", "name": "Test process", "executable": True}]


@pytest.mark.req("U2")
def test_cli_validates_the_conformance_models_without_crashing():
    result = CliRunner().invoke(processes, ["validate", *map(str, MIWG + CAMUNDA)])
    assert result.exit_code == 1  # some executable MIWG models use vendor extensions we refuse
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for path in MIWG + CAMUNDA:
        assert f"{path}:" in result.output
