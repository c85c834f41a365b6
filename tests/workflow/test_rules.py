"""The DMN evaluator (app.workflow.rules + app.workflow.feel) and the `rules eval` CLI.

Pure tests: no Flask app, no database. Models are built inline with `table()` /
`literal()` or read from tests/workflow/data/.
"""
from __future__ import annotations

import json
import types
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner

from app.workflow import feel
from app.workflow.feel import YearMonthDuration
from app.workflow.rules import DecisionError, load_definitions, validate_definitions
from app.workflow.rules_cli import rules

pytestmark = pytest.mark.req("U3")

DATA = Path(__file__).resolve().parent / "data"
DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"


# --- model builders ----------------------------------------------------------------------


def dmn(*decisions: str, ns: str = DMN15, language: str | None = None, extra: str = "") -> str:
    lang = f' expressionLanguage="{language}"' if language else ""
    return (f'<definitions xmlns="{ns}" id="defs" name="test" namespace="http://medtech.example/t"{lang}>'
            f'{extra}{"".join(decisions)}</definitions>')


def table(rows, inputs=(("x", "number"),), outputs=("out",), hit="UNIQUE", aggregation=None, name="d",
          output_values=None, output_types=None, defaults=None, requires=(), table_attrs="", rule_ids=True,
          entry_language=None) -> str:
    """A decision with a table; rows are (input cells, output cells) with plain cell text."""
    cols = "".join(
        f'<input id="i{n}" label="{escape(label)}"><inputExpression typeRef="{t}">'
        f"<text>{escape(label)}</text></inputExpression></input>"
        for n, (label, t) in enumerate(inputs))
    outs = ""
    for n, out in enumerate(outputs):
        values = (output_values or {}).get(out)
        typed = (output_types or {}).get(out)
        default = (defaults or {}).get(out)
        outs += (f'<output id="o{n}" name="{out}"' + (f' typeRef="{typed}"' if typed else "") + ">"
                 + (f"<outputValues><text>{escape(values)}</text></outputValues>" if values else "")
                 + (f"<defaultOutputEntry><text>{escape(default)}</text></defaultOutputEntry>" if default else "")
                 + "</output>")
    body = ""
    lang = f' expressionLanguage="{entry_language}"' if entry_language else ""
    for r, (ins, results) in enumerate(rows, 1):
        results = results if isinstance(results, tuple) else (results,)
        rid = f' id="r{r}"' if rule_ids else ""
        body += (f"<rule{rid}>"
                 + "".join(f"<inputEntry{lang}><text>{escape(c)}</text></inputEntry>" for c in ins)
                 + "".join(f"<outputEntry><text>{escape(c)}</text></outputEntry>" for c in results)
                 + "</rule>")
    agg = f' aggregation="{aggregation}"' if aggregation else ""
    reqs = "".join(f'<informationRequirement><requiredDecision href="#{r}"/></informationRequirement>'
                   for r in requires)
    return (f'<decision id="{name}" name="{name}">{reqs}<decisionTable hitPolicy="{hit}"{agg}{table_attrs}>'
            f"{cols}{outs}{body}</decisionTable></decision>")


def literal(name: str, text: str, requires=(), decision_id=None, type_ref=None) -> str:
    reqs = "".join(f'<informationRequirement><requiredDecision href="#{r}"/></informationRequirement>'
                   for r in requires)
    var = f'<variable name="{escape(name)}" typeRef="{type_ref}"/>' if type_ref else ""
    return (f'<decision id="{decision_id or name.replace(" ", "_")}" name="{escape(name)}">{var}{reqs}'
            f"<literalExpression><text>{escape(text)}</text></literalExpression></decision>")


def input_data(name: str, type_ref: str) -> str:
    return (f'<inputData id="in_{name.replace(" ", "_")}" name="{escape(name)}">'
            f'<variable name="{escape(name)}" typeRef="{type_ref}"/></inputData>')


def evaluate(xml: str, inputs: dict, decision: str = "d"):
    return load_definitions(xml).evaluate(decision, inputs)


# --- hit policies ---------------------------------------------------------------------------

THREE_RULES = [(["> 0"], '"low"'), (["> 5"], '"high"'), (["> 3"], '"medium"')]
PRIORITY_VALUES = {"out": '"high", "medium", "low"'}
NUMBERS = [(["> 0"], "10"), (["> 5"], "20"), (["> 3"], "5")]


