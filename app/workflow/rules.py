"""DMN decision evaluation (DMN 1.1-1.5): decision tables and literal expressions.

A DMN file is parsed once into a :class:`Definitions` whose cells are compiled into
closures, so evaluating a decision never re-reads XML or re-parses cell text::

    defs = load_definitions("rules/auto_approval.dmn")
    defs.evaluate("Approval", {"Age": 30, "RiskCategory": "Low"})

Cells are FEEL unless the model declares Python (an ``expressionLanguage``
containing "python" on the definitions, the table or the cell), which keeps
tables written for SpiffWorkflow working; Python cells run only through the
project sandbox (:mod:`app.workflow.scripting`).
"""
from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask_babel import gettext, pgettext
from lxml import etree

from app.workflow import feel
from app.workflow.feel import analysis, ops
from app.workflow.feel.types import (
    ConversionError,
    ItemDefinition,
    TypeInfo,
    make_converter,
    resolve,
)
from app.workflow.feel.values import NUMBER, kind_of, normalize, to_python
from app.workflow.parsing import xml_problem

__all__ = [
    "Decision",
    "DecisionError",
    "Definitions",
    "EvaluationResult",
    "Issue",
    "load_definitions",
    "validate_definitions",
]

_DMN_NAMESPACE = re.compile(r"^(http://www\.omg\.org/spec/DMN/.+|https://www\.omg\.org/spec/DMN/.*MODEL/?)$")
_HIT_POLICIES = {
    "U": "UNIQUE", "A": "ANY", "P": "PRIORITY", "F": "FIRST", "R": "RULE ORDER",
    "O": "OUTPUT ORDER", "C": "COLLECT",
}
_MULTI_HIT = frozenset({"RULE ORDER", "OUTPUT ORDER", "COLLECT"})
_AGGREGATIONS = frozenset({"SUM", "COUNT", "MIN", "MAX"})
FEEL, PYTHON = "FEEL", "python"
# Name under which a Python-dialect input entry sees the input value (SpiffWorkflow's choice).
_PY_INPUT = "dmninputexpr"


# --- errors and reports ------------------------------------------------------------------


@dataclass(frozen=True)
class _Col:
    """Where in a table a problem is: kind is "input", "output", "input data", ..."""

    kind: str
    label: str = ""

    def __str__(self) -> str:
        if self.kind == "input":
            return gettext("input '%(label)s'", label=self.label)
        if self.kind == "output":
            return gettext("output '%(label)s'", label=self.label)
        if self.kind == "input data":
            return gettext("input data '%(label)s'", label=self.label)
        if self.kind == "default output":
            return gettext("default output '%(label)s'", label=self.label)
        if self.kind == "literal expression":
            return gettext("literal expression")
        return f"{self.kind} '{self.label}'" if self.label else self.kind


def _label(column: _Col | str | None) -> str | None:
    return column.label or column.kind if isinstance(column, _Col) else column


class DecisionError(Exception):
    """A model that cannot be loaded or a decision that cannot be evaluated.

    ``decision`` is the decision's name (or id), ``rule`` the 1-based rule index,
    ``rule_id`` its id, ``column`` the input/output label and ``column_kind`` whether
    it is an "input" or "output" column; each None when unknown.
    """

    def __init__(self, detail: str, decision: str | None = None, rule: int | None = None,
                 rule_id: str | None = None, column: _Col | str | None = None, rules: Iterable[int] = ()):
        self.detail = detail
        self.decision = decision
        self.rule = rule
        self.rule_id = rule_id
        self.column = _label(column)
        self.column_kind = column.kind if isinstance(column, _Col) else None
        self.rules = list(rules)
        super().__init__(_locate(detail, decision, rule, rule_id, column))


# Messages are written in the UI language where they arise (English outside a request: the CLIs).
def _rule_label(index: int, rule_id: str | None) -> str:
    if rule_id:
        return gettext("rule %(n)s (id %(id)s)", n=index, id=rule_id)
    return pgettext("decision table", "rule %(n)s", n=index)


def _rules_list(rules: list[_Rule]) -> str:
    names = [_rule_label(r.index, r.id) for r in rules]
    if len(names) == 1:
        return names[0]
    return gettext("%(rules)s and %(last)s", rules=pgettext("enumeration", ", ").join(names[:-1]), last=names[-1])


def _locate(detail: str, decision: str | None, rule: int | None, rule_id: str | None,
            column: _Col | str | None) -> str:
    where = []
    if decision:
        where.append(gettext("decision '%(name)s'", name=decision))
    if rule is not None:
        where.append(_rule_label(rule, rule_id))
    if column:
        where.append(str(column))
    prefix = pgettext("location", ", ").join(where)
    if not prefix:
        return detail
    return gettext("%(where)s: %(detail)s", where=f"{prefix[0].upper()}{prefix[1:]}", detail=detail)


@dataclass(frozen=True)
class Issue:
    """One finding of :func:`validate_definitions`; ``level`` is "error" or "warning"."""

    level: str
    message: str
    decision: str | None = None
    rule: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


