"""The tab registry of the dossier page: each module contributes the tabs it owns.

`register_tab(key, label, render, order=…, visible=…)`: `render(staff, actor)` returns the tab's HTML
(a str or Markup, rendered inside the dossier page's request), `visible(staff, actor)` says whether
the actor may see it (default: whoever may see the dossier). Tabs show in `order`; the dossier
module's own tabs use 10 (basic information), 20 (certificates), 30 (history), 40 (metrics) and
60 (adverse records), so other modules fit theirs between (e.g. authorizations at 50).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup


@dataclass(frozen=True)
class Tab:
    key: str
    label: Any  # a lazy string: translated when shown
    render: Callable[[Any, Any], "str | Markup"]
    order: int
    visible: Callable[[Any, Any], bool] | None = None


_TABS: dict[str, Tab] = {}


def register_tab(key: str, label, render: Callable[[Any, Any], "str | Markup"], *, order: int,
                 visible: Callable[[Any, Any], bool] | None = None) -> None:
    """Add (or replace, by key) a tab of the dossier page."""
    if not key or not key.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"a tab key is letters, digits, - and _: {key!r}")
    _TABS[key] = Tab(key, label, render, order, visible)


def registered() -> list[Tab]:
    return sorted(_TABS.values(), key=lambda tab: (tab.order, tab.key))


def tabs_for(staff, actor) -> list[Tab]:
    """The tabs `actor` may see on `staff`'s dossier, in order."""
    return [tab for tab in registered() if tab.visible is None or tab.visible(staff, actor)]


def render_tab(tab: Tab, staff, actor) -> Markup:
    html = tab.render(staff, actor)
    return html if isinstance(html, Markup) else Markup(html)