@pytest.mark.parametrize(
    "hit, aggregation, rows, output_values, x, expected",
    [
        ("UNIQUE", None, [(["< 10"], '"low"'), ([">= 10"], '"high"')], None, 5, "low"),
        ("UNIQUE", None, [(["< 10"], '"low"'), ([">= 10"], '"high"')], None, 10, "high"),
        ("UNIQUE", None, [(["< 10"], '"low"')], None, 12, None),
        ("FIRST", None, THREE_RULES, None, 7, "low"),
        ("FIRST", None, THREE_RULES, None, -1, None),
        ("ANY", None, [(["> 0"], '"yes"'), (["> 5"], '"yes"')], None, 7, "yes"),
        ("PRIORITY", None, THREE_RULES, PRIORITY_VALUES, 7, "high"),
        ("PRIORITY", None, THREE_RULES, PRIORITY_VALUES, 4, "medium"),
        ("PRIORITY", None, THREE_RULES, PRIORITY_VALUES, 1, "low"),
        ("RULE ORDER", None, THREE_RULES, None, 7, ["low", "high", "medium"]),
        ("RULE ORDER", None, THREE_RULES, None, 0, []),
        ("OUTPUT ORDER", None, THREE_RULES, PRIORITY_VALUES, 7, ["high", "medium", "low"]),
        ("OUTPUT ORDER", None, THREE_RULES, PRIORITY_VALUES, 4, ["medium", "low"]),
        ("COLLECT", None, THREE_RULES, None, 4, ["low", "medium"]),
        ("COLLECT", None, THREE_RULES, None, 0, []),
        ("COLLECT", "SUM", NUMBERS, None, 7, 35),
        ("COLLECT", "COUNT", NUMBERS, None, 7, 3),
        ("COLLECT", "MIN", NUMBERS, None, 7, 5),
        ("COLLECT", "MAX", NUMBERS, None, 7, 20),
        ("COLLECT", "SUM", NUMBERS, None, 0, None),
        ("COLLECT", "COUNT", NUMBERS, None, 0, None),
        ("COLLECT", "MIN", NUMBERS, None, 0, None),
        ("COLLECT", "MAX", NUMBERS, None, 0, None),
        ("COLLECT", "SUM", [(["> 0"], "0.1"), (["> 0"], "0.2")], None, 1, 0.3),
    ],
)
def test_hit_policies(hit, aggregation, rows, output_values, x, expected):
    xml = dmn(table(rows, hit=hit, aggregation=aggregation, output_values=output_values))
    assert evaluate(xml, {"x": x}) == expected


def test_unique_with_several_matches_is_an_error_naming_the_rules():
    xml = dmn(table([(["> 0"], '"a"'), (["< 10"], '"b"'), (["> 100"], '"c"')], name="Triage"))
    with pytest.raises(DecisionError) as err:
        evaluate(xml, {"x": 5}, "Triage")
    assert err.value.decision == "Triage"
    assert err.value.rules == [1, 2]
    assert "rule 1 (id r1) and rule 2 (id r2) match" in str(err.value)
    assert "UNIQUE" in str(err.value)


def test_any_with_disagreeing_matches_is_an_error():
    xml = dmn(table([(["> 0"], '"a"'), (["> 5"], '"b"')], hit="ANY"))
    assert evaluate(xml, {"x": 3}) == "a"
    with pytest.raises(DecisionError, match=r"rule 1 \(id r1\) and rule 2 \(id r2\) match with different outputs"):
        evaluate(xml, {"x": 7})


def test_default_output_entries_apply_when_no_rule_matches():
    xml = dmn(table([(["> 5"], '"big"')], defaults={"out": '"none"'}))
    assert evaluate(xml, {"x": 1}) == "none"
    assert evaluate(xml, {"x": 6}) == "big"
    collect = dmn(table([(["> 5"], "3")], hit="COLLECT", aggregation="MAX", defaults={"out": "0"}))
    assert evaluate(collect, {"x": 1}) == 0


def test_priority_with_several_outputs_orders_by_the_first_output_then_the_next():
    rows = [(["-"], ('"Declined"', '"Standard"')), (["-"], ('"Approved"', '"Standard"')),
            (["-"], ('"Approved"', '"Best"'))]
    values = {"status": '"Approved", "Declined"', "rate": '"Best", "Standard"'}
    xml = dmn(table(rows, outputs=("status", "rate"), hit="PRIORITY", output_values=values))
    assert evaluate(xml, {"x": 1}) == {"status": "Approved", "rate": "Best"}
    ordered = dmn(table(rows, outputs=("status", "rate"), hit="OUTPUT ORDER", output_values=values))
    assert evaluate(ordered, {"x": 1}) == [
        {"status": "Approved", "rate": "Best"},
        {"status": "Approved", "rate": "Standard"},
        {"status": "Declined", "rate": "Standard"},
    ]


def test_multiple_outputs_give_an_object_and_multi_hit_a_list_of_objects():
    rows = [(["< 18"], ('"minor"', "0")), (["-"], ('"any"', "x * 2"))]
    xml = dmn(table(rows, outputs=("group", "score"), hit="FIRST"))
    assert evaluate(xml, {"x": 30}) == {"group": "any", "score": 60}
    assert evaluate(xml, {"x": 3}) == {"group": "minor", "score": 0}
    multi = dmn(table(rows, outputs=("group", "score"), hit="RULE ORDER"))
    assert evaluate(multi, {"x": 3}) == [{"group": "minor", "score": 0}, {"group": "any", "score": 6}]


def test_collect_aggregation_needs_a_single_output():
    xml = dmn(table([(["-"], ("1", "2"))], outputs=("a", "b"), hit="COLLECT", aggregation="SUM"))
    with pytest.raises(DecisionError, match="COLLECT SUM needs exactly one output column"):
        load_definitions(xml)


# --- FEEL unary tests -------------------------------------------------------------------------

VARS = {"low": 2, "high": 8, "limit": 5, "limits": {"max": 9}, "allowed": ["icu", "er"],
        "Upper Limit": 10, "Start Day": "2026-03-01"}


