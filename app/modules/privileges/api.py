"""The live privilege check for HIS (/api/v1/privileges, token scope `privileges:read`).

GET  /privileges/check?staff=<工号>&kind=<surgery|procedure|drug|anaesthesia|medtech|capability>
     &code=<ICD-9-CM-3, drug or item code>&date=YYYY-MM-DD[&right=operate|report]
     → {allowed, grant, reason, …}; an unknown doctor or code answers 404 with allowed=false.
POST /privileges/check  {"items": [{staff, kind, code, date}, …]} (≤1000) → {"results": [...]} in order,
     a malformed item gets its own error entry.
POST /privileges/overrides {staff, kind, code, date, reason} (scope `privileges:override`): an
     emergency override, recorded for review; answers allowed=true with override=true.
GET  /privileges/authorised?code=<ICD-9-CM-3>&date= → the doctors holding a valid grant (OR scheduling).
GET  /privileges/ping → {"ok": true}: the same authentication, nothing else (the benchmark's yardstick).
"""
from __future__ import annotations

from datetime import date

from flask import g, jsonify, request
from sqlalchemy import select

from app.api import blueprint, token_required
from app.extensions import db
from app.modules.org.models import Staff

from . import overrides
from .check import MAX_BATCH, CheckError, answer_many, answer_one, maps, parse
from .grants import state_on
from .models import Grant


_USAGE = {
    "usage": "GET /api/v1/privileges/check?staff=<工号>&kind=<kind>&code=<code>&date=YYYY-MM-DD[&right=operate|report]",
    "kinds": {"surgery": "ICD-9-CM-3 手术操作编码", "procedure": "ICD-9-CM-3 手术操作编码",
              "drug": "药品编码", "anaesthesia": "麻醉项目编码（按级别授权时可为 1–4）",
              "medtech": "医技项目编码（right=operate|report）", "capability": "执业能力代码"},
    "batch": "POST /api/v1/privileges/check {\"items\": [{staff, kind, code, date}, …]}",
    "override": "POST /api/v1/privileges/overrides {staff, kind, code, date, reason}",
}


def _error(status: int, message: str):
    return jsonify({"allowed": False, "error": {"status": status, "message": message}}), status


@blueprint.route("/privileges/ping")
@token_required("privileges:read")
def api_privileges_ping():
    return jsonify({"ok": True})


@blueprint.route("/privileges/check", methods=["GET"])
@token_required("privileges:read")
def api_privileges_check():
    if not request.args:
        return jsonify(_USAGE)
    try:
        query = parse(request.args.to_dict())
    except CheckError as exc:
        return _error(exc.status, exc.message)
    answer = answer_one(query)
    if "error" in answer:
        return jsonify(answer), answer["error"]["status"]
    return jsonify(answer)


@blueprint.route("/privileges/check", methods=["POST"])
@token_required("privileges:read")
def api_privileges_check_batch():
    body = request.get_json(silent=True)
    entries = body.get("items") if isinstance(body, dict) else body
    if not isinstance(entries, list):
        return _error(400, '请发送 {"items": [{staff, kind, code, date}, …]}')
    if len(entries) > MAX_BATCH:
        return _error(413, f"每批最多 {MAX_BATCH} 项")
    queries = []
    for entry in entries:
        try:
            queries.append(parse(entry))
        except CheckError as exc:
            queries.append(exc)
    results = answer_many(queries)
    for index, result in enumerate(results):
        result["index"] = index
    return jsonify({"results": results, "total": len(results),
                    "allowed": sum(1 for r in results if r.get("allowed")),
                    "errors": sum(1 for r in results if "error" in r)})


@blueprint.route("/privileges/overrides", methods=["POST"])
@token_required("privileges:override")
def api_privileges_override():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "请发送 {staff, kind, code, date, reason}")
    try:
        query = parse(body)
        token = getattr(g, "api_token", None)
        answer = overrides.record(query, str(body.get("reason") or ""), getattr(token, "name", None))
    except CheckError as exc:
        return _error(exc.status, exc.message)
    if "error" in answer:
        return jsonify(answer), answer["error"]["status"]
    return jsonify(answer)


@blueprint.route("/privileges/authorised")
@token_required("privileges:read")
def api_privileges_authorised():
    if not request.args:
        return jsonify({"usage": "GET /api/v1/privileges/authorised?code=<ICD-9-CM-3>&date=YYYY-MM-DD",
                        "answer": "the doctors holding a valid grant of an item with that code on that day"})
    code = (request.args.get("code") or "").strip()
    try:
        on = date.fromisoformat(request.args["date"]) if request.args.get("date") else date.today()
    except ValueError:
        return _error(400, "日期格式应为 YYYY-MM-DD")
    m = maps()
    rows = m.procedures.get(code)
    if not rows:
        return _error(404, f"未知的手术操作编码：{code}")
    keys = [f"item:{r[0]}" for r in rows]
    found = db.session.execute(
        select(Grant.id, Grant.staff_id, Grant.item_name, Grant.level, Grant.scope, Grant.start_date, Grant.end_date,
               Grant.status, Grant.has_changes, Staff.employee_no, Staff.name)
        .join(Staff, Staff.id == Grant.staff_id)
        .where(Grant.item_key.in_(keys), Grant.start_date <= on)).all()
    doctors = {}
    from .grants import changes_of

    changes = changes_of([r.id for r in found if r.has_changes])
    for row in found:
        state = state_on(row, changes.get(row.id, ()), on)
        if state.valid:
            doctors[row.employee_no] = {"staff": row.employee_no, "name": row.name, "item": row.item_name,
                                        "grant_id": row.id,
                                        "end_date": row.end_date.isoformat() if row.end_date else None,
                                        "scope": state.scope}
    return jsonify({"code": code, "date": on.isoformat(), "items": sorted(doctors.values(), key=lambda d: d["staff"])})