@dataclass
class EvaluationResult:
    decision_id: str
    decision_name: str
    result: Any
    matched_rules: list[str] = field(default_factory=list)  # rule ids ("rule-<n>" without id)
    matched_indexes: list[int] = field(default_factory=list)  # 1-based
    inputs: dict[str, Any] = field(default_factory=dict)
    required: dict[str, EvaluationResult] = field(default_factory=dict)  # by decision id


class _Reporter:
    """Raises on the first problem when loading; collects every problem when validating."""

    def __init__(self, collect: bool):
        self.issues: list[Issue] | None = [] if collect else None

    def error(self, detail: str, decision: str | None = None, rule: int | None = None,
              rule_id: str | None = None, column: _Col | None = None) -> None:
        err = DecisionError(detail, decision, rule, rule_id, column)
        if self.issues is None:
            raise err
        self.issues.append(Issue("error", str(err), decision, rule, _label(column)))

    def warning(self, detail: str, decision: str | None = None, rule: int | None = None,
                rule_id: str | None = None, column: _Col | None = None, locate_rule: bool = True) -> None:
        if self.issues is not None:
            message = _locate(detail, decision, rule if locate_rule else None, rule_id, column)
            self.issues.append(Issue("warning", message, decision, rule, _label(column)))


# --- XML reading -------------------------------------------------------------------------


def _read_xml(source: str | bytes | Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True,
                             huge_tree=False)
    try:
        if isinstance(source, bytes):
            return etree.fromstring(source, parser)
        if isinstance(source, str) and source.lstrip().startswith("<"):
            return etree.fromstring(source.encode("utf-8"), parser)
        path = Path(source)
        if not path.is_file():
            raise DecisionError(gettext("DMN file '%(path)s' does not exist", path=path))
        return etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        raise DecisionError(gettext("malformed DMN XML: %(problem)s", problem=xml_problem(exc))) from None


class _Xml:
    """Namespace-aware child lookups inside one DMN document."""

    def __init__(self, ns: str):
        self.ns = ns

    def children(self, el: etree._Element, name: str) -> list[etree._Element]:
        return el.findall(f"{{{self.ns}}}{name}")

    def child(self, el: etree._Element, name: str) -> etree._Element | None:
        return el.find(f"{{{self.ns}}}{name}")

    def text(self, el: etree._Element | None) -> str | None:
        """The <text> of an expression element (None when absent)."""
        if el is None:
            return None
        text = self.child(el, "text")
        return None if text is None else (text.text or "")


def _language_kind(language: str | None) -> str | None:
    """FEEL, python, or None for a language we do not run."""
    if not language or not language.strip():
        return FEEL
    lowered = language.lower()
    if "python" in lowered:
        return PYTHON
    if "feel" in lowered:
        return FEEL
    return None


# --- compiled model ----------------------------------------------------------------------


@dataclass
class _InputColumn:
    index: int
    id: str | None
    label: str
    text: str
    language: str
    value: Callable[[dict, dict | None], Any]  # (FEEL ctx, Python ctx) -> converted FEEL value
    type_info: TypeInfo
    allowed: list[Any] | None


@dataclass
class _OutputColumn:
    index: int
    id: str | None
    name: str
    label: str
    type_info: TypeInfo
    priorities: dict[Any, int]
    default: Any
    has_default: bool


@dataclass
class _Rule:
    index: int
    id: str | None
    checks: tuple  # ((column index, test, is_python), ...) without "-" cells
    outputs: tuple  # ((fn, is_python), ...)
    value_sets: list = field(default_factory=list)

    @property
    def ref(self) -> str:
        return self.id or f"rule-{self.index}"