@pytest.mark.parametrize(
    "cell, type_ref, value, matches",
    [
        ("-", "number", 5, True),
        ("-", "string", None, True),
        ("", "number", 5, True),
        ("5", "number", 5, True),
        ("5", "number", 6, False),
        ("5.0", "number", 5, True),
        ("-5", "number", -5, True),
        ('"icu"', "string", "icu", True),
        ('"icu"', "string", "ICU", False),
        ('"icu", "er"', "string", "er", True),
        ('"icu", "er"', "string", "ward", False),
        ("true", "boolean", True, True),
        ("true", "boolean", False, False),
        ("false", "boolean", False, True),
        ("null", "string", None, True),
        ("null", "string", "x", False),
        ("< 5", "number", 4, True),
        ("< 5", "number", 5, False),
        ("<= 5", "number", 5, True),
        ("> 5", "number", 5, False),
        (">= 5", "number", 5, True),
        ("= 5", "number", 5, True),
        ("!= 5", "number", 5, False),
        ("!= 5", "number", 4, True),
        ("< 5", "number", None, False),
        ("[1..5]", "number", 1, True),
        ("[1..5]", "number", 5, True),
        ("[1..5]", "number", 5.5, False),
        ("(1..5]", "number", 1, False),
        ("(1..5]", "number", 1.5, True),
        ("]1..5[", "number", 5, False),
        ("]1..5[", "number", 4.99, True),
        ("[1..5)", "number", 5, False),
        ("[1..5)", "number", 4, True),
        ('["a".."m"]', "string", "kilo", True),
        ('["a".."m"]', "string", "zulu", False),
        ("< 18, >= 60", "number", 17, True),
        ("< 18, >= 60", "number", 60, True),
        ("< 18, >= 60", "number", 30, False),
        ('not("icu", "er")', "string", "ward", True),
        ('not("icu", "er")', "string", "icu", False),
        ("not(< 5)", "number", 7, True),
        ("not(< 5)", "number", 3, False),
        ("not([1..3], > 10)", "number", 5, True),
        ("not([1..3], > 10)", "number", 11, False),
        ("not(< 5)", "number", None, False),
        ("[low..high]", "number", 8, True),
        ("[low..high]", "number", 9, False),
        ("(low..high)", "number", 2, False),
        ("limit", "number", 5, True),
        ("limit", "number", 4, False),
        ("> limit", "number", 6, True),
        ("limits.max", "number", 9, True),
        ("< limits.max", "number", 9, False),
        ("allowed", "string", "er", True),
        ("allowed", "string", "ward", False),
        ("not(allowed)", "string", "ward", True),
        ("Upper Limit", "number", 10, True),
        ("<= Upper Limit - 1", "number", 10, False),
        ("? > 3", "number", 4, True),
        ("? > 3", "number", 3, False),
        ('starts with(?, "ca")', "string", "cardiology", True),
        ('"5"', "number", 5, False),
        ("5", "string", "5", False),
    ],
)
def test_feel_unary_tests(cell, type_ref, value, matches):
    extra = input_data("Upper Limit", "number") + input_data("Start Day", "date")
    xml = dmn(table([([cell], '"hit"')], inputs=(("v", type_ref),), hit="FIRST"), extra=extra)
    assert evaluate(xml, {**VARS, "v": value}) == ("hit" if matches else None)


@pytest.mark.parametrize(
    "cell, type_ref, value, matches",
    [
        ('>= date("2026-03-01")', "date", "2026-03-01", True),
        ('>= date("2026-03-01")', "date", date(2026, 2, 28), False),
        ('[date("2026-01-01")..date("2026-12-31")]', "date", "2026-07-14", True),
        ('[date("2026-01-01")..date("2026-12-31")]', "date", "2027-01-01", False),
        ("> Start Day", "date", "2026-03-02", True),
        ("> Start Day", "date", "2026-03-01", False),
        ('< time("12:00:00")', "time", "11:59:59", True),
        ('< time("12:00:00")', "time", time(12, 0), False),
        ('> date and time("2026-03-01T08:00:00")', "dateTime", "2026-03-01T08:00:01", True),
        ('> date and time("2026-03-01T08:00:00Z")', "date and time", "2026-03-01T09:00:00+02:00", False),
        ('> date and time("2026-03-01T08:00:00Z")', "date and time", "2026-03-01T09:00:00+00:00", True),
        ('> duration("P1D")', "dayTimeDuration", "PT25H", True),
        ('> duration("P1D")', "days and time duration", "PT24H", False),
        ('[duration("PT1H")..duration("PT8H")]', "dayTimeDuration", timedelta(hours=8), True),
        ('<= duration("P1Y2M")', "yearMonthDuration", "P14M", True),
        ('<= duration("P1Y2M")', "years and months duration", "P1Y3M", False),
        ('@"2026-03-01"', "date", "2026-03-01", True),
        ('duration("P1D")', "dayTimeDuration", "P1D", True),
        ('date("2026-03-01")', "date and time", "2026-03-01T00:00:00", False),
    ],
)
def test_dates_times_and_durations_in_unary_tests(cell, type_ref, value, matches):
    xml = dmn(table([([cell], '"hit"')], inputs=(("v", type_ref),), hit="FIRST"),
              extra=input_data("Start Day", "date"))
    assert evaluate(xml, {"v": value, "Start Day": "2026-03-01"}) == ("hit" if matches else None)


