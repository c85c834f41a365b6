"""The process studio (U2, R3.7): list, create, import, save drafts from the modeler, validation report,
publish / retire / discard / rollback with audit, version diff, export, the operations the hospital has
enabled, and refusals of bad uploads and of non-administrators that change nothing."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.extensions import db
from app.modules.studio import operation_service
from app.modules.studio import process_service as service
from app.workflow import registry, runtime
from app.workflow.errors import PermissionDenied, ValidationFailed
from app.workflow.models import DRAFT, PUBLISHED, RETIRED, Instance, ProcessVersion
from tests.portal.conftest import user

KEY = "example_review_chain"
CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "bpmn"
QC_STEP = ('<bpmn:userTask id="qc_check" name="QC pre-check" mt:form="example_review" mt:role="dept_qc"/>\n'
           '    <bpmn:sequenceFlow id="to_qc_check" sourceRef="submit" targetRef="qc_check"/>\n'
           '    <bpmn:sequenceFlow id="to_dept_review" sourceRef="qc_check" targetRef="dept_review"/>')


def with_qc_step(xml: str) -> str:
    """The review chain with a QC pre-check between the request and the department review."""
    flow = '<bpmn:sequenceFlow id="to_dept_review" sourceRef="submit" targetRef="dept_review"/>'
    assert flow in xml
    return xml.replace(flow, QC_STEP)


def _published(key: str = KEY) -> ProcessVersion:
    return registry.published_process(key)


def _count_versions() -> int:
    return db.session.scalar(select(func.count(ProcessVersion.id)))


def _post_json(client, csrf, url, body):
    return client.post(url, json=body, headers={"X-CSRFToken": csrf()})


def _post_form(client, csrf, url, data=None, **kw):
    return client.post(url, data={"csrf_token": csrf(), **(data or {})}, **kw)


def _audit_actions(since: int) -> list[str]:
    """Studio and kernel version actions written since `since` (logins and task actions left out)."""
    return list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.seq > since, AuditEntry.action.like("workflow.%"), AuditEntry.action.notlike("workflow.task%"))
        .order_by(AuditEntry.seq)))


def _audit_seq() -> int:
    return db.session.scalar(select(func.max(AuditEntry.seq))) or 0


@pytest.mark.req("U2")
def test_the_list_shows_versions_and_running_instances(client, login, ctx):
    doctor = user("doctor")
    runtime.start(doctor, KEY, department_id=doctor.staff.department_id)
    login("admin")
    page = client.get("/studio/processes").get_data(as_text=True)
    row = re.search(rf"<tr>\s*<td><a href=\"/studio/processes/{KEY}\">.*?</tr>", page, re.S).group(0)
    assert "示例" in row and "v1" in row  # the module, named
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[5].strip() == "1"  # running instances
    assert KEY in client.get("/studio/processes?q=review_chain").get_data(as_text=True)
    assert KEY not in client.get("/studio/processes?q=zzz-nothing").get_data(as_text=True)
    assert KEY in client.get("/studio/processes?module=examples").get_data(as_text=True)


def test_only_administrators_reach_the_studio_and_nothing_changes(client, login, csrf, ctx):
    version = _published()
    draft = service.save_draft(user("admin"), KEY, with_qc_step(version.bpmn_xml))
    before = _count_versions()
    for username in ("medaffairs", "doctor", "ruleauthor"):
        login(username)
        assert client.get("/studio/processes").status_code == 403
        assert client.get("/studio/forms").status_code == 403
        assert _post_form(client, csrf, f"/studio/processes/{KEY}/versions/{draft.id}/publish").status_code == 403
        assert _post_json(client, csrf, f"/studio/processes/{KEY}/drafts", {"xml": version.bpmn_xml}).status_code == 403
        assert _post_form(client, csrf, "/studio/operations/audit.note/disable").status_code == 403
        client.post("/logout", data={"csrf_token": csrf()})
    assert _count_versions() == before
    assert db.session.get(ProcessVersion, draft.id).status == DRAFT
    assert _published().id == version.id
    assert "audit.note" not in operation_service.disabled_names()
    with pytest.raises(PermissionDenied):
        service.publish(user("medaffairs"), KEY, draft.id)


@pytest.mark.req("U2")
def test_create_a_process_in_the_browser(client, login, csrf, ctx):
    login("admin")
    bad = _post_form(client, csrf, "/studio/processes/new", {"key": "9 bad key", "name": ""})
    assert bad.status_code == 422 and bad.get_data(as_text=True).count("invalid-feedback") == 2
    taken = _post_form(client, csrf, "/studio/processes/new", {"key": KEY, "name": "x"})
    assert taken.status_code == 422
    response = _post_form(client, csrf, "/studio/processes/new", {"key": "qc_archive", "name": "质控归档",
                                                                   "module": "deptqc"})
    assert response.status_code == 303
    [draft] = service.versions("qc_archive")
    assert draft.status == DRAFT and draft.definition.module == "deptqc" and "BPMNShape" in draft.bpmn_xml
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "bpmn-modeler.production.min.js" in page and "studio/process_studio.js" in page


def test_the_modeler_gets_a_layout_for_models_written_without_one(client, login, ctx):
    login("admin")
    version = _published()
    assert "BPMNShape" not in version.bpmn_xml
    xml = client.get(f"/studio/processes/{KEY}/versions/{version.id}.bpmn").get_data(as_text=True)
    for element in ("start", "submit", "dept_review", "remind_dept", "office_review", "lane_office", "to_note"):
        assert f'bpmnElement="{element}"' in xml, element
    assert 'bpmn:participant' in xml  # lanes are drawn in a pool
    assert service.errors_of(service.report(xml, KEY)) == []
    download = client.get(f"/studio/processes/{KEY}/versions/{version.id}.bpmn?download=1")
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.get_data(as_text=True) == version.bpmn_xml  # the export is the stored model


@pytest.mark.req("U2")
@pytest.mark.req("R3.7")
def test_save_validate_publish_and_running_instances_keep_their_version(client, login, csrf, ctx):
    doctor = user("doctor")
    v1 = _published()
    old = runtime.start(doctor, KEY, department_id=doctor.staff.department_id)
    seq = _audit_seq()
    login("admin")
    xml = with_qc_step(v1.bpmn_xml)
    report = _post_json(client, csrf, f"/studio/processes/{KEY}/validate", {"xml": xml}).json
    assert report["ok"] is True
    saved = _post_json(client, csrf, f"/studio/processes/{KEY}/drafts", {"xml": xml})
    assert saved.status_code == 200 and saved.json["version"] == 2
    draft_id = saved.json["id"]
    assert _published().id == v1.id  # a draft changes nothing yet
    response = _post_form(client, csrf, f"/studio/processes/{KEY}/versions/{draft_id}/publish")
    assert response.status_code == 303
    assert _published().id == draft_id and db.session.get(ProcessVersion, v1.id).status == RETIRED
    new = runtime.start(doctor, KEY, department_id=doctor.staff.department_id)
    assert db.session.get(Instance, old.id).process_version_id == v1.id
    assert new.process_version_id == draft_id
    for instance in (old, new):
        [submit] = runtime.open_tasks(instance.id)
        runtime.complete(doctor, submit.id, data={"title": "MRI", "amount": 9}, outcome="submit")
    assert [t.spec for t in runtime.open_tasks(old.id)] == ["dept_review"]
    assert [t.spec for t in runtime.open_tasks(new.id)] == ["qc_check"]
    assert _audit_actions(seq) == ["workflow.process.draft", "workflow.process.publish"]
    page = client.get(f"/studio/processes/{KEY}").get_data(as_text=True)
    assert re.search(r'data-version="1".*?<td>1</td>', page, re.S)  # the old instance runs on v1


@pytest.mark.req("U2")
def test_the_report_names_each_element_and_what_to_configure(ctx):
    xml = _published().bpmn_xml.replace('mt:form="example_request"', 'mt:form="no_such_form"') \
        .replace('mt:role="medaffairs_staff"', 'mt:role="no_such_role"')
    with force_locale("en"):
        issues = service.report(xml, KEY)
    by_element = {(i.element_id, i.level) for i in issues}
    assert ("submit", "error") in by_element and ("lane_office", "error") in by_element
    assert any("no_such_form" in i.message for i in issues if i.element_id == "submit")
    assert service.report("<bpmn:definitions", KEY)[0].level == "error"  # never raises


@pytest.mark.req("U2")
@pytest.mark.req("R3.7")
def test_publishing_is_refused_when_expressions_fail_the_sandbox(client, login, csrf, ctx):
    v1 = _published()
    admin = user("admin")
    unsafe = v1.bpmn_xml.replace('<bpmn:conditionExpression>outcome == "approve"</bpmn:conditionExpression>',
                                 "<bpmn:conditionExpression>__import__('os').system('id') == 0"
                                 "</bpmn:conditionExpression>", 1)
    assert unsafe != v1.bpmn_xml
    draft = service.save_draft(admin, KEY, unsafe)
    login("admin")
    response = _post_form(client, csrf, f"/studio/processes/{KEY}/versions/{draft.id}/publish")
    assert response.status_code == 303 and f"version={draft.id}" in response.headers["Location"]
    assert db.session.get(ProcessVersion, draft.id).status == DRAFT
    assert _published().id == v1.id
    with force_locale("en"), pytest.raises(ValidationFailed) as refused:
        service.publish(admin, KEY, draft.id)
    assert any("__import__" in i.message or "import" in i.message.lower() for i in refused.value.issues)
    assert any(i.element_id for i in refused.value.issues)  # located on the diagram


@pytest.mark.req("U2")
def test_an_operation_the_hospital_disabled_cannot_be_published(client, login, csrf, ctx):
    admin = user("admin")
    v1 = _published()
    draft = service.save_draft(admin, KEY, with_qc_step(v1.bpmn_xml))
    login("admin")
    page = client.get("/studio/operations").get_data(as_text=True)
    assert "audit.note" in page and KEY in page  # where it is used
    assert f'title="{KEY}">{v1.definition.name}</a>' in page  # named as administrators know it
    assert "为本流程实例在审计日志中写一条记录。" in page  # what the operation does, in the UI's language
    assert _post_form(client, csrf, "/studio/operations/audit.note/disable").status_code == 303
    assert "audit.note" in operation_service.disabled_names()
    _post_form(client, csrf, f"/studio/processes/{KEY}/versions/{draft.id}/publish")
    assert db.session.get(ProcessVersion, draft.id).status == DRAFT and _published().id == v1.id
    with force_locale("en"):
        issues = service.report(draft.bpmn_xml, KEY)
    assert [i.element_id for i in service.errors_of(issues)] == ["note"]
    assert "audit.note" not in [o["name"] for o in service.panel_options()["operations"]]
    assert _post_form(client, csrf, "/studio/operations/audit.note/enable").status_code == 303
    _post_form(client, csrf, f"/studio/processes/{KEY}/versions/{draft.id}/publish")
    assert _published().id == draft.id
    assert _post_form(client, csrf, "/studio/operations/no.such.op/disable").status_code == 404


BAD_UPLOADS = {
    "not XML": b"this is not a model",
    "broken XML": b'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
                  b'<bpmn:process id="x">',
    "wrong namespace": b'<definitions xmlns="http://example.com/not-bpmn"><process id="x"/></definitions>',
    "DMN instead of BPMN": b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d"/>',
    "not definitions": b'<bpmn:process xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="x"/>',
    "no process": b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>',
    "empty": b"",
    "entity expansion": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&b;'
                        b'</bpmn:definitions>',
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_a_malformed_upload_is_refused_with_a_message_and_nothing_saved(client, login, csrf, ctx, case):
    import io

    v1 = _published()
    login("admin")
    before, seq = _count_versions(), _audit_seq()
    response = _post_form(client, csrf, "/studio/processes/import",
                          {"file": (io.BytesIO(BAD_UPLOADS[case]), "model.bpmn")},
                          content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"].endswith("/studio/processes")
    page = client.get("/studio/processes").get_data(as_text=True)
    assert "alert-warning" in page and "model.bpmn" in page
    assert _count_versions() == before and _audit_seq() == seq
    assert _published().id == v1.id


def test_a_huge_upload_is_refused(client, login, csrf, ctx, app):
    import io

    before = _count_versions()
    xml = (CONFORMANCE / "bpmn-miwg-reference" / "C.9.1.bpmn").read_bytes()
    login("admin")
    limit = app.config["STUDIO_MAX_MODEL_KB"]
    app.config["STUDIO_MAX_MODEL_KB"] = 4  # C.9.1 is about 10 KiB
    try:
        response = _post_form(client, csrf, "/studio/processes/import", {"file": (io.BytesIO(xml), "C.9.1.bpmn")},
                              content_type="multipart/form-data")
        saved = _post_json(client, csrf, f"/studio/processes/{KEY}/drafts", {"xml": xml.decode()})
    finally:
        app.config["STUDIO_MAX_MODEL_KB"] = limit
    assert response.status_code == 303
    assert "KiB" in client.get("/studio/processes").get_data(as_text=True)
    assert saved.status_code == 422 and "KiB" in saved.json["error"]
    assert _count_versions() == before


def test_a_draft_that_lost_its_process_is_refused(client, login, csrf, ctx):
    login("admin")
    other = _published("example_approval").bpmn_xml
    response = _post_json(client, csrf, f"/studio/processes/{KEY}/drafts", {"xml": other})
    assert response.status_code == 422 and KEY in response.json["error"]
    assert _post_json(client, csrf, f"/studio/processes/{KEY}/drafts", {"nothing": 1}).status_code == 400


@pytest.mark.req("U2")
def test_import_a_camunda_model_as_a_draft(client, login, csrf, ctx):
    import io

    login("admin")
    xml = (CONFORMANCE / "bpmn-miwg-reference" / "C.9.1.bpmn").read_bytes()
    response = _post_form(client, csrf, "/studio/processes/import", {"file": (io.BytesIO(xml), "C.9.1.bpmn")},
                          content_type="multipart/form-data")
    assert response.status_code == 303 and "/studio/processes/requestDocument_en" in response.headers["Location"]
    [draft] = service.versions("requestDocument_en")
    assert draft.status == DRAFT and draft.source == "import" and draft.filename == "C.9.1.bpmn"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "UserTask_CallCustomer" in page  # the report names the step that needs a form and a role
    # importing again makes the next draft of the same process
    _post_form(client, csrf, "/studio/processes/import", {"file": (io.BytesIO(xml), "C.9.1.bpmn")},
               content_type="multipart/form-data")
    assert [v.version for v in service.versions("requestDocument_en")] == [2, 1]


@pytest.mark.req("U2")
def test_rollback_retire_and_discard(client, login, csrf, ctx):
    admin = user("admin")
    v1 = _published()
    v2 = service.save_draft(admin, KEY, with_qc_step(v1.bpmn_xml))
    service.publish(admin, KEY, v2.id)
    seq = _audit_seq()
    login("admin")
    assert _post_form(client, csrf, f"/studio/processes/{KEY}/versions/{v1.id}/rollback").status_code == 303
    v3 = _published()
    assert v3.version == 3 and v3.bpmn_xml == v1.bpmn_xml and "1" in (v3.note or "")
    assert "workflow.process.rollback" in _audit_actions(seq)
    v4 = service.save_draft(admin, KEY, v1.bpmn_xml)
    _post_form(client, csrf, f"/studio/processes/{KEY}/versions/{v4.id}/discard")
    assert db.session.get(ProcessVersion, v4.id).status == RETIRED
    _post_form(client, csrf, f"/studio/processes/{KEY}/versions/{v3.id}/retire")
    assert db.session.get(ProcessVersion, v3.id).status == RETIRED
    assert not any(v.status == PUBLISHED for v in service.versions(KEY))
    assert "workflow.process.retire" in _audit_actions(seq) and "workflow.process.discard" in _audit_actions(seq)
    # a published version cannot be "published" again, a retired one not retired
    with pytest.raises(ValidationFailed):
        service.publish(admin, KEY, v3.id)
    assert client.get(f"/studio/processes/{KEY}/versions/999999.bpmn").status_code == 404
    assert client.get("/studio/processes/no_such_process").status_code == 404


@pytest.mark.req("U2")
def test_the_diff_page_lists_and_colours_the_added_step(client, login, ctx):
    admin = user("admin")
    v1 = _published()
    v2 = service.save_draft(admin, KEY, with_qc_step(v1.bpmn_xml).replace('name="Office review"',
                                                                            'name="Office approval"'))
    login("admin")
    page = client.get(f"/studio/processes/{KEY}/diff?old={v1.id}&new={v2.id}").get_data(as_text=True)
    added = re.search(r'class="list-unstyled mb-0 small diff-added-list">(.*?)</ul>', page, re.S).group(1)
    assert 'data-element="qc_check"' in added
    changed = re.search(r'diff-changed-list">(.*?)</ul>\s*</div>', page, re.S).group(1)
    assert 'data-element="office_review"' in changed and "Office approval" in changed
    assert "process_diff.js" in page and '"added"' in page
    assert client.get(f"/studio/processes/{KEY}/diff?old=999999").status_code == 404


def test_panel_options_and_programmatic_attributes(ctx):
    options = service.panel_options()
    assert "example_review" in [f["name"] for f in options["forms"]]
    assert {"dept_head", "initiator"} <= {r["code"] for r in options["roles"]}
    assert "example_risk" in [d["key"] for d in options["decisions"]]
    note = next(o for o in options["operations"] if o["name"] == "audit.note")
    assert {"name": "text", "required": True}.items() <= note["params"][0].items()
    xml = service.set_attributes(_published().bpmn_xml, "office_review", {"role": "leader", "skipIfApproved": None})
    assert 'mt:role="leader"' in xml and "skipIfApproved" not in xml.split('id="office_review"')[1].split(">")[0]


def test_studio_pages_answer_every_role(client, login, csrf, ctx):
    """Administrators get every page; every other demo role gets 403 (never a 500)."""
    from app.demo.hospital import DEMO_ACCOUNTS

    v1 = _published()
    form = registry.published_form("example_review")
    pages = ["/studio/processes", "/studio/processes?q=a&module=examples", f"/studio/processes/{KEY}",
             f"/studio/processes/{KEY}?version={v1.id}", f"/studio/processes/{KEY}/versions/{v1.id}.bpmn",
             f"/studio/processes/{KEY}/diff", "/studio/operations", "/studio/forms", "/studio/forms?q=x",
             "/studio/forms/example_review", f"/studio/forms/example_review/versions/{form.id}.json"]
    for account in DEMO_ACCOUNTS:
        login(account.username)
        for url in pages:
            status = client.get(url).status_code
            assert status == (200 if account.username == "admin" else 403), (account.username, url, status)
        client.post("/logout", data={"csrf_token": csrf()})
    for url in pages:
        assert client.get(url).status_code in (302, 401)  # anonymous: to the login page


@pytest.mark.req("U2")
def test_a_broken_upload_says_line_column_and_problem_in_the_ui_language(client, login, csrf, ctx):
    import html
    import io

    broken = (b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n'
              b'  <bpmn:process id="x">\n</bpmn:definitions>\n')

    def upload() -> str:
        _post_form(client, csrf, "/studio/processes/import", {"file": (io.BytesIO(broken), "model.bpmn")},
                   content_type="multipart/form-data")
        return html.unescape(client.get("/studio/processes").get_data(as_text=True))

    login("admin")
    page = upload()
    assert ("文件不是格式正确的 XML：第 4 行第 20 列：结束标签 </definitions> 与第 3 行的开始标签 <process> "
            "不匹配") in page
    assert "Opening and ending tag mismatch" not in page
    client.post("/locale", data={"csrf_token": csrf(), "locale": "en", "next": "/"})
    page = upload()
    assert ("The file is not well-formed XML: line 4, column 20: the end tag </definitions> does not match the start "
            "tag <process> of line 3") in page
