"""Process analytics: the figures equal direct computations over the same rows."""
from __future__ import annotations

import io
import itertools
import math
import statistics
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.modules.accounts.models import User
from app.modules.studio import analytics_service as service
from app.workflow import registry, runtime
from app.workflow.errors import PermissionDenied
from app.workflow.models import Instance, Task
from tests.workflow.conftest import bpmn_doc, chain, make_user

_n = itertools.count(1)
NOW = datetime(2024, 6, 20, 4, 0)  # naive UTC, 12:00 in Beijing


def _admin() -> User:
    return db.session.scalar(select(User).where(User.username == "admin"))


@pytest.fixture()
def data(ctx):
    """A two-step process; instances started over three months with chosen task durations."""
    admin = _admin()
    key = f"stats_{next(_n)}"
    [draft] = registry.save_process_draft(admin, bpmn_doc(chain(
        '<bpmn:userTask id="a" name="Apply" mt:role="initiator"/>',
        '<bpmn:userTask id="b" name="Approve" mt:role="initiator"/>'), key, name="Stats process"))
    registry.publish_process(admin, draft)
    plan = [  # started, hours on a, hours on b (None: still open at b)
        (datetime(2024, 4, 3, 1), 2.0, 10.0), (datetime(2024, 4, 20, 1), 4.0, 30.0),
        (datetime(2024, 5, 2, 1), 1.0, 5.0), (datetime(2024, 5, 31, 17), 3.0, None),  # June 1st in Beijing
        (datetime(2024, 6, 10, 1), 8.0, None),
    ]
    instances = []
    for started, hours_a, hours_b in plan:
        instance = runtime.start(admin, key)
        runtime.complete(admin, runtime.open_tasks(instance.id)[0].id, data={})
        if hours_b is not None:
            runtime.complete(admin, runtime.open_tasks(instance.id)[0].id, data={})
        db.session.refresh(instance)
        instance.started_at = started
        tasks = list(db.session.scalars(select(Task).where(Task.instance_id == instance.id).order_by(Task.id)))
        tasks[0].created_at, tasks[0].completed_at = started, started + timedelta(hours=hours_a)
        second_created = tasks[0].completed_at
        tasks[1].created_at = second_created
        if hours_b is not None:
            tasks[1].completed_at = second_created + timedelta(hours=hours_b)
            tasks[1].due_at = second_created + timedelta(hours=24)  # the 30-hour one is late
            instance.ended_at = tasks[1].completed_at
        else:
            tasks[1].due_at = NOW - timedelta(hours=1) if hours_a == 8.0 else NOW + timedelta(days=3)
        instances.append(instance)
    db.session.flush()
    return {"key": key, "admin": admin, "instances": instances}


def _direct_p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@pytest.mark.req("U2")
def test_figures_equal_direct_computations(data):
    period = service.Period(date(2024, 4, 1), date(2024, 6, 30))
    result = service.compute(data["admin"], data["key"], period, now=NOW)
    assert result.months == ["2024-04", "2024-05", "2024-06"]
    assert result.started == [2, 1, 2]  # the one started 17:00 UTC on May 31st is June 1st in Beijing
    assert result.completed == [2, 1, 0]

    tasks = list(db.session.scalars(select(Task).where(
        Task.instance_id.in_([i.id for i in data["instances"]]))))
    by_step: dict[str, list[float]] = {}
    for task in tasks:
        if task.status == "completed":
            by_step.setdefault(task.spec, []).append((task.completed_at - task.created_at).total_seconds() / 3600)
    steps = {s.spec: s for s in result.steps}
    for spec, hours in by_step.items():
        assert steps[spec].completed == len(hours)
        assert steps[spec].mean_hours == pytest.approx(round(statistics.mean(hours), 2), abs=0.01)
        assert steps[spec].p90_hours == pytest.approx(round(_direct_p90(hours), 2), abs=0.01)
        assert steps[spec].max_hours == pytest.approx(max(hours), abs=0.01)
    assert steps["a"].mean_hours == pytest.approx(3.6) and steps["b"].mean_hours == pytest.approx(15.0)
    assert steps["b"].p90_hours == pytest.approx(30.0) and steps["a"].p90_hours == pytest.approx(8.0)
    assert (steps["b"].open, steps["b"].overdue_open, steps["b"].late, steps["b"].with_due) == (2, 1, 1, 3)
    assert result.slowest.spec == "b"
    assert [t.instance_id for t in result.overdue_tasks] == [data["instances"][4].id]
    cycle = [(i.ended_at - i.started_at).total_seconds() / 3600 for i in data["instances"] if i.ended_at]
    assert result.totals["mean_cycle_hours"] == pytest.approx(statistics.mean(cycle), abs=0.01)
    assert result.totals["active"] == 2


def test_period_and_percentile_rules():
    assert service.percentile([], 90) is None
    assert service.percentile([5.0], 90) == 5.0
    assert service.percentile(list(range(1, 11)), 90) == 9
    period = service.Period.from_args({"date_from": "2024-05-10", "date_to": "2024-03-01"})
    assert (period.date_from, period.date_to) == (date(2024, 3, 1), date(2024, 5, 10))
    default = service.Period.from_args({}, today=date(2024, 6, 15))
    assert default.months()[0] == "2023-07" and default.months()[-1] == "2024-06"
    assert service.Period.from_args({"date_from": "2000-01-01"}, today=date(2024, 6, 15)).date_from.year == 2021


def test_only_administrators(data):
    with pytest.raises(PermissionDenied):
        service.compute(make_user(), data["key"], service.Period(date(2024, 4, 1), date(2024, 6, 30)))


@pytest.mark.req("U2")
def test_pages_json_and_xlsx(client, login, data):
    db.session.commit()
    login("admin")
    query = "date_from=2024-04-01&date_to=2024-06-30"
    page = client.get(f"/studio/analytics/{data['key']}?{query}").get_data(as_text=True)
    assert 'data-step="b"' in page and 'data-slowest="b"' in page and "echarts.min.js" in page
    payload = client.get(f"/studio/analytics/{data['key']}/data.json?{query}").get_json()
    assert payload["started"] == [2, 1, 2] and payload["slowest"] == "b"
    response = client.get(f"/studio/analytics/{data['key']}/export.xlsx?{query}")
    workbook = load_workbook(io.BytesIO(response.data))
    steps = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert [row[1] for row in steps[1:]] == ["b", "a"] and steps[1][3] == pytest.approx(15.0)
    months = list(workbook.worksheets[1].iter_rows(values_only=True))
    assert [row[1] for row in months[1:]] == [2, 1, 2]
    assert client.get("/studio/analytics/no_such_process").status_code == 404
    index = client.get("/studio/analytics").get_data(as_text=True)
    assert f'data-process="{data["key"]}"' in index
    assert db.session.get(Instance, data["instances"][0].id) is not None
