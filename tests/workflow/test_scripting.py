"""Tests of the expression/script sandbox (app.workflow.scripting). Pure pytest."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import (
    ConditionalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from app.workflow.scripting import (
    SAFE_FUNCTIONS,
    ExpressionError,
    SandboxScriptEngine,
    check_expression,
    check_process_spec,
    check_script,
    compile_expression,
    evaluate,
    register_function,
    run_script,
    timer_expression_value,
)

BPMN = Path(__file__).parent / "data" / "sandbox_gateway.bpmn"


# ---------------------------------------------------------------------------
# Static check: refused constructs
# ---------------------------------------------------------------------------

# (source, text the problem must contain, line, column) -- scripts, so statements parse.
REFUSED_SCRIPTS = [
    pytest.param("import os", "import is not allowed", 1, 1, id="import"),
    pytest.param("x = 1\nfrom os import path", "from ... import is not allowed", 2, 1, id="from-import"),
    pytest.param("y = _secret", "name '_secret'", 1, 5, id="underscore-name"),
    pytest.param("y = data._private", "attribute '_private'", 1, 10, id="underscore-attribute"),
    pytest.param("y = ().__class__", "attribute '__class__'", 1, 8, id="dunder-attribute"),
    pytest.param("y = x['__class__']", "containing '__'", 1, 7, id="dunder-string"),
    pytest.param("y = f'{x}__'", "containing '__'", 1, 5, id="dunder-in-fstring"),
    pytest.param("y = '{}'.format(x)", "attribute 'format'", 1, 10, id="str-format"),
    pytest.param("y = '{a}'.format_map(d)", "attribute 'format_map'", 1, 11, id="str-format-map"),
    pytest.param("f = lambda: 1", "lambda is not allowed", 1, 5, id="lambda"),
    pytest.param("def f():\n    pass", "def (function definition) is not allowed", 1, 1, id="def"),
    pytest.param("async def f():\n    pass", "async def is not allowed", 1, 1, id="async-def"),
    pytest.param("class A:\n    pass", "class definition is not allowed", 1, 1, id="class"),
    pytest.param("global x", "global is not allowed", 1, 1, id="global"),
    pytest.param("nonlocal x", "nonlocal is not allowed", 1, 1, id="nonlocal"),
    pytest.param("with x:\n    pass", "with is not allowed", 1, 1, id="with"),
    pytest.param("try:\n    x = 1\nexcept Exception:\n    pass", "try is not allowed", 1, 1, id="try"),
    pytest.param("raise ValueError('x')", "raise is not allowed", 1, 1, id="raise"),
    pytest.param("yield 1", "yield is not allowed", 1, 1, id="yield"),
    pytest.param("await x", "await is not allowed", 1, 1, id="await"),
    pytest.param("del data.field", "changing attribute 'field'", 1, 10, id="del-attribute"),
    pytest.param("data.field = 1", "changing attribute 'field'", 1, 6, id="assign-attribute"),
    pytest.param("y = (z := 1)", "assignment expression (:=) is not allowed", 1, 6, id="walrus"),
    pytest.param("assert x", "assert is not allowed", 1, 1, id="assert"),
    pytest.param("y = b'raw'", "bytes literals are not allowed", 1, 5, id="bytes"),
    pytest.param("y = f'{x:>{width}}'", "format specs must be literal", 1, 5, id="fstring-nested-spec"),
    pytest.param("y = f'{x:>999999}'", "format spec ':>999999'", 1, 5, id="fstring-huge-width"),
]


@pytest.mark.req("U2")
@pytest.mark.parametrize("source, message, line, column", REFUSED_SCRIPTS)
def test_refused_construct_is_reported_with_location(source, message, line, column):
    problems = check_script(source)
    assert any(message in problem for problem in problems), problems
    assert any(problem.startswith(f"line {line}, column {column}:") for problem in problems), problems
    with pytest.raises(ExpressionError) as raised:
        run_script(source, {"x": 1, "data": {"field": 1}, "d": {}})
    assert message in str(raised.value)
    assert (raised.value.lineno, raised.value.col) == (line, column)
    assert raised.value.source == source


FORBIDDEN_NAMES = ["getattr", "setattr", "delattr", "vars", "globals", "locals", "eval", "exec",
                   "compile", "open", "input", "breakpoint", "type", "__import__", "help", "dir",
                   "memoryview", "classmethod", "staticmethod", "property", "super", "object",
                   "exit", "quit", "isinstance", "print"]


@pytest.mark.req("U2")
@pytest.mark.parametrize("name", FORBIDDEN_NAMES)
def test_dangerous_builtin_names_are_refused(name):
    problems = check_expression(f"{name}(x)")
    assert problems and f"name '{name}' is not allowed" in problems[0]
    with pytest.raises(ExpressionError, match=f"name '{name}' is not allowed"):
        compile_expression(f"{name}(x)")


@pytest.mark.req("U2")
@pytest.mark.parametrize("source, message", [
    pytest.param("x = 1", "syntax error", id="assignment-is-not-an-expression"),
    pytest.param("(lambda: 1)()", "lambda is not allowed", id="lambda"),
    pytest.param("[y for y in l if (z := y)]", "(:=) is not allowed", id="walrus"),
    pytest.param("a @ b", "@ operator is not allowed", id="matmul"),
    pytest.param("'%s' + __name__", "name '__name__'", id="dunder-name"),
    pytest.param("...", "'...' is not allowed", id="ellipsis"),
    pytest.param("", "expression is empty", id="empty"),
    pytest.param("1 +", "syntax error", id="malformed"),
])
def test_expression_mode_refusals(source, message):
    problems = check_expression(source)
    assert any(message in problem for problem in problems), problems
    with pytest.raises(ExpressionError, match="unsafe or invalid expression"):
        compile_expression(source)


@pytest.mark.req("U2")
@pytest.mark.parametrize("source", [None, 42, "(" * 300 + "1" + ")" * 300, "-" * 5000 + "1",
                                    "[" * 90 + "]" * 90, "x" * 200_000],
                         ids=["none", "int", "parentheses", "unary-chain", "nested-lists", "too-long"])
def test_check_never_raises_for_bad_input(source):
    assert check_expression(source)
    assert check_script(source)


@pytest.mark.parametrize("script", ["for i in range(3):\n    total = i", "if x:\n    y = 1",
                                    "while x:\n    break", "x += 1", "del x", "pass", "x[0] = 1"])
def test_script_statements_are_refused_in_expressions(script):
    assert check_script(script) == []
    assert any("syntax error" in problem for problem in check_expression(script))


# ---------------------------------------------------------------------------
# Allowed constructs evaluate correctly
# ---------------------------------------------------------------------------

DATA = {"age": 42, "name": "Ada", "items": [3, 1, 2], "ward": {"code": "ICU", "beds": 12},
        "applicant": {"title_level": 3, "title": "MUDr."}, "flags": {"urgent": True}}


@pytest.mark.parametrize("source, expected", [
    ("age * 2 + 1 - 3 / 3 // 1 % 5", 84.0),
    ("2 ** 10", 1024),
    ("1 << 4 | 1 ^ 3 & 2", 19),
    ("age > 18 and not flags.urgent or age == 42", True),
    ("18 <= age < 65", True),
    ("'adult' if age >= 18 else 'minor'", "adult"),
    ("[1, 'a', None, True, (1, 2), {'k': 1}, {1, 2}]", [1, "a", None, True, (1, 2), {"k": 1}, {1, 2}]),
    ("[x * x for x in items if x > 1]", [9, 4]),
    ("{x: x + 1 for x in items}", {3: 4, 1: 2, 2: 3}),
    ("{x % 2 for x in items}", {0, 1}),
    ("sum(x for x in items)", 6),
    ("items[0] + items[-1] + len(items[1:])", 7),
    ("name[::-1]", "adA"),
    ("f'{name} ({age:>4}) {3.14159:.2f} {name!r}'", "Ada (  42) 3.14 'Ada'"),
    ("sorted(items, reverse=True)", [3, 2, 1]),
    ("min(items) + max(items) + abs(-2) + round(2.567, 1)", 8.6),
    ("any(x > 2 for x in items) and all(x > 0 for x in items)", True),
    ("int('7') + float('0.5') + bool(0) + len(str(12))", 9.5),
    ("list(enumerate(zip('ab', items)))", [(0, ("a", 3)), (1, ("b", 1))]),
    ("tuple(range(3)) + tuple(reversed(range(2)))", (0, 1, 2, 1, 0)),
    ("dict(a=1, **{'b': 2})", {"a": 1, "b": 2}),
    ("[*items, *range(2)]", [3, 1, 2, 0, 1]),
    ("ward.get('code').lower().startswith('icu') and 'x'.upper() == 'X'", True),
    ("sorted(ward.keys()) + [k for k, v in ward.items() if v == 12]", ["beds", "code", "beds"]),
    ("' a,b '.strip().split(',')", ["a", "b"]),
    ("'-'.join(['a', 'b']) + 'x'.replace('x', 'y')", "a-by"),
    ("{1, 2} | {3} == set([1, 2, 3])", True),
])
def test_allowed_constructs(source, expected):
    assert check_expression(source) == []
    assert evaluate(source, DATA) == expected


def test_dotted_access_on_dicts():
    assert evaluate("applicant.title_level >= 3", DATA) is True
    assert evaluate("applicant.title + ' ' + name", DATA) == "MUDr. Ada"
    assert evaluate("applicant['title_level']", DATA) == 3
    with pytest.raises(ExpressionError, match=r"field 'missing' not found \(available fields: title, title_level\)"):
        evaluate("applicant.missing", DATA)


def test_unknown_names_and_run_time_errors_are_readable():
    with pytest.raises(ExpressionError, match="name 'nobody' is not defined"):
        evaluate("nobody + 1", DATA)
    with pytest.raises(ExpressionError, match="division by zero"):
        evaluate("age / 0", DATA)
    with pytest.raises(ExpressionError, match="key 'nope' not found"):
        evaluate("ward['nope']", DATA)
    with pytest.raises(ExpressionError, match="TypeError"):
        evaluate("name + 1", DATA)
    with pytest.raises(ExpressionError) as raised:
        run_script("a = 1\nb = a / 0", {})
    assert raised.value.lineno == 2


@pytest.mark.req("U2")
@pytest.mark.parametrize("source, message", [
    pytest.param("name.encode()", "method 'encode' is not allowed on str values", id="unlisted-method"),
    pytest.param("len.count", "attribute 'count' is not available on function values", id="function-attr"),
    pytest.param("dict.fromkeys(items)", "method 'fromkeys' is not allowed", id="class-method"),
    pytest.param("items.append(4)", "only allowed in script tasks", id="mutation-in-expression"),
    pytest.param("'%s' % name", "'%' string formatting is not allowed", id="percent-format"),
    pytest.param("sum([[1], [2]], [])", "sum() only adds numbers", id="sum-of-lists"),
])
def test_run_time_refusals(source, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(source, DATA)


# ---------------------------------------------------------------------------
# Run-time limits
# ---------------------------------------------------------------------------

@pytest.mark.req("U2")
@pytest.mark.parametrize("source, message", [
    pytest.param("9**9**9", "value too large", id="power-tower"),
    pytest.param("'x' * 10**10", "value too large", id="string-repeat"),
    pytest.param("[0] * 10**9", "value too large", id="list-repeat"),
    pytest.param("list(range(10**12))", "value too large", id="huge-range"),
    pytest.param("range(10**100)", "value too large", id="astronomic-range"),
    pytest.param("str(10**100000)", "value too large", id="huge-int-to-str"),
    pytest.param("1 << 10**9", "value too large", id="left-shift"),
    pytest.param("[[0] * 10**6] * 1000", "value too large", id="nested-repeat"),
    pytest.param("[[x for x in range(1000)] for y in range(1000)]", "step limit", id="nested-comprehensions"),
    pytest.param("sum(x for x in range(10**6))", "step limit", id="long-generator"),
    pytest.param("[s.upper() for i in range(100)]", "created more than", id="allocation-total"),
    pytest.param("[*big, *big]", "value too large", id="unpacking"),
    pytest.param("s.replace('x', s)", "value too large", id="replace-amplification"),
    pytest.param("f'{[s] * 5}'", "value too large", id="fstring-of-huge"),
    pytest.param("sorted(range(10**6), key=str)", "step limit|time limit", id="key-function-calls"),
    pytest.param("sum(abs(x) for x in big) + sum(big) * 10**4300", "value too large|step limit", id="big-int-product"),
])
def test_run_time_limits_stop_quickly(source, message):
    variables = {"s": "x" * 900_000, "big": list(range(900_000))}
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=message):
        evaluate(source, variables)
    assert time.monotonic() - started < 2


@pytest.mark.req("U2")
def test_infinite_loop_in_script_hits_step_limit():
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"step limit \(100000 steps\)"):
        run_script("while True:\n    pass", {})
    assert time.monotonic() - started < 2


@pytest.mark.req("U2")
def test_infinite_loop_in_script_hits_time_limit():
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"time limit \(0.2 s\)") as raised:
        run_script("n = 0\nwhile True:\n    n += 1", {}, timeout=0.2, max_steps=10**12)
    assert 0.2 <= time.monotonic() - started < 1.5
    assert raised.value.lineno == 2  # the loop that ran away


@pytest.mark.req("U2")
def test_growing_list_in_script_is_stopped():
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="value too large|step limit|time limit"):
        run_script("l = [1]\nfor i in range(60):\n    l.extend(l)", {})
    assert time.monotonic() - started < 2


def test_rounding_huge_negative_precision_does_not_hang():
    started = time.monotonic()
    assert evaluate("round(1, -10**9)", {}) == 0
    assert evaluate("round(1234, -2)", {}) == 1200
    assert time.monotonic() - started < 1


def test_limits_are_configurable():
    assert evaluate("len([0] * 2000)", {}, max_size=2000) == 2000
    with pytest.raises(ExpressionError, match="value too large"):
        evaluate("[0] * 2001", {}, max_size=2000)
    # One step for the range() call plus one per item.
    with pytest.raises(ExpressionError, match=r"step limit \(11 steps\)"):
        evaluate("[x for x in range(11)]", {}, max_steps=11)
    assert evaluate("[x for x in range(10)]", {}, max_steps=11) == list(range(10))
    with pytest.raises(TypeError):
        evaluate("1", {}, max_stepz=10)


def test_thread_safety_budgets_are_per_evaluation():
    # Each run needs about 400 of its 500 steps: a shared counter would overflow at once.
    script = "total = 0\nfor i in range(n):\n    total += i"
    compiled = compile_expression("sum(x * factor for x in range(400))", max_steps=500)
    failures: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(factor: int) -> None:
        barrier.wait()
        try:
            for _ in range(30):
                assert compiled({"factor": factor}) == factor * sum(range(400))
                data = {"n": 400}
                run_script(script, data, max_steps=500)
                assert data["total"] == sum(range(400))
        except Exception as exc:  # noqa: BLE001 -- threads report failures to the main thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(factor,)) for factor in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_thread_safety_a_runaway_evaluation_does_not_affect_others():
    results: dict[str, object] = {}

    def runaway() -> None:
        try:
            run_script("while True:\n    pass", {}, max_steps=10**12, timeout=0.3)
        except ExpressionError as exc:
            results["runaway"] = str(exc)

    thread = threading.Thread(target=runaway)
    thread.start()
    values = [evaluate("age + 1", DATA) for _ in range(200)]
    thread.join()
    assert values == [43] * 200
    assert "time limit" in results["runaway"]


# ---------------------------------------------------------------------------
# Scripts
# ---------------------------------------------------------------------------

def test_script_assignments_loops_and_mutation():
    data = {"items": [1, 2, 3], "patient": {"name": "Ada"}, "gone": 1}
    run_script(
        "count = 0\n"
        "for x in items:\n"
        "    if x == 2:\n"
        "        continue\n"
        "    count += x\n"
        "while count < 10:\n"
        "    count *= 2\n"
        "    if count > 100:\n"
        "        break\n"
        "else:\n"
        "    pass\n"
        "patient['ward'] = 'ICU'\n"
        "items.append(4)\n"
        "first, *rest = items\n"
        "del gone\n"
        "when = add_days(date(2026, 1, 30), 2)\n"
        "pair = (1, 2)\n"
        "helper = len\n",
        data,
    )
    assert data["count"] == 16
    assert data["patient"] == {"name": "Ada", "ward": "ICU"}
    assert data["items"] == [1, 2, 3, 4] and data["first"] == 1 and data["rest"] == [2, 3, 4]
    assert "gone" not in data
    assert data["when"] == "2026-02-01"  # dates are stored as ISO text
    assert data["pair"] == [1, 2]
    assert "helper" not in data  # functions never become process data


@pytest.mark.parametrize("script, message", [
    pytest.param("s = {1, 2}", "variable 's' holds a set value", id="set"),
    pytest.param("z = zip([1], [2])", "variable 'z' holds a zip value", id="iterator"),
    pytest.param("d = {1: 'a'}", "non-text key 1", id="non-text-key"),
    pytest.param("t = [days(1)]", r"variable 't\[0\]' holds a timedelta", id="nested-timedelta"),
])
def test_script_stores_only_json_like_values(script, message):
    data = {"keep": 1}
    with pytest.raises(ExpressionError, match=message):
        run_script(script, data)
    assert data == {"keep": 1}  # nothing is written back when the script fails


@pytest.mark.parametrize("script, message", [
    pytest.param("items.append({1})", r"variable 'items\[1\]' holds a set value", id="set-appended"),
    pytest.param("l = [1]\nl.append(l)", "contains itself", id="cycle"),
    pytest.param("x = []\nfor i in range(150):\n    x = [x]", "nested more than 100 levels", id="deep"),
])
def test_script_results_are_checked_even_when_changed_in_place(script, message):
    data = {"items": [0]}
    with pytest.raises(ExpressionError, match=message):
        run_script(script, data)


def test_untouched_existing_data_is_left_alone():
    marker = object()  # e.g. a value another component put into the task data
    data = {"other": marker, "when": date(2026, 1, 1), "n": 1}
    run_script("n += 1", data)
    assert data == {"other": marker, "when": date(2026, 1, 1), "n": 2}


@pytest.mark.parametrize("source", [None, 3, ["x"]], ids=["none", "int", "list"])
def test_non_text_source_raises_expression_error(source):
    with pytest.raises(ExpressionError, match="must be text"):
        compile_expression(source)
    with pytest.raises(ExpressionError, match="must be text"):
        run_script(source, {})


def test_script_cannot_overwrite_builtins_of_other_runs():
    data: dict = {}
    run_script("len = 5\nx = len", data)
    assert data == {"len": 5, "x": 5}
    assert evaluate("len([1, 2])", {}) == 2


def test_data_keys_cannot_smuggle_builtins():
    with pytest.raises(ExpressionError, match="name 'open' is not allowed"):
        evaluate("open", {"__builtins__": {"open": open}})
    assert evaluate("len('ab')", {"__builtins__": {"len": lambda value: 99}}) == 2


def test_register_function():
    register_function("bmi", lambda weight, height: round(weight / height ** 2, 1))
    assert "bmi" in SAFE_FUNCTIONS
    assert evaluate("bmi(80, 2)", {}) == 20.0
    for bad_name in ("_hidden", "eval", "not a name"):
        with pytest.raises(ValueError):
            register_function(bad_name, len)


# ---------------------------------------------------------------------------
# Date helpers
# ---------------------------------------------------------------------------

def test_date_helpers():
    assert evaluate("today()", {}) == date.today()
    assert abs(evaluate("now()", {}) - datetime.now()) < timedelta(seconds=5)
    assert evaluate("date(2026, 3, 1) + days(1)", {}) == date(2026, 3, 2)
    assert evaluate("datetime(2026, 3, 1, 10) + timedelta(hours=2)", {}) == datetime(2026, 3, 1, 12)
    assert evaluate("parse_date('2026-03-01')", {}) == date(2026, 3, 1)
    assert evaluate("parse_date('2026-03-01T10:00:00Z').hour", {}) == 10
    assert evaluate("add_days('2026-02-27', 2)", {}) == date(2026, 3, 1)
    assert evaluate("add_months(date(2026, 1, 31), 1)", {}) == date(2026, 2, 28)
    assert evaluate("add_months(date(2024, 1, 31), 1)", {}) == date(2024, 2, 29)
    assert evaluate("add_months(date(2026, 3, 15), -3)", {}) == date(2025, 12, 15)
    assert evaluate("years_between(birth, date(2026, 4, 30))", {"birth": "1990-05-01"}) == 35
    assert evaluate("years_between(date(1990, 5, 1), date(2026, 5, 1))", {}) == 36
    assert evaluate("days_between('2026-01-01', datetime(2026, 3, 1, 8))", {}) == 59
    assert evaluate("date(2026, 3, 1).year + parse_date('2026-03-01').weekday()", {}) == 2026 + 6
    with pytest.raises(ExpressionError, match="cannot parse date '1.3.2026'"):
        evaluate("parse_date('1.3.2026')", {})


# ---------------------------------------------------------------------------
# Timers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("R6/P1D", "R6/P1D"),
    ("PT2H", "PT2H"),
    ("'PT2H'", "PT2H"),
    ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"),
    (" P1Y2M10DT2H30M ", "P1Y2M10DT2H30M"),
    ("R/2026-03-01T08:00:00Z/PT12H", "R/2026-03-01T08:00:00Z/PT12H"),
    ("'PT' + str(hours) + 'H'", "PT4H"),
    ("datetime(2026, 3, 1, 10)", "2026-03-01T10:00:00"),
    ("days(2)", "P2D"),
    ("timedelta(hours=2)", "PT7200S"),
])
def test_timer_expression_value(text, expected):
    assert timer_expression_value(text, {"hours": 4}) == expected


@pytest.mark.req("U2")
def test_timer_expression_is_still_sandboxed():
    with pytest.raises(ExpressionError, match="name '__import__'"):
        timer_expression_value("__import__('os').getcwd()", {})
    with pytest.raises(ExpressionError, match="must give ISO 8601 text"):
        timer_expression_value("42", {})


def test_engine_passes_iso_literals_only_for_timer_definitions():
    engine = SandboxScriptEngine()
    timer_task = SimpleNamespace(task_spec=SimpleNamespace(
        event_definition=CycleTimerEventDefinition("every day", "R6/P1D")), data={})
    assert engine.evaluate(timer_task, "R6/P1D") == "R6/P1D"
    # Outside a timer definition the same text is an ordinary expression (R6 divided by P1D).
    plain_task = _workflow("sandbox_gateway").get_tasks()[0]
    with pytest.raises(WorkflowTaskException, match="name 'R6' is not defined"):
        engine.evaluate(plain_task, "R6/P1D")
    with pytest.raises(WorkflowTaskException, match="name 'PT2H' is not defined"):
        engine.evaluate(plain_task, "PT2H")


# ---------------------------------------------------------------------------
# SpiffWorkflow integration
# ---------------------------------------------------------------------------

def _workflow(process_id: str, **data) -> BpmnWorkflow:
    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN))
    workflow = BpmnWorkflow(parser.get_spec(process_id), script_engine=SandboxScriptEngine())
    workflow.get_tasks()[0].data.update(data)
    return workflow


def _run_to_end(workflow: BpmnWorkflow) -> None:
    for _ in range(20):
        workflow.refresh_timers()
        workflow.do_engine_steps()
        if workflow.is_completed():
            return
        time.sleep(0.01)


@pytest.mark.req("U2")
@pytest.mark.parametrize("age, ward, route", [(60, "ICU-2", "high"), (60, "Ward-1", "low"), (20, "ICU-1", "low")])
def test_gateway_and_script_tasks_run_in_sandbox(age, ward, route):
    workflow = _workflow("sandbox_gateway", patient={"age": age, "diagnoses": ["flu"], "ward": ward})
    _run_to_end(workflow)
    assert workflow.is_completed()
    assert workflow.data["route"] == route
    assert workflow.data["labels"] == ["FLU"]
    assert workflow.data["checked_on"] == date.today().isoformat()


@pytest.mark.req("U2")
def test_unsafe_gateway_condition_fails_at_run_time_and_at_validation():
    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN))
    problems = check_process_spec(parser.get_spec("sandbox_unsafe_gateway"))
    assert any("Escape attempt" in p and "'__class__' is not allowed" in p for p in problems)
    assert check_process_spec(parser.get_spec("sandbox_gateway")) == []
    workflow = _workflow("sandbox_unsafe_gateway")
    with pytest.raises(WorkflowTaskException) as raised:
        workflow.do_engine_steps()
    assert isinstance(raised.value.__cause__, ExpressionError)
    assert "'__class__' is not allowed" in str(raised.value)
    assert not workflow.is_completed()


@pytest.mark.req("U2")
def test_check_process_spec_covers_scripts_loops_and_events():
    spec = SimpleNamespace(task_specs={
        "script": SimpleNamespace(bpmn_name="Import", script="import os"),
        "pre": SimpleNamespace(bpmn_name=None, prescript="x = 1", postscript="eval('1')"),
        "mi": SimpleNamespace(bpmn_name="Doses", cardinality="len(doses)", condition="().__class__"),
        "iso": SimpleNamespace(bpmn_name="Wait", event_definition=DurationTimerEventDefinition("t", "PT2H")),
        "timer": SimpleNamespace(bpmn_name="Later", event_definition=DurationTimerEventDefinition("t", "open('f')")),
        "cond": SimpleNamespace(bpmn_name="Watch", event_definition=ConditionalEventDefinition("lambda: 1")),
    })
    problems = check_process_spec(spec)
    assert [problem.split(":")[0:2] for problem in problems] == [
        ["Import", " script"], ["pre", " postscript"], ["Doses", " loop condition"],
        ["Later", " timer"], ["Watch", " event expression"],
    ]


@pytest.mark.req("U2")
def test_failing_script_task_reports_line():
    workflow = _workflow("sandbox_gateway", patient={"age": 60, "diagnoses": "flu", "ward": "X"})
    workflow.get_tasks()[0].data["patient"]["diagnoses"] = 5  # len(5) fails on line 1
    with pytest.raises(WorkflowTaskException) as raised:
        workflow.do_engine_steps()
    assert raised.value.error_type == "ExpressionError"
    assert raised.value.line_number == 1
    assert "object of type 'int' has no len()" in str(raised.value)


def test_unquoted_timers_and_multi_instance_cardinality_run_in_sandbox():
    workflow = _workflow("sandbox_timers", doses=[1, 2, 3])
    _run_to_end(workflow)
    assert workflow.is_completed()
    children = [task for task in workflow.get_tasks() if task.task_spec.name == "repeat [child]"]
    assert len(children) == 3  # loopCardinality len(doses) evaluated in the sandbox
    assert all(child.data["given"] is True for child in children)
