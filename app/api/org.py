"""Read access to the organisation for integrations (HIS/HR sync reads, OR scheduling …)."""
from flask import jsonify, request
from sqlalchemy import select

from app.api import blueprint, token_required
from app.extensions import db
from app.modules.org.models import Department, Staff

MAX_LIMIT = 1000


def _limit_offset() -> tuple[int, int]:
    try:
        limit = min(MAX_LIMIT, max(1, int(request.args.get("limit", 200))))
        offset = max(0, int(request.args.get("offset", 0)))
    except ValueError:
        limit, offset = 200, 0
    return limit, offset


@blueprint.route("/departments")
@token_required("org:read")
def api_departments():
    limit, offset = _limit_offset()
    rows = db.session.scalars(select(Department).order_by(Department.id).limit(limit).offset(offset))
    return jsonify({"items": [
        {"id": d.id, "code": d.code, "name": d.name, "category": d.category,
         "unit_type": d.unit_type, "parent_id": d.parent_id, "active": d.active} for d in rows]})


@blueprint.route("/staff")
@token_required("org:read")
def api_staff():
    limit, offset = _limit_offset()
    stmt = select(Staff).order_by(Staff.id)
    if request.args.get("employee_no"):
        stmt = stmt.where(Staff.employee_no == request.args["employee_no"])
    rows = db.session.scalars(stmt.limit(limit).offset(offset))
    return jsonify({"items": [
        {"id": s.id, "employee_no": s.employee_no, "name": s.name, "gender": s.gender,
         "department_id": s.department_id, "staff_type": s.staff_type, "title_code": s.title_code,
         "practice_category": s.practice_category, "practice_scope": s.practice_scope,
         "status": s.status} for s in rows]})
