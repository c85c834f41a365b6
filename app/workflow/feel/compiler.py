"""Turns FEEL syntax trees into Python closures.

Compiled expressions are ``f(ctx) -> value``; compiled unary tests are
``t(value, ctx) -> True | False | None``. A rule matches only on ``True``. The
common cell shapes (a literal, a comparison with a literal, a literal interval, a
list of strings) get specialised closures with a fast path for decimals and
strings, because decision tables spend nearly all their time in them.
"""
from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask_babel import gettext

from . import builtins, ops
from . import nodes as n
from .lexer import FeelSyntaxError
from .values import DECIMAL, LIST, NUMBER, Range, kind_of

Expr = Callable[[dict], Any]
Test = Callable[[Any, dict], Any]

_ARITHMETIC = {
    "+": ops.add,
    "-": ops.subtract,
    "*": ops.multiply,
    "/": ops.divide,
    "**": ops.power,
}
_DECIMAL_FAST = {"+": DECIMAL.add, "-": DECIMAL.subtract, "*": DECIMAL.multiply}
_COMPARE = {
    "=": ops.equal,
    "!=": ops.not_equal,
    "<": ops.less,
    "<=": ops.less_equal,
    ">": ops.greater,
    ">=": ops.greater_equal,
}
_PY_COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _constant(value: Any) -> Expr:
    return lambda ctx: value


def is_constant(node: n.Node) -> bool:
    return isinstance(node, n.Literal) or (
        isinstance(node, (n.ListNode, n.RangeNode))
        and all(is_constant(c) for c in (node.items if isinstance(node, n.ListNode) else (node.start, node.end)))
    )


def compile_expression(node: n.Node, text: str = "") -> Expr:
    """Closure for an expression node; unknown functions are rejected here, not at run time."""
    method = _COMPILERS.get(type(node))
    if method is None:
        raise FeelSyntaxError(gettext("'%(node)s' cannot be used as an expression", node=type(node).__name__), text)
    fn = method(node, text)
    if is_constant(node) and not isinstance(node, n.Literal):
        value = fn({})
        return _constant(value)
    return fn


def _literal(node: n.Literal, text: str) -> Expr:
    return _constant(node.value)


def _name(node: n.Name, text: str) -> Expr:
    name = node.name
    return lambda ctx: ctx.get(name)


def _input_value(node: n.InputValue, text: str) -> Expr:
    return lambda ctx: ctx.get("?")


def _path(node: n.Path, text: str) -> Expr:
    member_name = node.member
    if isinstance(node.base, n.Name):
        base_name = node.base.name

        def path_from_name(ctx: dict) -> Any:
            value = ctx.get(base_name)
            if type(value) is dict:
                return value.get(member_name)
            return ops.member(value, member_name)

        return path_from_name
    base = compile_expression(node.base, text)
    return lambda ctx: ops.member(base(ctx), member_name)


def _filter(node: n.Filter, text: str) -> Expr:
    base = compile_expression(node.base, text)
    condition = compile_expression(node.condition, text)

    def filtered(ctx: dict) -> Any:
        items = base(ctx)
        if items is None:
            return None
        if kind_of(items) != LIST:
            items = [items]
        index = condition(ctx)
        if kind_of(index) == NUMBER:
            i = int(index)
            if i > 0 and i <= len(items):
                return items[i - 1]
            if i < 0 and -i <= len(items):
                return items[i]
            return None
        kept = []
        for item in items:
            scope = dict(ctx)
            scope["item"] = item
            if isinstance(item, dict):
                scope.update(item)
            if condition(scope) is True:
                kept.append(item)
        return kept

    return filtered


_LITERAL_CONSTRUCTORS = frozenset({"date", "time", "date and time", "duration", "number"})


def _call(node: n.Call, text: str) -> Expr:
    name = node.function
    if name not in builtins.FUNCTIONS:
        raise FeelSyntaxError(gettext("unknown function '%(name)s'", name=name), text)
    problem = builtins.arity_error(name, len(node.args))
    if problem:
        raise FeelSyntaxError(problem, text)
    args = tuple(compile_expression(a, text) for a in node.args)
    call = builtins.call
    if all(isinstance(a, n.Literal) for a in node.args) and name not in ("today", "now"):
        value = call(name, tuple(a.value for a in node.args))
        if value is None and name in _LITERAL_CONSTRUCTORS and node.args and isinstance(node.args[0].value, str):
            # A mistyped date in a rule would otherwise be null and silently never match.
            raise FeelSyntaxError(gettext('%(name)s("%(value)s") is not a valid %(name)s', name=name,
                                          value=node.args[0].value), text)
        return _constant(value)
    if len(args) == 1:
        (a0,) = args
        return lambda ctx: call(name, (a0(ctx),))
    if len(args) == 2:
        a0, a1 = args
        return lambda ctx: call(name, (a0(ctx), a1(ctx)))
    return lambda ctx: call(name, tuple(a(ctx) for a in args))


