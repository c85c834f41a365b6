"""Catalog analytics (R2.8 hospital, R2.9 department): items by kind and level, departments offering
each item, items never performed, and a department's items performed in the last year — each figure
equal to a direct count and linked to the rows behind it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.modules.catalog import analytics
from app.modules.catalog.models import CatalogItem
from tests.catalog.conftest import add_to_department, create_item, department
from tests.clinical.helpers import create_ward, operation_row, send, stay_row
from tests.factories import create_department


@pytest.mark.req("R2.8")
def test_hospital_figures_equal_direct_counts(ctx):
    summary = analytics.hospital_summary()
    by_sql = dict(((k, lv), n) for k, lv, n in db.session.execute(text(
        "SELECT kind, level, count(*) FROM catalog_item WHERE active = :yes GROUP BY kind, level"), {"yes": True}))
    for (kind, level), n in by_sql.items():
        assert summary.by_kind_level[kind][level] == n
    assert summary.total == sum(by_sql.values())
    never = db.session.execute(text(
        "SELECT count(*) FROM catalog_item i WHERE i.active = :yes "
        "AND EXISTS (SELECT 1 FROM catalog_item_code c WHERE c.item_id = i.id) "
        "AND NOT EXISTS (SELECT 1 FROM catalog_item_code c JOIN clinical_operation o ON o.code = c.code "
        "WHERE c.item_id = i.id)"), {"yes": True}).scalar()
    assert summary.never_performed == never > 0
    offered = db.session.execute(text(
        "SELECT count(DISTINCT d.item_id) FROM department_catalog_item d JOIN catalog_item i ON i.id = d.item_id "
        "WHERE d.status = 'active' AND i.active = :yes"), {"yes": True}).scalar()
    assert summary.offered == offered and summary.not_offered == summary.total - offered


@pytest.mark.req("R2.8")
def test_an_item_offered_by_two_departments_and_never_performed(client, login, ctx):
    item = create_item(codes=["41.3100"], name="从未开展的测试项目")
    unused = create_item(codes=["86.8200"], name="另一测试项目")
    db.session.execute(text("DELETE FROM clinical_operation WHERE code = '86.8200'"))
    a, b = create_department(name="甲科（分析测试）"), create_department(name="乙科（分析测试）")
    add_to_department(a, item)
    add_to_department(b, item)
    assert analytics.offering_counts()[item.id] == 2
    assert unused.id in analytics.never_performed_ids()
    login("medaffairs")
    listed = client.get("/catalog/?performed=0&q=测试项目").get_data(as_text=True)
    assert "另一测试项目" in listed
    page = client.get("/catalog/analytics").get_data(as_text=True)
    assert "catalog-kind-chart" in page and "/catalog/?performed=0" in page
    assert client.get(f"/catalog/items/{item.id}").get_data(as_text=True).count("（分析测试）") == 2
    not_offered = client.get("/catalog/?offered=0&q=另一测试项目").get_data(as_text=True)
    assert "另一测试项目" in not_offered


@pytest.mark.req("R2.9")
def test_a_department_s_items_performed_in_the_last_year(client, login, ctx):
    ward = create_ward(name="胆道外科（分析测试）")
    often, idle, uncoded = (create_item(codes=["51.2300"]), create_item(codes=["52.7x00"]),
                            create_item(kind="anaesthesia", category="全身麻醉"))
    add_to_department(ward.department, often, idle, uncoded)
    start, end = analytics.last_year()
    day = f"{end.strftime('%Y-%m')}-05 10:00"
    stays = [stay_row(ward, admitted_at=f"{end.strftime('%Y-%m')}-01 08:00",
                      discharged_at=f"{end.strftime('%Y-%m')}-09 10:00") for _ in range(3)]
    send("stays", stays)
    send("operations", [operation_row(s, ward.chief, code="51.2300", performed_at=day) for s in stays])
    result = analytics.department_analytics(ward.department.id)
    by_item = {r.item.id: r for r in result.rows}
    direct = db.session.scalar(select(func.count()).select_from(text("clinical_operation")).where(
        text("code = '51.2300' AND department_id = :d")).params(d=ward.department.id))
    assert by_item[often.id].performed == direct == 3
    assert by_item[idle.id].performed == 0 and by_item[uncoded.id].performed is None
    assert result.performed_items == 1 and [r.item.id for r in result.idle_items] == [idle.id]
    db.session.commit()
    login("medaffairs")
    page = client.get(f"/catalog/departments/{ward.department.id}/analytics").get_data(as_text=True)
    assert re.search(r'id="figure-performed">\s*1<', page) and re.search(r'id="figure-idle">\s*1<', page)
    # The privileges module says who may perform what: nobody in the new ward holds a grant.
    assert re.search(r'id="figure-uncovered">\s*3<', page)


@pytest.mark.req("R2.9")
def test_every_active_item_counts_in_exactly_one_kind(ctx):
    total = db.session.scalar(select(func.count()).select_from(CatalogItem).where(CatalogItem.active.is_(True)))
    matrix = analytics.kind_level_matrix()
    assert sum(sum(levels.values()) for levels in matrix.values()) == total
    surgery = department("普通外科")
    result = analytics.department_analytics(surgery.id)
    assert sum(result.kind_counts().values()) == len(result.rows) > 0
