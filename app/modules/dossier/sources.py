"""Form data sources quoting the applicant's own history into application forms (R1.4):
`"ui": {"experience": {"source": "work_history"}}` (or `training_history`) on an integer (or array of
integers) field lets the applicant pick entries of their own work or training history; the stored
value is the entry id, shown everywhere as the quoted line (period · institution · …)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.extensions import db
from app.modules.dossier import access
from app.modules.dossier.models import HistoryEntry
from app.modules.dossier.services import history
from app.modules.org.models import Staff
from app.workflow.forms import register_source


def _ids(values) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue
    return ids


def _searcher(kind: str):
    def search(query: str, limit: int, user) -> list[dict]:
        """Only the user's own entries: an applicant quotes their own history."""
        own = access.own_staff_id(user)
        if own is None:
            return []
        stmt = select(HistoryEntry).where(HistoryEntry.staff_id == own, HistoryEntry.kind == kind)
        if query:
            stmt = stmt.where(or_(HistoryEntry.institution.contains(query, autoescape=True),
                                  HistoryEntry.title.contains(query, autoescape=True),
                                  HistoryEntry.department.contains(query, autoescape=True),
                                  HistoryEntry.role.contains(query, autoescape=True)))
        stmt = stmt.order_by(HistoryEntry.started_on.desc(), HistoryEntry.id.desc()).limit(limit)
        return [{"value": e.id, "label": history.label(e),
                 "detail": (e.content or "")[:60]} for e in db.session.scalars(stmt)]

    return search


def _resolver(kind: str):
    def resolve(values, user) -> dict:
        """Labels of the entries whose dossier `user` may open (the applicant, and who reviews the
        application within their scope); other ids resolve to nothing and are refused on submit."""
        ids = _ids(values)
        if not ids:
            return {}
        stmt = (select(HistoryEntry).join(Staff, Staff.id == HistoryEntry.staff_id)
                .where(HistoryEntry.id.in_(ids), HistoryEntry.kind == kind, access.visible_clause(user)))
        return {e.id: history.label(e) for e in db.session.scalars(stmt)}

    return resolve


register_source("work_history", _searcher("work"), resolve=_resolver("work"),
                placeholder=_l("Choose from your work experience"))
register_source("training_history", _searcher("training"), resolve=_resolver("training"),
                placeholder=_l("Choose from your training"))