class Decision:
    """A compiled decision. Evaluate it through :class:`Definitions`."""

    def __init__(self, decision_id: str, name: str, type_ref: str | None):
        self.id = decision_id
        self.name = name
        self.type_ref = type_ref
        self.required: list[str] = []  # ids of required decisions, evaluated first
        self.kind = ""  # "decisionTable" or "literalExpression"
        self.hit_policy: str | None = None
        self.aggregation: str | None = None
        self.inputs: list[_InputColumn] = []
        self.outputs: list[_OutputColumn] = []
        self.rules: list[_Rule] = []
        self.expression: Callable[[dict, dict | None], Any] | None = None
        self.has_python = False
        self.names_used: set[str] = set()

    def __repr__(self) -> str:
        return f"<Decision {self.name!r} ({self.kind}, id={self.id})>"

    @property
    def label(self) -> str:
        return self.name or self.id

    # --- evaluation -----------------------------------------------------------------
    def run(self, ctx: dict, detailed: bool = False) -> tuple[Any, list[_Rule], dict[str, Any]]:
        """(result, matched rules, input values used); the values only when ``detailed``."""
        pyctx = _python_view(ctx) if self.has_python else None
        if self.expression is not None:
            used = {name: ctx.get(name) for name in sorted(self.names_used)} if detailed else {}
            return self.expression(ctx, pyctx), [], used
        values = [column.value(ctx, pyctx) for column in self.inputs]
        matched = []
        first_only = self.hit_policy == "FIRST"  # later matches cannot change the result
        if pyctx is None:
            for rule in self.rules:
                for i, test, _ in rule.checks:
                    if test(values[i], ctx) is not True:
                        break
                else:
                    matched.append(rule)
                    if first_only:
                        break
        else:
            py_values = [to_python(v) for v in values]
            for rule in self.rules:
                for i, test, is_python in rule.checks:
                    ok = test(py_values[i], pyctx) if is_python else test(values[i], ctx)
                    if ok is not True:
                        break
                else:
                    matched.append(rule)
                    if first_only:
                        break
        used = {column.label: values[column.index] for column in self.inputs} if detailed else {}
        return self._hit(matched, ctx, pyctx), matched, used

    def _output(self, rule: _Rule, ctx: dict, pyctx: dict | None) -> Any:
        if len(self.outputs) == 1:
            fn, is_python = rule.outputs[0]
            return fn(pyctx) if is_python else fn(ctx)
        return {
            column.name: (fn(pyctx) if is_python else fn(ctx))
            for column, (fn, is_python) in zip(self.outputs, rule.outputs)
        }

    def _default(self) -> Any:
        if not any(o.has_default for o in self.outputs):
            return None
        if len(self.outputs) == 1:
            return self.outputs[0].default
        return {o.name: o.default for o in self.outputs}

    def _priority(self, value: Any) -> tuple[int, ...]:
        values = [value] if len(self.outputs) == 1 else [value.get(o.name) for o in self.outputs]
        return tuple(_priority_of(o.priorities, v) for o, v in zip(self.outputs, values))

    def _hit(self, matched: list[_Rule], ctx: dict, pyctx: dict | None) -> Any:
        policy = self.hit_policy
        if not matched:
            default = self._default()
            if policy in _MULTI_HIT and self.aggregation is None:
                return [] if default is None else [default]
            return default
        if policy == "UNIQUE":
            if len(matched) > 1:
                raise self._conflict(matched, gettext(
                    "%(rules)s match, but the UNIQUE hit policy allows only one matching rule",
                    rules=_rules_list(matched)))
            return self._output(matched[0], ctx, pyctx)
        if policy == "FIRST":
            return self._output(matched[0], ctx, pyctx)
        results = [self._output(rule, ctx, pyctx) for rule in matched]
        if policy == "ANY":
            for other in results[1:]:
                if ops.equal(results[0], other) is not True:
                    raise self._conflict(matched, gettext(
                        "%(rules)s match with different outputs, which the ANY hit policy forbids",
                        rules=_rules_list(matched)))
            return results[0]
        if policy == "PRIORITY":
            return min(results, key=self._priority)  # min is stable: ties keep rule order
        if policy == "OUTPUT ORDER":
            return sorted(results, key=self._priority)
        if policy == "RULE ORDER" or self.aggregation is None:
            return results
        return self._aggregate(results, matched)

    def _aggregate(self, results: list[Any], matched: list[_Rule]) -> Any:
        if self.aggregation == "COUNT":
            # DMN defines C# as FEEL count() over the outputs of the matched rules.
            return Decimal(len(results))
        values = [v for v in results if v is not None]
        if not values:
            return None
        if self.aggregation == "SUM":
            if any(kind_of(v) != NUMBER for v in values):
                raise self._conflict(matched, gettext(
                    "%(rules)s produce non-numeric outputs, which COLLECT SUM cannot add", rules=_rules_list(matched)))
            total = Decimal(0)
            for v in values:
                total = ops.add(total, v)
            return total
        best = values[0]
        for v in values[1:]:
            c = ops.compare(v, best)
            if c is None:
                raise self._conflict(matched, gettext(
                    "%(rules)s produce outputs that COLLECT %(aggregation)s cannot compare",
                    rules=_rules_list(matched), aggregation=self.aggregation))
            if (c < 0) == (self.aggregation == "MIN") and c != 0:
                best = v
        return best

    def _conflict(self, rules: list[_Rule], detail: str) -> DecisionError:
        error = DecisionError(detail, self.label, rules=[r.index for r in rules])
        error.rule, error.rule_id = rules[0].index, rules[0].id  # the message already names them all
        return error


def _priority_of(priorities: dict[Any, int], value: Any) -> int:
    if not priorities:
        return 0
    try:
        return priorities.get(value, len(priorities))
    except TypeError:  # unhashable output values have the lowest priority
        return len(priorities)


def _python_view(ctx: dict) -> dict:
    return {k: to_python(v) for k, v in ctx.items()}


class _DecisionMap(dict):
    """Decisions by id; a decision's name works as a key too."""

    def __missing__(self, key: str) -> Decision:
        for decision in self.values():
            if decision.name == key:
                return decision
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or any(d.name == key for d in self.values())


