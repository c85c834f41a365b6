"""Zip exports of certificates (R1.2): one person's, or everyone's the requester manages (optionally
filtered), laid out as 科室/姓名_工号/<类型>_<编号>_<页>.<ext> with an index.xlsx sheet at the root.
Built by the tracked job `dossier.export_certificates` (progress bar), kept a week, then removed."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.core import audit, jobs
from app.core.exports import xlsx_bytes
from app.core.models import utcnow
from app.extensions import db
from app.modules.dossier import access
from app.modules.dossier.labels import CERT_TYPES
from app.modules.dossier.models import Certificate, DossierExport
from app.modules.dossier.services import certificates as certs
from app.modules.dossier.services import storage
from app.modules.org.models import Staff

KEEP_DAYS = 7
UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe(text: str | None, fallback: str = "_") -> str:
    cleaned = UNSAFE.sub("_", (text or "").strip()).strip(". ")
    return cleaned[:80] or fallback


def request_export(actor, *, staff: Staff | None = None, filters: dict | None = None) -> DossierExport:
    """Queue an export: `staff` for one person (whoever may open the dossier), else everyone the
    actor manages, narrowed by `filters` (department_id, cert_type, expiry, within)."""
    export = DossierExport(requested_by_id=actor.id, staff_id=staff.id if staff else None,
                           filters={k: v for k, v in (filters or {}).items() if v not in (None, "")},
                           status="queued")
    db.session.add(export)
    db.session.flush()
    export.job_run_id = jobs.enqueue("dossier.export_certificates", export.id, track=True, created_by=actor.id)
    audit.record("dossier.export_requested", actor=actor, object_type="dossier_export", object_id=export.id,
                 data={"staff_id": export.staff_id, "filters": export.filters})
    return export


def _certificates(export: DossierExport, actor) -> list[Certificate]:
    if export.staff_id is not None:
        stmt = (select(Certificate).join(Staff, Staff.id == Certificate.staff_id)
                .where(Certificate.staff_id == export.staff_id, access.visible_clause(actor)))
    else:
        filters = {k: str(v) for k, v in (export.filters or {}).items()}
        within = int(filters.get("within") or 90)
        stmt = certs.overview_query(actor, filters, within).order_by(None)
    stmt = stmt.options(selectinload(Certificate.files),
                        joinedload(Certificate.staff).joinedload(Staff.department))
    rows = db.session.scalars(stmt).unique().all()
    return sorted(rows, key=lambda c: (c.staff.department.sort_order, c.staff.department.code,
                                       c.staff.employee_no, c.cert_type, c.id))


def build(export_id: int) -> DossierExport | None:
    """Write the zip of an export (the job's work); the requester's scope is applied again now."""
    from app.modules.accounts.models import User

    export = db.session.get(DossierExport, export_id)
    if export is None or export.status == "done":
        return export
    actor = db.session.get(User, export.requested_by_id)
    run_id = jobs.current_run_id()
    export.status = "running"
    items = _certificates(export, actor) if actor is not None and actor.active else []
    today = date.today()
    buffer = io.BytesIO()
    index_rows, file_count, used = [], 0, set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, cert in enumerate(items, 1):
            staff = cert.staff
            folder = f"{safe(staff.department.name)}/{safe(staff.name)}_{safe(staff.employee_no)}"
            paths = []
            for file in cert.files:
                base = f"{folder}/{safe(str(CERT_TYPES.get(cert.cert_type, cert.cert_type)))}_" \
                       f"{safe(cert.number, str(cert.id))}_{file.seq}"
                suffix = "." + file.stored_name.rsplit(".", 1)[-1]
                path, k = base + suffix, 1
                while path in used:  # two certificates without a number in one folder
                    k += 1
                    path = f"{base}-{k}{suffix}"
                used.add(path)
                try:
                    archive.write(storage.path_of(file.stored_name), path, compress_type=(
                        zipfile.ZIP_STORED if file.mime != "image/png" else zipfile.ZIP_DEFLATED))
                except FileNotFoundError:
                    continue  # the file went missing on disk: the index says so (no path)
                paths.append(path)
                file_count += 1
            left = cert.days_left(today)
            state = (_("No expiry date") if left is None else _("Expired") if left < 0
                     else _("Expires in %(n)d days", n=left) if left <= 90 else _("Valid"))
            index_rows.append([staff.department.name, staff.name, staff.employee_no,
                               str(CERT_TYPES.get(cert.cert_type, cert.cert_type)), cert.name, cert.number or "",
                               cert.issuer or "", cert.issued_on, cert.expires_on, state, "\n".join(paths)])
            if run_id is not None and (n % 20 == 0 or n == len(items)):
                jobs.progress(run_id, 5 + 90 * n // max(len(items), 1), _("%(n)d of %(total)d certificates",
                                                                          n=n, total=len(items)))
        header = [_("Department"), _("Name"), _("Employee no."), _("Certificate type"), _("Certificate name"),
                  _("Certificate no."), _("Issued by"), _("Issued on"), _("Expires on"), _("State"), _("Files")]
        archive.writestr("index.xlsx", xlsx_bytes(_("Certificates"), header, index_rows))
    stored = f"exports/{export.id}.zip"
    target = storage.root() / stored
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    who = export.staff
    stamp = today.strftime("%Y%m%d")
    export.download_name = (f"{safe(who.name)}_{who.employee_no}_{_('certificates')}_{stamp}.zip" if who
                            else f"{_('certificates')}_{stamp}.zip")
    export.stored_name, export.size = stored, target.stat().st_size
    export.certificates, export.files = len(items), file_count
    export.status, export.finished_at = "done", utcnow()
    return export


def mark_failed(export_id: int, error: str) -> None:
    export = db.session.get(DossierExport, export_id)
    if export is not None:
        export.status, export.error, export.finished_at = "failed", error[:2000], utcnow()


def own_export(user, export_id: int) -> DossierExport:
    from flask import abort

    export = db.session.get(DossierExport, export_id)
    if export is None or export.requested_by_id != getattr(user, "id", None):
        abort(404)
    return export


def remove_old(now=None) -> int:
    """Remove the zip files of exports older than KEEP_DAYS (the row stays, marked expired)."""
    cutoff = (now or utcnow()) - timedelta(days=KEEP_DAYS)
    old = db.session.scalars(select(DossierExport).where(DossierExport.status == "done",
                                                         DossierExport.created_at < cutoff)).all()
    for export in old:
        storage.remove(export.stored_name)
        export.status, export.stored_name = "expired", None
    db.session.flush()
    return len(old)
