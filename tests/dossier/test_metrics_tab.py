"""The dossier's workload, efficiency and quality tab (R1.5–R1.7): the clinical module's figures,
equal to counts of the records behind them, within the viewer's scope."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.modules.clinical.models import DEATH, Operation, Stay
from tests.dossier.helpers import staff_of

PERIOD = "from=2024-11&to=2026-10"


def _card(page: str, key: str) -> str:
    match = re.search(rf'data-metric="{key}">.*?class="fs-4 fw-semibold metric-value">([^<]+)<', page, re.S)
    assert match, f"no card {key}"
    return match.group(1).strip()


def _busiest_surgeon():
    return db.session.execute(select(Operation.surgeon_id, func.count()).group_by(Operation.surgeon_id)
                              .order_by(func.count().desc()).limit(1)).first()[0]


@pytest.mark.req("R1.5")
@pytest.mark.req("R1.6")
@pytest.mark.req("R1.7")
def test_the_metrics_tab_shows_the_figures_of_the_records(client, login, ctx):
    staff_id = _busiest_surgeon()
    in_period = Stay.discharge_month.between(date(2024, 11, 1),
                                             date(2026, 10, 1))
    discharges = db.session.scalar(select(func.count(Stay.id)).where(Stay.attending_id == staff_id, in_period))
    operations = db.session.scalar(select(func.count(Operation.id)).where(
        Operation.surgeon_id == staff_id, Operation.op_month.between(date(2024, 11, 1),
                                                                      date(2026, 10, 1))))
    level4 = db.session.scalar(select(func.count(Operation.id)).where(
        Operation.surgeon_id == staff_id, Operation.level == 4, Operation.op_month.between(
            date(2024, 11, 1), date(2026, 10, 1))))
    deaths = db.session.scalar(select(func.count(Stay.id)).where(Stay.attending_id == staff_id, in_period,
                                                                Stay.discharge_method == DEATH))
    assert operations > 0
    login("medaffairs")
    page = client.get(f"/dossier/{staff_id}?tab=metrics&{PERIOD}").get_data(as_text=True)
    assert _card(page, "discharges") == f"{discharges:,}"
    assert _card(page, "operations") == f"{operations:,}"
    assert _card(page, "ops_level4") == f"{level4:,}"
    assert _card(page, "deaths") == f"{deaths:,}"
    assert f"/clinical/operations?staff_id={staff_id}" in page  # every figure drills down


@pytest.mark.req("R1.5")
def test_the_metrics_tab_follows_the_clinical_scope(client, login, ctx):
    doctor = staff_of("doctor")
    login("doctor")
    own = client.get(f"/dossier/{doctor.id}?tab=metrics").get_data(as_text=True)
    assert 'id="dossier-tab-metrics"' in own
    nurse = staff_of("nurse")
    client.post("/logout", data={"csrf_token": re.search(r'name="csrf-token" content="([^"]+)"', own).group(1)})
    login("nurse")
    page = client.get(f"/dossier/{nurse.id}?tab=metrics").get_data(as_text=True)
    assert 'id="dossier-tab-metrics"' not in page  # no metrics tab for a nurse: falls back to the first tab
    assert 'id="dossier-tab-basic"' in page
