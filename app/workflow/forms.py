"""Task forms: a JSON Schema (draft 2020-12) plus UI hints, rendered and validated on the server.

A form file is JSON: `{"title": …, "schema": {…}, "ui": {field path: {hint: …}}}`. Field paths are
property names joined by dots, array items left out (`rows.amount`); the root object's hints (its
`order`) sit under "". HTML inputs are named by the same path joined by "-", rows numbered
(`rows-0-amount`); error paths use dots with row numbers (`rows.0.amount`).

The flow of a task page: `coerce` the POST into typed data → `validate` (+ `check_sources`) →
save, or `render` again with the errors. The browser's validation is off: the server decides.
Data sources (staff, departments …) are searched through `/api/lookup/<source>`; domain modules
register them with `register_source`. No database access and no request reading here.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from markupsafe import Markup

WIDGETS = {"text", "textarea", "number", "date", "select", "multiselect", "checkbox", "file",
           "hidden", "readonly"}
HINTS = {"widget", "source", "placeholder", "help", "capture", "accept", "order", "readonly",
         "messages", "enumNames"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

MESSAGES = {
    "required": _l("Please fill in this field."),
    "minLength": _l("Enter at least %(n)s characters."),
    "maxLength": _l("Enter at most %(n)s characters."),
    "minimum": _l("Must not be less than %(n)s."),
    "maximum": _l("Must not be greater than %(n)s."),
    "exclusiveMinimum": _l("Must be greater than %(n)s."),
    "exclusiveMaximum": _l("Must be less than %(n)s."),
    "choice": _l("Please choose from the list."),
    "date": _l("Enter a valid date (YYYY-MM-DD)."),
    "email": _l("Enter a valid email address."),
    "format": _l("The format is not correct."),
    "number": _l("Please enter a number."),
    "integer": _l("Please enter a whole number."),
    "minRows": _l("Fill in at least %(n)s row(s)."),
    "maxRows": _l("Fill in at most %(n)s row(s)."),
    "minChoices": _l("Choose at least %(n)s."),
    "maxChoices": _l("Choose at most %(n)s."),
    "uniqueItems": _l("Remove the duplicates."),
    "dependentRequired": _l("Required when “%(field)s” is filled in."),
    "invalid": _l("Please check this field."),
}
_CHOICE_KINDS = {"enum", "const", "oneOf", "anyOf"}


class FormError(ValueError):
    """A form file that cannot be read."""


@dataclass(frozen=True)
class FormDef:
    name: str
    title: str
    schema: dict
    ui: dict = field(default_factory=dict)

    def hints(self, ui_path: tuple[str, ...] | str) -> dict:
        key = ui_path if isinstance(ui_path, str) else ".".join(ui_path)
        hints = self.ui.get(key)
        return hints if isinstance(hints, dict) else {}


def load_form(source: str | Path | Mapping, name: str | None = None) -> FormDef:
    """A FormDef from a JSON file or an already parsed dict (not checked: see `check_form`)."""
    if isinstance(source, Mapping):
        raw, default_name = dict(source), "form"
    else:
        path = Path(source)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FormError(f"cannot read form {path}: {exc}") from exc
        default_name = path.stem
    if not isinstance(raw, dict) or not isinstance(raw.get("schema"), dict):
        raise FormError("a form is a JSON object with a 'schema' object")
    schema = raw["schema"]
    return FormDef(name=name or raw.get("name") or default_name,
                   title=raw.get("title") or schema.get("title") or default_name,
                   schema=schema, ui=raw.get("ui") or {})


# --- data sources ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    name: str
    search: Callable[[str, int, Any], list[dict]]  # (query, limit, user) → [{"value", "label"}]
    resolve: Callable[[list, Any], dict] | None = None  # (values, user) → {value: label}
    placeholder: Any = None


_SOURCES: dict[str, Source] = {}


def register_source(name: str, search: Callable[[str, int, Any], list[dict]], *,
                    resolve: Callable[[list, Any], dict] | None = None, placeholder: Any = None) -> None:
    """Register a data source for select fields (`"source": name`). `search` and `resolve` scope
    their answers to `user`; `resolve` also lets the server show labels and reject foreign values."""
    _SOURCES[name] = Source(name, search, resolve, placeholder)


def get_source(name: str) -> Source | None:
    return _SOURCES.get(name)


# --- schema helpers -------------------------------------------------------------------------


def _props(schema: dict) -> dict:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def _options(schema: dict, hints: dict) -> list[tuple[Any, str]]:
    """(value, label) pairs from `enum` (+ `enumNames`) or `oneOf`/`anyOf` of `const` + `title`."""
    if isinstance(schema.get("enum"), list):
        names = hints.get("enumNames") or schema.get("enumNames") or []
        return [(v, str(names[i]) if i < len(names) else _text(v)) for i, v in enumerate(schema["enum"])]
    for key in ("oneOf", "anyOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches and all(isinstance(b, dict) and "const" in b for b in branches):
            return [(b["const"], str(b.get("title", _text(b["const"])))) for b in branches]
    return []


def _kind(schema: dict, hints: dict) -> str:
    widget, type_ = hints.get("widget"), schema.get("type")
    if widget in ("hidden", "file"):
        return widget
    if type_ == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if items.get("type") == "object":
            return "rows"
        return "lookup" if hints.get("source") else "multiselect"
    if type_ == "object":
        return "group"
    if hints.get("source"):
        return "lookup"
    if _options(schema, hints) or widget == "select":
        return "select"
    if type_ == "boolean":
        return "checkbox"
    if widget == "textarea":
        return "textarea"
    if widget == "date" or schema.get("format") == "date":
        return "date"
    if type_ in ("number", "integer"):
        return type_
    return "email" if schema.get("format") == "email" else "text"


def _is_readonly(hints: dict) -> bool:
    return bool(hints.get("readonly")) or hints.get("widget") == "readonly"


def _text(value: Any) -> str:
    """A value as the browser sends it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _schema_at(schema: dict, path: tuple) -> dict | None:
    for part in path:
        if isinstance(part, int):
            schema = schema.get("items") if isinstance(schema.get("items"), dict) else None
        else:
            schema = _props(schema).get(part)
        if not isinstance(schema, dict):
            return None
    return schema


