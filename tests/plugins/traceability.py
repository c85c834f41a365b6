"""Requirement traceability: `@pytest.mark.req("R1.1")` tags, `--req R1.1,R1.2` selection, and
`reports/traceability.json` ({"R1.1": {"passed": n, "failed": n, "skipped": n}, …}) after every run,
the matrix a hospital's acceptance (验收) reads."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

REQ_ID = re.compile(r"^(R\d+\.\d+|U\d)$")
REPORT = Path(__file__).resolve().parents[2] / "reports" / "traceability.json"


def pytest_addoption(parser):
    parser.addoption("--req", default=None,
                     help="run only tests tagged with these requirement IDs (comma-separated)")
    parser.addoption("--traceability-file", default=str(REPORT),
                     help="where to write the requirement → outcome matrix")


def _ids(item) -> list[str]:
    ids = []
    for marker in item.iter_markers("req"):
        if len(marker.args) != 1 or not isinstance(marker.args[0], str) \
                or not REQ_ID.match(marker.args[0]):
            raise pytest.UsageError(
                f"{item.nodeid}: req markers take one requirement ID each, e.g. req(\"R1.1\")")
        ids.append(marker.args[0])
    return ids


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.req_ids = _ids(item)
    wanted = config.getoption("--req")
    if not wanted:
        return
    wanted_ids = {part.strip() for part in wanted.split(",") if part.strip()}
    selected, deselected = [], []
    for item in items:
        (selected if wanted_ids & set(item.req_ids) else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = selected


class _Collector:
    def __init__(self, path: Path):
        self.path = path
        self.outcomes: dict[str, str] = {}
        self.reqs: dict[str, list[str]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        self.reqs[item.nodeid] = getattr(item, "req_ids", [])
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed") or \
                (report.when == "teardown" and report.outcome == "failed"):
            status = "skipped" if report.skipped else report.outcome
            previous = self.outcomes.get(item.nodeid)
            if previous != "failed":
                self.outcomes[item.nodeid] = status

    def pytest_sessionfinish(self, session):
        matrix: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0})
        for nodeid, status in self.outcomes.items():
            for req in self.reqs.get(nodeid, []):
                matrix[req][status] += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(dict(sorted(matrix.items())), indent=2, ensure_ascii=False))


def pytest_configure(config):
    config.addinivalue_line("markers", "req(id): the requirement (R1.1 … U3) a test proves")
    path = Path(config.getoption("--traceability-file"))
    config.pluginmanager.register(_Collector(path), "traceability-collector")
