"""Background jobs of the clinical module: checking and committing big import files.

Each job is one unit of work (`app.core.jobs.run` commits it). A failure marks the batch failed in
a transaction of its own, so the history shows it, and re-raises for the job's retry policy — the
commit is an idempotent upsert, so a retry cannot duplicate rows.
"""
from __future__ import annotations

from app.core import jobs
from app.core.models import utcnow
from app.extensions import db
from app.modules.clinical.models import ImportBatch
from app.modules.clinical.services import files


def _run(batch_id: int, step: str, actor_id: int | None) -> None:
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        return
    actor = None
    if actor_id is not None:
        from app.modules.accounts.models import User

        actor = db.session.get(User, actor_id)
    try:
        batch.status = "checking" if step == "check" else "running"
        if step == "check":
            files.check(batch)
        else:
            files.commit(batch, actor)
    except Exception as exc:
        db.session.rollback()
        batch = db.session.get(ImportBatch, batch_id)
        batch.status, batch.message, batch.finished_at = "failed", str(exc)[:2000], utcnow()
        db.session.commit()
        raise


@jobs.job("clinical.check_import")
def check_import(batch_id: int, actor_id: int | None = None) -> None:
    _run(batch_id, "check", actor_id)


@jobs.job("clinical.commit_import")
def commit_import(batch_id: int, actor_id: int | None = None) -> None:
    _run(batch_id, "commit", actor_id)