# --- FEEL expressions in output entries and literal expressions --------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 10", 1024),
        ("10 / 4", 2.5),
        ("10 / 0", None),
        ("0.1 + 0.2", 0.3),
        ("-x + 1", -4),
        ('"Dr. " + name', "Dr. Ada"),
        ('name + 1', None),
        ("max(1, x, 3)", 5),
        ("min([4, x, 7])", 4),
        ("sum([1, 2, x])", 8),
        ("count([1, 2, 3])", 3),
        ("abs(-7)", 7),
        ("floor(2.7)", 2),
        ("ceiling(2.1)", 3),
        ('string length("abcd")', 4),
        ('contains("cardiology", "dio")', True),
        ('starts with("cardiology", "car")', True),
        ('ends with("cardiology", "logy")', True),
        ('upper case("icu")', "ICU"),
        ('lower case("ICU")', "icu"),
        ("not(x > 3)", False),
        ('if x > 3 then "big" else "small"', "big"),
        ('if x > 30 then "big" else "small"', "small"),
        ("x > 3 and x < 10", True),
        ("x < 0 or x = 5", True),
        ("x < 0 or x = 4", False),
        ("x between 1 and 5", True),
        ("x in [1..4]", False),
        ("x in (3, 5, 7)", True),
        ("[1, 2, x]", [1, 2, 5]),
        ("[1, 2, 3][item > 1]", [2, 3]),
        ("[10, 20, 30][2]", 20),
        ("{a: 1, b: a + x}.b", 6),
        ("applicant.address.city", "Basel"),
        ("applicant.missing", None),
        ('string(x) + "%"', "5%"),
        ('number("12.5") + 1', 13.5),
        ('date("2026-03-01") + duration("P1M")', date(2026, 4, 1)),
        ('date("2026-01-31") + duration("P1M")', date(2026, 2, 28)),
        ('date("2026-03-01") - duration("P1D")', date(2026, 2, 28)),
        ('date("2026-03-01") - date("2026-02-01")', timedelta(days=28)),
        ('date and time("2026-03-01T10:00:00") + duration("PT2H30M")', datetime(2026, 3, 1, 12, 30)),
        ('time("23:30:00") + duration("PT1H")', time(0, 30)),
        ('duration("P1Y2M") + duration("P10M")', YearMonthDuration(24)),
        ('duration("P1DT2H") * 2', timedelta(days=2, hours=4)),
        ('date("2026-03-01").year', 2026),
        ('years and months duration(date("2020-05-10"), date("2026-03-01"))', YearMonthDuration(69)),
        ('date("2026-03-01") > date("2026-02-28")', True),
        ('date("2026-03-01") = date and time("2026-03-01T00:00:00")', None),
    ],
)
def test_feel_expressions(text, expected):
    xml = dmn(literal("calc", text))
    result = evaluate(xml, {"x": 5, "name": "Ada", "applicant": {"address": {"city": "Basel"}}}, "calc")
    assert result == expected
    assert type(result) is type(expected)


def test_feel_syntax_errors_say_where():
    with pytest.raises(feel.FeelSyntaxError) as err:
        feel.compile_expression("1 + * 2")
    assert err.value.position == 4
    assert "at position 5" in str(err.value)
    with pytest.raises(feel.FeelSyntaxError, match="unknown function 'frobnicate'"):
        feel.compile_expression("frobnicate(1)")
    with pytest.raises(feel.FeelSyntaxError, match="'for' loops are not supported"):
        feel.compile_expression("for x in [1] return x")
    with pytest.raises(feel.FeelSyntaxError, match=r'date\("2026-02-30"\) is not a valid date'):
        feel.compile_unary_tests('>= date("2026-02-30")')


# --- names, paths, decision requirements ----------------------------------------------------------


def test_dotted_paths_reach_into_nested_inputs():
    xml = dmn(table([(["> 3"], '"senior"'), (["-"], '"junior"')], inputs=(("applicant.title_level", "number"),),
                    hit="FIRST"))
    assert evaluate(xml, {"applicant": {"title_level": 5}}) == "senior"
    assert evaluate(xml, {"applicant": {"title_level": "2"}}) == "junior"
    assert evaluate(xml, {"applicant": {}}) == "junior"  # a missing member is null, matched only by "-"


def test_names_with_spaces_resolve_to_the_longest_known_name():
    extra = input_data("Years", "number") + input_data("Years of Service", "number")
    xml = dmn(table([([">= 10"], '"veteran"'), (["< 10"], '"regular"')], inputs=(("Years of Service", "number"),)),
              literal("Bonus", "Years of Service * 2 + Years"), extra=extra)
    defs = load_definitions(xml)
    assert defs.evaluate("d", {"Years of Service": 12, "Years": 1}) == "veteran"
    assert defs.evaluate("Bonus", {"Years of Service": 12, "Years": 1}) == 25


def test_undeclared_input_names_with_spaces_still_work():
    xml = dmn(table([([">= 30"], '"long"'), (["< 30"], '"short"')], inputs=(("Length of Stay", "number"),)))
    assert evaluate(xml, {"Length of Stay": 31}) == "long"


