"""Hospital settings of the privileges module that take effect from a date (stored as data).

`anaesthesia_mode` (R3.5): anaesthesia privileges are granted per catalog item ("catalog") or per
anaesthesia level ("level"); the hospital switches with effect from a date, the history stays.
"""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core import audit
from app.core.scopes import can
from app.extensions import db

from .models import PrivilegeSetting

ANAESTHESIA_MODE = "anaesthesia_mode"
MODES = {"catalog": _l("By catalog item"), "level": _l("By anaesthesia level")}
DEFAULTS = {ANAESTHESIA_MODE: "catalog"}


class SettingError(ValueError):
    pass


def value(key: str, on: date | None = None) -> str:
    on = on or date.today()
    found = db.session.scalar(select(PrivilegeSetting.value).where(PrivilegeSetting.key == key,
                                                                   PrivilegeSetting.effective_from <= on)
                              .order_by(PrivilegeSetting.effective_from.desc()).limit(1))
    return found or DEFAULTS[key]


def anaesthesia_mode(on: date | None = None) -> str:
    return value(ANAESTHESIA_MODE, on)


def history(key: str) -> list[PrivilegeSetting]:
    return list(db.session.scalars(select(PrivilegeSetting).where(PrivilegeSetting.key == key)
                                   .order_by(PrivilegeSetting.effective_from.desc())))


def set_value(actor, key: str, new_value: str, effective_from: date, note: str | None = None) -> PrivilegeSetting:
    if actor is not None and not can(actor, "privileges.manage"):
        from app.workflow.errors import PermissionDenied

        raise PermissionDenied(_("You may not change privilege settings."))
    if key != ANAESTHESIA_MODE or new_value not in MODES:
        raise SettingError(_("Choose a valid mode."))
    row = db.session.scalar(select(PrivilegeSetting).where(PrivilegeSetting.key == key,
                                                           PrivilegeSetting.effective_from == effective_from))
    before = row.value if row else None
    if row is None:
        row = PrivilegeSetting(key=key, effective_from=effective_from, value=new_value)
        db.session.add(row)
    row.value, row.note, row.set_by_id = new_value, (note or "").strip() or None, getattr(actor, "id", None)
    db.session.flush()
    audit.record("privileges.setting", actor=actor, object_type="privilege_setting", object_id=row.id,
                 data={"key": key, "value": new_value, "before": before, "effective_from": effective_from.isoformat()},
                 summary=f"{key} = {new_value} from {effective_from.isoformat()}")
    from .stamp import bump

    bump()
    return row