class Definitions:
    """A loaded DMN file: its decisions, compiled and ready to evaluate."""

    def __init__(self, name: str | None, namespace: str):
        self.name = name
        self.namespace = namespace
        self.decisions: _DecisionMap = _DecisionMap()
        self.input_data: dict[str, TypeInfo] = {}  # input data name -> declared type
        self._input_converters: dict[str, Callable[[Any], Any]] = {}

    def decision(self, key: str) -> Decision:
        try:
            return self.decisions[key]
        except KeyError:
            known = pgettext("enumeration", ", ").join(
                gettext("'%(name)s' (id %(id)s)", name=d.name, id=d.id) for d in self.decisions.values())
            raise DecisionError(gettext("there is no decision '%(key)s'; decisions in this model: %(known)s",
                                        key=key, known=known or gettext("none"))) from None

    def evaluate(self, decision: str, inputs: Mapping[str, Any] | None = None) -> Any:
        """Result of a decision as plain Python values (numbers as int/float)."""
        target = self.decision(decision)
        ctx = self._context(target, inputs or {})
        return to_python(self._evaluate(target, ctx, None))

    def evaluate_feel(self, decision: str, inputs: Mapping[str, Any] | None = None) -> Any:
        """Like :meth:`evaluate` but keeps FEEL values (decimals) in the result."""
        target = self.decision(decision)
        return self._evaluate(target, self._context(target, inputs or {}), None)

    def evaluate_detailed(self, decision: str, inputs: Mapping[str, Any] | None = None) -> EvaluationResult:
        target = self.decision(decision)
        ctx = self._context(target, inputs or {})
        trace: dict[str, EvaluationResult] = {}
        self._evaluate(target, ctx, trace)
        return trace[target.id]

    def _context(self, target: Decision, inputs: Mapping[str, Any]) -> dict:
        if not isinstance(inputs, Mapping):
            raise DecisionError(gettext("inputs must be an object mapping input names to values"), target.label)
        ctx = {}
        for key, value in inputs.items():
            convert = self._input_converters.get(key)
            try:
                ctx[key] = convert(value) if convert is not None else normalize(value)
            except ConversionError as exc:
                raise DecisionError(gettext("cannot convert the value: %(reason)s", reason=exc), target.label,
                                    column=_Col("input data", key)) from None
        return ctx

    def _evaluate(self, decision: Decision, ctx: dict, trace: dict | None) -> Any:
        for required in decision.required:
            other = self.decisions[required]
            # A value the caller passed under the decision's name stands in for the decision
            # (as in the DMN TCK); otherwise each required decision is evaluated once.
            if other.name not in ctx:
                ctx[other.name] = self._evaluate(other, ctx, trace)
        value, matched, used = decision.run(ctx, detailed=trace is not None)
        if trace is not None:
            trace[decision.id] = EvaluationResult(
                decision.id, decision.name, to_python(value),
                [r.ref for r in matched], [r.index for r in matched],
                {k: to_python(v) for k, v in used.items()},
                {rid: trace[rid] for rid in decision.required if rid in trace},
            )
        return value


# --- loading -----------------------------------------------------------------------------


def load_definitions(source: str | bytes | Path) -> Definitions:
    """Parse and compile a DMN file (path, bytes or XML text); raises DecisionError."""
    return _Loader(_read_xml(source), _Reporter(collect=False)).load()


def validate_definitions(source: str | bytes | Path) -> list[Issue]:
    """Every problem in a DMN model: cell syntax, type mismatches, UNIQUE overlaps."""
    try:
        root = _read_xml(source)
    except DecisionError as exc:
        return [Issue("error", str(exc))]
    reporter = _Reporter(collect=True)
    try:
        _Loader(root, reporter).load()
    except DecisionError as exc:  # structural problems that stop the loader
        reporter.issues.append(Issue("error", str(exc), exc.decision, exc.rule, exc.column))
    return reporter.issues


