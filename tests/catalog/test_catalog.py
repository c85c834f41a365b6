"""The two-level catalog (R2.1, R2.3, R2.6, R2.7): the demo's hospital catalog built from the procedure
dictionary, the read helpers other modules use, maintenance by medical affairs with audit, department
catalogs kept by their managers within scope, and xlsx export and import (all rows or none)."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.extensions import db
from app.modules.catalog import maintenance, services, transfer
from app.modules.catalog.models import KINDS, CatalogItem, CatalogItemCode, DepartmentCatalogItem
from app.modules.clinical.models import Operation, ProcedureCode
from app.workflow.errors import PermissionDenied
from tests.catalog.conftest import add_to_department, create_item, department, user
from tests.factories import create_department


@pytest.mark.req("R2.1")
@pytest.mark.req("R2.3")
def test_the_demo_catalog_holds_every_procedure_and_every_kind(ctx):
    procedures = set(db.session.scalars(select(ProcedureCode.code).where(ProcedureCode.active.is_(True))))
    mapped = set(db.session.scalars(select(CatalogItemCode.code)))
    assert procedures <= mapped
    kinds = set(db.session.scalars(select(CatalogItem.kind).distinct()))
    assert kinds == set(KINDS)
    cholecystectomy = services.items_for_procedure_code("51.2300")
    assert [(i.kind, i.level) for i in cholecystectomy] == [("surgery", 3)]
    surgery = department("普通外科")
    held = services.department_items(surgery.id)
    # Each department holds the items its doctors operated on in the clinical data.
    operated = set(db.session.scalars(select(Operation.code).where(Operation.department_id == surgery.id)))
    assert operated and operated <= {c for i in held for c in i.code_list}
    assert all(i.kind == "surgery" for i in services.department_items(surgery.id, kinds=["surgery"]))
    assert services.get_item(held[0].id) is held[0] and services.item_by_code(held[0].code) is held[0]
    assert {i.kind for i in services.hospital_items(kinds=["medtech", "anaesthesia"])} == {"medtech", "anaesthesia"}


@pytest.mark.req("R2.3")
def test_medical_affairs_adds_edits_and_deactivates_items_with_audit(en):
    officer = user("medaffairs")
    item = maintenance.save_item(officer, None, {"code": "SS-T001", "name": "腹腔镜下胆总管探查术",
                                                 "kind": "surgery", "level": "4", "codes": "51.2300, 51.2200"})
    assert (item.level, item.code_list) == (4, ["51.2200", "51.2300"])
    maintenance.save_item(officer, item, {"code": "SS-T001", "name": "腹腔镜下胆总管探查术", "kind": "endoscopic",
                                          "level": "3", "codes": "51.2300"})
    assert (item.kind, item.level, item.code_list) == ("endoscopic", 3, ["51.2300"])
    maintenance.set_item_active(officer, item, False)
    assert item not in services.hospital_items()
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "catalog_item",
                                                                      AuditEntry.object_id == str(item.id))
                                      .order_by(AuditEntry.seq)))
    assert actions == ["catalog.item_created", "catalog.item_updated", "catalog.item_deactivated"]
    changed = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.item_updated",
                                                         AuditEntry.object_id == str(item.id)))
    assert changed.data["kind"] == ["surgery", "endoscopic"] and changed.data["level"] == [4, 3]
    maintenance.save_item(officer, item, {"code": "SS-T001", "name": "腹腔镜下胆总管探查术（改）",
                                          "kind": "endoscopic", "codes": "51.2300"})
    assert not item.active and item.level is None  # editing a stopped item does not bring it back
    with pytest.raises(maintenance.Invalid) as refused:
        maintenance.save_item(officer, None, {"code": "SS-T001", "name": "", "kind": "x", "level": "7",
                                              "codes": "99.9999"})
    assert set(refused.value.errors) == {"code", "name", "kind", "level", "codes"}
    assert "99.9999" in refused.value.errors["codes"]
    with pytest.raises(maintenance.Invalid) as restricted:
        maintenance.save_item(officer, None, {"code": "XZ-T99", "name": "某限制类技术", "kind": "restricted"})
    assert "procedure code" in restricted.value.errors["codes"]
    with pytest.raises(PermissionDenied):
        maintenance.save_item(user("head"), None, {"code": "SS-T002", "name": "x", "kind": "surgery"})


@pytest.mark.req("R2.6")
def test_department_heads_maintain_their_own_catalog_only(en):
    surgery = department("普通外科")
    head = user("head")
    row = db.session.scalar(select(DepartmentCatalogItem).where(DepartmentCatalogItem.department_id == surgery.id,
                                                                DepartmentCatalogItem.status == "active"))
    maintenance.set_department_note(head, row, "由肝胆组开展，需术前讨论")
    assert row.note == "由肝胆组开展，需术前讨论"
    maintenance.remove_department_item(head, row, "设备报废")
    assert row.status == "removed" and row.removed_by_id == head.id
    assert row.item not in services.department_items(surgery.id)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.department_item_removed",
                                                       AuditEntry.object_id == str(row.id)))
    assert entry.data["reason"] == "设备报废"
    other = create_department(name="心内二科（目录测试）")
    foreign = add_to_department(other, create_item())[0]
    with pytest.raises(PermissionDenied):
        maintenance.remove_department_item(head, foreign)
    with pytest.raises(PermissionDenied):
        maintenance.set_department_note(user("doctor"), row, "x")
    with pytest.raises(maintenance.Invalid):
        maintenance.set_department_note(head, row, "长" * 2001)


@pytest.mark.req("R2.6")
def test_maintenance_pages_answer_403_and_404_outside_the_role_and_scope(client, login, csrf, ctx):
    surgery = department("普通外科")
    other = create_department(name="心内三科（目录测试）")
    foreign = add_to_department(other, create_item())[0]
    own = db.session.scalar(select(DepartmentCatalogItem).where(DepartmentCatalogItem.department_id == surgery.id,
                                                                DepartmentCatalogItem.status == "active"))
    db.session.commit()
    login("doctor")
    assert client.get("/catalog/").status_code == 200
    assert client.get("/catalog/items/new").status_code == 403
    assert client.get(f"/catalog/departments/{surgery.id}").status_code == 200  # their own department
    assert client.get(f"/catalog/departments/{other.id}").status_code == 404
    assert client.post(f"/catalog/rows/{own.id}/remove",
                       data={"csrf_token": csrf()}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf()})
    login("head")
    assert client.get(f"/catalog/departments/{other.id}").status_code == 404
    assert client.post(f"/catalog/rows/{foreign.id}/remove",
                       data={"csrf_token": csrf()}).status_code == 404
    assert client.get("/catalog/items/new").status_code == 403
    assert client.get(f"/catalog/departments/{other.id}/apply").status_code == 404
    page = client.get(f"/catalog/departments/{surgery.id}")
    assert page.status_code == 200 and "/apply" in page.get_data(as_text=True)
    response = client.post(f"/catalog/rows/{own.id}/note",
                           data={"note": "仅限日间手术", "csrf_token": csrf()})
    assert response.status_code == 303 and own.note == "仅限日间手术"
    client.post("/logout", data={"csrf_token": csrf()})
    login("complaints")
    assert client.get("/catalog/").status_code == 403


@pytest.mark.req("R2.7")
def test_export_then_import_round_trip_with_row_errors_and_nothing_partial(client, login, csrf, ctx):
    login("medaffairs")
    sheet = load_workbook(io.BytesIO(client.get("/catalog/items.xlsx?kind=surgery&level=4").data)).active
    level4 = db.session.scalar(select(func.count()).select_from(CatalogItem).where(
        CatalogItem.kind == "surgery", CatalogItem.level == 4, CatalogItem.active.is_(True)))
    assert sheet.max_row - 1 == level4 > 0
    assert [c.value for c in sheet[1]] == transfer.headers()
    before = db.session.scalar(select(func.count()).select_from(CatalogItem))

    def upload(rows):
        book = Workbook()
        book.active.append(transfer.headers())
        for row in rows:
            book.active.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        return client.post("/catalog/import", data={"file": (io.BytesIO(buffer.getvalue()), "catalog.xlsx"),
                                                    "csrf_token": csrf("/catalog/import")},
                           content_type="multipart/form-data")

    bad = upload([["SS-T101", "新术式甲", "手术", "三级", "否", "", "51.2300", "", "是"],
                  ["SS-T102", "", "不存在的类别", 9, "否", "", "00.0000", "", "是"]])
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "项目名称" in body and "00.0000" in body and 'name="token"' not in body
    assert db.session.scalar(select(func.count()).select_from(CatalogItem)) == before
    good = upload([["SS-T101", "新术式甲", "手术", "三级", "否", "", "51.2300", "", "是"],
                   ["MZ-T101", "新麻醉项目", "麻醉项目", 2, "否", "全身麻醉", "", "", "是"]])
    token = __import__("re").search(r'name="token" value="([0-9a-f]+)"', good.get_data(as_text=True)).group(1)
    done = client.post("/catalog/import/commit", data={"token": token, "filename": "catalog.xlsx",
                                                       "csrf_token": csrf("/catalog/import")})
    assert done.status_code == 303
    added = services.item_by_code("SS-T101")
    assert (added.kind, added.level, added.code_list) == ("surgery", 3, ["51.2300"])
    assert services.item_by_code("MZ-T101").category == "全身麻醉"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalog.items_imported")) is not None


@pytest.mark.req("R2.7")
def test_a_department_catalog_exports_its_items_and_notes(client, login, ctx):
    surgery = department("普通外科")
    login("head")
    sheet = load_workbook(io.BytesIO(client.get(f"/catalog/departments/{surgery.id}/catalog.xlsx").data)).active
    assert sheet.max_row - 1 == maintenance.department_item_count(surgery.id) > 0


@pytest.mark.req("R2.1")
def test_the_capable_doctors_hook_is_the_privileges_module_s_to_provide(ctx):
    from app.modules.catalog import analytics

    surgery = department("普通外科")
    previous = services.capable_doctors_provider()
    try:
        services.register_capable_doctors(None)
        result = analytics.department_analytics(surgery.id)
        assert not result.has_capability and all(r.capable is None for r in result.rows)
        first = result.rows[0].item.id
        services.register_capable_doctors(lambda dept_id, ids: {first: 2})
        result = analytics.department_analytics(surgery.id)
        assert result.has_capability and len(result.uncovered_items) == len(result.rows) - 1
    finally:
        services.register_capable_doctors(previous)


@pytest.mark.req("R2.3")
@pytest.mark.req("R2.4")
def test_item_and_indicator_pages_save_and_refuse_field_by_field(client, login, csrf, ctx):
    login("medaffairs")
    bad = client.post("/catalog/items/new", data={"code": "", "name": "", "kind": "restricted", "level": "",
                                                  "codes": "12.3456", "csrf_token": csrf("/catalog/items/new")})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "12.3456" in body and 'id="name-error"' in body
    good = client.post("/catalog/items/new", data={"code": "", "name": "经皮肾肿瘤冷冻消融术", "kind": "restricted",
                                                   "level": "4", "codes": "50.2400", "restricted": "y",
                                                   "csrf_token": csrf("/catalog/items/new")})
    assert good.status_code == 303
    item = db.session.scalar(select(CatalogItem).where(CatalogItem.name == "经皮肾肿瘤冷冻消融术"))
    assert item.code.startswith("XZ-") and item.restricted  # numbered automatically by kind
    url = f"/catalog/items/{item.id}/indicators/new"
    refused = client.post(url, data={"key": "Bad Key", "name": "严重并发症发生率", "numerator": "", "denominator": "x",
                                     "measure": "complication", "complication_codes": "zz9", "csrf_token": csrf(url)})
    assert refused.status_code == 422 and item.indicators == []
    saved = client.post(url, data={"key": "severe", "name": "严重并发症发生率", "numerator": "发生严重并发症的患者数",
                                   "denominator": "同期患者总数", "target": "≤5%", "measure": "complication",
                                   "complication_codes": "T81.0, T81.4", "active": "y", "csrf_token": csrf(url)})
    assert saved.status_code == 303
    [indicator] = item.indicators
    assert (indicator.measure, indicator.code_prefixes, indicator.target) == ("complication", ["T81.0", "T81.4"], "≤5%")
    page = client.get(f"/catalog/restricted/{item.id}").get_data(as_text=True)
    assert "严重并发症发生率" in page and "≤5%" in page
    assert client.get(f"/catalog/items/{held_item_id()}/indicators/new").status_code == 404  # not restricted


def held_item_id() -> int:
    return db.session.scalar(select(CatalogItem.id).where(CatalogItem.kind == "surgery").order_by(CatalogItem.id))


@pytest.mark.req("R2.2")
def test_the_portal_sends_catalog_applications_to_the_departments_apply_page(client, login, csrf, ctx):
    """The generic start form would start the process around the department checks: the portal
    links (and redirects) to the head's own department's apply page instead."""
    surgery = department("普通外科")
    login("head")
    body = client.get("/processes/start").get_data(as_text=True)
    assert f'href="/catalog/departments/{surgery.id}/apply" data-process="catalog_application"' in body
    response = client.get("/processes/start/catalog_application")
    assert response.status_code == 302 and response.headers["Location"] == f"/catalog/departments/{surgery.id}/apply"
    assert client.post("/processes/start/catalog_application",
                       data={"csrf_token": csrf()}).status_code == 303
    client.post("/logout", data={"csrf_token": csrf()})
    login("doctor")  # not a head: may not apply at all
    assert 'data-process="catalog_application"' not in client.get("/processes/start").get_data(as_text=True)
    assert client.get("/processes/start/catalog_application").status_code == 404
