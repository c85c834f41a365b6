"""Static half of the expression sandbox: whitelist check and safety rewrite of the AST.

The checker accepts only a small, explicitly listed subset of Python. The rewriter
then routes attribute access, size-amplifying operators, loops and comprehensions
through the run-time helpers of sandbox_runtime (names prefixed `_sb_`, which user
code can never spell because names starting with "_" are refused).
"""
from __future__ import annotations

import ast
import copy
import re
from typing import Any

MAX_SOURCE_LENGTH = {"eval": 10_000, "exec": 100_000}
MAX_DEPTH = 60

FORBIDDEN_NAMES = frozenset([
    "getattr", "setattr", "delattr", "hasattr", "vars", "globals", "locals", "eval", "exec",
    "compile", "open", "input", "breakpoint", "type", "help", "dir", "memoryview",
    "classmethod", "staticmethod", "property", "super", "object", "exit", "quit", "print",
    "isinstance", "issubclass", "callable", "id", "hash", "iter", "next", "format", "repr",
    "ascii", "chr", "ord", "bytes", "bytearray", "__import__",
])
FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map"})

# Refused statements/expressions with the wording used in error messages.
_REFUSED: dict[type, str] = {
    ast.Import: "import", ast.ImportFrom: "from ... import", ast.Lambda: "lambda",
    ast.FunctionDef: "def (function definition)", ast.AsyncFunctionDef: "async def",
    ast.ClassDef: "class definition", ast.Global: "global", ast.Nonlocal: "nonlocal",
    ast.With: "with", ast.AsyncWith: "async with", ast.Try: "try", ast.Raise: "raise",
    ast.Yield: "yield", ast.YieldFrom: "yield from", ast.Await: "await", ast.Return: "return",
    ast.NamedExpr: "assignment expression (:=)", ast.Assert: "assert", ast.Match: "match",
    ast.AsyncFor: "async for", ast.AnnAssign: "annotated assignment", ast.MatMult: "@ operator",
}
if hasattr(ast, "TryStar"):
    _REFUSED[ast.TryStar] = "try"

_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift,
              ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.And, ast.Or, ast.Not, ast.USub,
              ast.UAdd, ast.Invert, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is,
              ast.IsNot, ast.In, ast.NotIn, ast.Load, ast.Store)
_EXPRESSION_NODES = frozenset((
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Dict, ast.Set, ast.List,
    ast.Tuple, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.Compare, ast.Call, ast.keyword, ast.Constant, ast.JoinedStr, ast.FormattedValue,
    ast.Attribute, ast.Subscript, ast.Slice, ast.Starred, ast.Name) + _OPERATORS)
_SCRIPT_NODES = _EXPRESSION_NODES | frozenset((
    ast.Module, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.While, ast.Break, ast.Continue,
    ast.Pass, ast.Expr, ast.Delete, ast.Del))

# Only simple, bounded format specs: optional fill/align, sign, width <= 3 digits, precision.
_FORMAT_SPEC = re.compile(r"(.?[<>^=])?[+\- ]?0?\d{0,3}[,_]?(\.\d{1,2})?[bdeEfFgGnosxX%]?")

_GUARDED_OPERATORS = {ast.Add: "_sb_add", ast.Sub: "_sb_sub", ast.Mult: "_sb_mul",
                      ast.Pow: "_sb_pow", ast.LShift: "_sb_lshift", ast.Mod: "_sb_mod",
                      ast.BitOr: "_sb_or", ast.BitXor: "_sb_xor", ast.BitAnd: "_sb_and"}


def _describe(node: ast.AST) -> str:
    return _REFUSED.get(type(node)) or type(node).__name__


class _Checker(ast.NodeVisitor):
    def __init__(self, mode: str):
        self.allowed = _SCRIPT_NODES if mode == "exec" else _EXPRESSION_NODES
        self.problems: list[str] = []
        self.depth = 0
        self.too_deep = False

    def report(self, node: ast.AST, message: str, col: int | None = None) -> None:
        line = getattr(node, "lineno", None)
        col = getattr(node, "col_offset", None) if col is None else col
        where = f"line {line}, column {col + 1}: " if line is not None else ""
        self.problems.append(where + message)

    def visit(self, node: ast.AST) -> None:
        if type(node) in _REFUSED:
            self.report(node, f"{_describe(node)} is not allowed")
            return
        if type(node) not in self.allowed:
            kind = "scripts" if self.allowed is _SCRIPT_NODES else "expressions"
            self.report(node, f"{_describe(node)} is not allowed in {kind}")
            return
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                if not self.too_deep:
                    self.too_deep = True
                    self.report(node, f"too deeply nested (more than {MAX_DEPTH} levels)")
                return
            super().visit(node)
        finally:
            self.depth -= 1

    def _check_identifier(self, node: ast.AST, name: str, what: str) -> None:
        if name.startswith("_"):
            self.report(node, f"{what} '{name}' is not allowed (names starting with '_' are reserved)")
        elif name in FORBIDDEN_NAMES:
            self.report(node, f"{what} '{name}' is not allowed")

    def visit_Name(self, node: ast.Name) -> None:
        self._check_identifier(node, node.id, "name")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # Point at the attribute name itself, not at the start of `a.b.c`.
        same_line = node.end_lineno == node.lineno and node.end_col_offset is not None
        col = node.end_col_offset - len(node.attr) if same_line else None
        if node.attr.startswith("_"):
            self.report(node, f"attribute '{node.attr}' is not allowed (names starting with '_' are reserved)", col)
        elif node.attr in FORBIDDEN_ATTRIBUTES:
            self.report(node, f"attribute '{node.attr}' is not allowed; use an f-string", col)
        elif not isinstance(node.ctx, ast.Load):
            self.report(node, f"changing attribute '{node.attr}' is not allowed; "
                              f"use a subscript such as x['{node.attr}']", col)
        self.visit(node.value)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None and node.arg.startswith("_"):
            self.report(node.value, f"keyword '{node.arg}' is not allowed (names starting with '_' are reserved)")
        self.visit(node.value)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "__" in node.value:
            self.report(node, "string literals containing '__' are not allowed")
        elif isinstance(node.value, bytes):
            self.report(node, "bytes literals are not allowed")
        elif node.value is Ellipsis:
            self.report(node, "'...' is not allowed")

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        self.visit(node.value)
        spec = node.format_spec
        if spec is None:
            return
        parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
        if not all(isinstance(part, ast.Constant) for part in parts):
            self.report(node, "f-string format specs must be literal (no nested {...})")
            return
        text = "".join(str(part.value) for part in parts)
        if not _FORMAT_SPEC.fullmatch(text):
            self.report(node, f"f-string format spec ':{text}' is not allowed (width at most 3 digits)")

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if node.is_async:
            self.report(node.target, "async comprehensions are not allowed")
            return
        self.generic_visit(node)


