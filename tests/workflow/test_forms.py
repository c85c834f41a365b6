"""Task forms (app.workflow.forms): loading and checking form files, turning a POST into typed data,
validation with messages per field, server-side rendering; the /api/lookup data sources.

Library tests use a light app (no database) for templates and translations; the lookup tests use the
demo hospital through the `client`/`login` fixtures.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.modules import lookup as _lookup  # noqa: F401  (registers the staff and departments sources)
from app.workflow import forms

DATA = Path(__file__).resolve().parent / "data" / "forms"
EXAMPLE = DATA / "new_technology.json"

U1 = pytest.mark.req("U1")  # staff complete task forms
U2 = pytest.mark.req("U2")  # administrators' form schemas


@pytest.fixture(scope="module")
def form() -> forms.FormDef:
    return forms.load_form(EXAMPLE)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """An app without a database: templates, url_for and translations only."""
    from tests.conftest import make_app

    return make_app("sqlite://", tmp_path_factory.mktemp("forms-web"))


@pytest.fixture()
def en(web):
    """A request in English (messages are English msgids; Chinese comes from the catalog)."""
    with web.test_request_context(), force_locale("en"):
        yield


def valid_data() -> dict:
    return {"project_name": "经皮冠状动脉介入", "level": 3, "category": "new_tech", "budget": 12000.5,
            "start_date": "2025-03-01", "settings": ["ward", "or"], "ethics_required": False, "leader": 1,
            "team": [{"member_name": "张三", "duty": "主持", "hours": 20}]}


def errors_for(form, **changes) -> dict:
    data = valid_data()
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return forms.validate(form, data)


def inline(schema: dict, ui: dict | None = None) -> forms.FormDef:
    return forms.load_form({"title": "t", "schema": schema, "ui": ui or {}})


# --- loading and authoring checks -----------------------------------------------------------


@U2
def test_a_form_file_loads_with_name_title_schema_and_hints(form):
    assert (form.name, form.title) == ("new_technology", "新技术新项目申请")
    assert form.schema["properties"]["level"]["enumNames"][3] == "四级"
    assert form.hints("leader") == {"source": "staff"}
    assert form.hints(("team", "member_name")) == {"placeholder": "成员姓名"}
    assert form.hints("nonexistent") == {}


@U2
def test_unreadable_or_shapeless_form_files_are_refused(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(forms.FormError, match="cannot read form"):
        forms.load_form(broken)
    with pytest.raises(forms.FormError, match="'schema' object"):
        forms.load_form({"title": "no schema"})


@U2
def test_the_example_form_with_every_widget_passes_the_checks(form):
    assert forms.check_form(form) == []


@U2
def test_a_schema_that_is_not_json_schema_is_reported_with_its_place():
    problems = forms.check_form(inline({"type": "object", "properties": {"age": {"type": "numbr"}}}))
    assert len(problems) == 1
    assert problems[0].startswith("schema is not valid JSON Schema at properties/age/type")


@U2
def test_hints_must_name_existing_fields_and_known_widgets_sources_and_camera():
    schema = {"type": "object", "properties": {
        "photo": {"type": "string"}, "who": {"type": "integer"},
        "rows": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}}}}
    problems = forms.check_form(inline(schema, {
        "foto": {"widget": "file"},
        "photo": {"widget": "camera", "capture": "selfie"},
        "who": {"source": "patients", "accept": "image/*", "colour": "red"},
        "rows.y": {"help": "?"},
        "": {"order": ["photo", "nope"]},
    }))
    expected = [
        "ui hints for 'foto': no such field",
        "'photo': unknown widget 'camera'",
        "'photo': capture and accept apply to file fields only",
        "'photo': capture is 'environment' (back camera) or 'user' (front camera)",
        "'who': unknown data source 'patients' (known: ",
        "'who': capture and accept apply to file fields only",
        "ui hints for 'who': unknown hint 'colour'",
        "ui hints for 'rows.y': no such field",
        "'(root)': order names 'nope', which is not a field there",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert len(problems) == len(expected)


@U2
def test_required_conditional_and_dependent_names_must_be_declared_and_names_be_plain():
    schema = {"type": "object", "required": ["a", "ghost"],
              "properties": {"a": {"type": "string"}, "bad-name": {"type": "string"},
                             "tags": {"type": "array", "items": {"type": "string"}},
                             "pick": {"type": "string", "title": "P"}},
              "dependentRequired": {"a": ["phantom"]},
              "if": {"properties": {"a": {"const": "x"}}}, "then": {"required": ["later"]}}
    problems = forms.check_form(inline(schema, {"pick": {"widget": "select"}}))
    assert problems == [
        "field name 'bad-name' in the form: use letters, digits and _ only",
        "'ghost' is required in the form but not declared in its properties",
        "'later' is required in the form but not declared in its properties",
        "'phantom' is required in the form but not declared in its properties",
        "'tags': a list field needs items with enum, a source or a file widget",
        "'pick': a select needs enum, oneOf with const, or a source",
    ]


# --- POST → typed data ----------------------------------------------------------------------


@U1
def test_coerce_types_values_by_the_schema_and_keeps_what_does_not_parse(form):
    post = MultiDict([
        ("project_name", "  经皮冠状动脉介入 "), ("summary", "第一行\r\n第二行"), ("level", "3"),
        ("category", "other"), ("category_other", ""), ("budget", "12,000.50"), ("start_date", "2025-03-01"),
        ("settings", "ward"), ("settings", "clinic"), ("ethics_required", "true"), ("leader", "42"),
        ("partner_departments", "7"), ("partner_departments", "x9"), ("contact_phone", ""),
        ("team-10-member_name", "李四"), ("team-10-duty", "参与"), ("team-10-hours", "abc"),
        ("team-2-member_name", "张三"), ("team-2-duty", "主持"), ("team-2-hours", "8"),
        ("team-5-member_name", " "), ("team-5-duty", ""),  # a blank row the user added and left
        ("review-opinion", "篡改"),  # read-only: never taken from the browser
    ])
    data = forms.coerce(form, post, attachments={"site_photo": 314})
    assert data == {
        "project_name": "经皮冠状动脉介入", "summary": "第一行\n第二行", "level": 3, "category": "other",
        "budget": 12000.5, "start_date": "2025-03-01", "settings": ["ward", "clinic"],
        "ethics_required": True, "leader": 42, "partner_departments": [7, "x9"], "site_photo": "314",
        "team": [{"member_name": "张三", "duty": "主持", "hours": 8},
                 {"member_name": "李四", "duty": "参与", "hours": "abc"}],
    }


@U1
def test_coerce_unchecked_box_is_false_and_missing_rows_are_an_empty_list(form):
    data = forms.coerce(form, MultiDict([("budget", "1e3"), ("level", "2.0")]))
    assert data == {"ethics_required": False, "settings": [], "partner_departments": [], "team": [],
                    "budget": 1000, "level": 2}


@U1
def test_coerce_keeps_an_earlier_attachment_unless_a_new_upload_replaces_it(form):
    post = MultiDict([("site_photo", "77")])
    assert forms.coerce(form, post)["site_photo"] == "77"
    assert forms.coerce(form, post, attachments={"site_photo": [88]})["site_photo"] == "88"
    assert forms.coerce(form, post, attachments={"site_photo": None})["site_photo"] == "77"


@U1
def test_coerce_reads_prefixed_names():
    f = inline({"type": "object", "properties": {"n": {"type": "integer"}}})
    assert forms.coerce(f, MultiDict([("b-n", "5"), ("n", "6")]), prefix="b-") == {"n": 5}


# --- validation -----------------------------------------------------------------------------


@U1
def test_valid_data_has_no_errors(form):
    assert forms.validate(form, valid_data()) == {}


# (changes to valid data, field path, English message) — one case per error kind.
CASES = [
    ({"project_name": None}, "project_name", "Please fill in this field."),
    ({"project_name": "甲"}, "project_name", "Enter at least 2 characters."),
    ({"project_name": "长" * 41}, "project_name", "Enter at most 40 characters."),
    ({"budget": -1}, "budget", "Must not be less than 0."),
    ({"budget": 1000000.5}, "budget", "Must not be greater than 1000000."),
    ({"level": 5}, "level", "Please choose from the list."),
    ({"category": "nope"}, "category", "Please choose from the list."),
    ({"settings": ["ward", "roof"]}, "settings", "Please choose from the list."),
    ({"start_date": "2025-02-30"}, "start_date", "Enter a valid date (YYYY-MM-DD)."),
    ({"contact_email": "someone", "contact_name": "王五"}, "contact_email", "Enter a valid email address."),
    ({"budget": "一万"}, "budget", "Please enter a number."),
    ({"partner_departments": [3, "x9"]}, "partner_departments", "Please choose from the list."),
    ({"level": "三"}, "level", "Please enter a whole number."),
    ({"ethics_required": True, "ethics_no": "2024-001"}, "ethics_no", "The format is not correct."),
    ({"contact_phone": "12345", "contact_name": "王五"}, "contact_phone", "请输入 11 位手机号"),
    ({"team": []}, "team", "Fill in at least 1 row(s)."),
    ({"team": [{"member_name": "甲", "duty": "参与"}] * 11}, "team", "Fill in at most 10 row(s)."),
    ({"settings": []}, "settings", "Choose at least 1."),
    ({"settings": ["ward", "ward"]}, "settings", "Remove the duplicates."),
    ({"team": [{"member_name": "甲", "duty": "参与", "hours": 0}]}, "team.0.hours", "Must not be less than 1."),
    ({"team": [{"duty": "参与"}]}, "team.0.member_name", "Please fill in this field."),
    ({"contact_phone": "13800000000"}, "contact_name", "Required when “联系电话” is filled in."),
    ({"category": "other"}, "category_other", "Please fill in this field."),
    ({"ethics_required": True}, "ethics_no", "Please fill in this field."),
]


@U1
@pytest.mark.parametrize("changes, path, message", CASES, ids=[c[1] + ":" + c[2][:24] for c in CASES])
def test_each_error_kind_is_reported_on_its_field(form, changes, path, message):
    assert errors_for(form, **changes) == {path: message}


@U1
def test_all_errors_are_collected_at_once(form):
    data = {"level": "x", "budget": "y", "team": [{"hours": "z"}], "contact_phone": "1"}
    errors = forms.validate(form, data)
    assert set(errors) == {"project_name", "level", "category", "budget", "start_date", "leader",
                           "team.0.member_name", "team.0.duty", "team.0.hours", "contact_phone",
                           "contact_name"}


# Chinese for each kind: the terms hospital staff read (zh_CN is the default language).
CHINESE = [
    ({"project_name": None}, "project_name", "请填写此项"),
    ({"project_name": "甲"}, "project_name", "2"),
    ({"project_name": "长" * 41}, "project_name", "40"),
    ({"budget": -1}, "budget", "0"),
    ({"budget": 1000000.5}, "budget", "1000000"),
    ({"level": 5}, "level", "请从列表中选择"),
    ({"start_date": "2025-02-30"}, "start_date", "请输入有效日期（YYYY-MM-DD）"),
    ({"budget": "一万"}, "budget", "请输入数字"),
    ({"team": []}, "team", "至少填写 1 行"),
    ({"contact_phone": "13800000000"}, "contact_name", "联系电话"),
]


@U1
@pytest.mark.parametrize("changes, path, fragment", CHINESE, ids=[c[1] for c in CHINESE])
def test_messages_are_chinese_for_chinese_users(web, form, changes, path, fragment):
    with web.test_request_context(), force_locale("zh_CN"):
        message = errors_for(form, **changes)[path]
    assert fragment in message
    assert re.search(r"[\u4e00-\u9fff]", message.replace("联系电话", "")), message


# --- rendering ------------------------------------------------------------------------------


def tag(html: str, attr: str, value: str) -> str:
    """The first opening tag carrying attr="value"."""
    match = re.search(r"<[a-z]+\s[^>]*?(?<=\s)" + re.escape(f'{attr}="{value}"') + r"[^>]*>", html)
    assert match, f'no tag with {attr}="{value}"'
    return match.group(0)


@U1
def test_render_draws_each_widget(form, en):
    html = str(forms.render(form, {}))
    assert 'data-task-form' in html and "<form" not in html  # the page owns the <form> and buttons
    assert 'type="text"' in tag(html, "name", "project_name") and 'maxlength="40"' in tag(html, "name", "project_name")
    assert tag(html, "name", "summary").startswith("<textarea")
    assert 'placeholder="技术原理、适应证、预期效果"' in tag(html, "name", "summary")
    assert 'type="number"' in tag(html, "name", "budget") and 'step="any"' in tag(html, "name", "budget")
    assert 'type="date"' in tag(html, "name", "start_date")
    assert 'type="email"' in tag(html, "name", "contact_email")
    assert tag(html, "name", "level").startswith("<select")
    assert re.search(r'<option value="">Please select</option>\s*<option value="1">一级</option>', html)
    assert '<option value="other">其他</option>' in html
    assert 'type="checkbox"' in tag(html, "value", "clinic") and 'name="settings"' in tag(html, "value", "clinic")
    assert 'type="checkbox"' in tag(html, "name", "ethics_required")
    photo = tag(html, "name", "site_photo")
    assert 'type="file"' in photo and 'accept="image/*,application/pdf"' in photo and 'capture="environment"' in photo
    leader = tag(html, "id", "f-leader")
    assert 'data-source-url="/api/lookup/staff"' in leader and 'role="combobox"' in leader
    assert 'placeholder="Type a name or employee number to search"' in leader
    assert 'type="hidden"' in tag(html, "name", "leader")
    assert 'data-source-url="/api/lookup/departments"' in html and "data-multiple" in html
    assert "<script" not in html and "onclick" not in html  # CSP: behaviour lives in forms.js


@U1
def test_render_marks_required_fields_and_help(form, en):
    html = str(forms.render(form, {}))
    assert re.search(r'for="f-project_name">项目名称<span class="text-danger" aria-hidden="true"> \*</span>'
                     r'<span class="visually-hidden">Required</span>', html)
    assert not re.search(r'for="f-summary">项目简介<span', html)
    assert 'id="f-summary-help">500 字以内</div>' in html
    assert 'aria-describedby="f-summary-help"' in tag(html, "name", "summary")
    # dependentRequired: the dependent field says when it is needed
    assert 'id="f-contact_name-help">Required when “联系电话” is filled in.</div>' in html


@U1
def test_render_repeating_rows_with_a_template_for_new_rows(form, en):
    html = str(forms.render(form, {"team": [{"member_name": "张三"}, {"member_name": "李四"}]}))
    rows = tag(html, "id", "f-team")
    assert 'data-next-index="2"' in rows and 'data-min-rows="1"' in rows and 'data-token="__0__"' in rows
    assert 'value="李四"' in tag(html, "name", "team-1-member_name")
    assert html.count("<template data-row-template>") == 1
    template = html.split("<template data-row-template>")[1].split("</template>")[0]
    assert 'name="team-__0__-member_name"' in template and 'value=""' in tag(template, "name", "team-__0__-member_name")
    assert "data-row-remove" in template and "Remove row" in template
    assert "data-row-add" in html and "Add row" in html
    # an empty form already shows the one row it must have
    empty = str(forms.render(form, {}))
    assert 'name="team-0-member_name"' in empty and 'name="team-1-member_name"' not in empty


@U1
def test_render_conditional_fields_follow_the_controlling_field(form, en):
    hidden = tag(str(forms.render(form, {"category": "new_tech"})), "data-field", "category_other")
    assert " hidden" in hidden
    assert json.loads(re.search(r"data-show-when='([^']+)'", hidden).group(1)) == [
        {"field": "category", "values": ["other"], "required": True, "not": False}]
    shown = tag(str(forms.render(form, {"category": "other"})), "data-field", "category_other")
    assert " hidden" not in shown
    ethics = tag(str(forms.render(form, {"ethics_required": True})), "data-field", "ethics_no")
    assert '"values": ["true"]' in ethics and " hidden" not in ethics
    assert "data-show-when" not in tag(str(forms.render(form, {})), "data-field", "project_name")


@U1
def test_render_shows_errors_beside_their_fields(form, en):
    errors = {"budget": "Please enter a number.", "team.0.hours": "Must not be less than 1."}
    html = str(forms.render(form, {"budget": "abc", "team": [{"hours": 0}]}, errors))
    budget = tag(html, "name", "budget")
    assert "is-invalid" in budget and 'aria-describedby="f-budget-error"' in budget and 'aria-invalid="true"' in budget
    assert '<div class="invalid-feedback d-block" id="f-budget-error">Please enter a number.</div>' in html
    assert "is-invalid" in tag(html, "name", "team-0-hours")
    assert 'id="f-team-0-hours-error">Must not be less than 1.</div>' in html
    assert "is-invalid" not in tag(html, "name", "project_name")
    assert 'role="alert">Please correct the fields marked below (2).</div>' in html


@U1
def test_render_read_only_shows_earlier_entries_as_text(form, en):
    data = {**valid_data(), "summary": "第一行\n第二行", "ethics_required": True,
            "review": {"opinion": "同意开展", "reviewed_on": "2025-01-02"}}
    html = str(forms.render(form, data, readonly=True, labels={"leader": {"1": "王医生（D001）"}}))
    assert "<input" not in html and "<select" not in html and "<textarea" not in html
    assert re.search(r"<dt[^>]*>手术级别</dt>\s*<dd[^>]*><span[^>]*>三级</span>", html)
    assert "新技术新项目" in html and "病房</span>、<span" in html and "Yes" in html
    assert "王医生（D001）" in html and "Row 1" in html and "张三" in html and "同意开展" in html
    assert re.search(r"<dt[^>]*>联系电话</dt>\s*<dd[^>]*><span class=\"text-secondary\">—</span>", html)


@U1
def test_read_only_sections_inside_an_editable_form_are_text(form, en):
    html = str(forms.render(form, {"review": {"opinion": "同意开展"}}))
    section = html.split('data-field="review"')[1].split("</section>")[0]
    assert "同意开展" in section and "<input" not in section and "<dl" in section
    assert 'name="review-opinion"' not in html


@U1
def test_render_escapes_entered_text_and_keeps_prefixes(form, en):
    html = str(forms.render(form, {"project_name": '"><script>alert(1)</script>'}, prefix="b-"))
    assert "<script>" not in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in tag(html, "name", "b-project_name")
    assert 'for="f-b-project_name"' in html
    assert '"field": "b-category"' in tag(html, "data-field", "b-category_other")


@U1
def test_render_links_attachments_and_keeps_their_ids(form, en):
    html = str(forms.render(form, {"site_photo": "55"}, labels={"site_photo": {"55": "现场.jpg"}},
                            file_url=lambda ident: f"/attachments/{ident}"))
    assert '<input type="hidden" name="site_photo" value="55">' in html
    assert '<a href="/attachments/55">现场.jpg</a>' in html


@U1
def test_forms_js_handles_the_data_attributes_the_template_uses():
    js = (Path(__file__).resolve().parents[2] / "static" / "js" / "forms.js").read_text(encoding="utf-8")
    for hook in ("data-row-add", "data-row-remove", "data-row-template", "data-token", "data-show-when",
                 "data-source-url", "data-lookup-value", "data-lookup-chips", "aria-activedescendant"):
        assert hook in js, hook


# --- data sources and the lookup endpoint ---------------------------------------------------


def demo_user(username):
    from app.extensions import db
    from app.modules.accounts.models import User

    return db.session.scalar(select(User).where(User.username == username))


@U1
def test_lookup_staff_for_a_physician_with_self_scope_is_only_themself(client, login, ctx):
    doctor = demo_user("doctor")
    login("doctor")
    response = client.get("/api/lookup/staff?q=")
    assert response.status_code == 200
    assert [o["value"] for o in response.get_json()] == [doctor.staff_id]
    assert response.get_json()[0]["label"] == f"{doctor.staff.name}（{doctor.staff.employee_no}）"
    assert client.get(f"/api/lookup/staff?q={demo_user('head').staff.name}").get_json() == []


@U1
def test_lookup_staff_for_medical_affairs_covers_the_hospital(client, login, ctx):
    from tests.factories import create_department, create_staff

    far = create_staff(name="边远甲", department=create_department(name="边远科室"))
    login("medaffairs")
    found = client.get("/api/lookup/staff?q=边远").get_json()
    assert found == [{"value": far.id, "label": f"边远甲（{far.employee_no}）", "detail": "边远科室"}]
    assert client.get(f"/api/lookup/staff?q={far.employee_no}").get_json()[0]["value"] == far.id
    assert len(client.get("/api/lookup/staff?limit=5").get_json()) == 5
    assert client.get("/api/lookup/staff?q=%25").get_json() == []  # % is text, not a wildcard


@U1
def test_lookup_staff_for_a_department_head_is_their_department(client, login, ctx):
    from app.core.scopes import descendant_ids
    from app.extensions import db
    from app.modules.org.models import Department

    head, expert = demo_user("head"), demo_user("expert")
    units = set(db.session.scalars(select(Department.name).where(
        Department.id.in_(descendant_ids({head.staff.department_id})))))
    login("head")
    found = client.get("/api/lookup/staff?limit=50").get_json()
    assert head.staff_id in [o["value"] for o in found]
    assert {o["detail"] for o in found} <= units and units == {"普通外科", "普通外科病区"}
    assert client.get(f"/api/lookup/staff?q={expert.staff.employee_no}").get_json() == []


@U1
def test_lookup_departments_is_scoped_too(app, client, login, ctx):
    doctor = demo_user("doctor")
    login("doctor")
    assert [o["value"] for o in client.get("/api/lookup/departments").get_json()] == \
        [doctor.staff.department_id]
    other = app.test_client()
    login("medaffairs", on=other)
    found = other.get("/api/lookup/departments?q=外科&limit=50").get_json()
    assert doctor.staff.department_id in [o["value"] for o in found] and len(found) > 1


@U1
def test_lookup_of_an_unknown_source_is_404(client, login, ctx):
    login("medaffairs")
    response = client.get("/api/lookup/patients?q=张")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


@U1
def test_lookup_needs_a_login(client, ctx):
    response = client.get("/api/lookup/staff?q=张")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@U1
def test_server_rejects_source_values_outside_the_users_scope_and_shows_labels(app, form, ctx):
    doctor, head = demo_user("doctor"), demo_user("head")
    data = {**valid_data(), "leader": doctor.staff_id}
    assert forms.check_sources(form, data, doctor) == {}
    assert forms.source_labels(form, data, doctor)["leader"] == \
        {str(doctor.staff_id): f"{doctor.staff.name}（{doctor.staff.employee_no}）"}
    outside = {**data, "leader": head.staff_id, "partner_departments": [doctor.staff.department_id, 999999]}
    errors = forms.check_sources(form, outside, doctor)
    assert errors == {"leader": str(forms.MESSAGES["choice"]),
                      "partner_departments": str(forms.MESSAGES["choice"])}
    with app.test_request_context():
        html = str(forms.render(form, data, user=doctor))
    assert f'value="{doctor.staff.name}（{doctor.staff.employee_no}）"' in tag(html, "id", "f-leader")


@U2
def test_copy_of_the_example_with_a_broken_hint_fails_the_check(form):
    raw = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    broken = copy.deepcopy(raw)
    broken["ui"]["leader"]["source"] = "staf"
    assert forms.check_form(forms.load_form(broken))[0].startswith("'leader': unknown data source 'staf'")


# --- in the browser: what a doctor does on a phone ------------------------------------------

from tests.plugins.browser import MOBILE  # noqa: E402

TASK_PAGE = """{% extends "base.html" %}{% block content %}
<form method="post" novalidate enctype="multipart/form-data">
  <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">{{ body }}
  <button class="btn btn-primary" type="submit">OK</button>