def _conditionals(schema: dict) -> tuple[dict[str, list[dict]], set[str]]:
    """Fields required only by an `if`/`then`/`else` of this object: when each is shown
    (simple conditions on one enum/boolean field, as forms.js evaluates them) and which they are."""
    show: dict[str, list[dict]] = {}
    conditional: set[str] = set()
    blocks = [schema, *[b for b in schema.get("allOf", []) if isinstance(b, dict)]]
    for block in blocks:
        test = block.get("if")
        if not isinstance(test, dict):
            continue
        simple = None
        props = _props(test)
        if len(props) == 1 and set(test) <= {"properties", "required"}:
            (control, sub), = props.items()
            values = [sub["const"]] if "const" in sub else sub.get("enum")
            if isinstance(values, list) and set(sub) <= {"const", "enum"}:
                simple = {"field": control, "values": [_text(v) for v in values],
                          "required": control in test.get("required", [])}
        for branch, negate in (("then", False), ("else", True)):
            sub = block.get(branch)
            if not isinstance(sub, dict):
                continue
            for key in sub.get("required", []):
                conditional.add(key)
                show.setdefault(key, []).append({**simple, "not": negate} if simple else None)
    always = set(schema.get("required", []))
    return {k: v for k, v in show.items() if k not in always and None not in v}, conditional - always


def _holds(condition: dict, data: dict) -> bool:
    value = data.get(condition["field"]) if isinstance(data, dict) else None
    if value is None or value == "" or value == []:
        result = not condition["required"]
    else:
        result = _text(value) in condition["values"]
    return result != condition["not"]


# --- authoring checks -----------------------------------------------------------------------


