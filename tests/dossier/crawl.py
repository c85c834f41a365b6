"""Crawl values for the dossier's route arguments (used by tests/test_route_crawl.py).

In scope: the crawling user's own dossier and its records (a certificate with a file, history, an
adverse record, an export they asked for). Markers: the same records of the two planted staff
members, for the roles whose dossier scope does not reach them — those must answer 404. (A dossier
the role may read but not change answers 403 on its edit pages, so markers are only the unreachable.)
"""
from __future__ import annotations

import io
import zipfile
from datetime import date

from sqlalchemy import select

from app.extensions import db

_CACHE: dict[tuple, dict] = {}


def _user(world):
    from app.modules.accounts.models import User

    return db.session.scalar(select(User).where(User.username == world.username)) if world.username else None


def _records(staff_id: int, user_id: int | None, tag: str) -> dict:
    from app.modules.dossier.models import AdverseRecord, Certificate, CertificateFile, DossierExport, HistoryEntry
    from app.modules.dossier.services import storage
    from app.modules.org.models import Department
    from tests.dossier.helpers import png

    checked = storage.check(f"{tag}.png", png())
    stored, thumb = storage.store(staff_id, checked)
    cert = Certificate(staff_id=staff_id, cert_type="other", name=f"{tag} 证书", number=f"CRAWL-{tag}-{staff_id}")
    cert.files.append(CertificateFile(seq=1, original_name=f"{tag}.png", stored_name=stored, thumb_name=thumb,
                                      mime=checked.mime, size=len(checked.data), sha256=checked.sha256))
    entry = HistoryEntry(staff_id=staff_id, kind="work", started_on=date(2015, 1, 1), institution=f"{tag} 医院")
    duty = db.session.scalar(select(Department.id).where(Department.category == "functional").order_by(Department.id))
    record = AdverseRecord(staff_id=staff_id, occurred_on=date(2026, 1, 5), category="other", content=f"{tag} 记录",
                           duty_department_id=duty, source="manual", status="active")
    db.session.add_all([cert, entry, record])
    db.session.flush()
    export_id = None
    if user_id is not None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("index.txt", tag)
        name = f"exports/crawl-{tag}-{staff_id}.zip"
        (storage.root() / "exports").mkdir(parents=True, exist_ok=True)
        (storage.root() / name).write_bytes(buffer.getvalue())
        export = DossierExport(requested_by_id=user_id, staff_id=staff_id, status="done", stored_name=name,
                               download_name="crawl.zip", size=len(buffer.getvalue()))
        db.session.add(export)
        db.session.flush()
        export_id = export.id
    return {"certificate_id": cert.id, "file_id": cert.files[0].id, "history_id": entry.id,
            "adverse_id": record.id, "export_id": export_id}


def _world_records(world) -> dict:
    key = (world.username, world.markers["staff_other"].id)
    if key in _CACHE:
        return _CACHE[key]
    from app.modules.accounts.models import User
    from app.modules.dossier import access
    from app.modules.org.models import Staff

    user = _user(world)
    own = _records(world.own_staff_id, user.id if user else None, "own")
    other_user = db.session.scalar(select(User.id).where(User.username == "zzmark7f3a"))
    markers = []
    for marker_key in ("staff_other", "staff_same"):
        marker = world.markers[marker_key]
        visible = user is not None and db.session.scalar(
            select(Staff.id).where(Staff.id == marker.id, access.visible_clause(user))) is not None
        if not visible:
            markers.append((marker, _records(marker.id, other_user, marker_key)))
    _CACHE.clear()
    _CACHE[key] = {"own": own, "markers": markers}
    return _CACHE[key]


def values(world, marker_class, arg: str):
    """(in-scope values, markers that must answer 404) of one argument."""
    if arg == "person_id":
        found = _world_records(world)
        return [world.own_staff_id], [marker_class(f"dossier_{m.key}", m.text, m.id, False)
                                      for m, _r in found["markers"]]
    if arg == "batch_id":
        from app.modules.dossier.models import DossierImport

        batch = DossierImport(filename="crawl.xlsx", status="invalid", rows=[], errors=[])
        db.session.add(batch)
        db.session.flush()
        return [batch.id], []
    found = _world_records(world)
    inside = found["own"][arg]
    outside = [marker_class(f"dossier_{arg}_{m.key}", m.text, records[arg], False)
               for m, records in found["markers"] if records[arg] is not None]
    return [inside if inside is not None else 0], outside
