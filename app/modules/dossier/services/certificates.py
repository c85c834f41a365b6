"""Certificates (R1.2): the doctor (or a manager) adds, edits and deletes them with their scanned pages;
the hospital-wide overview filters them by department, type and expiry."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.core import audit
from app.core.scopes import descendant_ids
from app.core.uow import after_commit
from app.extensions import db
from app.modules.dossier import access
from app.modules.dossier.labels import CERT_TYPES, NUMBERED_TYPES
from app.modules.dossier.models import Certificate, CertificateFile
from app.modules.dossier.services import storage
from app.modules.org.models import Staff

MAX_FILES = 12
FIELDS = ("cert_type", "name", "number", "issuer", "issued_on", "expires_on", "note")


class CertificateRefused(ValueError):
    """Field-by-field errors (field → message); nothing was written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for key in FIELDS:
        value = data.get(key)
        values[key] = (value.strip() or None) if isinstance(value, str) else value
    return values


def check(values: dict[str, Any], certificate: Certificate | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    cert_type = values.get("cert_type")
    if cert_type not in CERT_TYPES:
        errors["cert_type"] = _("Choose the certificate type.")
    if not values.get("name"):
        errors["name"] = _("Enter the certificate name.")
    number = values.get("number")
    if not number and cert_type in NUMBERED_TYPES:
        errors["number"] = _("Enter the certificate number.")
    elif number and cert_type in CERT_TYPES and db.session.scalar(select(Certificate.id).where(
            Certificate.cert_type == cert_type, Certificate.number == number,
            Certificate.id != (certificate.id if certificate else -1))):
        errors["number"] = _("A %(type)s with the number %(number)s is already registered. Check the number, "
                             "or edit the certificate already on file.", type=CERT_TYPES[cert_type], number=number)
    issued, expires = values.get("issued_on"), values.get("expires_on")
    if issued and issued > date.today():
        errors["issued_on"] = _("The issue date cannot be in the future.")
    if issued and expires and expires <= issued:
        errors["expires_on"] = _("The expiry date must be after the issue date.")
    for key, limit in (("name", 100), ("number", 60), ("issuer", 100)):
        if values.get(key) and len(values[key]) > limit:
            errors[key] = _("At most %(n)d characters.", n=limit)
    return errors


def _check_files(uploads: list[Upload]) -> tuple[list[storage.Checked], str | None]:
    checked, problems = [], []
    for upload in uploads:
        try:
            checked.append(storage.check(upload.filename, upload.data))
        except storage.FileRefused as exc:
            problems.append(str(exc))
    return checked, " ".join(problems) or None


def _add_files(certificate: Certificate, checked: list[storage.Checked], written: list[str]) -> None:
    seq = max([f.seq for f in certificate.files] or [0])
    for item in checked:
        stored, thumb = storage.store(certificate.staff_id, item)
        written.extend(n for n in (stored, thumb) if n)
        seq += 1
        certificate.files.append(CertificateFile(seq=seq, original_name=item.original_name, stored_name=stored,
                                                 thumb_name=thumb, mime=item.mime, size=len(item.data),
                                                 sha256=item.sha256))


def problems(data: dict[str, Any], uploads: list[Upload], certificate: Certificate | None = None
             ) -> tuple[dict[str, Any], dict[str, str], list[storage.Checked]]:
    """(cleaned values, problems field by field, checked files) of a submission; nothing is written."""
    values = _clean(data)
    errors = check(values, certificate)
    uploads = [u for u in uploads if u.filename or u.data]
    existing = len(certificate.files) if certificate else 0
    if not uploads and not existing:
        errors["files"] = _("Add at least one image or PDF of the certificate.")
    elif existing + len(uploads) > MAX_FILES:
        errors["files"] = _("At most %(n)d files per certificate.", n=MAX_FILES)
    checked, problem = _check_files(uploads)
    if problem:
        errors["files"] = problem
    return values, errors, checked


def save(actor, staff: Staff, data: dict[str, Any], uploads: list[Upload], certificate: Certificate | None = None,
         ip: str | None = None) -> Certificate:
    """Create (certificate None) or edit a certificate and add the uploaded pages; all or nothing."""
    access.require_edit(actor, staff)
    values, errors, checked = problems(data, uploads, certificate)
    if errors:
        raise CertificateRefused(errors)
    created = certificate is None
    before = {} if created else {k: getattr(certificate, k) for k in FIELDS}
    if created:
        certificate = Certificate(staff_id=staff.id, uploaded_by_id=getattr(actor, "id", None))
        db.session.add(certificate)
    for key, value in values.items():
        setattr(certificate, key, value)
    written: list[str] = []
    try:
        _add_files(certificate, checked, written)
        db.session.flush()
    except Exception:
        storage.remove(*written)  # the row is not there: neither may its files be
        raise
    audit.record("dossier.certificate_created" if created else "dossier.certificate_updated", actor=actor,
                 object_type="dossier_certificate", object_id=certificate.id, ip=ip,
                 data={"staff_id": staff.id, "before": before, "after": {k: getattr(certificate, k) for k in FIELDS},
                       "files_added": [c.original_name for c in checked]})
    return certificate


def delete(actor, certificate: Certificate, ip: str | None = None) -> None:
    access.require_edit(actor, certificate.staff)
    names = [n for f in certificate.files for n in (f.stored_name, f.thumb_name)]
    audit.record("dossier.certificate_deleted", actor=actor, object_type="dossier_certificate",
                 object_id=certificate.id, ip=ip,
                 data={"staff_id": certificate.staff_id, **{k: getattr(certificate, k) for k in FIELDS},
                       "files": [f.original_name for f in certificate.files]})
    db.session.delete(certificate)
    db.session.flush()
    after_commit(lambda: storage.remove(*names))  # a rolled-back delete keeps its files


def delete_file(actor, file: CertificateFile, ip: str | None = None) -> None:
    certificate = file.certificate
    access.require_edit(actor, certificate.staff)
    if len(certificate.files) <= 1:
        raise CertificateRefused({"files": _("A certificate keeps at least one file: upload another one first, "
                                             "or delete the certificate.")})
    names = [file.stored_name, file.thumb_name]
    audit.record("dossier.certificate_file_deleted", actor=actor, object_type="dossier_certificate",
                 object_id=certificate.id, ip=ip, data={"file": file.original_name})
    certificate.files.remove(file)
    db.session.flush()
    after_commit(lambda: storage.remove(*names))


def of_person(staff_id: int) -> list[Certificate]:
    """A person's certificates: practising and qualification first (the dictionary's order), newest first."""
    order = {code: n for n, code in enumerate(CERT_TYPES)}
    rows = db.session.scalars(select(Certificate).options(selectinload(Certificate.files))
                              .where(Certificate.staff_id == staff_id)).all()
    return sorted(rows, key=lambda c: (order.get(c.cert_type, 99), -(c.issued_on or date.min).toordinal(), c.id))


def visible_certificate(user, certificate_id: int) -> Certificate:
    """A certificate of a dossier `user` may open, else 404."""
    from flask import abort

    certificate = db.session.scalar(select(Certificate).join(Staff, Staff.id == Certificate.staff_id)
                                    .options(selectinload(Certificate.files))
                                    .where(Certificate.id == certificate_id, access.visible_clause(user)))
    if certificate is None:
        abort(404)
    return certificate


def visible_file(user, file_id: int) -> CertificateFile:
    from flask import abort

    file = db.session.scalar(select(CertificateFile).join(Certificate).join(Staff, Staff.id == Certificate.staff_id)
                             .where(CertificateFile.id == file_id, access.visible_clause(user)))
    if file is None:
        abort(404)
    return file


# --- the hospital-wide overview -----------------------------------------------------------------------

def expiry_clause(kind: str | None, within_days: int, today: date | None = None):
    today = today or date.today()
    if kind == "expired":
        return Certificate.expires_on < today
    if kind == "expiring":
        return and_(Certificate.expires_on >= today, Certificate.expires_on <= today + timedelta(days=within_days))
    if kind == "valid":
        return or_(Certificate.expires_on.is_(None), Certificate.expires_on >= today)
    if kind == "none":
        return Certificate.expires_on.is_(None)
    return None


def overview_query(user, args, within_days: int):
    """Certificates of the dossiers `user` manages, filtered as in the URL."""
    from app.core.scopes import scope_filter

    stmt = (select(Certificate).join(Staff, Staff.id == Certificate.staff_id)
            .options(selectinload(Certificate.files), joinedload(Certificate.staff).joinedload(Staff.department))
            .where(scope_filter(user, access.KIND, "dossier.manage")))
    department_id = args.get("department_id", "")
    if department_id.isdigit():
        stmt = stmt.where(Staff.department_id.in_(descendant_ids({int(department_id)})))
    if args.get("cert_type") in CERT_TYPES:
        stmt = stmt.where(Certificate.cert_type == args["cert_type"])
    clause = expiry_clause(args.get("expiry"), within_days)
    if clause is not None:
        stmt = stmt.where(clause)
    q = (args.get("q") or "").strip()
    if q:
        stmt = stmt.where(or_(Staff.name.contains(q, autoescape=True), Staff.employee_no == q,
                              Certificate.number.contains(q, autoescape=True),
                              Certificate.name.contains(q, autoescape=True)))
    order = {"expiry": (Certificate.expires_on.is_(None), Certificate.expires_on),
             "name": (Staff.name,)}.get(args.get("sort", ""), (Staff.department_id, Staff.employee_no))
    return stmt.order_by(*order, Certificate.id)


def counts_by_expiry(user, within_days: int) -> dict[str, int]:
    from app.core.scopes import scope_filter

    today = date.today()
    base = (select(func.count(Certificate.id)).join(Staff, Staff.id == Certificate.staff_id)
            .where(scope_filter(user, access.KIND, "dossier.manage")))
    return {kind: db.session.scalar(base.where(expiry_clause(kind, within_days, today)))
            for kind in ("expired", "expiring")}