def check_form(form: FormDef) -> list[str]:
    """Problems an author must fix before the form can be used; [] when it is fine."""
    try:
        Draft202012Validator.check_schema(form.schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return [f"schema is not valid JSON Schema at {where}: {exc.message}"]
    if form.schema.get("type") != "object" or not _props(form.schema):
        return ["the schema must be an object with properties"]
    problems: list[str] = []
    paths = {"": form.schema}
    _check_object(form, form.schema, (), paths, problems)
    for key, hints in form.ui.items():
        target = paths.get(key)
        if target is None:
            problems.append(f"ui hints for '{key}': no such field")
            continue
        if not isinstance(hints, dict):
            problems.append(f"ui hints for '{key}' must be an object")
            continue
        problems.extend(_check_hints(key, hints, target))
    return problems


def _check_object(form: FormDef, schema: dict, ui_path: tuple, paths: dict, problems: list) -> None:
    props = _props(schema)
    where = ".".join(ui_path) or "the form"
    for key in props:
        if not NAME.match(key):
            problems.append(f"field name '{key}' in {where}: use letters, digits and _ only")
    shown, conditional = _conditionals(schema)
    names = set(schema.get("required", [])) | conditional
    for prop, deps in (schema.get("dependentRequired") or {}).items():
        names.update([prop, *deps])
    for key in sorted(names - set(props)):
        problems.append(f"'{key}' is required in {where} but not declared in its properties")
    for key, sub in props.items():
        path = (*ui_path, key)
        dotted = ".".join(path)
        paths[dotted] = sub
        hints = form.hints(path)
        kind = _kind(sub, hints)
        if kind == "rows":
            _check_object(form, sub["items"], path, paths, problems)
        elif kind == "group":
            _check_object(form, sub, path, paths, problems)
        elif kind == "multiselect" and not _options(sub.get("items") or {}, hints):
            problems.append(f"'{dotted}': a list field needs items with enum, a source or a file widget")
        elif kind == "select" and not _options(sub, hints):
            problems.append(f"'{dotted}': a select needs enum, oneOf with const, or a source")


def _check_hints(key: str, hints: dict, target: dict) -> list[str]:
    problems = [f"ui hints for '{key or '(root)'}': unknown hint '{h}'" for h in hints if h not in HINTS]
    widget = hints.get("widget")
    if widget is not None and widget not in WIDGETS:
        problems.append(f"'{key}': unknown widget '{widget}' (one of {', '.join(sorted(WIDGETS))})")
    if "source" in hints and get_source(hints["source"]) is None:
        known = ", ".join(sorted(_SOURCES)) or "none registered"
        problems.append(f"'{key}': unknown data source '{hints['source']}' (known: {known})")
    if ("capture" in hints or "accept" in hints) and widget != "file":
        problems.append(f"'{key}': capture and accept apply to file fields only")
    if hints.get("capture") not in (None, "user", "environment"):
        problems.append(f"'{key}': capture is 'environment' (back camera) or 'user' (front camera)")
    if "order" in hints:
        props = _props(target.get("items", target) if target.get("type") == "array" else target)
        for name in hints["order"] if isinstance(hints["order"], list) else ["(not a list)"]:
            if name not in props:
                problems.append(f"'{key or '(root)'}': order names '{name}', which is not a field there")
    return problems


# --- POST → typed data ----------------------------------------------------------------------

_MISSING = object()


def coerce(form: FormDef, formdata, prefix: str = "", attachments: Mapping[str, Any] | None = None) -> dict:
    """Typed data from an HTML POST (a werkzeug MultiDict). Values that do not parse stay strings so
    that `validate` reports them; empty inputs are left out; read-only fields are never taken.
    `attachments` maps a file input's name to the id(s) the caller stored for its upload."""
    return _coerce_object(form, form.schema, formdata, prefix, (), attachments or {})


def _coerce_object(form, schema, formdata, name_prefix, ui_path, attachments) -> dict:
    out: dict[str, Any] = {}
    for key, sub in _props(schema).items():
        path, name = (*ui_path, key), name_prefix + key
        hints = form.hints(path)
        if _is_readonly(hints):
            continue
        kind = _kind(sub, hints)
        if kind == "group":
            value = _coerce_object(form, sub, formdata, name + "-", path, attachments) or _MISSING
        elif kind == "rows":
            pattern = re.compile(re.escape(name) + r"-(\d+)-")
            indices = sorted({int(m.group(1)) for k in formdata.keys() if (m := pattern.match(k))})
            rows = [_coerce_object(form, sub["items"], formdata, f"{name}-{i}-", path, attachments)
                    for i in indices]
            # rows the user added and left blank are dropped (an unticked box is not an entry)
            value = [row for row in rows if any(v is not False and v != [] for v in row.values())]
        elif kind == "checkbox":
            value = _scalar(formdata.get(name, ""), sub, hints)
            value = False if value is _MISSING else value
        else:
            raw = formdata.getlist(name)
            if name in attachments:
                stored = attachments[name]
                new = [str(v) for v in (stored if isinstance(stored, (list, tuple)) else [stored])
                       if v is not None and v != ""]
                raw = ([*raw, *new] if sub.get("type") == "array" else new) if new else raw
            if sub.get("type") == "array":
                items = sub.get("items") if isinstance(sub.get("items"), dict) else {}
                values = [_scalar(r, items, {}) for r in raw]
                value = [v for v in values if v is not _MISSING]
            else:
                value = _scalar(raw[-1] if raw else "", sub, hints)
        if value is not _MISSING:
            out[key] = value
    return out


def _scalar(raw: str, schema: dict, hints: dict) -> Any:
    text = raw.replace("\r\n", "\n").strip() if isinstance(raw, str) else str(raw)
    if text == "":
        return _MISSING
    for value, _label in _options(schema, hints):
        if _text(value) == text:
            return value
    type_ = schema.get("type")
    if type_ == "boolean":
        return text.lower() in ("true", "on", "1", "yes")
    if type_ in ("number", "integer"):
        number = text.replace(",", "").replace("，", "")
        try:
            if re.fullmatch(r"[+-]?\d+", number):
                return int(number)
            value = float(number)
        except ValueError:
            return text
        if value != value or value in (float("inf"), float("-inf")):
            return text
        return int(value) if value.is_integer() else value
    return text


# --- validation -----------------------------------------------------------------------------


def validate(form: FormDef, data: dict) -> dict[str, str]:
    """Every schema error, mapped to its field path, in the user's language; {} when valid."""
    validator = Draft202012Validator(form.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors: dict[str, str] = {}
    for error in validator.iter_errors(data):
        for path, message in _describe(form, error):
            errors.setdefault(".".join(str(p) for p in path), message)
    return errors


def _describe(form: FormDef, error) -> list[tuple[tuple, str]]:
    base, kind, expected = tuple(error.absolute_path), error.validator, error.validator_value
    instance = error.instance if isinstance(error.instance, dict) else {}
    if kind == "required":
        return [((*base, p), _message(form, (*base, p), "required")) for p in expected if p not in instance]
    if kind == "dependentRequired":
        parent = _schema_at(form.schema, base) or {}
        found = []
        for prop, deps in expected.items():
            title = _props(parent).get(prop, {}).get("title", prop)
            found += [((*base, dep), _message(form, (*base, dep), "dependentRequired", field=title))
                      for dep in deps if prop in instance and dep not in instance]
        return found
    # An error on one choice of a list field belongs to the list field.
    if base and isinstance(base[-1], int):
        parent = _schema_at(form.schema, base[:-1]) or {}
        if (parent.get("items") or {}).get("type") != "object":
            base = base[:-1]
    schema = _schema_at(form.schema, base) or {}
    if kind in _CHOICE_KINDS:
        return [(base, _message(form, base, "choice"))]
    if kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        key = "integer" if "integer" in types else "number" if "number" in types else "invalid"
        if form.hints(tuple(p for p in base if not isinstance(p, int))).get("source"):
            key = "choice"  # a data-source value the typeahead did not give
        return [(base, _message(form, base, key, validator=kind))]
    if kind in ("format", "pattern"):
        key = expected if kind == "format" and expected in ("date", "email") else "format"
        return [(base, _message(form, base, key, validator=kind))]
    if kind in ("minItems", "maxItems"):
        rows = (schema.get("items") or {}).get("type") == "object"
        key = ("min" if kind == "minItems" else "max") + ("Rows" if rows else "Choices")
        return [(base, _message(form, base, key, validator=kind, n=expected))]
    if kind in ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [(base, _message(form, base, kind, n=expected))]
    if kind == "uniqueItems":
        return [(base, _message(form, base, kind))]
    return [(base, _message(form, base, "invalid", validator=kind))]


def _message(form: FormDef, path: tuple, key: str, validator: str | None = None, **values) -> str:
    """The message for `key`, or the author's own for this field and error kind (ui `messages`)."""
    custom = form.hints(tuple(p for p in path if not isinstance(p, int))).get("messages") or {}
    text = custom.get(validator or key) or custom.get(key)
    values = {k: _text(v) for k, v in values.items()}
    if text:
        return str(text)
    text = str(MESSAGES[key])
    return text % values if values else text


# --- data-source values ---------------------------------------------------------------------


def _source_values(form: FormDef, schema: dict, data: Any, path: tuple, ui_path: tuple):
    """(dotted path, source, [values]) for every filled data-source field in `data`."""
    if not isinstance(data, dict):
        return
    for key, sub in _props(schema).items():
        hints, value = form.hints((*ui_path, key)), data.get(key)
        kind = _kind(sub, hints)
        if value is None:
            continue
        if kind == "group":
            yield from _source_values(form, sub, value, (*path, key), (*ui_path, key))
        elif kind == "rows" and isinstance(value, list):
            for i, row in enumerate(value):
                yield from _source_values(form, sub["items"], row, (*path, key, i), (*ui_path, key))
        elif kind == "lookup":
            values = value if isinstance(value, list) else [value]
            yield ".".join(str(p) for p in (*path, key)), hints["source"], values, _is_readonly(hints)


def source_labels(form: FormDef, data: dict | None, user) -> dict[str, dict[str, str]]:
    """{field path: {value: label}} for data-source values that `user` may see."""
    found = list(_source_values(form, form.schema, data or {}, (), ()))
    by_source: dict[str, set] = {}
    for _path, name, values, _readonly in found:
        by_source.setdefault(name, set()).update(values)
    resolved: dict[str, dict[str, str]] = {}
    for name, values in by_source.items():
        source = get_source(name)
        if source is not None and source.resolve is not None:
            answer = source.resolve(sorted(values, key=_text), user)
            resolved[name] = {_text(k): str(v) for k, v in answer.items()}
    labels: dict[str, dict[str, str]] = {}
    for path, name, values, _readonly in found:
        known = resolved.get(name, {})
        labels[path] = {_text(v): known[_text(v)] for v in values if _text(v) in known}
    return labels


def check_sources(form: FormDef, data: dict, user) -> dict[str, str]:
    """Errors for entered data-source values `user` could not have chosen (another department's
    staff, a made-up id): the server, not the typeahead, decides what may be saved."""
    labels = source_labels(form, data, user)
    errors: dict[str, str] = {}
    for path, name, values, readonly in _source_values(form, form.schema, data or {}, (), ()):
        source = get_source(name)
        if readonly or source is None or source.resolve is None:
            continue
        if any(_text(v) not in labels.get(path, {}) for v in values):
            errors[path] = str(MESSAGES["choice"])
    return errors


# --- rendering ------------------------------------------------------------------------------


@dataclass
class Field:
    """One input as the template draws it."""

    key: str
    path: str  # rows.0.amount: where errors and labels are keyed
    name: str  # prefix + rows-0-amount: the HTML name
    kind: str
    label: str
    schema: dict
    hints: dict
    value: Any = None
    error: str | None = None
    help: str | None = None
    required: bool = False
    required_when: list[str] = field(default_factory=list)
    show_when: list[dict] = field(default_factory=list)
    shown: bool = True
    readonly: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    children: list[Field] = field(default_factory=list)
    rows: list[list[Field]] = field(default_factory=list)
    template: list[Field] = field(default_factory=list)
    token: str = ""
    min_rows: int = 0
    placeholder: str = ""
    file_url: Callable[[Any], str] | None = None

    @property
    def id(self) -> str:
        return "f-" + self.name

    @property
    def text(self) -> str:
        return _text(self.value)

    @property
    def texts(self) -> list[str]:
        values = self.value if isinstance(self.value, list) else [] if self.value is None else [self.value]
        return [_text(v) for v in values]

    @property
    def multiple(self) -> bool:
        return self.schema.get("type") == "array"

    @property
    def describedby(self) -> str:
        ids = [f"{self.id}-help" if self.help or self.required_when else "",
               f"{self.id}-error" if self.error else ""]
        return " ".join(i for i in ids if i)

    def display(self) -> list[tuple[str, str | None]]:
        """(text, link) pairs for showing the value read-only."""
        names = dict(self.options)
        out = []
        for text in self.texts:
            if self.kind == "checkbox":
                out.append((_("Yes") if self.value else _("No"), None))
            elif self.kind == "file":
                link = self.file_url(text) if self.file_url else None
                out.append((self.labels.get(text) or _("Attachment %(id)s", id=text), link))
            else:
                out.append((self.labels.get(text) or names.get(text, text), None))
        return out


def render(form: FormDef, data: dict | None = None, errors: Mapping[str, str] | None = None,
           readonly: bool = False, prefix: str = "", *, user=None,
           labels: Mapping[str, Mapping[str, str]] | None = None,
           file_url: Callable[[Any], str] | None = None) -> Markup:
    """The form's fields as Bootstrap 5 markup (the caller supplies `<form novalidate>`, the CSRF
    token and the buttons), or with readonly=True its values as a `<dl>`. With `user`, data-source
    values show their labels; `labels` adds or overrides labels ({path: {value: label}}), e.g.
    attachment file names; `file_url(id)` links attachments. Call within a request."""
    from flask import current_app

    all_labels = source_labels(form, data, user) if user is not None else {}
    for path, mapping in (labels or {}).items():
        all_labels[path] = {**all_labels.get(path, {}), **{_text(k): str(v) for k, v in mapping.items()}}
    context = _Build(form, dict(errors or {}), all_labels, readonly, file_url)
    fields = context.object(form.schema, data or {}, (), (), prefix)
    macros = current_app.jinja_env.get_template("forms/_form.html").module
    return Markup(macros.form(fields, readonly=readonly, form_error=context.errors.get(""),
                              error_count=len(context.errors)))


@dataclass
class _Build:
    form: FormDef
    errors: dict[str, str]
    labels: dict[str, dict[str, str]]
    readonly: bool
    file_url: Callable[[Any], str] | None
    depth: int = 0

    def object(self, schema: dict, data: Any, path: tuple, ui_path: tuple, name_prefix: str) -> list[Field]:
        data = data if isinstance(data, dict) else {}
        props = _props(schema)
        order = self.form.hints(ui_path).get("order") or []
        keys = [k for k in order if k in props] + [k for k in props if k not in order]
        required = set(schema.get("required", []))
        shown_when, conditional = _conditionals(schema)
        needs: dict[str, list[str]] = {}
        for prop, deps in (schema.get("dependentRequired") or {}).items():
            for dep in deps:
                needs.setdefault(dep, []).append(str(props.get(prop, {}).get("title", prop)))
        fields = []
        for key in keys:
            sub, hints = props[key], self.form.hints((*ui_path, key))
            dotted = ".".join(str(p) for p in (*path, key))
            f = Field(key=key, path=dotted, name=name_prefix + key, kind=_kind(sub, hints),
                      label=str(sub.get("title") or key), schema=sub, hints=hints, value=data.get(key),
                      error=self.errors.get(dotted), help=hints.get("help") or sub.get("description"),
                      required=key in required or key in conditional, required_when=needs.get(key, []),
                      readonly=self.readonly or _is_readonly(hints), labels=self.labels.get(dotted, {}),
                      placeholder=hints.get("placeholder") or "", file_url=self.file_url)
            conditions = shown_when.get(key, [])
            f.shown = not conditions or bool(f.error) or any(_holds(c, data) for c in conditions)
            f.show_when = [{**c, "field": name_prefix + c["field"]} for c in conditions]
            options_schema = sub.get("items") if f.kind == "multiselect" else sub
            f.options = [(_text(v), label) for v, label in _options(options_schema or {}, hints)]
            if f.kind == "lookup" and not f.placeholder:
                source = get_source(hints.get("source", ""))
                f.placeholder = str(source.placeholder) if source and source.placeholder else _("Type to search")
            if f.kind == "group":
                inner = _Build(self.form, self.errors, self.labels, f.readonly, self.file_url, self.depth)
                f.children = inner.object(sub, f.value, (*path, key), (*ui_path, key), f.name + "-")
            elif f.kind == "rows":
                self._rows(f, sub, path, ui_path)
            fields.append(f)
        return fields

    def _rows(self, f: Field, schema: dict, path: tuple, ui_path: tuple) -> None:
        items, key = schema["items"], f.key
        values = f.value if isinstance(f.value, list) else []
        f.min_rows = int(schema.get("minItems", 0))
        if not f.readonly:  # an empty form shows the rows it must have
            values = values + [{}] * max(0, f.min_rows - len(values))
        inner = _Build(self.form, self.errors, self.labels, f.readonly, self.file_url, self.depth + 1)
        f.rows = [inner.object(items, row, (*path, key, i), (*ui_path, key), f"{f.name}-{i}-")
                  for i, row in enumerate(values)]
        f.value = values
        f.token = f"__{self.depth}__"
        blank = _Build(self.form, {}, {}, f.readonly, self.file_url, self.depth + 1)
        f.template = blank.object(items, {}, (*path, key, f.token), (*ui_path, key), f"{f.name}-{f.token}-")
