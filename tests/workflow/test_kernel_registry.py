"""Registry: shipped files as version 1, drafts, publishing gated by validation, retiring."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.core.audit import AuditEntry
from app.extensions import db
from app.workflow import registry, runtime
from app.workflow.errors import NotFound, PermissionDenied, ValidationFailed
from app.workflow.models import DecisionLog, DecisionVersion, FormVersion, ProcessDefinition, ProcessVersion
from tests.workflow.conftest import bpmn_doc, chain, make_user

pytestmark = [pytest.mark.req("U2"), pytest.mark.usefixtures("wf")]


def _versions(key: str) -> list[tuple[int, str, str]]:
    return [(v.version, v.status, v.source) for v in db.session.scalars(
        select(ProcessVersion).join(ProcessDefinition).where(ProcessDefinition.key == key)
        .order_by(ProcessVersion.version))]


def test_shipped_files_are_version_1():
    assert _versions("countersign_all")[0] == (1, "published", "shipped")
    process = registry.published_process("example_approval")
    assert process.filename == "examples/example_approval.bpmn" and process.definition.module == "examples"
    decision = registry.published_decision("example_risk")
    assert (decision.version, decision.source, decision.name) == (1, "shipped", "示例·申请风险分级")
    form = registry.published_form("example_request")
    assert form.content["schema"]["required"] == ["title", "amount"]


def test_sync_is_idempotent_and_a_changed_file_becomes_the_next_version(tmp_path):
    assert registry.sync_shipped() == 0
    root = tmp_path / "shipped"
    for folder in ("forms", "rules", "processes"):
        shutil.copytree(PROJECT_ROOT / folder / "examples", root / folder / "examples")
    path = root / "processes" / "examples" / "countersign_veto.bpmn"
    path.write_text(path.read_text(encoding="utf-8").replace("Countersign", "Countersign (v2)"), encoding="utf-8")
    assert registry.sync_shipped(root) == 1
    assert _versions("countersign_veto")[-2:] == [(1, "retired", "shipped"), (2, "published", "shipped")]
    assert registry.sync_shipped(root) == 0


def test_a_broken_shipped_file_is_skipped_not_fatal(tmp_path, caplog):
    logging.getLogger("app.workflow.registry").disabled = False  # alembic's fileConfig disables it
    root = tmp_path / "shipped"
    (root / "processes").mkdir(parents=True)
    (root / "processes" / "broken.bpmn").write_text(bpmn_doc(chain(
        '<bpmn:serviceTask id="s" name="Nothing" mt:operation="no.such"/>'), "broken_shipped"), encoding="utf-8")
    assert registry.sync_shipped(root) == 0
    assert "unknown operation 'no.such'" in caplog.text
    with pytest.raises(NotFound):
        registry.published_process("broken_shipped")


def _draft_text(unique: str, task: str = '<bpmn:userTask id="approve" name="Approve" mt:form="example_review" '
                                          'mt:role="initiator"/>') -> str:
    return bpmn_doc(chain(task), f"studio_{unique}", name="Studio process")


def test_publish_validates_and_retires_the_previous_version(unique):
    admin = make_user("admin", "hospital")
    [draft] = registry.save_process_draft(admin, _draft_text(unique))
    assert (draft.version, draft.status, draft.filename) == (1, "draft", f"studio_{unique}.bpmn")
    registry.publish_process(admin, draft)
    first = runtime.start(admin, f"studio_{unique}")
    [draft2] = registry.save_process_draft(admin, _draft_text(unique).replace('name="Approve"', 'name="Approve v2"'))
    registry.publish_process(admin, draft2.id)
    assert _versions(f"studio_{unique}") == [(1, "retired", "studio"), (2, "published", "studio")]
    second = runtime.start(admin, f"studio_{unique}")
    names = {i.id: runtime.open_tasks(i.id)[0].name for i in (first, second)}
    assert names == {first.id: "Approve", second.id: "Approve v2"}  # running instances keep their version
    runtime.complete(admin, runtime.open_tasks(first.id)[0].id, data={})
    db.session.refresh(first)
    assert first.status == "completed"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "workflow.process.publish")
                              .order_by(AuditEntry.seq.desc()))
    assert entry.data["key"] == f"studio_{unique}" and entry.data["version"] == 2 and entry.data["retired"] == [1]


def test_a_failing_process_is_refused_and_the_published_version_stays(unique):
    admin = make_user("admin", "hospital")
    registry.publish_process(admin, registry.save_process_draft(admin, _draft_text(unique))[0])
    bad_task = '<bpmn:serviceTask id="grant" name="Grant" mt:operation="privileges.nonexistent"/>'
    [bad] = registry.save_process_draft(admin, _draft_text(unique, bad_task))
    with pytest.raises(ValidationFailed) as refused:
        registry.publish_process(admin, bad)
    assert [(i.element_id, i.message) for i in refused.value.issues if i.level == "error"] == [
        ("grant", "service task 'Grant' (grant): unknown operation 'privileges.nonexistent'")]
    assert _versions(f"studio_{unique}") == [(1, "published", "studio"), (2, "draft", "studio")]
    assert registry.published_process(f"studio_{unique}").version == 1


def test_only_administrators_change_definitions(unique):
    clerk = make_user("medaffairs_staff", "hospital")
    with pytest.raises(PermissionDenied):
        registry.save_process_draft(clerk, _draft_text(unique))
    admin = make_user("admin", "hospital")
    [draft] = registry.save_process_draft(admin, _draft_text(unique))
    with pytest.raises(PermissionDenied):
        registry.publish_process(clerk, draft)


def test_retire_stops_new_instances(unique):
    admin = make_user("admin", "hospital")
    [draft] = registry.save_process_draft(admin, _draft_text(unique))
    registry.publish_process(admin, draft)
    registry.retire(admin, draft)
    with pytest.raises(NotFound):
        runtime.start(admin, f"studio_{unique}")


def test_a_new_decision_version_is_used_and_logged():
    admin = make_user("admin", "hospital")
    text = (PROJECT_ROOT / "rules" / "examples" / "example_risk.dmn").read_text(encoding="utf-8")
    [draft] = registry.save_decision_draft(admin, text.replace("&lt; 1000", "&lt; 100000"))
    registry.publish_decision(admin, draft)
    applicant = make_user()
    instance = runtime.start(applicant, "example_approval", data={"reviewers": []})
    runtime.complete(applicant, runtime.open_tasks(instance.id)[0].id, data={"title": "Scope", "amount": 5000},
                     outcome="submit")
    log = db.session.scalar(select(DecisionLog).where(DecisionLog.instance_id == instance.id))
    assert (log.decision_version, log.outputs["auto_approve"]) == (draft.version, True)
    assert db.session.get(DecisionVersion, draft.id).status == "published"


def test_broken_decisions_and_forms_are_refused():
    admin = make_user("admin", "hospital")
    text = (PROJECT_ROOT / "rules" / "examples" / "example_risk.dmn").read_text(encoding="utf-8")
    with pytest.raises(ValidationFailed):
        registry.save_decision_draft(admin, text.replace("&lt; 1000", "&lt;&lt; 1000"))
    with pytest.raises(ValidationFailed):
        registry.save_form_draft(admin, "broken_form", {"schema": {"type": "object", "properties": {
            "x": {"type": "nonsense"}}}})
    form = registry.save_form_draft(admin, "example_review", {"title": "Review v2", "schema": {
        "type": "object", "properties": {"opinion": {"type": "string"}}}})
    registry.publish_form(admin, form)
    assert registry.published_form("example_review").version == form.version
    assert db.session.scalar(select(FormVersion).where(FormVersion.name == "example_review",
                                                       FormVersion.version == 1)).status == "retired"


def test_the_studio_can_validate_a_version_against_the_database(unique):
    admin = make_user("admin", "hospital")
    [draft] = registry.save_process_draft(admin, _draft_text(unique).replace("example_review", "no_such_form"))
    report = registry.validate_process_version(draft)
    assert [i.message for i in report.errors] == ["user task 'Approve' (approve): form 'no_such_form' not found"]


def test_the_shipped_examples_validate_from_the_command_line():
    from click.testing import CliRunner

    from app.workflow.process_cli import processes

    files = sorted(str(p) for p in Path(PROJECT_ROOT / "processes").rglob("*.bpmn"))
    result = CliRunner().invoke(processes, ["validate", *files])
    assert result.exit_code == 0, result.output
