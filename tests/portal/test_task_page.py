"""The task page: the form rendered from its JSON Schema with what earlier steps entered shown
read-only, drafts, attachments (checked by content), comments, the timeline and the diagram data;
and the read-only record page (U1)."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from app.extensions import db
from app.workflow import runtime
from app.workflow.models import Attachment, Comment, Event
from tests.conftest import csrf_token
from tests.portal.conftest import DATA, text

pytestmark = pytest.mark.req("U1")


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def office(kind: str) -> bytes:
    part = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}[kind]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<x/>")
    return out.getvalue()


def _upload(client, instance, name: str, content: bytes, task=None):
    data = {"csrf_token": csrf_token(client), "file": (io.BytesIO(content), name)}
    if task is not None:
        data["task_id"] = str(task.id)
    return client.post(f"/instances/{instance.id}/attachments", data=data, content_type="multipart/form-data")


def test_the_task_page_shows_the_form_earlier_entries_and_allowed_actions(flow, client, login, app):
    instance = flow.start(title="胸腔镜肺叶切除术", reason="提升微创比例")
    task = flow.head_task(instance)
    login("head")
    response = client.get(f"/tasks/{task.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "胸腔镜肺叶切除术" in body and "提升微创比例" in body  # the applicant's section
    assert 'id="task-form"' in body and 'novalidate' in body
    assert 'name="signers"' not in body or 'data-name="signers"' in body  # a people lookup
    assert 'data-source-url="/api/lookup/users"' in body
    assert re.search(r'id="f-title-label">[^<]+</div>\s*<div class="form-control-plaintext[^"]*">'
                     r'<span[^>]*>胸腔镜肺叶切除术</span>', body)  # read-only in this step
    for action in ("complete", "reject", "transfer", "delegate", "copy"):
        assert f'data-bs-target="#modal-{action}"' in body, action
    for action in ("claim", "urge", "add_signers", "return"):
        assert f'data-bs-target="#modal-{action}"' not in body, action
    assert text(app, "Approval opinion") in body
    assert f'data-diagram-url="/instances/{instance.id}/diagram.json"' in body
    assert "/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in body


def test_a_done_task_shows_what_was_submitted_read_only(flow, client, login):
    instance = flow.start()
    head_task = flow.head_task(instance)
    flow.to_countersign(instance)
    login("head")
    body = client.get(f"/tasks/{head_task.id}").get_data(as_text=True)
    assert 'id="task-form"' not in body
    for signer in flow.signers:
        assert signer.staff.name in body  # the chosen experts by name, not by id


def test_an_onlooker_sees_the_task_without_the_form_or_actions(flow, client, login):
    instance = flow.start()
    task = flow.head_task(instance)
    login("doctor")
    body = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="task-form"' not in body
    assert 'data-bs-target="#modal-complete"' not in body
    assert 'data-bs-target="#modal-urge"' in body  # the applicant may urge


def test_a_doctor_cannot_open_another_departments_task(flow, client, login, app):
    from app.modules.org.models import Department
    from tests import factories

    other = db.session.query(Department).filter(Department.name == "心血管内科").one()
    applicant = factories.create_user("physician", departments=(other,), username="cardio_doc")
    instance = flow.start(applicant=applicant)
    task = runtime.open_tasks(instance.id)[0]
    login("doctor")
    assert client.get(f"/tasks/{task.id}").status_code == 404
    assert client.get(f"/instances/{instance.id}").status_code == 404
    assert client.get(f"/instances/{instance.id}/diagram.json").status_code == 404
    head = app.test_client()  # nor the head of 普通外科: no reach there
    login("head", on=head)
    assert head.get(f"/tasks/{task.id}").status_code == 404
    medaffairs = app.test_client()  # the medical-affairs office oversees the whole hospital
    login("medaffairs", on=medaffairs)
    assert medaffairs.get(f"/tasks/{task.id}").status_code == 200


def test_draft_is_saved_and_shown_again_without_validation(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("head")
    token = csrf_token(client)
    response = client.post(f"/tasks/{task.id}/draft", data={"csrf_token": token, "assessment": "training",
                                                             "comment_complete": "初步同意"})
    assert response.status_code == 303 and response.headers["Location"] == f"/tasks/{task.id}"
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    assert text(app, "Draft saved.") in body
    assert re.search(r'<option value="training" selected>', body)
    assert re.search(r'id="opinion-complete"[^>]*>初步同意</textarea>', body)  # the opinion typed so far
    assert db.session.query(Event).filter_by(task_id=task.id, action="draft").count() == 1
    assert 'data-event="draft"' not in body  # drafts are not part of the story
    assert runtime.open_tasks(instance.id)[0].status == "open"
    other = app.test_client()
    login("doctor", on=other)  # someone who may not complete cannot save a draft
    assert other.post(f"/tasks/{task.id}/draft", data={"csrf_token": csrf_token(other)}).status_code == 403


def test_comments_are_added_by_participants_only(flow, client, login, app):
    instance = flow.start()
    task = flow.head_task(instance)
    login("doctor")
    response = client.post(f"/instances/{instance.id}/comments",
                           data={"csrf_token": csrf_token(client), "body": "补充材料已上传", "task_id": str(task.id)})
    assert response.status_code == 303 and response.headers["Location"].startswith(f"/tasks/{task.id}")
    assert db.session.query(Comment).filter_by(instance_id=instance.id, body="补充材料已上传").count() == 1
    body = client.get(f"/instances/{instance.id}").get_data(as_text=True)
    assert "补充材料已上传" in body and 'data-event="comment"' in body
    response = client.post(f"/instances/{instance.id}/comments", data={"csrf_token": csrf_token(client), "body": " "})
    assert response.status_code == 303
    assert db.session.query(Comment).filter_by(instance_id=instance.id).count() == 1
    outsider = app.test_client()
    login("expert", on=outsider)
    response = outsider.post(f"/instances/{instance.id}/comments",
                             data={"csrf_token": csrf_token(outsider), "body": "外人"})
    assert response.status_code == 404


@pytest.mark.parametrize("name, content_fn", [
    ("照片.png", png), ("证明.pdf", lambda: b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"),
    ("方案.docx", lambda: office("docx")), ("预算.xlsx", lambda: office("xlsx")),
])
def test_uploads_with_matching_content_are_accepted(flow, client, login, name, content_fn):
    instance = flow.start()
    login("doctor")
    content = content_fn()
    response = _upload(client, instance, name, content)
    assert response.status_code == 303, response.get_data(as_text=True)[-500:]
    attachment = db.session.query(Attachment).filter_by(instance_id=instance.id, name=name).one()
    download = client.get(f"/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == content
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.mimetype == attachment.mime
    assert download.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name, content, message", [
    ("病历.png", b"MZ\x90\x00 this is a windows executable", "is not really a"),
    ("报告.pdf", b"<html><script>alert(1)</script></html>", "is not really a"),
    ("截断.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 truncated", "is not really a"),
    ("方案.docx", b"PK\x03\x04 not a real zip", "is not really a"),
    ("脚本.exe", b"MZ\x90\x00", "only these file types are accepted"),
    ("空.pdf", b"", "is empty"),
])
def test_disguised_or_unknown_uploads_are_refused_with_a_message(flow, client, login, app, name, content, message):
    instance = flow.start()
    login("doctor")
    response = _upload(client, instance, name, content)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert name in body
    assert db.session.query(Attachment).filter_by(instance_id=instance.id).count() == 0
    expected = {"is not really a": text(app, "“%(name)s” is not really a %(ext)s file (its content does not match "
                                             "its extension).", name=name, ext=name.rsplit(".", 1)[1].upper()),
                "only these file types are accepted": text(app, "“%(name)s”: only these file types are accepted: "
                                                                "%(types)s.", name=name,
                                                           types=".docx, .gif, .heic, .jpeg, .jpg, .pdf, .png, "
                                                                 ".webp, .xlsx"),
                "is empty": text(app, "“%(name)s” is empty.", name=name)}[message]
    assert expected.replace("“", "&#34;").replace("”", "") in body or expected in body


def test_oversized_uploads_are_refused(flow, client, login, app, monkeypatch):
    instance = flow.start()
    login("doctor")
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 1)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", None)
    big = b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 1)
    response = _upload(client, instance, "大文件.pdf", big)
    assert response.status_code == 422
    assert text(app, "“%(name)s” is larger than %(mb)s MB.", name="大文件.pdf", mb=1) in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)  # the request limit: 413
    assert _upload(client, instance, "大文件.pdf", big).status_code == 413
    assert db.session.query(Attachment).filter_by(instance_id=instance.id).count() == 0


def test_attachments_are_scope_checked(flow, client, login):
    instance = flow.start()
    attachment = runtime.add_attachment(flow.doctor, instance, "a.png", png(), "image/png")
    login("expert")
    assert client.get(f"/attachments/{attachment.id}").status_code == 404
    assert client.get("/attachments/999999").status_code == 404
    assert _upload(client, instance, "b.png", png()).status_code == 404


def test_a_file_field_of_a_task_form_stores_the_upload(flow, client, login, app):
    """The start form's file field (evidence) keeps a reference to the attachment stored with it."""
    login("doctor")
    page = client.get("/processes/start/portal_application").get_data(as_text=True)
    assert 'capture="environment"' in page and 'accept="image/*,.pdf,.docx,.xlsx"' in page
    response = client.post("/processes/start/portal_application", data={
        "csrf_token": csrf_token(client), "title": "带附件的申请", "amount": "100",
        "evidence": (io.BytesIO(png()), "资质.png")}, content_type="multipart/form-data")
    assert response.status_code == 303
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    attachment = db.session.query(Attachment).filter_by(instance_id=instance_id).one()
    assert runtime.variables(instance_id)["evidence"] == f"sha256:{attachment.sha256}"
    body = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert f'href="/attachments/{attachment.id}"' in body and "资质.png" in body


