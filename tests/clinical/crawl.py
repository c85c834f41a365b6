"""Crawl values for the clinical module's route arguments (used by tests/test_route_crawl.py)."""
from __future__ import annotations

from sqlalchemy import not_, select

from app.extensions import db


def stay_values(world):
    """A stay inside the crawling user's scope, and one outside it as a marker that must 404."""
    from app.core.scopes import scope_filter
    from app.modules.accounts.models import User
    from app.modules.clinical.models import Stay
    from tests.test_route_crawl import Marker

    user = db.session.scalar(select(User).where(User.username == world.username)) if world.username else None
    if user is None:
        return [db.session.scalar(select(Stay.id).order_by(Stay.id).limit(1)) or 0], []
    visible = scope_filter(user, "clinical_stay")
    inside = db.session.scalar(select(Stay.id).where(visible).order_by(Stay.id).limit(1))
    outside = db.session.execute(select(Stay.id, Stay.source_id).where(not_(visible))
                                 .order_by(Stay.id).limit(1)).first()
    markers = [Marker("stay_outside", outside.source_id, outside.id, False)] if outside else []
    return [inside or 0], markers


def import_values(world):
    from app.modules.clinical.models import ImportBatch

    return [db.session.scalar(select(ImportBatch.id).order_by(ImportBatch.id).limit(1)) or 0], []