def _negative(node: n.Negative, text: str) -> Expr:
    operand = compile_expression(node.operand, text)
    return lambda ctx: ops.negative(operand(ctx))


def _arithmetic(node: n.Arithmetic, text: str) -> Expr:
    left = compile_expression(node.left, text)
    right = compile_expression(node.right, text)
    generic = _ARITHMETIC[node.op]
    if isinstance(node.left, n.Literal) and isinstance(node.right, n.Literal):
        return _constant(generic(node.left.value, node.right.value))
    fast = _DECIMAL_FAST.get(node.op)
    if fast is None:
        return lambda ctx: generic(left(ctx), right(ctx))

    def arithmetic(ctx: dict) -> Any:
        a = left(ctx)
        b = right(ctx)
        if type(a) is Decimal and type(b) is Decimal:
            return fast(a, b)
        return generic(a, b)

    return arithmetic


def _comparison(node: n.Comparison, text: str) -> Expr:
    left = compile_expression(node.left, text)
    right = compile_expression(node.right, text)
    compare = _COMPARE[node.op]
    return lambda ctx: compare(left(ctx), right(ctx))


def _conjunction(node: n.Conjunction, text: str) -> Expr:
    items = tuple(compile_expression(i, text) for i in node.items)

    def conjunction(ctx: dict) -> Any:
        result: Any = True
        for item in items:
            value = item(ctx)
            if value is False:
                return False
            if value is not True:
                result = None
        return result

    return conjunction


def _disjunction(node: n.Disjunction, text: str) -> Expr:
    items = tuple(compile_expression(i, text) for i in node.items)

    def disjunction(ctx: dict) -> Any:
        result: Any = False
        for item in items:
            value = item(ctx)
            if value is True:
                return True
            if value is not False:
                result = None
        return result

    return disjunction


def _if(node: n.IfThenElse, text: str) -> Expr:
    condition = compile_expression(node.condition, text)
    then = compile_expression(node.then, text)
    otherwise = compile_expression(node.otherwise, text)
    return lambda ctx: then(ctx) if condition(ctx) is True else otherwise(ctx)


def _between(node: n.Between, text: str) -> Expr:
    value = compile_expression(node.value, text)
    low = compile_expression(node.low, text)
    high = compile_expression(node.high, text)

    def between(ctx: dict) -> Any:
        v = value(ctx)
        lo = ops.greater_equal(v, low(ctx))
        hi = ops.less_equal(v, high(ctx))
        if lo is False or hi is False:
            return False
        return True if lo is True and hi is True else None

    return between


def _in(node: n.In, text: str) -> Expr:
    value = compile_expression(node.value, text)
    test = _any_of(tuple(compile_test(t, text) for t in node.tests))
    return lambda ctx: test(value(ctx), ctx)


def _list(node: n.ListNode, text: str) -> Expr:
    items = tuple(compile_expression(i, text) for i in node.items)
    return lambda ctx: [item(ctx) for item in items]


def _context(node: n.ContextNode, text: str) -> Expr:
    entries = tuple((key, compile_expression(value, text)) for key, value in node.entries)

    def context(ctx: dict) -> dict:
        scope = dict(ctx)
        result = {}
        for key, value in entries:
            result[key] = scope[key] = value(scope)  # later entries may use earlier ones
        return result

    return context


def _range(node: n.RangeNode, text: str) -> Expr:
    start = compile_expression(node.start, text)
    end = compile_expression(node.end, text)
    sc, ec = node.start_closed, node.end_closed
    return lambda ctx: Range(start(ctx), sc, end(ctx), ec)


_COMPILERS: dict[type, Callable[[Any, str], Expr]] = {
    n.Literal: _literal,
    n.Name: _name,
    n.InputValue: _input_value,
    n.Path: _path,
    n.Filter: _filter,
    n.Call: _call,
    n.Negative: _negative,
    n.Arithmetic: _arithmetic,
    n.Comparison: _comparison,
    n.Conjunction: _conjunction,
    n.Disjunction: _disjunction,
    n.IfThenElse: _if,
    n.Between: _between,
    n.In: _in,
    n.ListNode: _list,
    n.ContextNode: _context,
    n.RangeNode: _range,
}