def test_literal_expression_decisions_use_required_decisions():
    extra = input_data("Age", "number") + input_data("Years of Service", "number")
    base = literal("Base Vacation Days", "22", decision_id="base")
    extra_days = table([(["< 18, >= 60", "-"], "5"), (["-", ">= 30"], "5")],
                       inputs=(("Age", "number"), ("Years of Service", "number")), hit="COLLECT",
                       aggregation="MAX", name="Extra days", defaults={"out": "0"})
    total = literal("Total Vacation Days", "Base Vacation Days + max(Extra days, 0)",
                    requires=("base", "Extra days"), decision_id="total")
    defs = load_definitions(dmn(total, base, extra_days, extra=extra))
    assert defs.evaluate("Total Vacation Days", {"Age": 16, "Years of Service": 1}) == 27
    assert defs.evaluate("total", {"Age": 30, "Years of Service": 1}) == 22
    detail = defs.evaluate_detailed("total", {"Age": 61, "Years of Service": 31})
    assert detail.result == 27
    assert detail.decision_id == "total"
    assert detail.required["base"].result == 22
    assert detail.required["Extra days"].result == 5
    assert detail.required["Extra days"].matched_rules == ["r1", "r2"]
    assert detail.required["Extra days"].matched_indexes == [1, 2]
    assert detail.required["Extra days"].inputs == {"Age": 61, "Years of Service": 31}
    assert detail.inputs == {"Base Vacation Days": 22, "Extra days": 5}


def test_a_decision_named_in_an_expression_is_evaluated_even_without_a_requirement():
    xml = dmn(literal("Doubled", "Base * 2"), literal("Base", "x + 1"))
    assert evaluate(xml, {"x": 4}, "Doubled") == 10


def test_several_decisions_per_file_are_found_by_id_and_by_name():
    defs = load_definitions(dmn(literal("First One", "1", decision_id="one"), literal("Second", "2")))
    assert set(defs.decisions) == {"one", "Second"}
    assert defs.decisions["First One"].id == "one"
    assert "First One" in defs.decisions
    assert defs.evaluate("First One", {}) == 1
    with pytest.raises(DecisionError, match="there is no decision 'Third'; decisions in this model: 'First One'"):
        defs.evaluate("Third", {})


def test_tables_without_ids_report_rules_by_position():
    xml = dmn(table([(["< 0"], '"neg"'), (["> 0"], '"pos"')], rule_ids=False))
    detail = load_definitions(xml).evaluate_detailed("d", {"x": 3})
    assert (detail.result, detail.matched_rules, detail.matched_indexes) == ("pos", ["rule-2"], [2])
    assert detail.inputs == {"x": 3}


def test_requirement_cycles_are_rejected():
    xml = dmn(literal("A", "B + 1", requires=("B",)), literal("B", "A + 1", requires=("A",)))
    with pytest.raises(DecisionError, match="cycle: A -> B -> A"):
        load_definitions(xml)


# --- typeRef conversion of inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_ref, cell, value, matches",
    [
        ("number", "> 40", "42", True),
        ("number", "> 40", " 39.5 ", False),
        ("boolean", "true", "true", True),
        ("boolean", "true", "FALSE", False),
        ("date", 'date("2026-03-01")', "2026-03-01", True),
        ("date", 'date("2026-03-01")', datetime(2026, 3, 1, 15, 0), True),
        ("time", 'time("10:30:00")', "10:30:00", True),
        ("dateTime", 'date and time("2026-03-01T10:00:00Z")', "2026-03-01T12:00:00+02:00", True),
        ("dayTimeDuration", 'duration("P1DT2H")', "PT26H", True),
        ("yearMonthDuration", 'duration("P1Y2M")', "P14M", True),
        ("string", '"42"', 42, True),
        ("feel:number", "42", "42", True),
    ],
)
def test_input_strings_are_converted_by_type_ref(type_ref, cell, value, matches):
    xml = dmn(table([([cell], '"hit"')], inputs=(("v", type_ref),), hit="FIRST"))
    assert evaluate(xml, {"v": value}) == ("hit" if matches else None)


@pytest.mark.parametrize(
    "type_ref, value, message",
    [
        ("number", "forty", "expected a number, got 'forty'"),
        ("boolean", "yes", "expected a boolean (true or false), got 'yes'"),
        ("date", "2026-02-30", "'2026-02-30' is not a valid date"),
        ("date", "01.03.2026", "'01.03.2026' is not a date (expected YYYY-MM-DD)"),
        ("dayTimeDuration", "P1Y", "expected a days and time duration"),
        ("number", True, "expected a number, got true"),
        ("boolean", 1, "expected a boolean (true or false), got 1"),
    ],
)
def test_unconvertible_inputs_name_decision_and_column(type_ref, value, message):
    xml = dmn(table([(["-"], '"hit"')], inputs=(("Start", type_ref),), name="Leave"))
    with pytest.raises(DecisionError) as err:
        evaluate(xml, {"Start": value}, "Leave")
    assert (err.value.decision, err.value.column, err.value.column_kind) == ("Leave", "Start", "input")
    assert str(err.value).startswith("Decision 'Leave', input 'Start': cannot convert the input value")
    assert message in str(err.value)


