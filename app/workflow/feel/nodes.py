"""FEEL syntax tree. Plain immutable records; the compiler turns them into closures."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Node:
    __slots__ = ()


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class InputValue(Node):
    """``?``: the value under test in a unary test."""


@dataclass(frozen=True)
class Path(Node):
    base: Node
    member: str


@dataclass(frozen=True)
class Filter(Node):
    base: Node
    condition: Node


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Negative(Node):
    operand: Node


@dataclass(frozen=True)
class Arithmetic(Node):
    op: str  # + - * / **
    left: Node
    right: Node


@dataclass(frozen=True)
class Comparison(Node):
    op: str  # = != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True)
class Conjunction(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Disjunction(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class IfThenElse(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Between(Node):
    value: Node
    low: Node
    high: Node


@dataclass(frozen=True)
class In(Node):
    value: Node
    tests: tuple[Node, ...]  # unary test nodes


@dataclass(frozen=True)
class ListNode(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class ContextNode(Node):
    entries: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class RangeNode(Node):
    start: Node
    start_closed: bool
    end: Node
    end_closed: bool


# --- unary tests ---------------------------------------------------------------


@dataclass(frozen=True)
class AnyTest(Node):
    """``-``: matches every value, null included."""


@dataclass(frozen=True)
class CompareTest(Node):
    op: str  # < <= > >= = !=
    endpoint: Node


@dataclass(frozen=True)
class ExpressionTest(Node):
    expression: Node


@dataclass(frozen=True)
class NotTests(Node):
    tests: tuple[Node, ...]


@dataclass(frozen=True)
class Disjunctive(Node):
    """A comma-separated list of positive unary tests; matches when any does."""

    tests: tuple[Node, ...]


def walk(node: Any):
    """All nodes of a tree, depth first."""
    yield node
    for value in getattr(node, "__dict__", {}).values():
        if isinstance(value, Node):
            yield from walk(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    yield from walk(item)
                elif isinstance(item, tuple):
                    for sub in item:
                        if isinstance(sub, Node):
                            yield from walk(sub)
