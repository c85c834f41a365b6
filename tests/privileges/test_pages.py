"""The privilege pages: applying with the rules' refusals before submission (R3.1), the dossier tabs
(R1.3, R1.9), adjusting on the grant page (R3.8), lists and exports in scope, 403/404."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.modules.privileges.models import Application, Grant
from tests.conftest import csrf_token

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture()
def relogin(client, login):
    """Log in as someone else (logging out first)."""
    def do(username: str):
        client.post("/logout", data={"csrf_token": csrf_token(client)})
        return login(username)

    return do


def _surgery_item(pv, level=2):
    return pv.catalog_item(("surgery",), level=level)


@pytest.mark.req("R3.1")
def test_apply_page_shows_history_and_refuses_before_submission(pv, client, login, relogin):
    attending = pv.physician(title="attending", years=1)
    low = _surgery_item(pv, 2)
    high = _surgery_item(pv, 4)
    pv.operations(attending.staff, low, 3, role="assistant1")
    pv.operations(attending.staff, low, 2, role="surgeon")
    pv.db.session.commit()
    login(attending.username)
    page = client.get("/privileges/apply/surgery").get_data(as_text=True)
    row = page.split(f'data-item="item:{high.id}"')[1].split("</li>")[0]
    assert 'data-eligible="false"' in row[:40] and "四级手术，职称不符" in row and "disabled" in row
    row = page.split(f'data-item="item:{low.id}"')[1].split("</li>")[0]
    assert 'data-eligible="true"' in row[:40]
    assert re.search(r'data-history="2,3,0,\d+"', row), row  # 术者 2, Ⅰ助 3, Ⅱ助 0, the department's volume
    before = pv.db.session.scalar(select(Application.id).order_by(Application.id.desc()).limit(1))
    response = client.post("/privileges/apply/surgery", data={"items": [f"item:{high.id}"],
                                                              "csrf_token": csrf_token(client)})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "四级手术，职称不符" in body and f'data-refused="item:{high.id}"' in body
    assert pv.db.session.scalar(select(Application.id).order_by(Application.id.desc()).limit(1)) == before
    response = client.post("/privileges/apply/surgery", data={"items": [f"item:{low.id}"], "reason": "科室需要",
                                                              "csrf_token": csrf_token(client)})
    assert response.status_code == 303
    application = pv.db.session.scalar(select(Application).where(Application.staff_id == attending.staff_id))
    assert application.items[0].history == {"as_surgeon": 2, "as_assistant1": 3, "as_assistant2": 0,
                                            "department_volume": application.items[0].history["department_volume"]}
    from app.workflow import runtime

    data = runtime.variables(application.instance_id)
    assert data["history"][0]["as_assistant1"] == 3 and "Ⅰ助 3 例" in data["summary"]


@pytest.mark.req("R3.3")
def test_training_evidence_is_required_where_the_rules_say(pv, client, login, relogin):
    chief = pv.physician(title="chief")
    pv.db.session.commit()
    login(chief.username)
    response = client.post("/privileges/apply/rx_controlled", data={"items": ["right:narcotic"],
                                                                     "csrf_token": csrf_token(client)})
    assert response.status_code == 422 and "须经院内培训考核合格" in response.get_data(as_text=True)
    response = client.post("/privileges/apply/rx_controlled", data={
        "items": ["right:narcotic"], "training_name": "麻醉药品和精神药品培训", "training_date": "2026-03-01",
        "csrf_token": csrf_token(client)})
    assert response.status_code == 303


@pytest.mark.req("R3.1")
def test_apply_form_field_errors_and_unknown_items(pv, client, login, relogin):
    chief = pv.physician(title="chief")
    pv.db.session.commit()
    login(chief.username)
    response = client.post("/privileges/apply/surgery", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 422
    response = client.post("/privileges/apply/surgery", data={"items": ["item:999999"],
                                                              "csrf_token": csrf_token(client)})
    assert response.status_code == 422
    item = _surgery_item(pv)
    response = client.post("/privileges/apply/surgery", data={"items": [f"item:{item.id}"], "training_date": "31/02",
                                                              "csrf_token": csrf_token(client)})
    assert response.status_code == 422 and "YYYY-MM-DD" in response.get_data(as_text=True)
    assert client.get("/privileges/apply/nothing").status_code == 404


@pytest.mark.req("R1.3")
@pytest.mark.req("R1.9")
def test_dossier_tabs_show_grants_and_the_archive(pv, client, login, relogin):
    from app.modules.privileges import grants

    user = pv.physician(title="chief")
    item = _surgery_item(pv, 3)
    grant = pv.grant(user, "surgery", f"item:{item.id}")
    pv.grant(user, "rx_general", "right:general")
    grants.adjust(pv.user("medclerk"), grant, "suspend", "周期考核未通过")
    pv.db.session.commit()
    login("medclerk")
    page = client.get(f"/dossier/{user.staff_id}?tab=authorizations").get_data(as_text=True)
    assert 'data-tab="authorizations"' in page and item.name in page and "处方权（普通药品）" in page
    assert grant.start_date.isoformat() in page and grant.end_date.isoformat() in page
    page = client.get(f"/dossier/{user.staff_id}?tab=surgeon_archive").get_data(as_text=True)
    assert 'data-tab="surgeon-archive"' in page and item.name in page and "周期考核未通过" in page
    row = page.split(f'data-grant="{grant.id}"')[1].split("</tr>")[0]
    assert "三级" in row and grant.start_date.isoformat() in row
    own = client.get(f"/privileges/staff/{user.staff_id}")
    assert own.status_code == 200
    # A doctor of another department does not see them.
    relogin("doctor")
    assert client.get(f"/privileges/staff/{user.staff_id}").status_code in (200, 404)
    other = pv.physician(title="chief", department=pv.db.session.get(type(pv.surgery), pv.surgery.id + 1))
    pv.db.session.commit()
    assert client.get(f"/privileges/staff/{other.staff_id}").status_code == 404


@pytest.mark.req("R3.8")
def test_adjusting_on_the_grant_page(pv, client, login, relogin):
    user = pv.physician(title="chief")
    grant = pv.grant(user, "surgery", f"item:{_surgery_item(pv).id}")
    pv.db.session.commit()
    login(user.username)
    assert client.post(f"/privileges/grants/{grant.id}/adjust",
                       data={"action": "suspend", "reason": "x", "csrf_token": csrf_token(client)}).status_code == 403
    page = client.get(f"/privileges/grants/{grant.id}").get_data(as_text=True)
    assert "adjust-form" not in page
    relogin("medclerk")
    response = client.post(f"/privileges/grants/{grant.id}/adjust", data={
        "action": "suspend", "reason": "", "csrf_token": csrf_token(client)})
    assert response.status_code == 422 and "is-invalid" in response.get_data(as_text=True)
    response = client.post(f"/privileges/grants/{grant.id}/adjust", data={
        "action": "suspend", "reason": "投诉调查", "effective_on": date.today().isoformat(),
        "csrf_token": csrf_token(client)})
    assert response.status_code == 303
    pv.db.session.expire_all()
    assert pv.db.session.get(Grant, grant.id).status == "suspended"
    page = client.get(f"/privileges/grants/{grant.id}").get_data(as_text=True)
    assert 'data-change="suspend"' in page and "投诉调查" in page


@pytest.mark.req("R3.8")
def test_lists_and_exports_stay_in_scope(pv, client, login, relogin):
    from app.modules.org.models import Department

    other_dept = pv.db.session.scalar(select(Department).where(Department.name == "骨科"))
    outsider = pv.physician(title="chief", department=other_dept)
    inside = pv.physician(title="chief")
    item = _surgery_item(pv)
    pv.grant(outsider, "surgery", f"item:{item.id}")
    pv.grant(inside, "surgery", f"item:{item.id}")
    pv.db.session.commit()
    login("head")  # 普通外科's head
    page = client.get("/privileges/grants", query_string={"q": "授权测试"}).get_data(as_text=True)
    assert inside.staff.name in page and outsider.staff.name not in page
    export = client.get("/privileges/grants.xlsx", query_string={"q": "授权测试"})
    assert export.status_code == 200 and export.mimetype == XLSX
    page = client.get("/privileges/authorised", query_string={"item_id": item.id}).get_data(as_text=True)
    assert inside.staff.name in page and outsider.staff.name not in page
    assert client.get("/privileges/authorised.xlsx", query_string={"item_id": item.id}).mimetype == XLSX
    assert client.get("/privileges/departments").status_code == 200
    assert client.get("/privileges/departments.xlsx").mimetype == XLSX
    assert client.get("/privileges/settings").status_code == 403
    relogin("medclerk")
    page = client.get("/privileges/grants", query_string={"q": "授权测试"}).get_data(as_text=True)
    assert inside.staff.name in page and outsider.staff.name in page
    expiring = client.get("/privileges/grants", query_string={"expiring": 90, "sort": "end"})
    assert expiring.status_code == 200


@pytest.mark.req("R3.5")
def test_the_anaesthesia_mode_is_switched_from_a_date(pv, client, login, relogin):
    from app.modules.privileges import settings

    login("medaffairs")
    response = client.post("/privileges/settings", data={"mode": "level", "effective_from": "2030-01-01",
                                                         "note": "改为分级授权", "csrf_token": csrf_token(client)})
    assert response.status_code == 303
    assert settings.anaesthesia_mode(date(2029, 12, 31)) == "catalog"
    assert settings.anaesthesia_mode(date(2030, 1, 1)) == "level"
    response = client.post("/privileges/settings", data={"mode": "level", "effective_from": "soon",
                                                         "csrf_token": csrf_token(client)})
    assert response.status_code == 422


@pytest.mark.req("R3.6")
def test_rights_dictionary_takes_new_capabilities(pv, client, login, relogin):
    from app.modules.privileges import items

    login("doctor")
    assert client.post("/privileges/rights", data={"code": "equipment.ecmo", "name": "ECMO上岗",
                                                   "csrf_token": csrf_token(client)}).status_code == 403
    relogin("medaffairs")
    response = client.post("/privileges/rights", data={
        "code": "equipment.ecmo", "name": "体外膜肺氧合（ECMO）上岗", "ptype": "capability", "rank": "1",
        "requirement": "ECMO 专项培训合格", "evidence_required": "on", "active": "on",
        "csrf_token": csrf_token(client)})
    assert response.status_code == 303
    assert "right:equipment.ecmo" in {i.key for i in items.offered("capability", None)}
    bad = client.post("/privileges/rights", data={"code": "Bad Code", "name": "", "ptype": "capability",
                                                  "csrf_token": csrf_token(client)})
    assert bad.status_code == 422


@pytest.mark.req("R3.7")
def test_home_and_applications_list(pv, client, login, relogin):
    login("head")
    page = client.get("/privileges/").get_data(as_text=True)
    assert 'data-count="pending"' in page
    assert client.get("/privileges/applications").status_code == 200
    assert client.get("/privileges/apply").status_code == 200
    relogin("nurse")
    assert client.get("/privileges/").status_code == 403


@pytest.mark.req("R3.3")
def test_a_quoted_dossier_training_is_the_evidence(pv, client, login):
    from app.modules.dossier.models import HistoryEntry
    from app.workflow import runtime

    chief = pv.physician(title="chief")
    entry = HistoryEntry(staff_id=chief.staff_id, kind="training", started_on=date(2025, 3, 1),
                         ended_on=date(2025, 3, 5), institution="医院药事管理与药物治疗学委员会",
                         title="麻醉药品和精神药品临床应用培训")
    pv.db.session.add(entry)
    pv.db.session.commit()
    login(chief.username)
    response = client.post("/privileges/apply/rx_controlled", data={
        "items": ["right:narcotic"], "training_refs": [str(entry.id)], "csrf_token": csrf_token(client)})
    assert response.status_code == 303
    application = pv.db.session.scalar(select(Application).where(Application.staff_id == chief.staff_id))
    summary = runtime.variables(application.instance_id)["summary"]
    assert "引用培训经历" in summary and "麻醉药品和精神药品临床应用培训" in summary


@pytest.mark.req("R3.1")
def test_the_catalog_counts_capable_doctors(pv):
    from app.modules.catalog import services as catalog_services

    chief = pv.physician(title="chief")
    item = _surgery_item(pv)
    before = catalog_services.capable_doctors_provider()(chief.staff.department_id, [item.id]).get(item.id, 0)
    pv.grant(chief, "surgery", f"item:{item.id}")
    assert catalog_services.capable_doctors_provider()(chief.staff.department_id, [item.id])[item.id] == before + 1


@pytest.mark.req("R3.1")
def test_the_portal_sends_privilege_applications_to_the_apply_page(pv, client, login, app):
    """Started from the portal's process list, a privilege application goes through the apply page
    (item checks, computed history): the generic start form never starts it around them."""
    attending = pv.physician(title="attending", years=1)
    pv.db.session.commit()
    login(attending.username)
    body = client.get("/processes/start").get_data(as_text=True)
    assert re.search(r'href="/privileges/apply/surgery" data-process="privilege_surgery"', body)
    response = client.get("/processes/start/privilege_surgery")
    assert response.status_code == 302 and response.headers["Location"] == "/privileges/apply/surgery"
    before = pv.db.session.scalar(select(Application.id).order_by(Application.id.desc()).limit(1))
    response = client.post("/processes/start/privilege_surgery", data={"items": ["item:1"],
                                                                        "csrf_token": csrf_token(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/privileges/apply/surgery"
    assert pv.db.session.scalar(select(Application.id).order_by(Application.id.desc()).limit(1)) == before
    admin = app.test_client()  # an administrator's account has no staff record: nothing to apply with
    login("admin", on=admin)
    assert 'data-process="privilege_surgery"' not in admin.get("/processes/start").get_data(as_text=True)
    assert admin.get("/processes/start/privilege_surgery").status_code == 404
