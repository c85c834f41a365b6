"""FEEL (Friendly Enough Expression Language, DMN 1.1-1.5) for decision tables.

Usage::

    from app.workflow import feel
    names = feel.NameTable({"Years of Service"})
    expr = feel.compile_expression("Years of Service * 2", names)
    expr({"Years of Service": Decimal(3)})          # Decimal('6')
    test = feel.compile_unary_tests("[1..5], > 10", names)
    test(Decimal(12), {})                           # True

Values inside FEEL are FEEL values (see :mod:`.values`); use :func:`normalize`
on plain Python data before evaluating and :func:`to_python` on results.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import nodes
from .builtins import FUNCTIONS, MULTI_WORD_FUNCTIONS
from .compiler import Expr, Test, compile_test, match_any
from .compiler import compile_expression as _compile_expression
from .lexer import FeelSyntaxError
from .lexer import NameTable as _NameTable
from .parser import parse_expression as _parse_expression
from .parser import parse_unary_tests as _parse_unary_tests
from .values import (
    Range,
    YearMonthDuration,
    format_value,
    kind_of,
    normalize,
    parse_date,
    parse_datetime,
    parse_duration,
    parse_time,
    to_json,
    to_python,
)

__all__ = [
    "CompiledExpression",
    "CompiledTests",
    "FeelSyntaxError",
    "NameTable",
    "Range",
    "YearMonthDuration",
    "compile_expression",
    "compile_unary_tests",
    "evaluate",
    "format_value",
    "kind_of",
    "normalize",
    "parse_date",
    "parse_datetime",
    "parse_duration",
    "parse_expression",
    "parse_time",
    "parse_unary_tests",
    "referenced_names",
    "to_json",
    "to_python",
]


class NameTable(_NameTable):
    """Declared names plus FEEL's multi-word built-in function names."""

    def __init__(self, names: Iterable[str] = ()):
        super().__init__(names, MULTI_WORD_FUNCTIONS)


def _table(names: NameTable | Iterable[str] | None) -> NameTable:
    if isinstance(names, _NameTable):
        return names  # type: ignore[return-value]
    return NameTable(names or ())


def parse_expression(text: str, names: NameTable | Iterable[str] | None = None) -> nodes.Node:
    return _parse_expression(text, _table(names))


def parse_unary_tests(text: str, names: NameTable | Iterable[str] | None = None) -> nodes.Node:
    return _parse_unary_tests(text, _table(names))


class CompiledExpression:
    """A parsed and compiled FEEL expression; call it with a context of FEEL values."""

    __slots__ = ("fn", "node", "text")

    def __init__(self, text: str, node: nodes.Node, fn: Expr):
        self.text = text
        self.node = node
        self.fn = fn

    def __call__(self, ctx: dict) -> Any:
        return self.fn(ctx)


class CompiledTests:
    """Parsed and compiled unary tests; ``tests(value, ctx)`` is True, False or None."""

    __slots__ = ("fn", "matches_anything", "node", "text")

    def __init__(self, text: str, node: nodes.Node, fn: Test):
        self.text = text
        self.node = node
        self.fn = fn
        self.matches_anything = fn is match_any

    def __call__(self, value: Any, ctx: dict) -> Any:
        return self.fn(value, ctx)


def compile_expression(text: str, names: NameTable | Iterable[str] | None = None) -> CompiledExpression:
    """Parse and compile; raises FeelSyntaxError with the position of the problem."""
    node = parse_expression(text, names)
    return CompiledExpression(text, node, _compile_expression(node, text))


def compile_unary_tests(text: str, names: NameTable | Iterable[str] | None = None) -> CompiledTests:
    node = parse_unary_tests(text, names)
    return CompiledTests(text, node, compile_test(node, text))


def evaluate(text: str, variables: Mapping[str, Any] | None = None) -> Any:
    """One-off evaluation with plain Python variables; the result is plain Python too."""
    variables = dict(variables or {})
    expr = compile_expression(text, [k for k in variables if " " in k])
    return to_python(expr(normalize(variables)))


def referenced_names(node: nodes.Node) -> set[str]:
    """Top-level variable names an expression or unary test reads."""
    return {x.name for x in nodes.walk(node) if isinstance(x, nodes.Name)}


def is_builtin(name: str) -> bool:
    return name in FUNCTIONS