def test_input_data_types_convert_values_for_literal_expressions():
    xml = dmn(literal("Due", 'Start + duration("P14D")'), extra=input_data("Start", "date"))
    assert evaluate(xml, {"Start": "2026-03-01"}, "Due") == date(2026, 3, 15)
    with pytest.raises(DecisionError, match="Decision 'Due', input data 'Start': cannot convert"):
        evaluate(xml, {"Start": "soon"}, "Due")


# --- DMN versions and expression languages ----------------------------------------------------------


@pytest.mark.parametrize(
    "namespace",
    [
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "https://www.omg.org/spec/DMN/20211108/MODEL/",
        "https://www.omg.org/spec/DMN/20230324/MODEL/",
    ],
)
def test_every_dmn_version_namespace_loads(namespace):
    xml = dmn(table([(['"icu", "er"'], '"critical"'), (["-"], '"normal"')], inputs=(("ward", "string"),),
                    hit="FIRST"), ns=namespace)
    assert evaluate(xml, {"ward": "er"}) == "critical"
    assert evaluate(xml, {"ward": "lab"}) == "normal"


def test_a_document_that_is_not_dmn_is_rejected():
    with pytest.raises(DecisionError, match="not a DMN model: the root element is 'definitions' in namespace"):
        load_definitions('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>')


@pytest.mark.parametrize(
    "language",
    [None, "https://www.omg.org/spec/DMN/20191111/FEEL/", "http://www.omg.org/spec/FEEL/20140401"],
)
def test_feel_is_the_default_and_declared_feel_uris_are_feel(language):
    xml = dmn(table([(['"icu", "er"'], '"critical"')], inputs=(("ward", "string"),)), language=language)
    assert evaluate(xml, {"ward": "icu"}) == "critical"


def test_the_dialect_is_never_guessed_per_cell():
    # In a Python table, '"icu", "er"' is a tuple compared for equality, so it does not match "icu".
    python = dmn(table([(['"icu", "er"'], '"critical"')], inputs=(("ward", "string"),)), language="python")
    assert evaluate(python, {"ward": "icu"}) is None
    # In a FEEL table, Python syntax is a parse error rather than silently run as Python.
    feel_xml = dmn(table([(['in ["icu"]'], '"critical"')], inputs=(("ward", "string"),)))
    with pytest.raises(DecisionError, match=r"rule 1 \(id r1\), input 'ward': cannot parse 'in \[\"icu\"\]'"):
        load_definitions(feel_xml)


def test_a_cell_can_declare_its_own_language():
    xml = dmn(table([(['"icu", "er"'], '"critical"')], inputs=(("ward", "string"),),
                    entry_language="https://www.omg.org/spec/DMN/20191111/FEEL/"), language="python")
    assert evaluate(xml, {"ward": "er"}) == "critical"


def test_unsupported_expression_languages_are_errors():
    xml = dmn(table([(["> 1"], '"x"')], table_attrs=' expressionLanguage="javascript"'))
    with pytest.raises(DecisionError, match="unsupported expression language 'javascript'"):
        load_definitions(xml)


# --- Python dialect (SpiffWorkflow-style cells, via app.workflow.scripting) ---------------------------

PURCHASES = [
    ({"amount": 50, "department": "icu", "urgent": None}, "auto"),
    ({"amount": 150, "department": "icu", "urgent": False}, "head nurse"),
    ({"amount": 4999, "department": "er", "urgent": True}, "head nurse"),
    ({"amount": 150, "department": "lab", "urgent": False}, "department head"),
    ({"amount": 150, "department": "lab", "urgent": True}, "duty manager LAB"),
    ({"amount": 7500, "department": "radiology", "urgent": True}, "board 7"),
    ({"amount": 7500, "department": "lab", "urgent": True}, None),
    ({"amount": "120", "department": "lab", "urgent": "false"}, "department head"),
]


@pytest.mark.parametrize("inputs, expected", PURCHASES)
def test_python_dialect_table(inputs, expected):
    defs = load_definitions(DATA / "spiff_python_dialect.dmn")
    assert defs.evaluate("purchase_route", inputs) == expected


def test_python_dialect_agrees_with_spiffworkflow_engine():
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
    from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser

    parser = BpmnDmnParser()
    parser.add_dmn_file(str(DATA / "spiff_python_dialect.dmn"))
    engine = parser.get_engine("purchase_route", None)
    workflow = types.SimpleNamespace(script_engine=PythonScriptEngine())
    ours = load_definitions(DATA / "spiff_python_dialect.dmn")
    for inputs, _ in PURCHASES[:-1]:  # SpiffWorkflow does not convert strings by typeRef
        task = types.SimpleNamespace(data=dict(inputs), workflow=workflow, task_spec=None)
        assert ours.evaluate("purchase_route", inputs) == engine.result(task).get("route")


def test_python_cells_see_other_inputs_and_the_question_mark():
    rows = [(["? > limit"], '"over"'), (["== limit"], '"at"'), (["-"], "x - limit")]
    xml = dmn(table(rows, hit="FIRST", name="Check"), language="python")
    defs = load_definitions(xml)
    assert defs.evaluate("Check", {"x": 9, "limit": 5}) == "over"
    assert defs.evaluate("Check", {"x": 5, "limit": 5}) == "at"
    assert defs.evaluate("Check", {"x": 2, "limit": 5}) == -3


