"""HIS/HR sync of basic information (R1.1, R15.1): /api/v1/dossier/…

POST /dossier/staff (`dossier:write`): `{"items": [...]}` or a bare list, at most 5000 rows, each keyed
by `employee_no` (工号) with any field of the dossier (`department_code` or the department name,
`title_code` or the title name, dates YYYY-MM-DD, ID number …). Unknown 工号 creates the person, a
known one updates the fields sent; the same batch twice changes nothing the second time. Every
changed field is logged with source "api" and the token's name. One bad row: 422, nothing written.
GET /dossier/staff and /dossier/changes (`dossier:read`) read back what is stored.
"""
from __future__ import annotations

from datetime import date, datetime

from flask import g, jsonify, request
from sqlalchemy import select

from app.api import blueprint as api_blueprint
from app.api import token_required
from app.core import audit
from app.extensions import db
from app.modules.dossier.models import DossierChange, DossierProfile
from app.modules.dossier.services import batch as batches
from app.modules.dossier.services import profile as profiles
from app.modules.org.models import Department, Staff

MAX_LIMIT = 1000


def _error(status: int, message: str, **extra):
    return jsonify({"error": {"status": status, "message": message}, **extra}), status


def _paging() -> tuple[int, int]:
    try:
        limit = min(MAX_LIMIT, max(1, int(request.args.get("limit", 200))))
        offset = max(0, int(request.args.get("offset", 0)))
    except ValueError:
        limit, offset = 200, 0
    return limit, offset


def _json(value):
    return value.isoformat() if isinstance(value, (date, datetime)) else value


@api_blueprint.route("/dossier/staff", methods=["POST"])
@token_required("dossier:write")
def dossier_sync_staff():
    body = request.get_json(silent=True)
    items = body.get("items") if isinstance(body, dict) else body
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return _error(400, 'send a JSON list of objects, or {"items": [...]}')
    if len(items) > batches.MAX_ROWS:
        return _error(413, f"at most {batches.MAX_ROWS} rows per batch")
    rows = batches.normalise_rows(items)
    prepared = batches.prepare(rows, first_row=0)
    errors = batches.error_list(prepared)
    if errors:
        return _error(422, "the batch was refused; nothing was written", written=False, total=len(rows),
                      errors=[{"index": e["row"], "employee_no": e["employee_no"], "field": e["field"],
                               "message": e["message"]} for e in errors])
    token = getattr(g, "api_token", None)
    source_ref = getattr(token, "name", None)
    counts = batches.write(None, prepared, source="api", source_ref=source_ref)
    if counts["new"] or counts["update"]:
        audit.record("dossier.api_sync", object_type="dossier_sync", object_id=getattr(token, "prefix", None),
                     data={"token": source_ref, "rows": len(rows), **counts}, ip=request.remote_addr)
    return jsonify({"written": True, "total": len(rows), "inserted": counts["new"], "updated": counts["update"],
                    "unchanged": counts["unchanged"]})


@api_blueprint.route("/dossier/staff", methods=["GET"])
@token_required("dossier:read")
def dossier_list_staff():
    limit, offset = _paging()
    stmt = (select(Staff, DossierProfile, Department.code).join(Department, Department.id == Staff.department_id)
            .outerjoin(DossierProfile, DossierProfile.staff_id == Staff.id).order_by(Staff.id))
    if request.args.get("employee_no"):
        stmt = stmt.where(Staff.employee_no == request.args["employee_no"])
    items = []
    for staff, profile, department_code in db.session.execute(stmt.limit(limit).offset(offset)):
        values = profiles.current_values(staff, profile)
        values.pop("department_id")
        items.append({"id": staff.id, "department_code": department_code,
                      **{k: _json(v) for k, v in values.items()}})
    return jsonify({"items": items, "limit": limit, "offset": offset})


@api_blueprint.route("/dossier/changes", methods=["GET"])
@token_required("dossier:read")
def dossier_list_changes():
    """The change log, oldest first, from `since` (ISO date-time) or after `after_id`."""
    limit, offset = _paging()
    stmt = (select(DossierChange, Staff.employee_no).join(Staff, Staff.id == DossierChange.staff_id)
            .order_by(DossierChange.id))
    if request.args.get("after_id", "").isdigit():
        stmt = stmt.where(DossierChange.id > int(request.args["after_id"]))
    if request.args.get("since"):
        try:
            stmt = stmt.where(DossierChange.changed_at >= datetime.fromisoformat(request.args["since"]))
        except ValueError:
            return _error(400, "since must be an ISO date or date-time")
    if request.args.get("employee_no"):
        stmt = stmt.where(Staff.employee_no == request.args["employee_no"])
    items = [{"id": c.id, "employee_no": no, "field": c.field, "old": c.old_value, "new": c.new_value,
              "source": c.source, "source_ref": c.source_ref, "changed_at": c.changed_at.isoformat()}
             for c, no in db.session.execute(stmt.limit(limit).offset(offset))]
    return jsonify({"items": items, "limit": limit, "offset": offset})