def check(source: Any, mode: str) -> tuple[ast.AST | None, list[str]]:
    """Parse and whitelist-check; returns (tree or None, problems). Never raises."""
    kind = "script" if mode == "exec" else "expression"
    if not isinstance(source, str):
        return None, [f"{kind} must be text, not {type(source).__name__}"]
    if mode == "eval" and not source.strip():
        return None, ["expression is empty"]
    if len(source) > MAX_SOURCE_LENGTH[mode]:
        return None, [f"{kind} is too long (more than {MAX_SOURCE_LENGTH[mode]} characters)"]
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        where = f"line {exc.lineno}, column {max(exc.offset or 1, 1)}: " if exc.lineno else ""
        return None, [f"{where}syntax error: {exc.msg}"]
    except (RecursionError, MemoryError, ValueError) as exc:
        return None, [f"{kind} cannot be parsed: {exc or 'too complex'}"]
    checker = _Checker(mode)
    try:
        checker.visit(tree)
    except RecursionError:
        checker.problems.append(f"{kind} is too deeply nested")
    return (tree if not checker.problems else None), checker.problems


def _helper(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])
    return ast.copy_location(call, like)


def _as_load(target: ast.expr) -> ast.expr:
    loaded = copy.deepcopy(target)
    loaded.ctx = ast.Load()
    return loaded


class _Rewriter(ast.NodeTransformer):
    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        value = self.visit(node.value)
        return _helper("_sb_attr", [value, ast.Constant(node.attr)], node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Attribute):
            receiver = self.visit(node.func.value)
            node.func = _helper("_sb_method", [receiver, ast.Constant(node.func.attr)], node.func)
        else:
            node.func = self.visit(node.func)
        node.args = [self.visit(arg) for arg in node.args]
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        helper = _GUARDED_OPERATORS.get(type(node.op))
        return _helper(helper, [node.left, node.right], node) if helper else node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        helper = _GUARDED_OPERATORS.get(type(node.op))
        if helper is None:
            return node
        # The target expression is evaluated twice (x[i] += 1 reads x[i] then stores it).
        value = _helper(helper, [_as_load(node.target), node.value], node)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)

    def _count_iterations(self, node: ast.For | ast.While) -> ast.AST:
        self.generic_visit(node)
        tick = ast.copy_location(ast.Expr(_helper("_sb_tick", [], node)), node)
        node.body.insert(0, tick)
        return node

    visit_For = _count_iterations
    visit_While = _count_iterations

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.ifs.insert(0, _helper("_sb_tick", [], node.target))
        return node

    def _bounded_result(self, node: ast.expr) -> ast.AST:
        self.generic_visit(node)
        return _helper("_sb_size", [node], node)

    visit_ListComp = _bounded_result
    visit_SetComp = _bounded_result
    visit_DictComp = _bounded_result

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Slice):
            bounds = [part or ast.Constant(None) for part in (node.slice.lower, node.slice.upper, node.slice.step)]
            return _helper("_sb_slice", [node.value, *bounds], node)
        return node

    def visit_Starred(self, node: ast.Starred) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _helper("_sb_star", [node.value], node.value)
        return node

    def _unpacking_literal(self, node: ast.List | ast.Tuple | ast.Set) -> ast.AST:
        self.generic_visit(node)
        unpacks = any(isinstance(element, ast.Starred) for element in node.elts)
        if unpacks and not isinstance(getattr(node, "ctx", ast.Load()), (ast.Store, ast.Del)):
            return _helper("_sb_size", [node], node)  # [*a, *b] may exceed max_size
        return node

    visit_List = _unpacking_literal
    visit_Tuple = _unpacking_literal
    visit_Set = _unpacking_literal

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        self.generic_visit(node)
        if None not in node.keys:
            return node
        node.values = [_helper("_sb_star", [value], value) if key is None else value
                       for key, value in zip(node.keys, node.values)]
        return _helper("_sb_size", [node], node)

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        self.generic_visit(node)
        if node.arg is None:
            node.value = _helper("_sb_star", [node.value], node.value)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node.value = _helper("_sb_fmt", [self.visit(node.value)], node.value)
        return node


def rewrite(tree: ast.AST) -> ast.AST:
    return ast.fix_missing_locations(_Rewriter().visit(tree))
