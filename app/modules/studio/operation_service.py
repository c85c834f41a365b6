"""Which registered domain operations the hospital lets its processes call.

Every operation a module registers is enabled until an administrator disables it; a process whose
service task names a disabled operation is refused at publishing (the studio's validation report
names the task). Disabling does not touch published versions: the page lists where the operation
is used so that the administrator can change those processes first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.core import audit
from app.core.models import utcnow
from app.extensions import db
from app.modules.studio.models import OperationSetting
from app.workflow import extensions, operations, parsing
from app.workflow.errors import NotFound, PermissionDenied
from app.workflow.models import PUBLISHED, ProcessVersion
from app.workflow.permissions import is_admin


@dataclass
class OperationRow:
    name: str
    description: str
    params: list[dict]
    enabled: bool
    changed_at: Any = None
    changed_by_id: int | None = None
    used_by: list[tuple[str, str]] = field(default_factory=list)  # published processes: (key, name)

    def as_option(self) -> dict:
        return {"name": self.name, "description": self.description, "params": self.params}


def _params(operation: operations.Operation) -> list[dict]:
    schema = operation.params_schema or {}
    required = set(schema.get("required", []))
    return [{"name": name, "required": name in required, "type": (spec or {}).get("type") or "",
             "description": (spec or {}).get("description") or (spec or {}).get("title") or ""}
            for name, spec in (schema.get("properties") or {}).items()]


def disabled_names() -> set[str]:
    return set(db.session.scalars(select(OperationSetting.name).where(OperationSetting.enabled.is_(False))))


def usage() -> dict[str, list[tuple[str, str]]]:
    """Operation name → (key, name) of the published processes whose service tasks call it."""
    used: dict[str, list[tuple[str, str]]] = {}
    for version in db.session.scalars(select(ProcessVersion).where(ProcessVersion.status == PUBLISHED)):
        try:
            exts = extensions.read_definitions(parsing.read_xml(version.bpmn_xml))
        except Exception:  # noqa: BLE001,S112 -- a stored model that cannot be read uses nothing
            continue
        process = exts.get(version.key)
        entry = (version.key, version.definition.name or version.key)
        for node in (process.nodes.values() if process else ()):
            if node.operation and entry not in used.setdefault(node.operation, []):
                used[node.operation].append(entry)
    return used


def rows() -> list[OperationRow]:
    settings = {s.name: s for s in db.session.scalars(select(OperationSetting))}
    used = usage()
    out = []
    for name, operation in sorted(operations.registered().items()):
        setting = settings.get(name)
        out.append(OperationRow(name, str(operation.description or ""), _params(operation),
                                setting.enabled if setting else True, setting.changed_at if setting else None,
                                setting.changed_by_id if setting else None, used.get(name, [])))
    return out


def set_enabled(actor: Any, name: str, enabled: bool, note: str | None = None) -> OperationSetting:
    if not is_admin(actor):
        raise PermissionDenied(_("Only administrators may enable or disable operations."))
    if operations.get(name) is None:
        raise NotFound(_("No operation %(name)s is registered.", name=name))
    setting = db.session.scalar(select(OperationSetting).where(OperationSetting.name == name))
    if setting is None:
        setting = OperationSetting(name=name)
        db.session.add(setting)
    setting.enabled, setting.note = enabled, (note or "").strip()[:2000] or None
    setting.changed_by_id, setting.changed_at = getattr(actor, "id", None), utcnow()
    db.session.flush()
    audit.record("workflow.operation.enable" if enabled else "workflow.operation.disable", actor=actor,
                 object_type="studio_operation", object_id=setting.id, data={"name": name, "note": setting.note},
                 summary=f"{'enabled' if enabled else 'disabled'} operation {name}")
    return setting
