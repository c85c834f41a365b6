"""The shipped rights dictionary (`data/rights.csv`): prescription tiers, anaesthesia levels and
practice capabilities. Synced by `medtech db upgrade`; codes that exist are never overwritten, so
the hospital's own edits win."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from app.extensions import db

from .models import PrivilegeRight

DATA = Path(__file__).resolve().parent / "data" / "rights.csv"


def shipped() -> list[dict]:
    with DATA.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def sync_rights() -> int:
    present = set(db.session.scalars(select(PrivilegeRight.code)))
    added = 0
    for row in shipped():
        if row["code"] in present:
            continue
        db.session.add(PrivilegeRight(code=row["code"], ptype=row["ptype"], group_key=row["group_key"],
                                      name=row["name"], rank=int(row["rank"]), requirement=row["requirement"] or None,
                                      evidence_required=row["evidence_required"] == "1",
                                      sort_order=int(row["sort_order"]), active=True))
        added += 1
    if added:
        db.session.flush()
        from .stamp import bump

        bump()
    return added
