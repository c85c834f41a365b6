"""What an instance is about, readable: the kernel stores a subject as text ("staff:37", a
department's name …); a domain module registers how to name the subjects of its kind
("<kind>:<id>"), and pages show the names."""
from __future__ import annotations

from collections.abc import Callable, Iterable

# kind → function of ids (the text after "<kind>:") giving {id: name}, one call for a whole page.
_namers: dict[str, Callable[[list[str]], dict[str, str]]] = {}


def register(kind: str, names_of: Callable[[list[str]], dict[str, str]]) -> None:
    _namers[kind] = names_of


def labels(subjects: Iterable[str | None]) -> dict[str, str]:
    """{subject: name} for the subjects of a registered kind; others are left out (shown as they are)."""
    by_kind: dict[str, set[str]] = {}
    for subject in subjects:
        kind, sep, ident = (subject or "").partition(":")
        if sep and ident and kind in _namers:
            by_kind.setdefault(kind, set()).add(ident)
    found: dict[str, str] = {}
    for kind, idents in by_kind.items():
        for ident, name in _namers[kind](sorted(idents)).items():
            found[f"{kind}:{ident}"] = name
    return found