# --- unary tests -------------------------------------------------------------------


def match_any(value: Any, ctx: dict) -> bool:
    return True


def _any_of(tests: tuple[Test, ...]) -> Test:
    if len(tests) == 1:
        return tests[0]

    def any_of(value: Any, ctx: dict) -> Any:
        result: Any = False
        for test in tests:
            r = test(value, ctx)
            if r is True:
                return True
            if r is not False:
                result = None
        return result

    return any_of


def compile_test(node: n.Node, text: str = "") -> Test:
    if isinstance(node, n.AnyTest):
        return match_any
    if isinstance(node, n.Disjunctive):
        return _disjunctive(node, text)
    if isinstance(node, n.NotTests):
        inner = _any_of(tuple(compile_test(t, text) for t in node.tests))

        def negated(value: Any, ctx: dict) -> Any:
            r = inner(value, ctx)
            return None if r is None else not r

        return negated
    if isinstance(node, n.CompareTest):
        return _compare_test(node, text)
    if isinstance(node, n.ExpressionTest):
        return _expression_test(node, text)
    raise FeelSyntaxError(gettext("'%(node)s' is not a unary test", node=type(node).__name__), text)


def _disjunctive(node: n.Disjunctive, text: str) -> Test:
    literals = [t.expression.value for t in node.tests
                if isinstance(t, n.ExpressionTest) and isinstance(t.expression, n.Literal)]
    if len(node.tests) > 1 and len(literals) == len(node.tests) and all(type(v) is str for v in literals):
        choices = frozenset(literals)

        def one_of_strings(value: Any, ctx: dict) -> Any:
            if type(value) is str:
                return value in choices
            return False if value is None else None

        return one_of_strings
    return _any_of(tuple(compile_test(t, text) for t in node.tests))


def _compare_test(node: n.CompareTest, text: str) -> Test:
    generic = _COMPARE[node.op]
    if isinstance(node.endpoint, n.Literal) and type(node.endpoint.value) in (Decimal, str):
        bound = node.endpoint.value
        bound_type = type(bound)
        fast = _PY_COMPARE[node.op]

        def compare_literal(value: Any, ctx: dict) -> Any:
            if type(value) is bound_type:
                return fast(value, bound)
            return generic(value, bound)

        return compare_literal
    endpoint = compile_expression(node.endpoint, text)
    return lambda value, ctx: generic(value, endpoint(ctx))


def _expression_test(node: n.ExpressionTest, text: str) -> Test:
    expr = node.expression
    if any(isinstance(x, n.InputValue) for x in n.walk(expr)):
        # "? > 5", "starts with(?, "A")": a boolean about the input value.
        fn = compile_expression(expr, text)

        def about_input(value: Any, ctx: dict) -> Any:
            ctx["?"] = value
            r = fn(ctx)
            return r if isinstance(r, bool) else None

        return about_input
    if isinstance(expr, n.Literal):
        return _literal_test(expr.value)
    if isinstance(expr, n.RangeNode) and is_constant(expr):
        rng = compile_expression(expr, text)({})
        return _range_test(rng)
    fn = compile_expression(expr, text)
    return lambda value, ctx: ops.matches_value(value, fn(ctx))


def _literal_test(literal: Any) -> Test:
    if literal is None:
        return lambda value, ctx: value is None
    if isinstance(literal, bool):
        def equals_boolean(value: Any, ctx: dict) -> Any:
            if value is True or value is False:
                return value is literal
            return False if value is None else None

        return equals_boolean
    if type(literal) in (str, Decimal):
        literal_type = type(literal)

        def equals_literal(value: Any, ctx: dict) -> Any:
            if type(value) is literal_type:
                return value == literal
            return ops.equal(value, literal)

        return equals_literal
    return lambda value, ctx: ops.matches_value(value, literal)


def _range_test(rng: Range) -> Test:
    if type(rng.start) is Decimal and type(rng.end) is Decimal:
        low, high = rng.start, rng.end
        above = operator.le if rng.start_closed else operator.lt
        below = operator.le if rng.end_closed else operator.lt

        def in_number_range(value: Any, ctx: dict) -> Any:
            if type(value) is Decimal:
                return above(low, value) and below(value, high)
            return ops.in_range(value, rng)

        return in_number_range
    return lambda value, ctx: ops.in_range(value, rng)
