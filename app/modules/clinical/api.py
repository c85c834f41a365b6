"""Inbound JSON API for HIS/EMR/LIS (R15.1): /api/v1/clinical/<kind>.

POST a batch (`{"items": [...]}` or a bare list, at most 5000 rows) with a `clinical:write` token:
every row is upserted by its `source_id` (dictionaries by `code`), or — when any row is broken —
nothing is written and the answer is 422 with one entry per problem. GET lists what is stored
(`clinical:read`), filtered by `source_id`/`code`, paged by `limit`/`offset`.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import g, jsonify, request
from sqlalchemy import select

from app.api import blueprint as api_blueprint
from app.api import token_required
from app.core import audit
from app.extensions import db
from app.modules.accounts.services import note_token_use
from app.modules.clinical.models import DoctorMonthMetric, UnknownCode
from app.modules.clinical.services import files, ingest
from app.modules.clinical.services.kinds import KINDS

MAX_LIMIT = 1000


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _row(obj, columns) -> dict:
    return {c: _json_value(getattr(obj, c)) for c in columns}


def _paging() -> tuple[int, int]:
    try:
        limit = min(MAX_LIMIT, max(1, int(request.args.get("limit", 200))))
        offset = max(0, int(request.args.get("offset", 0)))
    except ValueError:
        limit, offset = 200, 0
    return limit, offset


def _error(status: int, message: str, **extra):
    return jsonify({"error": {"status": status, "message": message}, **extra}), status


def _upsert(kind_name: str):
    body = request.get_json(silent=True)
    items = body.get("items") if isinstance(body, dict) else body
    if not isinstance(items, list):
        return _error(400, 'send a JSON list of rows, or {"items": [...]}')
    if len(items) > ingest.MAX_BATCH:
        return _error(413, f"at most {ingest.MAX_BATCH} rows per batch")
    result = ingest.upsert(kind_name, items)
    token = getattr(g, "api_token", None)
    if not result.written:
        # The refusal goes into the import history in a transaction of its own (the request's unit of
        # work rolls back on a 4xx answer; the batch wrote nothing else).
        db.session.rollback()
        if token is not None:
            note_token_use(token)
        batch = files.record_api_batch(getattr(token, "name", None), kind_name, result)
        db.session.commit()
        return _error(422, "the batch was refused; nothing was written", written=False, total=result.total,
                      error_rows=result.error_rows, errors=result.errors, unknown_codes=result.unknown_codes,
                      import_id=batch.id)
    batch = files.record_api_batch(getattr(token, "name", None), kind_name, result)
    audit.record("clinical.api_batch", object_type="clinical_import", object_id=batch.id,
                 data={"kind": kind_name, "token": getattr(token, "prefix", None), "rows": result.total,
                       "inserted": result.inserted, "updated": result.updated}, ip=request.remote_addr)
    return jsonify({**result.as_dict(), "import_id": batch.id})


def _list(kind_name: str):
    kind = KINDS[kind_name]
    model = kind.model
    columns = [c.key for c in model.__table__.columns]
    stmt = select(model).order_by(model.id)
    key = request.args.get(kind.key)
    if key:
        stmt = stmt.where(getattr(model, kind.key) == key)
    limit, offset = _paging()
    rows = db.session.scalars(stmt.limit(limit).offset(offset))
    return jsonify({"items": [_row(r, columns) for r in rows], "limit": limit, "offset": offset})


def _register(kind_name: str) -> None:
    path = f"/clinical/{kind_name}"
    endpoint = "clinical_" + kind_name.replace("-", "_")
    api_blueprint.add_url_rule(path, f"{endpoint}_upsert", token_required("clinical:write")(
        lambda: _upsert(kind_name)), methods=["POST"])
    api_blueprint.add_url_rule(path, f"{endpoint}_list", token_required("clinical:read")(
        lambda: _list(kind_name)), methods=["GET"])


for _name in KINDS:
    _register(_name)


@api_blueprint.route("/clinical/unknown-codes")
@token_required("clinical:read")
def clinical_unknown_codes():
    limit, offset = _paging()
    stmt = select(UnknownCode).order_by(UnknownCode.dictionary, UnknownCode.code)
    if request.args.get("dictionary"):
        stmt = stmt.where(UnknownCode.dictionary == request.args["dictionary"])
    rows = db.session.scalars(stmt.limit(limit).offset(offset))
    columns = ("dictionary", "code", "name", "occurrences", "first_seen_at", "last_seen_at")
    return jsonify({"items": [_row(r, columns) for r in rows]})


@api_blueprint.route("/clinical/metrics")
@token_required("clinical:read")
def clinical_metrics():
    """Doctor-month figures, e.g. for a data warehouse; filter by `employee_no` and `month` (YYYY-MM)."""
    from app.modules.org.models import Staff

    limit, offset = _paging()
    stmt = (select(DoctorMonthMetric, Staff.employee_no).join(Staff, Staff.id == DoctorMonthMetric.staff_id)
            .order_by(DoctorMonthMetric.month, DoctorMonthMetric.staff_id))
    if request.args.get("employee_no"):
        stmt = stmt.where(Staff.employee_no == request.args["employee_no"])
    month = request.args.get("month", "")
    if len(month) == 7:
        try:
            stmt = stmt.where(DoctorMonthMetric.month == date.fromisoformat(month + "-01"))
        except ValueError:
            return _error(400, "month must be YYYY-MM")
    columns = [c.key for c in DoctorMonthMetric.__table__.columns]
    items = [{**_row(metric, columns), "employee_no": employee_no}
             for metric, employee_no in db.session.execute(stmt.limit(limit).offset(offset))]
    return jsonify({"items": items})
