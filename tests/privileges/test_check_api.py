"""The live check API for HIS (R3.8 prevention): answers against the grants, reasons, 404 for an
unknown doctor or code (never allowed), the batch with per-item errors, emergency overrides
recorded for review, token scopes."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.modules.accounts import services as accounts
from app.modules.privileges.models import CheckOverride, Grant

TODAY = date.today()


@pytest.fixture()
def token(pv):
    def make(*scopes):
        _row, text = accounts.create_token(pv.user("admin"), "HIS", list(scopes), None)
        pv.db.session.commit()  # a refused request rolls back to here, not further
        return {"Authorization": f"Bearer {text}"}

    return make


def _get(client, headers, **args):
    response = client.get("/api/v1/privileges/check", query_string=args, headers=headers)
    return response.status_code, response.get_json()


@pytest.mark.req("R3.8")
def test_surgery_answers_follow_the_grants(pv, client, token):
    headers = token("privileges:read")
    chief = pv.physician(title="chief")
    attending = pv.physician(title="attending", years=1)
    item = pv.catalog_item(("surgery",), level=4)
    code = pv.item_code(item)
    status, body = _get(client, headers, staff=chief.staff.employee_no, kind="surgery", code=code)
    assert status == 200 and body["allowed"] is False and body["reason"] == "四级手术，未获授权"
    status, body = _get(client, headers, staff=attending.staff.employee_no, kind="surgery", code=code)
    assert body["allowed"] is False and body["reason"] == "四级手术，职称不符"
    grant = pv.grant(chief, "surgery", f"item:{item.id}")
    status, body = _get(client, headers, staff=chief.staff.employee_no, kind="surgery", code=code,
                        date=TODAY.isoformat())
    assert status == 200 and body["allowed"] is True and body["reason"] == "已授权"
    assert body["grant"]["id"] == grant.id and body["grant"]["end_date"] == grant.end_date.isoformat()
    # Before the grant began, and after it ends.
    status, body = _get(client, headers, staff=chief.staff.employee_no, kind="surgery", code=code,
                        date=(grant.start_date - timedelta(days=1)).isoformat())
    assert body["allowed"] is False and "起生效" in body["reason"]
    status, body = _get(client, headers, staff=chief.staff.employee_no, kind="procedure", code=code,
                        date=(grant.end_date + timedelta(days=1)).isoformat())
    assert body["allowed"] is False and "到期" in body["reason"]


@pytest.mark.req("R3.3")
@pytest.mark.req("R3.8")
def test_drug_answers_name_the_tier(pv, client, token):
    headers = token("privileges:read")
    attending = pv.physician(title="attending", years=1)
    pv.grant(attending, "rx_general", "right:general")
    pv.grant(attending, "rx_antimicrobial", "right:antimicrobial.restricted")
    status, body = _get(client, headers, staff=attending.staff.employee_no, kind="drug", code="Y010026")
    assert body["allowed"] is False and body["reason"] == "特殊使用级抗菌药物，职称不符"
    status, body = _get(client, headers, staff=attending.staff.employee_no, kind="drug", code="Y010022")
    assert body["allowed"] is True and body["grant"]["kind"] == "rx_antimicrobial"
    assert {g["kind"] for g in body["grants"]} == {"rx_general", "rx_antimicrobial"}
    status, body = _get(client, headers, staff=attending.staff.employee_no, kind="drug", code="Y010044")
    assert body["allowed"] is False and body["reason"] == "麻醉药品处方权，未获授权"
    nobody = pv.physician(title="chief")
    status, body = _get(client, headers, staff=nobody.staff.employee_no, kind="drug", code="Y010001")
    assert body["allowed"] is False and body["reason"] == "处方权（普通药品），未获授权"


@pytest.mark.req("R3.8")
def test_unknown_doctor_or_code_is_404_and_never_allowed(pv, client, token):
    headers = token("privileges:read")
    status, body = _get(client, headers, staff="NO-SUCH", kind="surgery", code="47.0100")
    assert status == 404 and body["allowed"] is False and "工号" in body["error"]["message"]
    doctor = pv.user("doctor").staff.employee_no
    status, body = _get(client, headers, staff=doctor, kind="surgery", code="99.9999")
    assert status == 404 and body["allowed"] is False
    status, body = _get(client, headers, staff=doctor, kind="drug", code="NOPE")
    assert status == 404 and body["allowed"] is False
    status, body = _get(client, headers, staff=doctor, kind="nonsense", code="x")
    assert status == 400 and body["allowed"] is False
    status, body = _get(client, headers, staff=doctor, kind="surgery", code="47.0100", date="2026-13-45")
    assert status == 400 and "YYYY-MM-DD" in body["error"]["message"]
    status, body = _get(client, headers, kind="surgery", code="47.0100")
    assert status == 400 and "staff" in body["error"]["message"]


@pytest.mark.req("R3.8")
def test_batch_answers_in_order_with_per_item_errors(pv, client, token):
    headers = token("privileges:read")
    chief = pv.physician(title="chief")
    item = pv.catalog_item(("surgery",), level=3)
    pv.grant(chief, "surgery", f"item:{item.id}")
    no = chief.staff.employee_no
    items = [{"staff": no, "kind": "surgery", "code": pv.item_code(item)},
             "not an object",
             {"staff": no, "kind": "surgery"},
             {"staff": "NO-SUCH", "kind": "drug", "code": "Y010001"},
             {"staff": no, "kind": "drug", "code": "Y010001", "date": "yesterday"},
             {"staff": no, "kind": "drug", "code": "Y010001"}]
    response = client.post("/api/v1/privileges/check", json={"items": items}, headers=headers)
    body = response.get_json()
    assert response.status_code == 200 and body["total"] == 6
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert results[0]["allowed"] is True
    assert [results[i]["error"]["status"] for i in (1, 2, 3, 4)] == [400, 400, 404, 400]
    assert all(results[i]["allowed"] is False for i in (1, 2, 3, 4, 5))
    assert results[5]["reason"] == "处方权（普通药品），未获授权"
    assert body["errors"] == 4 and body["allowed"] == 1
    bad = client.post("/api/v1/privileges/check", json={"rows": 1}, headers=headers)
    assert bad.status_code == 400
    big = client.post("/api/v1/privileges/check", json={"items": [{}] * 1001}, headers=headers)
    assert big.status_code == 413


@pytest.mark.req("R3.8")
def test_emergency_override_is_recorded_for_review(pv, client, token, login):
    attending = pv.physician(title="attending", years=1)
    item = pv.catalog_item(("surgery",), level=4)
    payload = {"staff": attending.staff.employee_no, "kind": "surgery", "code": pv.item_code(item),
               "reason": "急诊大出血，上级医师在途，越级抢救"}
    reader = token("privileges:read")
    refused = client.post("/api/v1/privileges/overrides", json=payload, headers=reader)
    assert refused.status_code == 403
    headers = token("privileges:read", "privileges:override")
    no_reason = client.post("/api/v1/privileges/overrides", json={**payload, "reason": ""}, headers=headers)
    assert no_reason.status_code == 400 and no_reason.get_json()["allowed"] is False
    response = client.post("/api/v1/privileges/overrides", json=payload, headers=headers)
    body = response.get_json()
    assert response.status_code == 200 and body["allowed"] is True and body["override"] is True
    row = pv.db.session.get(CheckOverride, body["override_id"])
    assert row.status == "open" and row.denial == "四级手术，职称不符" and row.client == "HIS"
    login("medclerk")
    page = client.get("/privileges/overrides").get_data(as_text=True)
    assert f'data-override="{row.id}"' in page and "越级抢救" in page
    from tests.conftest import csrf_token

    answer = client.post(f"/privileges/overrides/{row.id}/review",
                         data={"outcome": "accepted", "note": "24小时内已补报", "csrf_token": csrf_token(client)})
    assert answer.status_code == 303
    pv.db.session.refresh(row)
    assert row.status == "accepted" and row.reviewed_by_id == pv.user("medclerk").id


@pytest.mark.req("R3.8")
def test_tokens_need_the_scope(pv, client, token):
    assert client.get("/api/v1/privileges/ping").status_code == 401
    assert client.get("/api/v1/privileges/ping", headers=token("org:read")).status_code == 403
    response = client.get("/api/v1/privileges/ping", headers=token("privileges:read"))
    assert response.status_code == 200 and response.get_json() == {"ok": True}


@pytest.mark.req("R3.8")
def test_doctors_authorised_for_a_code(pv, client, token):
    chief = pv.physician(title="chief")
    item = pv.catalog_item(("surgery",), level=2)
    pv.grant(chief, "surgery", f"item:{item.id}")
    body = client.get("/api/v1/privileges/authorised", query_string={"code": pv.item_code(item)},
                      headers=token("privileges:read")).get_json()
    assert chief.staff.employee_no in {d["staff"] for d in body["items"]}


@pytest.mark.req("R3.8")
def test_answers_agree_with_the_demo_grants(pv):
    """Every active demo surgery grant answers allowed for its codes today; a suspended one does not."""
    from app.modules.catalog.models import CatalogItemCode
    from app.modules.org.models import Staff
    from app.modules.privileges import check

    rows = pv.db.session.execute(select(Grant, Staff.employee_no, CatalogItemCode.code)
                                 .join(Staff, Staff.id == Grant.staff_id)
                                 .join(CatalogItemCode, CatalogItemCode.item_id == Grant.item_id)
                                 .where(Grant.ptype == "surgery", Grant.start_date <= TODAY,
                                        Grant.end_date >= TODAY).limit(60)).all()
    assert rows
    queries = [check.Query(no, "surgery", code, TODAY) for _g, no, code in rows]
    answers = check.answer_many(queries)
    for (grant, _no, _code), answer in zip(rows, answers):
        assert answer["allowed"] is (grant.status == "active"), (grant.id, answer)
