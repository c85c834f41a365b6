"""The form studio (U2): list with the processes that use each form, the JSON editor's checks with
line and column, the live preview rendered by the server, drafts, publish, retire, rollback, audit."""
from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.extensions import db
from app.modules.studio import form_service as service
from app.workflow import registry
from app.workflow.models import DRAFT, PUBLISHED, RETIRED, FormVersion
from tests.portal.conftest import user

NAME = "example_review"


def _post(client, csrf, url, data):
    return client.post(url, data={"csrf_token": csrf(), **data})


def _content(**changes) -> str:
    content = json.loads(json.dumps(registry.published_form(NAME).content))
    content["schema"]["properties"].update(changes)
    return json.dumps(content, ensure_ascii=False, indent=2)


@pytest.mark.req("U2")
def test_the_list_names_the_processes_that_use_each_form(client, login, ctx):
    login("admin")
    page = client.get("/studio/forms").get_data(as_text=True)
    row = re.search(rf'<tr>\s*<td><a href="/studio/forms/{NAME}">.*?</tr>', page, re.S).group(0)
    assert "example_review_chain" in row and "example_approval" in row and "v1" in row
    assert NAME in client.get("/studio/forms?q=Review").get_data(as_text=True)
    assert NAME not in client.get("/studio/forms?q=zzz-nothing").get_data(as_text=True)
    used = {use.key: use for use in service.usage()[NAME]}
    assert "Department review" in used["example_review_chain"].elements


@pytest.mark.req("U2")
def test_the_editor_shows_the_schema_and_its_preview(client, login, ctx):
    login("admin")
    page = client.get(f"/studio/forms/{NAME}").get_data(as_text=True)
    assert 'name="content"' in page and "hx-post=\"/studio/forms/example_review/preview\"" in page
    assert 'name="opinion"' in page  # the preview, rendered by the server as a task page would
    assert "example_review_chain" in page  # used by


@pytest.mark.req("U2")
def test_live_preview_and_validation_messages(client, login, csrf, ctx):
    login("admin")
    url = f"/studio/forms/{NAME}/preview"
    good = _post(client, csrf, url, {"content": _content(days={"type": "integer", "title": "天数", "minimum": 1})})
    html = good.get_data(as_text=True)
    assert good.status_code == 200 and 'name="days"' in html and "天数" in html and "text-danger" not in html
    broken = _post(client, csrf, url, {"content": '{\n  "title": "x",\n  "schema": {"type": "object",}\n}'}) \
        .get_data(as_text=True)
    assert "text-danger" in broken and re.search(r"\b3\b", broken) and 'name="' not in broken  # line 3
    assert "此处应为双引号括起的字段名" in broken and "Expecting" not in broken  # said in the UI's language
    invalid = _post(client, csrf, url, {"content": _content(days={"type": "integer", "minimum": "one"})}) \
        .get_data(as_text=True)
    assert "text-danger" in invalid and "days" in invalid
    hints = json.loads(_content())
    hints["ui"]["no_such_field"] = {"widget": "textarea"}
    assert "no_such_field" in _post(client, csrf, url, {"content": json.dumps(hints)}).get_data(as_text=True)
    assert "text-danger" in _post(client, csrf, url, {"content": "[1, 2]"}).get_data(as_text=True)
    assert "text-danger" in _post(client, csrf, url, {"content": ""}).get_data(as_text=True)


@pytest.mark.req("U2")
def test_save_publish_rollback_and_audit(client, login, csrf, ctx):
    login("admin")
    seq = db.session.scalar(select(func.max(AuditEntry.seq)))
    v1 = registry.published_form(NAME)
    response = _post(client, csrf, f"/studio/forms/{NAME}/drafts",
                     {"content": _content(urgent={"type": "boolean", "title": "加急"})})
    assert response.status_code == 303
    v2 = service.versions(NAME)[0]
    assert v2.version == 2 and v2.status == DRAFT and "urgent" in v2.content["schema"]["properties"]
    assert registry.published_form(NAME).id == v1.id
    assert _post(client, csrf, f"/studio/forms/{NAME}/versions/{v2.id}/publish", {}).status_code == 303
    assert registry.published_form(NAME).id == v2.id and db.session.get(FormVersion, v1.id).status == RETIRED
    assert registry.published_form_def(NAME).schema["properties"]["urgent"]["title"] == "加急"
    _post(client, csrf, f"/studio/forms/{NAME}/versions/{v1.id}/rollback", {})
    v3 = registry.published_form(NAME)
    assert v3.version == 3 and v3.content == v1.content
    actions = list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.seq > seq, AuditEntry.action.like("workflow.form.%")).order_by(AuditEntry.seq)))
    assert actions == ["workflow.form.draft", "workflow.form.publish", "workflow.form.draft", "workflow.form.publish",
                       "workflow.form.rollback"]
    _post(client, csrf, f"/studio/forms/{NAME}/versions/{v3.id}/retire", {})
    assert not any(v.status == PUBLISHED for v in service.versions(NAME))


def test_an_invalid_draft_is_not_saved(client, login, csrf, ctx):
    login("admin")
    before = db.session.scalar(select(func.count(FormVersion.id)))
    response = _post(client, csrf, f"/studio/forms/{NAME}/drafts", {"content": '{"title": "x", "schema": 3}'})
    assert response.status_code == 422 and "alert-warning" in response.get_data(as_text=True)
    assert str(escape('{"title": "x", "schema": 3}')) in response.get_data(as_text=True)  # what was typed stays
    assert db.session.scalar(select(func.count(FormVersion.id))) == before


@pytest.mark.req("U2")
def test_create_a_form(client, login, csrf, ctx):
    login("admin")
    assert _post(client, csrf, "/studio/forms/new", {"name": "bad name!", "title": ""}).status_code == 422
    assert _post(client, csrf, "/studio/forms/new", {"name": NAME, "title": "x"}).status_code == 422
    response = _post(client, csrf, "/studio/forms/new", {"name": "deptqc_meeting", "title": "质控会议记录"})
    assert response.status_code == 303
    [draft] = service.versions("deptqc_meeting")
    assert draft.status == DRAFT and draft.content["title"] == "质控会议记录"
    assert client.get(response.headers["Location"]).status_code == 200
    assert client.get(f"/studio/forms/deptqc_meeting/versions/{draft.id}.json").json["title"] == "质控会议记录"
    assert client.get("/studio/forms/no_such_form").status_code == 404


def test_only_administrators_change_forms(client, login, csrf, ctx):
    draft = service.save_draft(user("admin"), NAME, _content(extra={"type": "string"}))
    login("medaffairs")
    assert _post(client, csrf, f"/studio/forms/{NAME}/versions/{draft.id}/publish", {}).status_code == 403
    assert _post(client, csrf, f"/studio/forms/{NAME}/preview", {"content": "{}"}).status_code == 403
    assert db.session.get(FormVersion, draft.id).status == DRAFT
