"""Static facts about unary tests, for model validation: which literal types a
cell mentions, and which values it can match (to find overlapping rules).

A cell's matching values are approximated by a union of intervals per FEEL type.
Anything that depends on run-time data (variables, functions, ``?``) is treated as
"could match anything", so overlap reports err on the side of warning.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from . import nodes as n
from .compiler import compile_expression
from .lexer import FeelSyntaxError
from .values import BOOLEAN, ORDERED_KINDS, RANGE, Range, kind_of


class Interval(NamedTuple):
    kind: str
    low: Any  # None = unbounded
    low_closed: bool
    high: Any
    high_closed: bool


EVERYTHING = None  # value set of "-" and of anything we cannot analyse


def literal_values(node: n.Node) -> list[Any]:
    """Literal operands that the cell compares the input with."""
    out: list[Any] = []
    for test in _positive_tests(node):
        if isinstance(test, n.CompareTest):
            out.append(_constant(test.endpoint))
        elif isinstance(test, n.ExpressionTest):
            value = _constant(test.expression)
            if isinstance(value, Range):
                out.extend((value.start, value.end))
            elif isinstance(value, list):
                out.extend(value)
            else:
                out.append(value)
    return [v for v in out if v is not None and v is not _UNKNOWN]


def _positive_tests(node: n.Node) -> tuple[n.Node, ...]:
    if isinstance(node, (n.Disjunctive, n.NotTests)):
        return node.tests
    return ()


def value_set(node: n.Node) -> list[Interval] | None:
    """Intervals the cell can match, or EVERYTHING when unknown or unrestricted."""
    if isinstance(node, n.AnyTest):
        return EVERYTHING
    if isinstance(node, n.Disjunctive):
        return _union(node.tests)
    if isinstance(node, n.NotTests):
        inner = _union(node.tests)
        return EVERYTHING if inner is EVERYTHING else _complement(inner)
    return EVERYTHING


def _union(tests: tuple[n.Node, ...]) -> list[Interval] | None:
    out: list[Interval] = []
    for test in tests:
        part = _single(test)
        if part is EVERYTHING:
            return EVERYTHING
        out.extend(part)
    return out


_UNKNOWN = object()


def _constant(node: n.Node) -> Any:
    """The value of an expression that needs no data (e.g. ``date("2026-01-01")``), else _UNKNOWN."""
    if isinstance(node, n.Literal):
        return node.value
    for part in n.walk(node):
        if isinstance(part, (n.Name, n.InputValue)) or (
            isinstance(part, n.Call) and part.function in ("today", "now")
        ):
            return _UNKNOWN
    try:
        return compile_expression(node)({})
    except FeelSyntaxError:
        return _UNKNOWN


def _single(test: n.Node) -> list[Interval] | None:
    if isinstance(test, n.CompareTest) and _constant(test.endpoint) is not _UNKNOWN:
        v = _constant(test.endpoint)
        k = kind_of(v)
        if k not in ORDERED_KINDS:
            return EVERYTHING if test.op in ("!=",) else ([Interval(k, v, True, v, True)] if k else EVERYTHING)
        return {
            "<": [Interval(k, None, False, v, False)],
            "<=": [Interval(k, None, False, v, True)],
            ">": [Interval(k, v, False, None, False)],
            ">=": [Interval(k, v, True, None, False)],
            "=": [Interval(k, v, True, v, True)],
            "!=": [Interval(k, None, False, v, False), Interval(k, v, False, None, False)],
        }[test.op]
    if isinstance(test, n.ExpressionTest):
        value = _constant(test.expression)
        k = kind_of(value)
        if k in ORDERED_KINDS or k == BOOLEAN:
            return [Interval(k, value, True, value, True)]
        if isinstance(value, Range) and k == RANGE:
            k = kind_of(value.start)
            if k in ORDERED_KINDS and kind_of(value.end) == k:
                return [Interval(k, value.start, value.start_closed, value.end, value.end_closed)]
    return EVERYTHING


def _complement(intervals: list[Interval]) -> list[Interval] | None:
    kinds = {i.kind for i in intervals}
    if len(kinds) != 1:
        return EVERYTHING
    (kind,) = kinds
    if kind == BOOLEAN:
        taken = {i.low for i in intervals}
        return [Interval(BOOLEAN, b, True, b, True) for b in (False, True) if b not in taken]
    # Walk the intervals by lower bound; whatever lies between covered stretches is a gap.
    ordered = sorted(intervals, key=lambda iv: (iv.low is not None, iv.low if iv.low is not None else 0))
    gaps: list[Interval] = []
    covered_to: Any = None  # upper bound covered so far (None before the first interval)
    covered_closed = False
    for index, iv in enumerate(ordered):
        if index == 0:
            if iv.low is not None:
                gaps.append(Interval(kind, None, False, iv.low, not iv.low_closed))
        elif iv.low is not None and (
            iv.low > covered_to or (iv.low == covered_to and not covered_closed and not iv.low_closed)
        ):
            gaps.append(Interval(kind, covered_to, not covered_closed, iv.low, not iv.low_closed))
        if iv.high is None:
            return gaps
        if index == 0 or iv.high > covered_to or (iv.high == covered_to and iv.high_closed):
            covered_to, covered_closed = iv.high, iv.high_closed
    gaps.append(Interval(kind, covered_to, not covered_closed, None, False))
    return gaps


def _lower(a: Interval, b: Interval) -> tuple[Any, bool]:
    if a.low is None:
        return b.low, b.low_closed
    if b.low is None or a.low > b.low:
        return a.low, a.low_closed
    if b.low > a.low:
        return b.low, b.low_closed
    return a.low, a.low_closed and b.low_closed


def _upper(a: Interval, b: Interval) -> tuple[Any, bool]:
    if a.high is None:
        return b.high, b.high_closed
    if b.high is None or a.high < b.high:
        return a.high, a.high_closed
    if b.high < a.high:
        return b.high, b.high_closed
    return a.high, a.high_closed and b.high_closed


def intervals_meet(a: Interval, b: Interval) -> bool:
    if a.kind != b.kind:
        return False
    try:
        low, low_closed = _lower(a, b)
        high, high_closed = _upper(a, b)
        if low is None or high is None:
            return True
        return low < high or (low == high and low_closed and high_closed)
    except TypeError:  # e.g. naive vs aware times: cannot tell, so assume they may meet
        return True


def can_both_match(a: list[Interval] | None, b: list[Interval] | None) -> bool:
    """Whether some single input value could satisfy both cells."""
    if a is EVERYTHING or b is EVERYTHING:
        return True
    return any(intervals_meet(x, y) for x in a for y in b)
