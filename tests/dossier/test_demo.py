"""The demo dossiers: every physician has basic information, certificates with real scans on disk
(some expired, some expiring), history; adverse records entered by the functional departments."""
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.modules.dossier.models import AdverseRecord, Certificate, CertificateFile, DossierProfile, HistoryEntry
from app.modules.dossier.services import identity, storage
from app.modules.org.models import Staff
from tests.dossier.helpers import staff_of


@pytest.mark.req("R1.1")
def test_every_demo_physician_has_a_valid_profile(ctx):
    physicians = db.session.scalar(select(func.count(Staff.id)).where(Staff.staff_type == "physician"))
    profiles = db.session.execute(select(DossierProfile, Staff).join(Staff, Staff.id == DossierProfile.staff_id)
                                  .where(Staff.staff_type == "physician")).all()
    assert len(profiles) == physicians > 0
    for profile, staff in profiles:
        assert identity.problem(profile.id_number) is None
        assert identity.birth_date(profile.id_number) == staff.birth_date
        assert identity.gender(profile.id_number) == staff.gender


@pytest.mark.req("R1.2")
def test_demo_certificates_have_real_files_and_expiry_states(ctx):
    today = date.today()
    files = db.session.scalars(select(CertificateFile)).all()
    assert files
    for f in files[:40]:
        data = storage.path_of(f.stored_name).read_bytes()
        assert len(data) == f.size
        if f.is_pdf:
            assert data[:5] == b"%PDF-"
        else:
            Image.open(storage.path_of(f.stored_name)).verify()
        assert storage.path_of(f.thumb_name).exists()
    assert db.session.scalar(select(func.count(Certificate.id)).where(Certificate.expires_on < today)) > 0
    assert db.session.scalar(select(func.count(Certificate.id)).where(
        Certificate.expires_on.between(today, today + timedelta(days=30)))) > 0
    doctor = staff_of("doctor")
    mine = db.session.scalars(select(Certificate).where(Certificate.staff_id == doctor.id)).all()
    assert any(c.expires_on and c.expires_on < today for c in mine)
    assert any(c.expires_on and today <= c.expires_on <= today + timedelta(days=90) for c in mine)


@pytest.mark.req("R1.4")
@pytest.mark.req("R1.8")
def test_demo_history_and_adverse_records(ctx):
    doctor = staff_of("doctor")
    kinds = set(db.session.scalars(select(HistoryEntry.kind).where(HistoryEntry.staff_id == doctor.id)))
    assert kinds == {"work", "training"}
    records = db.session.scalars(select(AdverseRecord)).all()
    assert records and all(r.recorded_by_id and r.duty_department.category in ("functional", "medtech")
                           for r in records)
