"""Recursive-descent parser for FEEL expressions and unary tests (DMN 1.1-1.5).

Supported: literals (numbers, strings, booleans, null, ``@"..."`` temporals), names
(declared names may contain spaces), paths, filters/indexes, function calls,
arithmetic, comparisons, ``between``, ``in``, ``and``/``or``, ``if then else``,
lists, contexts and ranges; unary tests add ``-``, ``not(...)``, comparison
prefixes, intervals and comma-separated disjunctions. Iteration (for/some/every)
and user-defined functions are rejected with a clear message.
"""
from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from . import nodes as n
from .lexer import FeelSyntaxError, NameTable, Token, tokenize
from .values import parse_date, parse_datetime, parse_duration, parse_number, parse_time

_COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")
_UNSUPPORTED = {
    "for": _l("'for' loops are not supported"),
    "some": _l("'some' quantifiers are not supported"),
    "every": _l("'every' quantifiers are not supported"),
    "function": _l("function definitions are not supported"),
    "instance": _l("'instance of' is not supported"),
}


class Parser:
    def __init__(self, text: str, names: NameTable):
        self.text = text
        self.tokens = tokenize(text, names)
        self.pos = 0
        # While parsing a range end, "[" closes "]1..5[" instead of starting a filter.
        self.in_range_end = False

    # --- token helpers ---------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def at(self, kind: str, value: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (value is None or t.value == value)

    def at_op(self, *values: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in values

    def at_kw(self, *values: str) -> bool:
        return self.tok.kind == "kw" and self.tok.value in values

    def advance(self) -> Token:
        t = self.tok
        self.pos += 1
        return t

    def expect_op(self, value: str) -> Token:
        if not self.at_op(value):
            self.fail(gettext("expected '%(token)s'", token=value))
        return self.advance()

    def expect_kw(self, value: str) -> Token:
        if not self.at_kw(value):
            self.fail(gettext("expected '%(token)s'", token=value))
        return self.advance()

    def fail(self, message: str, token: Token | None = None):
        token = token or self.tok
        if token.kind == "eof":
            message = gettext("%(problem)s, found end of text", problem=message)
        else:
            message = gettext("%(problem)s, found '%(token)s'", problem=message, token=token.value)
        raise FeelSyntaxError(message, self.text, token.pos)

    def finish(self, node: n.Node) -> n.Node:
        if not self.at("eof"):
            self.fail(gettext("unexpected text after the end of the expression"))
        return node

    # --- expressions -----------------------------------------------------------
    def expression(self) -> n.Node:
        if self.at_kw("if"):
            self.advance()
            cond = self.expression()
            self.expect_kw("then")
            then = self.expression()
            self.expect_kw("else")
            return n.IfThenElse(cond, then, self.expression())
        if self.at_kw(*_UNSUPPORTED):
            self.fail(str(_UNSUPPORTED[self.tok.value]))
        return self.disjunction()

    def disjunction(self) -> n.Node:
        items = [self.conjunction()]
        while self.at_kw("or"):
            self.advance()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else n.Disjunction(tuple(items))

    def conjunction(self) -> n.Node:
        items = [self.comparison()]
        while self.at_kw("and"):
            self.advance()
            items.append(self.comparison())
        return items[0] if len(items) == 1 else n.Conjunction(tuple(items))

    def comparison(self) -> n.Node:
        left = self.additive()
        if self.at_op(*_COMPARISON_OPS):
            op = self.advance().value
            return n.Comparison(op, left, self.additive())
        if self.at_kw("between"):
            self.advance()
            low = self.additive()
            self.expect_kw("and")
            return n.Between(left, low, self.additive())
        if self.at_kw("in"):
            self.advance()
            return n.In(left, self.in_tests())
        if self.at_kw("instance"):
            self.fail(str(_UNSUPPORTED["instance"]))
        return left

    def in_tests(self) -> tuple[n.Node, ...]:
        if self.at_op("("):
            saved = self.pos
            try:
                self.advance()
                tests = self.positive_unary_tests()
                self.expect_op(")")
                return tests
            except FeelSyntaxError:
                self.pos = saved  # "(1..5]" is a range, not a parenthesised list of tests
        return (self.positive_unary_test(),)

    def additive(self) -> n.Node:
        node = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().value
            node = n.Arithmetic(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> n.Node:
        node = self.exponent()
        while self.at_op("*", "/"):
            op = self.advance().value
            node = n.Arithmetic(op, node, self.exponent())
        return node

    def exponent(self) -> n.Node:
        node = self.unary()
        while self.at_op("**"):
            self.advance()
            node = n.Arithmetic("**", node, self.unary())
        return node

    def unary(self) -> n.Node:
        if self.at_op("-"):
            self.advance()
            operand = self.unary()
            if isinstance(operand, n.Literal) and not isinstance(operand.value, (bool, str)) \
                    and operand.value is not None:
                return n.Literal(-operand.value)
            return n.Negative(operand)
        return self.postfix(self.primary())

    def postfix(self, node: n.Node) -> n.Node:
        while True:
            if self.at_op("."):
                self.advance()
                if self.tok.kind not in ("name", "kw"):
                    self.fail(gettext("expected a name after '.'"))
                node = n.Path(node, self.advance().value)
            elif self.at_op("[") and not self.in_range_end:
                self.advance()
                cond = self.expression()
                self.expect_op("]")
                node = n.Filter(node, cond)
            elif self.at_op("(") and isinstance(node, n.Name):
                node = self.call(node.name)
            else:
                return node

    def call(self, function: str) -> n.Node:
        self.expect_op("(")
        args: list[n.Node] = []
        if not self.at_op(")"):
            while True:
                if self.tok.kind == "name" and self.peek().kind == "op" and self.peek().value == ":":
                    self.fail(gettext("named arguments are not supported; pass arguments by position"))
                args.append(self.expression())
                if not self.at_op(","):
                    break
                self.advance()
        self.expect_op(")")
        return n.Call(function, tuple(args))

    def primary(self) -> n.Node:
        t = self.tok
        if t.kind == "num":
            self.advance()
            return n.Literal(parse_number(t.value))
        if t.kind == "str":
            self.advance()
            return n.Literal(t.value)
        if t.kind == "at":
            self.advance()
            return n.Literal(_temporal_literal(t, self.text))
        if t.kind == "kw":
            if t.value in ("true", "false"):
                self.advance()
                return n.Literal(t.value == "true")
            if t.value == "null":
                self.advance()
                return n.Literal(None)
            if t.value == "not" and self.peek().kind == "op" and self.peek().value == "(":
                self.advance()
                return self.call("not")
            if t.value in _UNSUPPORTED:
                self.fail(str(_UNSUPPORTED[t.value]))
            self.fail(gettext("expected a value"))
        if t.kind == "name":
            self.advance()
            return n.Name(t.value)
        if t.kind == "op":
            if t.value == "?":
                self.advance()
                return n.InputValue()
            if t.value == "(":
                self.advance()
                inner = self.expression()
                if self.at_op(".."):
                    return self.range_rest(False, inner)
                self.expect_op(")")
                return inner
            if t.value == "[":
                self.advance()
                if self.at_op("]"):
                    self.advance()
                    return n.ListNode(())
                first = self.expression()
                if self.at_op(".."):
                    return self.range_rest(True, first)
                items = [first]
                while self.at_op(","):
                    self.advance()
                    items.append(self.expression())
                self.expect_op("]")
                return n.ListNode(tuple(items))
            if t.value == "]":
                self.advance()
                return self.range_rest(False, self.expression())
            if t.value == "{":
                return self.context()
        self.fail(gettext("expected a value"))

    def range_rest(self, start_closed: bool, start: n.Node) -> n.Node:
        self.expect_op("..")
        self.in_range_end = True
        try:
            end = self.expression()
        finally:
            self.in_range_end = False
        if self.at_op("]"):
            end_closed = True
        elif self.at_op(")", "["):
            end_closed = False
        else:
            self.fail(gettext("expected ']', ')' or '[' to close the range"))
        self.advance()
        return n.RangeNode(start, start_closed, end, end_closed)

    def context(self) -> n.Node:
        self.expect_op("{")
        entries: list[tuple[str, n.Node]] = []
        if not self.at_op("}"):
            while True:
                key_tok = self.tok
                if key_tok.kind not in ("name", "str", "kw"):
                    self.fail(gettext("expected a context key"))
                self.advance()
                # An undeclared key may span several words ("total amount": ...).
                words = [key_tok.value]
                while self.tok.kind in ("name", "kw") and key_tok.kind != "str":
                    words.append(self.advance().value)
                self.expect_op(":")
                entries.append((" ".join(words), self.expression()))
                if not self.at_op(","):
                    break
                self.advance()
        self.expect_op("}")
        return n.ContextNode(tuple(entries))

    # --- unary tests -------------------------------------------------------------
    def unary_tests(self) -> n.Node:
        if self.at_op("-") and self.peek().kind == "eof":
            self.advance()
            return n.AnyTest()
        if self.at_kw("not") and self.peek().kind == "op" and self.peek().value == "(":
            saved = self.pos
            self.advance()
            self.advance()
            tests = self.positive_unary_tests()
            if self.at_op(")") and self.peek().kind == "eof":
                self.advance()
                return n.NotTests(tests)
            self.pos = saved  # e.g. "not(a) or b": an ordinary boolean expression
        return n.Disjunctive(self.positive_unary_tests())

    def positive_unary_tests(self) -> tuple[n.Node, ...]:
        tests = [self.positive_unary_test()]
        while self.at_op(","):
            self.advance()
            tests.append(self.positive_unary_test())
        return tuple(tests)

    def positive_unary_test(self) -> n.Node:
        if self.at_op("<", "<=", ">", ">=", "=", "!="):
            op = self.advance().value
            return n.CompareTest(op, self.additive())
        return n.ExpressionTest(self.expression())


def _temporal_literal(token: Token, text: str):
    value = token.value
    parsers: tuple[Callable, ...]
    if value.startswith(("P", "-P")):
        parsers = (parse_duration,)
    elif "T" in value:
        parsers = (parse_datetime,)
    elif ":" in value:
        parsers = (parse_time,)
    else:
        parsers = (parse_date,)
    try:
        return parsers[0](value)
    except ValueError as exc:
        raise FeelSyntaxError(str(exc), text, token.pos) from None


def parse_expression(text: str, names: NameTable) -> n.Node:
    parser = Parser(text, names)
    if parser.at("eof"):
        raise FeelSyntaxError(gettext("empty expression"), text, 0)
    return parser.finish(parser.expression())


def parse_unary_tests(text: str, names: NameTable) -> n.Node:
    parser = Parser(text, names)
    if parser.at("eof"):
        raise FeelSyntaxError(gettext("empty unary test (use '-' to match any value)"), text, 0)
    return parser.finish(parser.unary_tests())