def test_a_refused_start_form_keeps_nothing_and_names_the_fields(flow, client, login, app):
    login("doctor")
    before = db.session.query(Attachment).count()
    response = client.post("/processes/start/portal_application", data={
        "csrf_token": csrf_token(client), "amount": "-5", "is_new": "true",
        "evidence": (io.BytesIO(png()), "资质.png")}, content_type="multipart/form-data")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert re.search(r'id="f-title-error">' + re.escape(text(app, "Please fill in this field.")), body)
    assert re.search(r'id="f-amount-error">' + re.escape(text(app, "Must not be less than %(n)s.", n="0")), body)
    assert re.search(r'id="f-novelty-error">', body)  # required because 国内首创 is ticked
    assert re.search(r'id="f-evidence-error">' + re.escape(text(app, "Please choose the file again.")), body)
    assert db.session.query(Attachment).count() == before


def test_diagram_json_marks_done_current_and_pending(flow, client, login):
    instance = flow.start()
    flow.to_countersign(instance)
    login("doctor")
    data = client.get(f"/instances/{instance.id}/diagram.json").get_json()
    assert "<bpmn:definitions" in data["xml"] and "BPMNDiagram" in data["xml"]
    assert {"submitted", "head_review"} <= set(data["done"])
    assert data["current"] == ["countersign"]
    assert {"decided", "approved", "rejected"} <= set(data["pending"])
    assert {"to_head", "to_sign"} <= set(data["flows_done"])


def test_diagram_json_lays_out_a_process_drawn_without_diagram_information(flow, client, login):
    from app.workflow import registry

    xml = (DATA / "portal_application.bpmn").read_text(encoding="utf-8")
    bare = re.sub(r"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", xml, flags=re.S)
    bare = bare.replace('id="portal_application"', 'id="portal_bare"')
    registry.publish_process(None, registry.save_process_draft(None, bare, "portal_bare.bpmn")[0])
    instance = runtime.start(flow.doctor, "portal_bare", department_id=flow.surgery.id,
                             data={"title": "x", "amount": 1})
    login("doctor")
    data = client.get(f"/instances/{instance.id}/diagram.json").get_json()
    assert "BPMNShape" in data["xml"] and 'bpmnElement="head_review"' in data["xml"]
    assert data["current"] == ["head_review"]


def test_the_record_page_shows_the_story(flow, client, login, app):
    instance = flow.start()
    flow.to_countersign(instance)
    login("doctor")
    body = client.get(f"/instances/{instance.id}").get_data(as_text=True)
    assert 'data-event="start"' in body and 'data-event="complete"' in body
    assert body.count('data-open-task=') == 3
    assert "同意" in body  # the head's opinion
    assert 'data-instance-status="running"' in body
