"""Background jobs of the dossier: certificate zip exports (tracked, with progress) and the daily
expiry reminders plus the clean-up of old exports. Each job is one unit of work."""
from __future__ import annotations

from app.core import jobs
from app.extensions import db
from app.modules.dossier.services import exports, reminders


@jobs.job("dossier.export_certificates")
def export_certificates(export_id: int) -> None:
    try:
        exports.build(export_id)
    except Exception as exc:
        # Record the failure in its own transaction so the export page shows it, then let the
        # job's retry policy have it (a retry rebuilds the whole zip).
        db.session.rollback()
        exports.mark_failed(export_id, str(exc))
        db.session.commit()
        raise


@jobs.job("dossier.daily", every_seconds=86400)
def daily() -> dict:
    return {"reminded": reminders.send_due(), "exports_removed": exports.remove_old()}
