"""Shipped dictionary subsets (procedure codes, drugs, ICD-10 diagnoses) in `data/*.csv`.

`sync_dictionaries` (run by `medtech db upgrade` and the demo) adds shipped codes that are missing
and never overwrites a code that exists: the hospital edits its dictionaries, or loads the full
national lists through the import page, and those edits win.
"""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import insert, select

from app.extensions import db

DATA = Path(__file__).resolve().parent / "data"
FILES = {"procedures": "procedures.csv", "drugs": "drugs.csv", "diagnoses": "diagnoses.csv"}


def shipped_rows(kind: str) -> list[dict]:
    with (DATA / FILES[kind]).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def sync_dictionaries() -> int:
    from app.modules.clinical.services.ingest import check
    from app.modules.clinical.services.kinds import KINDS

    added = 0
    for kind_name in FILES:
        kind = KINDS[kind_name]
        result, prepared, _ctx = check(kind_name, shipped_rows(kind_name))
        if result.errors:  # a broken shipped file is a bug: fail loudly
            raise ValueError(f"shipped dictionary {kind_name}: {result.errors[:3]}")
        present = set(db.session.scalars(select(kind.model.code)))
        missing = [v for v in prepared if v["code"] not in present]
        if missing:
            db.session.execute(insert(kind.model), missing)
            added += len(missing)
    db.session.flush()
    return added
