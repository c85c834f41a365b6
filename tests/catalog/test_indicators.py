"""Restricted-technology quality control (R2.4): the national list and its indicators shipped as data,
cases found through the procedure codes, complications, deaths and indicators computed from the
clinical data by month and department, equal to direct SQL counts, and scoped to the viewer."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from app.extensions import db
from app.modules.catalog import indicators
from app.modules.catalog.reference import shipped
from app.modules.catalog.services import item_by_code
from tests.catalog.conftest import user
from tests.clinical.helpers import create_ward, operation_row, send, stay_row
from tests.factories import create_user

ECMO = "XZ-11"
START, END = date(2020, 1, 1), date(2030, 12, 1)


@pytest.mark.req("R2.4")
def test_the_national_restricted_technologies_and_their_indicators_are_data(ctx):
    data = shipped()
    assert len(data["technologies"]) == 12
    ecmo = item_by_code(ECMO)
    assert ecmo.kind == "restricted" and ecmo.restricted and ecmo.level == 4 and ecmo.code_list == ["39.6500"]
    names = {i.name for i in ecmo.indicators}
    assert {"ECMO出血发生率", "置管意外发生率"} <= names
    ablation = item_by_code("XZ-08")
    assert {"肿瘤消融治疗完成率", "局部病灶有效控制率", "严重感染发生率"} <= {i.name for i in ablation.indicators}
    for indicator in ecmo.indicators:
        assert indicator.numerator and indicator.denominator and indicator.source
    bleeding = next(i for i in ecmo.indicators if i.key == "bleeding")
    assert bleeding.measure == "complication" and "T81.0" in bleeding.code_prefixes


def _cases():
    """Two wards doing ECMO: ward A 3 cases (one died, one with bleeding, one with a non-matching second
    operation), ward B 1 case; plus an ECMO operation outside the period's month filter."""
    a, b = create_ward(name="重症医学科（指标测试A）"), create_ward(name="重症医学科（指标测试B）")
    stays = [stay_row(a, admitted_at="2026-03-01 08:00", discharged_at="2026-03-20 10:00"),
             stay_row(a, admitted_at="2026-03-02 08:00", discharged_at="2026-03-25 10:00", discharge_method="5"),
             stay_row(a, admitted_at="2026-04-02 08:00", discharged_at="2026-04-25 10:00"),
             stay_row(b, admitted_at="2026-04-03 08:00", discharged_at="2026-04-26 10:00")]
    send("stays", stays)
    ops = [operation_row(stays[0], a.chief, code="39.6500", name="体外膜肺氧合", performed_at="2026-03-05 10:00"),
           operation_row(stays[1], a.chief, code="39.6500", name="体外膜肺氧合", performed_at="2026-03-06 10:00"),
           operation_row(stays[1], a.chief, code="39.6500", name="体外膜肺氧合", performed_at="2026-03-09 10:00",
                         seq="2"),
           operation_row(stays[2], a.chief, code="39.6500", name="体外膜肺氧合", performed_at="2026-04-05 10:00"),
           operation_row(stays[2], a.chief, code="96.0400", name="气管插管", performed_at="2026-04-05 09:00",
                         seq="2"),
           operation_row(stays[3], b.chief, code="39.6500", name="体外膜肺氧合", performed_at="2026-04-06 10:00")]
    send("operations", ops)
    send("complications", [dict(source_id=f"C-{stays[0]['source_id']}", stay_source_id=stays[0]["source_id"],
                                operation_source_id=ops[0]["source_id"], code="T81.000", name="手术后出血"),
                           dict(source_id=f"C-{stays[3]['source_id']}", stay_source_id=stays[3]["source_id"],
                                code="J95.800", name="手术后肺部并发症")])
    return a, b


def _sql_count(where: str, **params) -> int:
    """The same figure counted directly in SQL: distinct stays with an ECMO operation."""
    return db.session.execute(text(
        "SELECT count(DISTINCT o.stay_id) FROM clinical_operation o "
        "JOIN catalog_item_code c ON c.code = o.code JOIN catalog_item i ON i.id = c.item_id "
        "JOIN clinical_stay s ON s.id = o.stay_id WHERE i.code = :item AND " + where),
        {"item": ECMO, **params}).scalar()


