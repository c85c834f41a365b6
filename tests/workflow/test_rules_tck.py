"""The DMN TCK cases in tests/conformance/dmn-tck (github.com/dmn-tck/tck, Apache-2.0),
one test per test case, plus the `rules tck` CLI over the whole folder."""
from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from app.workflow.rules_cli import (
    find_tck_files,
    load_tck_file,
    parse_tck_value,
    rules,
    run_tck_case,
    tck_equal,
)

pytestmark = pytest.mark.req("U3")

TCK_DIR = Path(__file__).resolve().parents[1] / "conformance" / "dmn-tck"
CASES = [case for path in find_tck_files([TCK_DIR]) for case in load_tck_file(path)]


def test_the_tck_copy_is_complete():
    assert len(find_tck_files([TCK_DIR])) == 21
    assert sum(len(case.results) for case in CASES) == 88
    assert (TCK_DIR / "LICENSE-ASL-2.0.txt").is_file()
    assert "github.com/dmn-tck/tck" in (TCK_DIR / "README.md").read_text()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.file.parent.name}#{c.case_id}")
def test_tck_case(case):
    outcomes = run_tck_case(case)
    assert len(outcomes) == len(case.results) > 0
    failures = [o.describe() for o in outcomes if not o.passed]
    assert failures == []


def test_cli_tck_reports_every_result_node_passing():
    result = CliRunner().invoke(rules, ["tck", str(TCK_DIR)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines() == ["88 passed, 0 failed"]


def test_cli_tck_reports_a_wrong_expectation(tmp_path):
    case_dir = tmp_path / "0004-simpletable-U"
    shutil.copytree(TCK_DIR / "compliance-level-2" / "0004-simpletable-U", case_dir)
    test_file = case_dir / "0004-simpletable-U-test-01.xml"
    text = test_file.read_text()
    # Test case 002 expects "Declined"; claim "Approved" instead.
    head, _, tail = text.partition('<testCase id="002">')
    test_file.write_text(head + '<testCase id="002">' + tail.replace("Declined", "Approved", 1))
    result = CliRunner().invoke(rules, ["tck", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "2 passed, 1 failed"
    assert "test case '002', result node 'Approval Status'" in lines[0]
    assert 'expected "Approved", got "Declined"' in lines[0]


def _value(xml: str):
    ns = ('xmlns="http://www.omg.org/spec/DMN/20160719/testcase" '
          'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"')
    return parse_tck_value(etree.fromstring(f"<expected {ns}>{xml}</expected>"))


@pytest.mark.parametrize(
    "xml, expected",
    [
        ('<value xsi:type="xsd:decimal">64.32</value>', Decimal("64.32")),
        ('<value xsi:type="xsd:boolean">false</value>', False),
        ('<value xsi:nil="true"/>', None),
        (('<list><item><value xsi:type="xsd:string">a</value></item>'
          '<item><value xsi:type="xsd:double">2</value></item></list>'), ["a", Decimal(2)]),
        (('<component name="Status"><value xsi:type="xsd:string">ok</value></component>'
          '<component name="Rate"><value xsi:nil="true"/></component>'), {"Status": "ok", "Rate": None}),
    ],
)
def test_tck_values_are_read_with_their_types(xml, expected):
    value = _value(xml)
    assert value == expected
    assert type(value) is type(expected)


def test_tck_comparison_is_strict_about_types_and_shapes():
    assert tck_equal(Decimal(27), Decimal("27.0"))
    assert not tck_equal("27", Decimal(27))
    assert not tck_equal(["a"], ["a", "b"])
    assert not tck_equal({"a": Decimal(1)}, {"a": Decimal(1), "b": None})
    assert tck_equal(None, None)
    assert not tck_equal(None, [])
