"""Command-line access to the DMN evaluator: ``rules eval`` and ``rules tck``.

The ``rules`` group needs no Flask application, so the ``medtech`` CLI can mount it
as is, and it also runs standalone: ``python -m app.workflow.rules_cli eval ...``.
This module also holds the DMN TCK runner (test files in the dmn-tck format:
``testCases/testCase/inputNode|resultNode`` with typed ``value``, ``component``,
``list/item`` and ``xsi:nil``).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from lxml import etree

from app.workflow.feel import ops
from app.workflow.feel.values import (
    parse_date,
    parse_datetime,
    parse_duration,
    parse_number,
    parse_time,
    to_json,
)
from app.workflow.rules import DecisionError, Definitions, load_definitions

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_NUMERIC_TYPES = {"decimal", "double", "float", "integer", "int", "long", "short", "byte"}


# --- TCK runner --------------------------------------------------------------------------


@dataclass
class TckResultNode:
    name: str
    expected: Any
    error_expected: bool = False


@dataclass
class TckCase:
    file: Path
    model: Path
    case_id: str
    inputs: dict[str, Any]
    results: list[TckResultNode] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.file.name}#{self.case_id}"


@dataclass
class TckOutcome:
    case: TckCase
    node: TckResultNode
    passed: bool
    actual: Any = None
    error: str | None = None

    def describe(self) -> str:
        got = f"error: {self.error}" if self.error else _show(self.actual)
        expected = "an error" if self.node.error_expected else _show(self.node.expected)
        return (f"FAIL {self.case.file}: test case '{self.case.case_id}', result node '{self.node.name}': "
                f"expected {expected}, got {got}")


def _show(value: Any) -> str:
    return json.dumps(to_json(value), ensure_ascii=False) if not isinstance(value, str) else json.dumps(value)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _kids(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _typed_value(el: etree._Element) -> Any:
    if el.get(_XSI_NIL) == "true":
        return None
    text = el.text or ""
    xsi_type = (el.get(_XSI_TYPE) or "").split(":")[-1]
    if xsi_type in _NUMERIC_TYPES:
        return parse_number(text)
    if xsi_type == "boolean":
        return text.strip() == "true"
    if xsi_type == "date":
        return parse_date(text)
    if xsi_type == "time":
        return parse_time(text)
    if xsi_type == "dateTime":
        return parse_datetime(text)
    if xsi_type in ("duration", "dayTimeDuration", "yearMonthDuration"):
        return parse_duration(text)
    return text


def parse_tck_value(el: etree._Element) -> Any:
    """Value of an inputNode, expected, component or item element."""
    if el.get(_XSI_NIL) == "true":
        return None
    lists = _kids(el, "list")
    if lists:
        if lists[0].get(_XSI_NIL) == "true":
            return None
        return [parse_tck_value(item) for item in _kids(lists[0], "item")]
    components = _kids(el, "component")
    if components:
        return {c.get("name"): parse_tck_value(c) for c in components}
    values = _kids(el, "value")
    if values:
        return _typed_value(values[0])
    return None


def load_tck_file(path: Path) -> list[TckCase]:
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    model_el = _kids(root, "modelName")
    model = path.parent / ((model_el[0].text or "").strip() if model_el else "")
    cases = []
    for case_el in _kids(root, "testCase"):
        inputs = {node.get("name"): parse_tck_value(node) for node in _kids(case_el, "inputNode")}
        case = TckCase(path, model, case_el.get("id") or "?", inputs)
        for node in _kids(case_el, "resultNode"):
            expected_el = _kids(node, "expected")
            expected = parse_tck_value(expected_el[0]) if expected_el else None
            case.results.append(TckResultNode(node.get("name"), expected, node.get("errorResult") == "true"))
        cases.append(case)
    return cases


def find_tck_files(directories: Iterable[str | Path]) -> list[Path]:
    files: set[Path] = set()
    for directory in directories:
        files.update(Path(directory).rglob("*-test-*.xml"))
    return sorted(files)


def tck_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(tck_equal(e, a) for e, a in zip(expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(tck_equal(expected[k], actual[k]) for k in expected)
    return ops.equal(expected, actual) is True


def run_tck_case(case: TckCase, models: dict[Path, Definitions | DecisionError] | None = None) -> list[TckOutcome]:
    models = {} if models is None else models
    if case.model not in models:
        try:
            models[case.model] = load_definitions(case.model)
        except DecisionError as exc:
            models[case.model] = exc
    definitions = models[case.model]
    outcomes = []
    for node in case.results:
        if isinstance(definitions, DecisionError):
            outcomes.append(TckOutcome(case, node, False, error=f"model does not load: {definitions}"))
            continue
        try:
            actual = definitions.evaluate_feel(node.name, case.inputs)
        except DecisionError as exc:
            outcomes.append(TckOutcome(case, node, node.error_expected, error=str(exc)))
            continue
        if node.error_expected:
            outcomes.append(TckOutcome(case, node, actual is None, actual))
        else:
            outcomes.append(TckOutcome(case, node, tck_equal(node.expected, actual), actual))
    return outcomes


def run_tck(directories: Iterable[str | Path]) -> list[TckOutcome]:
    models: dict[Path, Definitions | DecisionError] = {}
    outcomes = []
    for path in find_tck_files(directories):
        for case in load_tck_file(path):
            outcomes.extend(run_tck_case(case, models))
    return outcomes


# --- CLI ---------------------------------------------------------------------------------

rules = click.Group("rules", help="Evaluate and check DMN decision tables (no database needed).")


def _fail(message: str) -> None:
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(1)


@rules.command("eval")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--decision", "-d", "decision", required=True, help="Decision id or name.")
@click.option("--input", "-i", "input_json", default="{}", show_default=True,
              help="Input values as a JSON object, e.g. '{\"Age\": 30}'.")
def eval_command(file: str, decision: str, input_json: str) -> None:
    """Evaluate DECISION in FILE and print the result as one JSON line."""
    try:
        inputs = json.loads(input_json)
    except json.JSONDecodeError as exc:
        _fail(f"--input is not valid JSON: {exc}")
    if not isinstance(inputs, dict):
        _fail("--input must be a JSON object mapping input names to values")
    try:
        result = load_definitions(file).evaluate_feel(decision, inputs)
        line = json.dumps(to_json(result), ensure_ascii=False)
    except DecisionError as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the CLI reports, it never shows a traceback
        _fail(f"unexpected failure ({type(exc).__name__}): {exc}")
    click.echo(line)


@rules.command("tck")
@click.argument("directories", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
def tck_command(directories: tuple[str, ...]) -> None:
    """Run DMN TCK test folders and report 'N passed, M failed' over all result nodes."""
    try:
        outcomes = run_tck(directories)
    except (OSError, etree.XMLSyntaxError, ValueError) as exc:
        _fail(f"cannot read the TCK files: {exc}")
    for outcome in outcomes:
        if not outcome.passed:
            click.echo(outcome.describe())
    passed = sum(1 for o in outcomes if o.passed)
    failed = len(outcomes) - passed
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 and outcomes else 1)



if __name__ == "__main__":
    rules()