def test_python_runtime_errors_are_decision_errors():
    xml = dmn(table([(["-"], "100 // x")], name="Dose"), language="python")
    with pytest.raises(DecisionError) as err:
        evaluate(xml, {"x": 0}, "Dose")
    assert (err.value.decision, err.value.rule, err.value.column) == ("Dose", 1, "out")
    assert "Decision 'Dose', rule 1 (id r1), output 'out': Python expression '100 // x' failed" in str(err.value)


def test_unsafe_python_cells_are_rejected_when_loading():
    xml = dmn(table([(["-"], "__import__('os').system('true')")], name="Evil"), language="python")
    with pytest.raises(DecisionError) as err:
        load_definitions(xml)
    assert (err.value.decision, err.value.rule, err.value.column) == ("Evil", 1, "out")
    assert "cannot use Python expression" in str(err.value)


# --- bad models ----------------------------------------------------------------------------------------


def test_malformed_xml_is_a_decision_error():
    with pytest.raises(DecisionError, match="malformed DMN XML"):
        load_definitions("<definitions><decision></definitions>")
    with pytest.raises(DecisionError, match="does not exist"):
        load_definitions(DATA / "no_such_file.dmn")


def test_unknown_hit_policy_names_the_decision():
    xml = dmn(table([(["-"], '"x"')], hit="SOMETIMES", name="Triage"))
    with pytest.raises(DecisionError) as err:
        load_definitions(xml)
    assert err.value.decision == "Triage"
    assert "Decision 'Triage': unknown hit policy 'SOMETIMES'" in str(err.value)


def test_unparsable_cell_names_decision_rule_and_column():
    xml = dmn(table([(["< 5", '"a"'], '"ok"'), (["[1..", '"b"'], '"bad"')],
                    inputs=(("Age", "number"), ("Ward", "string")), name="Triage"))
    with pytest.raises(DecisionError) as err:
        load_definitions(xml)
    e = err.value
    assert (e.decision, e.rule, e.rule_id, e.column, e.column_kind) == ("Triage", 2, "r2", "Age", "input")
    assert str(e).startswith("Decision 'Triage', rule 2 (id r2), input 'Age': cannot parse '[1..'")


def test_unparsable_output_entry_names_the_output_column():
    xml = dmn(table([(["-"], '"unterminated')], outputs=("Route",), name="Triage"))
    with pytest.raises(DecisionError, match=r"rule 1 \(id r1\), output 'Route': cannot parse"):
        load_definitions(xml)


def test_rules_with_the_wrong_number_of_entries_are_rejected():
    xml = dmn(table([(["-", "-"], '"x"')], name="Triage"))
    with pytest.raises(DecisionError, match=r"rule 1 \(id r1\): has 2 input and 1 output entries"):
        load_definitions(xml)


def test_inputs_must_be_a_mapping():
    defs = load_definitions(dmn(literal("one", "1")))
    with pytest.raises(DecisionError, match="inputs must be an object"):
        defs.evaluate("one", ["not", "a", "dict"])


# --- validate_definitions ---------------------------------------------------------------------------


def test_validation_reports_every_syntax_error():
    xml = dmn(table([(["< 5"], '"ok"'), (["[1.."], '"a"'), (["> 3"], "1 +")], name="Triage"))
    issues = validate_definitions(xml)
    errors = [i for i in issues if i.level == "error"]
    assert [(i.rule, i.column) for i in errors] == [(2, "x"), (3, "out")]
    assert all(i.decision == "Triage" for i in errors)
    assert "cannot parse '[1..'" in errors[0].message


def test_validation_reports_type_mismatches():
    xml = dmn(table([(['"High"'], '"a"'), (["> 5"], "42")], inputs=(("Age", "number"),),
                    output_types={"out": "string"}, hit="FIRST", name="Risk"))
    issues = [i for i in validate_definitions(xml) if i.level == "error"]
    assert [(i.rule, i.column) for i in issues] == [(1, "Age"), (2, "out")]
    assert "compares with a string but the column's type is number" in issues[0].message
    assert "'42' is a number but the output's type is string" in issues[1].message


def test_validation_warns_about_overlapping_unique_rules():
    rows = [
        (["< 18", '"icu"'], '"a"'),
        ([">= 18", '"icu"'], '"b"'),
        (["[10..20]", "-"], '"c"'),
        (["-", '"er"'], '"d"'),
        (["> 100", 'not("er")'], '"e"'),
    ]
    xml = dmn(table(rows, inputs=(("Age", "number"), ("Ward", "string")), name="Triage"))
    warnings = [i for i in validate_definitions(xml) if i.level == "warning"]
    pairs = sorted((w.rule, int(w.message.split("and rule ")[1].split(" ")[0])) for w in warnings)
    assert pairs == [(1, 3), (2, 3), (2, 5), (3, 4)]
    assert "Decision 'Triage': rule 1 (id r1) and rule 3 (id r3) can match the same inputs" in warnings[0].message


