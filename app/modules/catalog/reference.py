"""The national list of restricted technologies and their quality-control indicators, shipped as data
(`data/restricted.json`) and synced into the hospital catalog by `medtech db upgrade`.

The sync adds what is missing — a technology by its item code, an indicator by (technology, key) —
and never overwrites: the hospital edits names, codes, targets and indicators in the catalog.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.modules.catalog.models import INDICATOR_MEASURES, CatalogItem, CatalogItemCode, RestrictedIndicator

DATA = Path(__file__).resolve().parent / "data" / "restricted.json"


@cache
def shipped() -> dict:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    for tech in data["technologies"]:  # a broken shipped file is a bug: fail loudly
        for indicator in tech["indicators"]:
            if indicator.get("measure") not in (None, *INDICATOR_MEASURES):
                raise ValueError(f"{tech['code']}/{indicator['key']}: unknown measure {indicator['measure']!r}")
    return data


def sync_restricted() -> int:
    data = shipped()
    changed = 0
    items = {i.code: i for i in db.session.scalars(select(CatalogItem).where(
        CatalogItem.code.in_([t["code"] for t in data["technologies"]])))}
    for tech in data["technologies"]:
        item = items.get(tech["code"])
        if item is None:
            item = CatalogItem(code=tech["code"], name=tech["name"], kind="restricted", level=4, restricted=True,
                               description=data["source"], active=True)
            item.codes = [CatalogItemCode(code=code) for code in dict.fromkeys(tech["codes"])]
            db.session.add(item)
            changed += 1
        have = {i.key for i in item.indicators}
        for order, spec in enumerate(tech["indicators"], 1):
            if spec["key"] in have:
                continue
            item.indicators.append(RestrictedIndicator(
                key=spec["key"], name=spec["name"], numerator=spec["numerator"], denominator=spec["denominator"],
                source=data["source"], target=spec.get("target"), measure=spec.get("measure"),
                complication_codes=spec.get("complication_codes"), sort_order=order * 10, active=True))
            changed += 1
    db.session.flush()
    return changed