class _Loader:
    def __init__(self, root: etree._Element, reporter: _Reporter):
        self.root = root
        self.report = reporter
        tag = root.tag if isinstance(root.tag, str) else ""
        ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if local != "definitions" or not _DMN_NAMESPACE.match(ns):
            raise DecisionError(gettext(
                "not a DMN model: the root element is '%(tag)s' in namespace '%(namespace)s', "
                "expected 'definitions' in a DMN namespace (http(s)://www.omg.org/spec/DMN/...)",
                tag=local or tag, namespace=ns or gettext("none")))
        self.xml = _Xml(ns)
        self.language = root.get("expressionLanguage")
        self.defs = Definitions(root.get("name"), ns)
        self.items: dict[str, ItemDefinition] = {}
        self.names: feel.NameTable | None = None

    # --- top level ----------------------------------------------------------------
    def load(self) -> Definitions:
        xml = self.xml
        for el in xml.children(self.root, "itemDefinition"):
            item = self._item_definition(el)
            self.items[item.name] = item
        for el in xml.children(self.root, "inputData"):
            name = el.get("name") or el.get("id") or ""
            variable = xml.child(el, "variable")
            type_ref = variable.get("typeRef") if variable is not None else el.get("typeRef")
            info = resolve(type_ref, self.items)
            self.defs.input_data[name] = info
            self.defs._input_converters[name] = make_converter(info)
        elements = xml.children(self.root, "decision")
        if not elements:
            self.report.error(gettext("the model contains no decision"))
        declared = set(self.defs.input_data)
        declared.update(el.get("name") or "" for el in elements)
        for item in self.items.values():
            declared.update(_component_names(item))
        declared.update(self._undeclared_input_names(elements, declared))
        self.names = feel.NameTable(declared)
        by_href: dict[str, Decision] = {}
        for index, el in enumerate(elements, 1):
            decision = self._decision(el, index)
            if decision.id in self.defs.decisions:
                self.report.error(gettext("duplicate decision id '%(id)s'", id=decision.id), decision.label)
            self.defs.decisions[decision.id] = decision
            by_href[decision.id] = decision
        self._link(by_href)
        return self.defs

    def _item_definition(self, el: etree._Element) -> ItemDefinition:
        type_ref_el = self.xml.child(el, "typeRef")
        type_ref = (type_ref_el.text or "").strip() if type_ref_el is not None else el.get("typeRef")
        item = ItemDefinition(el.get("name") or "", type_ref or None, el.get("isCollection") == "true")
        for comp in self.xml.children(el, "itemComponent"):
            sub = self._item_definition(comp)
            item.components[sub.name] = sub
        return item

    def _undeclared_input_names(self, elements: list, declared: set[str]) -> set[str]:
        """Input expressions such as "Years of Service" name data the model never declared;
        FEEL can only read them as one name if the lexer knows it."""
        table = feel.NameTable(declared)
        extra = set()
        for el in elements:
            for expr in el.iter(f"{{{self.xml.ns}}}inputExpression"):
                text = (self.xml.text(expr) or "").strip()
                if " " not in text or not re.fullmatch(r"[^\W\d][\w']*(?:\s+[\w']+)+", text):
                    continue
                try:
                    feel.parse_expression(text, table)
                except feel.FeelSyntaxError:
                    extra.add(" ".join(text.split()))
        return extra

    def _link(self, by_id: dict[str, Decision]) -> None:
        by_name = {d.name: d for d in by_id.values()}
        for decision in by_id.values():
            # A name that a cell reads and that is another decision's name is a dependency,
            # even when the model forgot the informationRequirement.
            for name in decision.names_used:
                other = by_name.get(name)
                if other is not None and other is not decision and other.id not in decision.required:
                    decision.required.append(other.id)
            for rid in list(decision.required):
                if rid not in by_id:
                    decision.required.remove(rid)
                    self.report.error(gettext("requires decision '#%(id)s', which is not in this model", id=rid),
                                      decision.label)
        visiting: set[str] = set()
        done: set[str] = set()

        def visit(d: Decision, chain: list[str]) -> None:
            if d.id in done:
                return
            if d.id in visiting:
                cycle = " -> ".join(chain + [d.label])
                raise DecisionError(gettext("decisions require each other in a cycle: %(cycle)s", cycle=cycle),
                                    d.label)
            visiting.add(d.id)
            for rid in d.required:
                visit(by_id[rid], chain + [d.label])
            visiting.discard(d.id)
            done.add(d.id)

        for decision in by_id.values():
            visit(decision, [])

    # --- decisions ------------------------------------------------------------------
    def _decision(self, el: etree._Element, index: int) -> Decision:
        xml = self.xml
        name = el.get("name") or ""
        decision_id = el.get("id") or name or f"decision-{index}"
        variable = xml.child(el, "variable")
        type_ref = variable.get("typeRef") if variable is not None else None
        decision = Decision(decision_id, name or decision_id, type_ref)
        for req in xml.children(el, "informationRequirement"):
            target = xml.child(req, "requiredDecision")
            if target is not None and target.get("href"):
                decision.required.append(target.get("href").split("#")[-1])
        table = xml.child(el, "decisionTable")
        literal = xml.child(el, "literalExpression")
        if table is not None:
            decision.kind = "decisionTable"
            self._table(decision, table)
        elif literal is not None:
            decision.kind = "literalExpression"
            self._literal(decision, literal)
        else:
            logic = [etree.QName(c).localname for c in el if isinstance(c.tag, str)]
            known = {"variable", "informationRequirement", "knowledgeRequirement", "authorityRequirement",
                     "description", "extensionElements", "question", "allowedAnswers"}
            other = [t for t in logic if t not in known]
            if other:
                detail = gettext("has a <%(tag)s> expression; only decision tables and literal expressions are "
                                 "supported", tag=other[0])
            else:
                detail = gettext("has no decision logic; only decision tables and literal expressions are supported")
            self.report.error(detail, decision.label)
        return decision

    def _literal(self, decision: Decision, el: etree._Element) -> None:
        language = _language_kind(el.get("expressionLanguage") or self.language)
        text = self.xml.text(el)
        if text is None or not text.strip():
            self.report.error(gettext("the literal expression is empty"), decision.label)
            decision.expression = lambda ctx, pyctx: None
            return
        fn, is_python = self._expression(text, language, el.get("expressionLanguage") or self.language,
                                         decision, None, None, _Col("literal expression"))
        decision.has_python = is_python
        if is_python:
            decision.expression = lambda ctx, pyctx: normalize(fn(pyctx))
        else:
            decision.expression = lambda ctx, pyctx: fn(ctx)

    def _table(self, decision: Decision, el: etree._Element) -> None:
        xml = self.xml
        table_language = el.get("expressionLanguage") or self.language
        policy_text = (el.get("hitPolicy") or "UNIQUE").strip().upper().replace("_", " ")
        policy = _HIT_POLICIES.get(policy_text, policy_text)
        if policy not in _HIT_POLICIES.values():
            self.report.error(gettext(
                "unknown hit policy '%(policy)s'; expected one of UNIQUE, ANY, PRIORITY, FIRST, RULE ORDER, "
                "OUTPUT ORDER, COLLECT", policy=el.get("hitPolicy")), decision.label)
            policy = "UNIQUE"
        decision.hit_policy = policy
        aggregation = el.get("aggregation")
        if aggregation:
            aggregation = aggregation.strip().upper()
            if aggregation not in _AGGREGATIONS:
                self.report.error(gettext("unknown aggregation '%(aggregation)s'; expected SUM, COUNT, MIN or MAX",
                                          aggregation=aggregation), decision.label)
                aggregation = None
            elif policy != "COLLECT":
                self.report.error(gettext("aggregation %(aggregation)s is only allowed with the COLLECT hit policy",
                                          aggregation=aggregation), decision.label)
                aggregation = None
        decision.aggregation = aggregation

        for index, inp in enumerate(xml.children(el, "input")):
            decision.inputs.append(self._input(decision, inp, index, table_language))
        output_elements = xml.children(el, "output")
        for index, out in enumerate(output_elements):
            decision.outputs.append(self._output_column(decision, el, out, index, len(output_elements) == 1))
        if not decision.outputs:
            self.report.error(gettext("the decision table has no output column"), decision.label)
        elif aggregation and len(decision.outputs) > 1:
            self.report.error(gettext("COLLECT %(aggregation)s needs exactly one output column, the table has "
                                      "%(n)s", aggregation=aggregation, n=len(decision.outputs)), decision.label)
        for index, rule_el in enumerate(xml.children(el, "rule"), 1):
            decision.rules.append(self._rule(decision, rule_el, index, table_language))
        decision.has_python = any(c.language == PYTHON for c in decision.inputs) or any(
            is_py for r in decision.rules for _, _, is_py in r.checks) or any(
            is_py for r in decision.rules for _, is_py in r.outputs)
        if self.report.issues is not None:
            self._check_table(decision)

    def _input(self, decision: Decision, el: etree._Element, index: int, table_language: str | None) -> _InputColumn:
        xml = self.xml
        expr_el = xml.child(el, "inputExpression")
        text = (xml.text(expr_el) or "").strip()
        label = el.get("label") or text or el.get("id") or f"#{index + 1}"
        column = _Col("input", label)
        type_ref = expr_el.get("typeRef") if expr_el is not None else None
        info = resolve(type_ref, self.items)
        raw_language = (expr_el.get("expressionLanguage") if expr_el is not None else None) or table_language
        language = _language_kind(raw_language)
        if not text:
            self.report.error(gettext("the input expression is empty"), decision.label, column=column)
            fn, is_python = (lambda ctx: None), False
        else:
            fn, is_python = self._expression(text, language, raw_language, decision, None, None, column)
        convert = make_converter(info)
        label_for_error = decision.label

        def value(ctx: dict, pyctx: dict | None) -> Any:
            raw = fn(pyctx) if is_python else fn(ctx)
            try:
                return convert(raw)
            except ConversionError as exc:
                raise DecisionError(gettext("cannot convert the input value: %(reason)s", reason=exc), label_for_error,
                                    column=column) from None

        allowed = None
        values_el = xml.child(el, "inputValues")
        if values_el is not None and xml.text(values_el):
            allowed = self._literal_list(xml.text(values_el))
        return _InputColumn(index, el.get("id"), label, text, PYTHON if is_python else FEEL, value, info, allowed)

    def _output_column(self, decision: Decision, table: etree._Element, el: etree._Element,
                       index: int, only: bool) -> _OutputColumn:
        xml = self.xml
        # The table's outputLabel names the single output; with several it would name them all alike.
        table_label = table.get("outputLabel") if only else None
        name = el.get("name") or el.get("label") or table_label or el.get("id") or f"output{index + 1}"
        label = el.get("label") or el.get("name") or table_label or f"#{index + 1}"
        column = _Col("output", label)
        info = resolve(el.get("typeRef"), self.items)
        priorities: dict[Any, int] = {}
        values_el = xml.child(el, "outputValues")
        if values_el is not None and xml.text(values_el):
            listed = self._literal_list(xml.text(values_el))
            if listed is None:
                if decision.hit_policy in ("PRIORITY", "OUTPUT ORDER"):
                    self.report.error(gettext("the output values must be a list of literals to order by priority"),
                                      decision.label, column=column)
            else:
                for position, value in enumerate(listed):
                    priorities.setdefault(value, position)
        default, has_default = None, False
        default_el = xml.child(el, "defaultOutputEntry")
        if default_el is not None and (xml.text(default_el) or "").strip():
            language = _language_kind(default_el.get("expressionLanguage") or self.language)
            fn, is_python = self._expression(xml.text(default_el), language, self.language, decision, None,
                                             None, _Col("default output", label))
            try:
                default = normalize(fn({})) if is_python else fn({})
                has_default = True
            except DecisionError as exc:  # a default must not depend on the inputs
                self.report.error(gettext("the default output must be a constant: %(reason)s", reason=exc),
                                  decision.label, column=column)
        return _OutputColumn(index, el.get("id"), name, label, info, priorities, default, has_default)

    def _literal_list(self, text: str) -> list[Any] | None:
        """Literal values of an inputValues/outputValues list, or None if not all literals."""
        try:
            node = feel.parse_unary_tests(text, self.names)
        except feel.FeelSyntaxError:
            return None
        if not isinstance(node, feel.nodes.Disjunctive):
            return None
        out = []
        for test in node.tests:
            if not (isinstance(test, feel.nodes.ExpressionTest) and isinstance(test.expression, feel.nodes.Literal)):
                return None
            out.append(test.expression.value)
        return out

    def _rule(self, decision: Decision, el: etree._Element, index: int, table_language: str | None) -> _Rule:
        xml = self.xml
        rule_id = el.get("id")
        entries = xml.children(el, "inputEntry")
        outputs = xml.children(el, "outputEntry")
        if len(entries) != len(decision.inputs) or len(outputs) != len(decision.outputs):
            self.report.error(gettext(
                "has %(inputs)s input and %(outputs)s output entries, but the table has %(input_columns)s input "
                "and %(output_columns)s output columns", inputs=len(entries), outputs=len(outputs),
                input_columns=len(decision.inputs), output_columns=len(decision.outputs)),
                decision.label, index, rule_id)
        checks = []
        value_sets = []
        for column, entry in zip(decision.inputs, entries):
            raw_language = entry.get("expressionLanguage") or table_language
            test, is_python, node = self._test(xml.text(entry) or "", raw_language, decision, index, rule_id,
                                               column)
            value_sets.append((column, node))
            if test is not None:
                checks.append((column.index, test, is_python))
        compiled_outputs = []
        for column, entry in zip(decision.outputs, outputs):
            raw_language = entry.get("expressionLanguage") or table_language
            language = _language_kind(raw_language)
            text = xml.text(entry) or ""
            label = _Col("output", column.label)
            if not text.strip():
                compiled_outputs.append(((lambda ctx: None), False))
                continue
            fn, is_python = self._expression(text, language, raw_language, decision, index, rule_id, label)
            if is_python:
                compiled_outputs.append((_normalized(fn), True))
            else:
                compiled_outputs.append((fn, False))
                if self.report.issues is not None:
                    self._check_output_literal(decision, column, text, index, rule_id)
        return _Rule(index, rule_id, tuple(checks), tuple(compiled_outputs), value_sets)

    # --- cells ------------------------------------------------------------------------
    def _expression(self, text: str, language: str | None, raw_language: str | None, decision: Decision,
                    rule: int | None, rule_id: str | None, column: _Col | None):
        """Compiled (fn(ctx), is_python) for an expression cell; errors are reported."""
        if language is None:
            self.report.error(_unsupported_language(raw_language), decision.label, rule, rule_id, column)
            return (lambda ctx: None), False
        if language == PYTHON:
            fn = _compile_python(text, self.report, decision.label, rule, rule_id, column)
            return fn, True
        try:
            compiled = feel.compile_expression(text, self.names)
        except feel.FeelSyntaxError as exc:
            self.report.error(_unparsable(text.strip(), exc), decision.label, rule, rule_id, column)
            return (lambda ctx: None), False
        decision.names_used |= feel.referenced_names(compiled.node)
        return compiled.fn, False

    def _test(self, text: str, raw_language: str | None, decision: Decision, rule: int, rule_id: str | None,
              column: _InputColumn):
        """(test or None for "-", is_python, FEEL node or None) for an input entry."""
        label = _Col("input", column.label)
        language = _language_kind(raw_language)
        stripped = text.strip()
        if language is None:
            self.report.error(_unsupported_language(raw_language), decision.label, rule, rule_id, label)
            return None, False, None
        if language == PYTHON:
            if stripped in ("", "-"):
                return None, True, None
            return _python_test(stripped, self.report, decision.label, rule, rule_id, label), True, None
        if not stripped:
            stripped = "-"  # an empty cell means "any value" in every DMN modeller
        try:
            compiled = feel.compile_unary_tests(stripped, self.names)
        except feel.FeelSyntaxError as exc:
            self.report.error(_unparsable(stripped, exc), decision.label, rule, rule_id, label)
            return None, False, None
        decision.names_used |= feel.referenced_names(compiled.node)
        if self.report.issues is not None:
            self._check_test_types(decision, column, compiled.node, stripped, rule, rule_id)
        return (None if compiled.matches_anything else compiled.fn), False, compiled.node

    # --- validation-only checks ---------------------------------------------------------
    def _check_test_types(self, decision: Decision, column: _InputColumn, node, text: str, rule: int,
                          rule_id: str | None) -> None:
        expected = column.type_info.kind
        label = _Col("input", column.label)
        for value in analysis.literal_values(node):
            if expected and not column.type_info.is_collection and kind_of(value) != expected:
                self.report.error(gettext("'%(cell)s' compares with a %(kind)s but the column's type is %(type)s, so "
                                          "it can never match", cell=text, kind=kind_of(value),
                                          type=column.type_info.describe), decision.label, rule, rule_id, label)
                return
            if column.allowed is not None and kind_of(value) == "string" and value not in column.allowed:
                self.report.warning(gettext("'%(value)s' is not one of the input values of the column", value=value),
                                    decision.label, rule, rule_id, label)

    def _check_output_literal(self, decision: Decision, column: _OutputColumn, text: str, rule: int,
                              rule_id: str | None) -> None:
        expected = column.type_info.kind
        if not expected or column.type_info.is_collection:
            return
        try:
            node = feel.parse_expression(text, self.names)
        except feel.FeelSyntaxError:
            return
        if isinstance(node, feel.nodes.Literal) and node.value is not None and kind_of(node.value) != expected:
            self.report.error(gettext("'%(cell)s' is a %(kind)s but the output's type is %(type)s", cell=text.strip(),
                                      kind=kind_of(node.value), type=column.type_info.describe),
                              decision.label, rule, rule_id, _Col("output", column.label))

    def _check_table(self, decision: Decision) -> None:
        # Python cells cannot be analysed; every pair would look like a possible overlap.
        if decision.hit_policy != "UNIQUE" or any(py for r in decision.rules for _, _, py in r.checks):
            return
        sets = [[analysis.value_set(node) if node is not None else analysis.EVERYTHING
                 for _, node in rule.value_sets] for rule in decision.rules]
        for i, first in enumerate(decision.rules):
            for j in range(i + 1, len(decision.rules)):
                second = decision.rules[j]
                if all(analysis.can_both_match(a, b) for a, b in zip(sets[i], sets[j])):
                    self.report.warning(gettext(
                        "%(rules)s can match the same inputs, which a UNIQUE table does not allow",
                        rules=_rules_list([first, second])), decision.label, first.index, first.id, locate_rule=False)