@pytest.mark.parametrize(
    "first, second, overlap",
    [
        ("-", "< 5", True),
        ("< 5", ">= 5", False),
        ("<= 5", ">= 5", True),
        ("[1..5)", "[5..9]", False),
        ("[1..5]", "(4..9]", True),
        ('"a", "b"', '"b"', True),
        ('"a", "b"', 'not("a", "b")', False),
        ("not([1..3])", "2", False),
        ("not([1..3])", "3.5", True),
        ("not(< 5, > 3)", "-", True),  # nothing satisfies the first cell, but "-" is never excluded
        ("not(< 5, > 3)", "4", False),
        ("true", "false", False),
        ("true", "not(false)", True),
        ('date("2026-01-01")', '>= date("2026-01-02")', False),
        ("limit", "5", True),  # a variable: unknown until run time, so possibly overlapping
        ('"5"', "5", False),
    ],
)
def test_overlap_analysis_of_unary_tests(first, second, overlap):
    from app.workflow.feel import analysis

    sets = [analysis.value_set(feel.parse_unary_tests(cell)) for cell in (first, second)]
    assert analysis.can_both_match(*sets) is overlap
    assert analysis.can_both_match(*reversed(sets)) is overlap


def test_validation_of_a_clean_model_finds_nothing():
    assert validate_definitions(DATA / "spiff_python_dialect.dmn") == []
    tck = Path(__file__).resolve().parents[1] / "conformance" / "dmn-tck" / "compliance-level-2"
    assert validate_definitions(tck / "0004-simpletable-U" / "0004-simpletable-U.dmn") == []


def test_validation_reports_unloadable_documents():
    issues = validate_definitions("<definitions")
    assert len(issues) == 1 and issues[0].level == "error" and "malformed DMN XML" in issues[0].message


# --- the `rules eval` CLI -----------------------------------------------------------------------------

APPROVAL = str(DATA / "auto_approval.dmn")


def run_cli(*args: str):
    return CliRunner().invoke(rules, list(args))


def test_cli_eval_prints_one_json_line():
    result = run_cli("eval", APPROVAL, "--decision", "Approval", "--input",
                     json.dumps({"applicant": {"title_level": 2}, "Requested Days": 2, "Leave Start": "2026-03-01"}))
    assert result.exit_code == 0, result.output
    assert result.stdout == '"auto-approved"\n'
    assert result.stderr == ""


def test_cli_eval_converts_input_strings_by_type_ref():
    before = run_cli("eval", APPROVAL, "-d", "Approval", "-i",
                     '{"applicant": {"title_level": "2"}, "Requested Days": "2", "Leave Start": "2025-12-31"}')
    assert (before.exit_code, before.stdout) == (0, "null\n")
    summary = run_cli("eval", APPROVAL, "-d", "Summary", "-i",
                      '{"applicant": {"title_level": 1}, "Requested Days": "3", "Leave Start": "2026-03-01"}')
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout) == "auto-approved from 2026-03-01 until 2026-03-03"


def test_cli_eval_prints_temporal_results_as_iso_strings(tmp_path):
    model = tmp_path / "dates.dmn"
    model.write_text(dmn(literal("Due", '{due: Start + duration("P1M"), span: duration("P1DT2H"), '
                                         'age: duration("P1Y2M"), at: time("08:30:00")}'),
                         extra=input_data("Start", "date")))
    result = run_cli("eval", str(model), "-d", "Due", "-i", '{"Start": "2026-01-31"}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"due": "2026-02-28", "span": "P1DT2H", "age": "P1Y2M", "at": "08:30:00"}


def test_cli_eval_unique_violation_exits_1_with_a_readable_error():
    result = run_cli("eval", APPROVAL, "-d", "Approval", "-i",
                     '{"applicant": {"title_level": 8}, "Requested Days": 4, "Leave Start": "2026-03-01"}')
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [(
        "error: Decision 'Approval': rule 2 (id senior_long_leave) and rule 3 (id senior_any) match, "
        "but the UNIQUE hit policy allows only one matching rule"
    )]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["-i", "{not json"], "error: --input is not valid JSON"),
        (["-i", "[1, 2]"], "error: --input must be a JSON object"),
        (["-i", '{"Leave Start": "someday"}'], "error: Decision 'Approval', input data 'Leave Start'"),
    ],
)
def test_cli_eval_bad_input_exits_1(args, message):
    result = run_cli("eval", APPROVAL, "-d", "Approval", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_eval_bad_model_exits_1(tmp_path):
    broken = tmp_path / "broken.dmn"
    broken.write_text(dmn(table([(["[1.."], '"x"')], name="Triage")))
    result = run_cli("eval", str(broken), "-d", "Triage")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Decision 'Triage', rule 1 (id r1), input 'x': cannot parse '[1..'")
    missing = run_cli("eval", str(tmp_path / "missing.dmn"), "-d", "Triage")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


# --- timezone-aware values keep their offset ----------------------------------------------------------


def test_timezone_aware_results_keep_their_offset():
    result = evaluate(dmn(literal("t", 'date and time("2026-03-01T10:00:00+02:00")')), {}, "t")
    assert result == datetime(2026, 3, 1, 10, tzinfo=timezone(timedelta(hours=2)))
    assert feel.format_value(result) == "2026-03-01T10:00:00+02:00"