</form>{% endblock %}
{% block scripts %}<script src="{{ url_for('static', filename='js/forms.js') }}"></script>{% endblock %}"""


@pytest.fixture(scope="module")
def form_server(tmp_path_factory):
    """A live demo hospital with one page that behaves like a task page for the example form."""
    import threading

    from flask import render_template_string, request
    from flask_login import current_user, login_required
    from werkzeug.serving import make_server

    from tests.conftest import make_app, migrate_and_seed

    instance = tmp_path_factory.mktemp("forms-browser")
    live = make_app(f"sqlite:///{instance / 'forms.db'}", instance)
    migrate_and_seed(live)
    example = forms.load_form(EXAMPLE)

    @live.route("/test-form", methods=["GET", "POST"])
    @login_required
    def task_page():
        data, errors = {}, {}
        if request.method == "POST":
            data = forms.coerce(example, request.form)
            errors = forms.validate(example, data) | forms.check_sources(example, data, current_user)
        body = forms.render(example, data, errors, user=current_user)
        return render_template_string(TASK_PAGE, body=body)

    server = make_server("127.0.0.1", 0, live, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield live, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@U1
@pytest.mark.browser
def test_a_doctor_fills_the_form_on_a_phone(chromium, form_server):  # noqa: F811
    live, base = form_server
    context = chromium.new_context(base_url=base, **MOBILE)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        page.goto("/login")
        page.fill("input[name=username]", "doctor")
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.goto("/test-form")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        # conditional field: appears (and is sent) only for 其他
        assert page.is_hidden("[data-field=category_other]") and page.is_disabled("[name=category_other]")
        page.select_option("[name=category]", "other")
        assert page.is_visible("[name=category_other]") and page.is_enabled("[name=category_other]")
        # repeating rows: a second card from the template, numbered and focused
        page.tap("[data-row-add]")
        title = page.get_attribute("[data-rows]", "data-row-title")  # "Row {n}" in the user's language
        assert page.eval_on_selector_all("[data-row-list] [data-row-number]", "els => els.map(e => e.textContent)") \
            == [title.replace("{n}", "1"), title.replace("{n}", "2")]
        assert page.evaluate("document.activeElement.name") == "team-1-member_name"
        page.fill("[name=team-1-member_name]", "李四")
        # typeahead: the doctor finds only themself, picks with the keyboard
        with live.app_context():
            from app.extensions import db
            from app.modules.accounts.models import User

            doctor = db.session.scalar(select(User).where(User.username == "doctor"))
            own_id, label = doctor.staff_id, f"{doctor.staff.name}（{doctor.staff.employee_no}）"
        page.type("#f-leader", doctor.staff.name[:1], delay=30)
        page.wait_for_selector("#f-leader-list [role=option]")
        assert page.eval_on_selector_all("#f-leader-list [role=option]", "els => els.length") == 1
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert page.input_value("[name=leader]") == str(own_id) and page.input_value("#f-leader") == label
        page.click("main button.btn-primary")
        page.wait_for_selector(".invalid-feedback")
        # the server's verdict, beside each field; what was entered is kept
        assert page.text_content("#f-category_other-error") == "Please fill in this field." or \
            page.text_content("#f-category_other-error") == "请填写此项"
        assert page.input_value("#f-leader") == label and page.input_value("[name=team-0-member_name]") == "李四"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert problems == []
    finally:
        context.close()