def _unsupported_language(language: str | None) -> str:
    return gettext("unsupported expression language '%(language)s' (use FEEL or python)", language=language)


def _unparsable(text: str, exc: feel.FeelSyntaxError) -> str:
    return gettext("cannot parse '%(cell)s': %(reason)s", cell=text, reason=exc.reason)


def _component_names(item: ItemDefinition) -> set[str]:
    names = set()
    for name, comp in item.components.items():
        names.add(name)
        names |= _component_names(comp)
    return names


def _normalized(fn: Callable[[dict], Any]) -> Callable[[dict], Any]:
    """Python cells produce plain Python values; the table works with FEEL values."""

    def run(pyctx: dict) -> Any:
        return normalize(fn(pyctx))

    return run


# --- Python dialect ----------------------------------------------------------------------


def _scripting():
    try:
        from app.workflow import scripting
    except Exception as exc:  # noqa: BLE001 - another team's module: report whatever breaks it
        raise DecisionError(gettext("Python cells need app.workflow.scripting, which cannot be imported: %(reason)s",
                                    reason=exc)) from None
    return scripting


def _compile_python(source: str, report: _Reporter, decision: str, rule: int | None, rule_id: str | None,
                    column: _Col | None, shown: str | None = None) -> Callable[[dict], Any]:
    scripting = _scripting()
    shown = (shown or source).strip()
    try:
        fn = scripting.compile_expression(source.strip())
    except scripting.ExpressionError as exc:
        report.error(gettext("cannot use Python expression '%(cell)s': %(reason)s", cell=shown, reason=exc),
                     decision, rule, rule_id, column)
        return lambda ctx: None

    def run(pyctx: dict) -> Any:
        try:
            return fn(pyctx)
        except scripting.ExpressionError as exc:
            raise DecisionError(gettext("Python expression '%(cell)s' failed: %(reason)s", cell=shown, reason=exc),
                                decision, rule, rule_id, column) from None

    return run


_QUESTION_MARK = re.compile(r"""\?(?=(?:[^'"]|'[^']*'|"[^"]*")*$)""")


def _python_test(cell: str, report: _Reporter, decision: str, rule: int, rule_id: str | None,
                 column: _Col) -> Callable[[Any, dict], bool]:
    """SpiffWorkflow's convention: "?" stands for the input; a cell that is a complete
    expression is compared for equality; otherwise (e.g. "> 5", "in [1, 2]") it continues
    an expression that starts with the input."""
    if _QUESTION_MARK.search(cell):
        source = _QUESTION_MARK.sub(_PY_INPUT, cell)
    else:
        try:
            ast.parse(cell, mode="eval")
            source = f"({_PY_INPUT}) == ({cell})"
        except SyntaxError:
            source = f"{_PY_INPUT} {cell}"
    fn = _compile_python(source, report, decision, rule, rule_id, column, shown=cell)

    def test(value: Any, pyctx: dict) -> bool:
        pyctx[_PY_INPUT] = value
        return bool(fn(pyctx))

    return test