@pytest.mark.req("R2.4")
def test_cases_complications_and_deaths_equal_direct_sql_counts(ctx):
    a, b = _cases()
    officer = user("medaffairs")
    ecmo = item_by_code(ECMO)
    result = indicators.breakdown(officer, ecmo, START, END)
    total = result.total
    assert total.cases == _sql_count("1 = 1")
    assert total.deaths == _sql_count("s.discharge_method = '5'")
    assert total.complications == _sql_count("EXISTS (SELECT 1 FROM clinical_complication x WHERE x.stay_id = s.id)")
    in_a = indicators.breakdown(officer, ecmo, START, END, department_id=a.department.id).total
    assert (in_a.cases, in_a.deaths, in_a.complications) == (3, 1, 1)
    assert in_a.cases == _sql_count("o.department_id = :d", d=a.department.id)
    assert result.by_department[b.department.id].cases == 1
    assert result.by_month[date(2026, 3, 1)].cases >= 2  # the died stay counts once, in its first month
    bleeding = next(i for i in ecmo.indicators if i.key == "bleeding")
    survival = next(i for i in ecmo.indicators if i.key == "survival")
    weaning = next(i for i in ecmo.indicators if i.key == "weaning")
    assert in_a.numerator(bleeding) == 1  # T81.0 matches; the J95.8 of ward B is another kind
    b_only = indicators.breakdown(officer, ecmo, START, END, department_id=b.department.id).total
    assert b_only.complications == 1 and b_only.numerator(bleeding) == 0
    assert in_a.numerator(survival) == 2 and in_a.numerator(weaning) is None  # not on the front page
    rows = db.session.execute(indicators.case_list(officer, ecmo, START, END, department_id=a.department.id,
                                                   flag="death")).all()
    assert len(rows) == in_a.deaths and rows[0][0].discharge_method == "5"


@pytest.mark.req("R2.4")
def test_figures_and_cases_are_scoped_to_the_viewer(ctx):
    a, b = _cases()
    ecmo = item_by_code(ECMO)
    head_a = create_user("dept_head", departments=(a.department,))
    seen = indicators.breakdown(head_a, ecmo, START, END)
    assert set(seen.by_department) == {a.department.id} and seen.total.cases == 3
    listed = db.session.execute(indicators.case_list(head_a, ecmo, START, END)).all()
    assert len(listed) == 3 and {op.department_id for _stay, op in listed} == {a.department.id}
    nurse = create_user("nurse", departments=(b.department,))
    assert indicators.breakdown(nurse, ecmo, START, END).total.cases == 0


@pytest.mark.req("R2.4")
def test_pages_drill_down_to_the_cases_and_export(client, login, ctx):
    a, _b = _cases()
    ecmo = item_by_code(ECMO)
    login("medaffairs")
    period = "from=2026-03&to=2026-04"
    page = client.get(f"/catalog/restricted/{ecmo.id}?{period}&department_id={a.department.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "ECMO出血发生率" in body and "33.3%" in body  # 1 of 3
    cases = client.get(f"/catalog/restricted/{ecmo.id}/cases?{period}&department_id={a.department.id}&flag=death")
    assert cases.get_data(as_text=True).count('data-stay="') == 1
    data = client.get(f"/catalog/restricted/{ecmo.id}/data.json?{period}").get_json()
    assert data["months"] == ["2026-03", "2026-04"]
    assert sum(data["series"]["cases"]["values"]) == _sql_count("o.op_month BETWEEN '2026-03-01' AND '2026-04-01'")
    sheet = load_workbook(io.BytesIO(client.get(f"/catalog/restricted/{ecmo.id}/cases.xlsx?{period}"
                                                f"&department_id={a.department.id}").data)).active
    assert sheet.max_row - 1 == 3
    listing = client.get(f"/catalog/restricted?{period}").get_data(as_text=True)
    assert "体外膜肺氧合（ECMO）技术" in listing
    summary = load_workbook(io.BytesIO(client.get(f"/catalog/restricted.xlsx?{period}").data)).active
    row = next(r for r in summary.iter_rows(values_only=True) if r[0] == ECMO)
    assert row[3] == _sql_count("o.op_month BETWEEN '2026-03-01' AND '2026-04-01'")
