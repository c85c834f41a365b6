"""Who the applicant is, as the eligibility rules see it: staff type, title and its rank, years in
title and in practice, practice category and scope, and the title ceiling the DMN table gives."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from app.extensions import db
from app.modules.org.models import Department, Staff, Title

from . import decide

TITLE_RANKS = {"junior": 1, "intermediate": 2, "associate_senior": 3, "senior": 4}


@dataclass(frozen=True)
class Facts:
    staff_id: int
    employee_no: str
    name: str
    department_id: int
    department_name: str
    staff_type: str
    title_code: str
    title_name: str
    title_rank: int
    years_in_title: int
    years_practising: int
    practice_category: str
    practice_scope: str
    ceiling: int

    def dmn_inputs(self) -> dict:
        return {"staff_type": self.staff_type, "title_rank": self.title_rank, "ceiling": self.ceiling,
                "years_practising": self.years_practising, "practice_category": self.practice_category,
                "practice_scope": self.practice_scope, "title_code": self.title_code,
                "years_in_title": self.years_in_title}


def _years(since: date | None, on: date) -> int:
    if since is None:
        return 0
    years = on.year - since.year - ((on.month, on.day) < (since.month, since.day))
    return max(years, 0)


def facts(staff: Staff | int, on: date | None = None) -> Facts:
    on = on or date.today()
    staff_id = staff if isinstance(staff, int) else staff.id
    row = db.session.execute(
        select(Staff.id, Staff.employee_no, Staff.name, Staff.department_id, Department.name.label("department"),
               Staff.staff_type, Staff.title_code, Staff.title_since, Staff.hire_date, Staff.practice_category,
               Staff.practice_scope, Title.name.label("title_name"), Title.level.label("title_level"))
        .join(Department, Department.id == Staff.department_id)
        .outerjoin(Title, Title.code == Staff.title_code).where(Staff.id == staff_id)).one()
    return facts_from_row(row, on)


def facts_from_row(row, on: date) -> Facts:
    years_in_title = _years(row.title_since, on)
    rank = TITLE_RANKS.get(row.title_level or "", 0)
    ceiling = decide.title_ceiling(row.title_code, years_in_title) if row.staff_type == "physician" else 0
    return Facts(staff_id=row.id, employee_no=row.employee_no, name=row.name, department_id=row.department_id,
                 department_name=row.department, staff_type=row.staff_type or "", title_code=row.title_code or "",
                 title_name=row.title_name or "", title_rank=rank, years_in_title=years_in_title,
                 years_practising=_years(row.hire_date, on), practice_category=row.practice_category or "",
                 practice_scope=row.practice_scope or "", ceiling=ceiling)
