"""The live privilege check (prevention: HIS asks before scheduling an operation or signing an order).

`check(staff 工号, kind, code, date)` answers allowed or not, the grant, and the reason ("四级手术，
未获授权", "特殊使用级抗菌药物，职称不符"). The code→item, drug→rights and 工号→staff maps are built
once per process and dropped when the change stamp moves (stamp.py); a check then costs one indexed
query on (staff_id, item_key) returning plain tuples — no ORM objects.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import bindparam, select, tuple_

from app.extensions import db
from app.modules.catalog.models import CatalogItem, CatalogItemCode
from app.modules.clinical.models import Drug
from app.modules.org.models import Staff, Title

from . import decide, identity, settings, stamp
from .grants import state_on
from .history import DRUG_CLASSES
from .items import KIND_WORDS
from .models import Grant, GrantChange, PrivilegeRight, PrivilegeSetting
from .types import PROCEDURE_KINDS, VARIANT_LABELS, VARIANTS, level_name

PROCEDURE_CHECKS = ("surgery", "procedure", "operation")
KINDS = (*PROCEDURE_CHECKS, "drug", "anaesthesia", "medtech", "capability")
MAX_AGE_SECONDS = 300.0  # rebuild the maps at least this often, whatever the stamp says
MAX_BATCH = 1000


class CheckError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Need:
    """One requirement: any of `keys` held at `min_level` or above (None: any level)."""

    keys: tuple[str, ...]
    min_level: int | None
    label: str
    ptype: str
    group: str
    right: str = ""
    level: int | None = None
    variant: str = ""


@dataclass
class Maps:
    stamp: int
    built: float
    staff: dict[str, tuple] = field(default_factory=dict)  # 工号 → staff row
    procedures: dict[str, tuple] = field(default_factory=dict)  # ICD code → ((item id, kind, level, name), …)
    catalog: dict[str, tuple] = field(default_factory=dict)  # hospital item code → (id, kind, level, name)
    drugs: dict[str, tuple] = field(default_factory=dict)  # drug code → (name, ((group key, tier), …))
    rights: dict[str, tuple] = field(default_factory=dict)  # right code → (group key, rank, name, ptype)
    tiers: dict[tuple, tuple] = field(default_factory=dict)  # (group key, rank) → (name, code, ptype)
    modes: tuple = ()  # ((effective_from, mode), …) newest first
    facts: dict[tuple[int, date], identity.Facts] = field(default_factory=dict)


_maps: Maps | None = None
_lock = threading.Lock()


def _invalidate() -> None:
    global _maps
    with _lock:
        _maps = None


stamp.on_bump(_invalidate)


def maps() -> Maps:
    """The lookup maps of this process, rebuilt when the data behind them changed."""
    global _maps
    current = stamp.current()
    found = _maps
    if found is not None and found.stamp == current and time.monotonic() - found.built < MAX_AGE_SECONDS:
        return found
    built = _build(current)
    with _lock:
        _maps = built
    return built


def _staff_select():
    return (select(Staff.id, Staff.employee_no, Staff.name, Staff.department_id, Staff.staff_type, Staff.title_code,
                   Staff.title_since, Staff.hire_date, Staff.practice_category, Staff.practice_scope,
                   Title.name.label("title_name"), Title.level.label("title_level"))
            .outerjoin(Title, Title.code == Staff.title_code))


def _build(current: int) -> Maps:
    result = Maps(stamp=current, built=time.monotonic())
    for row in db.session.execute(_staff_select().where(Staff.status == "active")):
        result.staff[row.employee_no] = row
    procedures: dict[str, list] = {}
    for code, item_id, kind, level, restricted, name in db.session.execute(
            select(CatalogItemCode.code, CatalogItem.id, CatalogItem.kind, CatalogItem.level, CatalogItem.restricted,
                   CatalogItem.name).join(CatalogItem, CatalogItem.id == CatalogItemCode.item_id)
            .where(CatalogItem.active.is_(True), CatalogItem.kind.in_(PROCEDURE_KINDS))):
        procedures.setdefault(code, []).append((item_id, "restricted" if restricted else kind, level, name))
    result.procedures = {code: tuple(rows) for code, rows in procedures.items()}
    for code, item_id, kind, level, name in db.session.execute(
            select(CatalogItem.code, CatalogItem.id, CatalogItem.kind, CatalogItem.level, CatalogItem.name)
            .where(CatalogItem.active.is_(True), CatalogItem.kind.in_(("medtech", "anaesthesia")))):
        result.catalog[code] = (item_id, kind, level, name)
    for right in db.session.execute(select(PrivilegeRight.code, PrivilegeRight.group_key, PrivilegeRight.rank,
                                           PrivilegeRight.name, PrivilegeRight.ptype)
                                    .where(PrivilegeRight.active.is_(True))):
        result.rights[right.code] = (right.group_key, right.rank, right.name, right.ptype)
        result.tiers[(right.group_key, right.rank)] = (right.name, right.code, right.ptype)
    for row in db.session.execute(select(Drug.code, Drug.name, Drug.antimicrobial_tier, Drug.anticancer_tier,
                                         Drug.controlled_class, Drug.tcm_type, Drug.glucocorticoid)
                                  .where(Drug.active.is_(True))):
        result.drugs[row.code] = (row.name, drug_needs(row))
    result.modes = tuple(db.session.execute(select(PrivilegeSetting.effective_from, PrivilegeSetting.value)
                                            .where(PrivilegeSetting.key == settings.ANAESTHESIA_MODE)
                                            .order_by(PrivilegeSetting.effective_from.desc())).all())
    return result


def drug_needs(row) -> tuple[tuple[str, int], ...]:
    """(right group, minimum tier) a drug needs, the general prescription right first."""
    needs = []
    for group, spec in DRUG_CLASSES.items():
        if spec is None:
            needs.append((group, 1))
            continue
        column, tiers = spec
        value = getattr(row, column)
        if value in tiers and (value is not False):
            needs.append((group, tiers[value]))
    return tuple(needs)


def _mode(m: Maps, on: date) -> str:
    for effective_from, value in m.modes:
        if effective_from <= on:
            return value
    return settings.DEFAULTS[settings.ANAESTHESIA_MODE]


def _staff(m: Maps, staff_no: str):
    row = m.staff.get(staff_no)
    if row is None:  # added since the maps were built, or not active
        row = db.session.execute(_staff_select().where(Staff.employee_no == staff_no)).first()
    return row


def _facts(m: Maps, row, on: date) -> identity.Facts:
    facts = m.facts.get((row.id, on))
    if facts is None:
        if len(m.facts) > 50000:
            m.facts.clear()
        facts = m.facts[(row.id, on)] = identity.facts_from_row(_FactsRow(row), on)
    return facts


class _FactsRow:
    """A staff row with the department name identity.Facts wants (not needed for the rules)."""

    def __init__(self, row):
        self._row = row
        self.department = ""

    def __getattr__(self, name):
        return getattr(self._row, name)


# --- what a code needs ------------------------------------------------------------------------------

def _tier_name(m: Maps, group: str, rank: int) -> tuple[str, str, str]:
    return m.tiers.get((group, rank)) or (group, "", "")


def needs_for(m: Maps, kind: str, code: str, on: date, variant: str | None = None) -> list[Need]:
    """The requirements of (kind, code), all of which must be met; CheckError 404 for an unknown code."""
    if kind in PROCEDURE_CHECKS:
        rows = m.procedures.get(code)
        if not rows:
            raise CheckError(404, f"未知的手术操作编码：{code}")
        top = max(rows, key=lambda r: r[2] or 0)
        word = KIND_WORDS.get(top[1], "手术")
        label = f"{level_name(top[2])}{word}" if top[2] else top[3]
        ptype = "surgery" if top[1] in ("surgery", "restricted") else "procedure"
        return [Need(tuple(f"item:{r[0]}" for r in rows), None, label, ptype, top[1], level=top[2])]
    if kind == "drug":
        found = m.drugs.get(code)
        if found is None:
            raise CheckError(404, f"未知的药品编码：{code}")
        result = []
        for group, tier in found[1]:
            name, right, ptype = _tier_name(m, group, tier)
            result.append(Need((group,), tier, name, ptype or "rx_general", right.split(".")[0] or group,
                               right=right, level=tier))
        return result
    if kind == "capability":
        right = m.rights.get(code)
        if right is None or right[3] != "capability":
            raise CheckError(404, f"未知的执业能力代码：{code}")
        return [Need((right[0],), right[1], right[2], "capability", code.split(".")[0], right=code, level=right[1])]
    if kind == "medtech":
        item = m.catalog.get(code)
        if item is None or item[1] != "medtech":
            raise CheckError(404, f"未知的医技项目编码：{code}")
        variant = variant or "operate"
        if variant not in VARIANTS:
            raise CheckError(400, "right 须为 operate 或 report")
        return [Need((f"item:{item[0]}:{variant}",), None, f"{item[3]}{VARIANT_LABELS[variant]}", "medtech",
                     "medtech", level=item[2], variant=variant)]
    if kind == "anaesthesia":
        item = m.catalog.get(code)
        level = int(code) if code.isdigit() and 1 <= int(code) <= 4 else None
        if item is not None and item[1] != "anaesthesia":
            item = None
        if item is None and level is None:
            raise CheckError(404, f"未知的麻醉项目编码：{code}")
        if _mode(m, on) == "catalog":
            if item is None:
                raise CheckError(404, f"按目录授权期间须给出麻醉项目编码：{code}")
            return [Need((f"item:{item[0]}",), None, item[3], "anaesthesia", "anaesthesia", level=item[2])]
        level = level or item[2] or 1
        name, right, _ptype = _tier_name(m, "anaes:level", level)
        return [Need(("anaes:level",), level, name, "anaesthesia", "anaesthesia", right=right, level=level)]
    raise CheckError(400, f"未知的检查类别：{kind}（可用：{'、'.join(KINDS)}）")


# --- answering -------------------------------------------------------------------------------------

_GRANTS = (select(Grant.id, Grant.staff_id, Grant.ptype, Grant.item_key, Grant.item_name, Grant.level, Grant.scope,
                  Grant.start_date, Grant.end_date, Grant.status, Grant.has_changes)
           .where(Grant.staff_id.in_(bindparam("staff_ids", expanding=True)),
                  Grant.item_key.in_(bindparam("keys", expanding=True))))
_GRANT_COLUMNS = (Grant.id, Grant.staff_id, Grant.ptype, Grant.item_key, Grant.item_name, Grant.level, Grant.scope,
                  Grant.start_date, Grant.end_date, Grant.status, Grant.has_changes)
# Many doctors at once: exactly the (staff, key) pairs asked about, through the same index.
_GRANT_PAIRS = select(*_GRANT_COLUMNS).where(tuple_(Grant.staff_id, Grant.item_key)
                                             .in_(bindparam("pairs", expanding=True)))
_CHANGES = (select(GrantChange.grant_id, GrantChange.id, GrantChange.action, GrantChange.effective_on,
                   GrantChange.before, GrantChange.after)
            .where(GrantChange.grant_id.in_(bindparam("grant_ids", expanding=True))))


def _load_grants(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], list]:
    found: dict[tuple[int, str], list] = {}
    if not pairs:
        return found
    staff_ids = {staff_id for staff_id, _key in pairs}
    if len(staff_ids) == 1:
        rows = db.session.execute(_GRANTS, {"staff_ids": list(staff_ids),
                                            "keys": sorted({key for _s, key in pairs})}).all()
    else:
        rows = []
        ordered = sorted(pairs)
        for start in range(0, len(ordered), 500):
            rows += db.session.execute(_GRANT_PAIRS, {"pairs": ordered[start:start + 500]}).all()
    changed = [row.id for row in rows if row.has_changes]
    changes: dict[int, list] = {}
    if changed:
        for change in db.session.execute(_CHANGES, {"grant_ids": changed}):
            changes.setdefault(change.grant_id, []).append(change)
    for row in rows:
        found.setdefault((row.staff_id, row.item_key), []).append((row, changes.get(row.id, ())))
    return found


def _grant_json(row, state) -> dict:
    return {"id": row.id, "kind": row.ptype, "item": row.item_name, "level": state.level, "scope": state.scope,
            "start_date": row.start_date.isoformat(), "end_date": row.end_date.isoformat() if row.end_date else None,
            "status": state.status}


def _meets(need: Need, staff_id: int, grants: dict, on: date):
    """(grant row, state) meeting the need on `on`, else (None, the closest miss or None)."""
    miss = None
    for key in need.keys:
        for row, changes in grants.get((staff_id, key), ()):
            state = state_on(row, changes, on)
            if state.valid and (need.min_level is None or (state.level or 0) >= need.min_level):
                return (row, state), None
            if miss is None or (state.valid and not miss[1].valid):
                miss = (row, state)
    return None, miss


def _title_reason(m: Maps, staff_row, need: Need, on: date) -> str | None:
    """The eligibility table's reason when the staff member's identity rules the item out."""
    facts = _facts(m, staff_row, on)
    inputs = {"ptype": need.ptype, "group": need.group, "right": need.right, "level": need.level,
              "variant": need.variant, "in_department_catalog": True, "has_training": True, "restricted": False,
              "item_label": need.label, **facts.dmn_inputs()}
    answer = decide.eligibility_memoised(inputs)
    return None if answer.get("allowed", True) else (answer.get("reason") or None)


def _denial(m: Maps, staff_row, need: Need, miss, on: date) -> str:
    title = _title_reason(m, staff_row, need, on)
    if title:
        return title
    if miss is not None:
        row, state = miss
        if state.why == "suspended":
            return f"{need.label}，授权已暂停"
        if state.why == "terminated":
            return f"{need.label}，授权已终止"
        if state.why == "expired":
            return f"{need.label}，授权已于{row.end_date.isoformat()}到期"
        if state.why == "not_started":
            return f"{need.label}，授权自{row.start_date.isoformat()}起生效"
        if state.valid and need.min_level is not None:
            held = m.tiers.get((row.item_key, state.level or 0), (row.item_name,))[0]
            return f"{need.label}，未获授权（现有：{held}）"
    return f"{need.label}，未获授权"


@dataclass
class Query:
    staff: str
    kind: str
    code: str
    on: date
    variant: str | None = None


def parse(values: dict, today: date | None = None) -> Query:
    """A query from request values; CheckError 400 naming the field that is wrong."""
    if not isinstance(values, dict):
        raise CheckError(400, "每一项须为对象：{staff, kind, code, date}")
    staff = str(values.get("staff") or "").strip()
    kind = str(values.get("kind") or "").strip()
    code = str(values.get("code") or "").strip()
    if not staff:
        raise CheckError(400, "缺少 staff（工号）")
    if not kind:
        raise CheckError(400, "缺少 kind（检查类别）")
    if kind not in KINDS:
        raise CheckError(400, f"未知的检查类别：{kind}（可用：{'、'.join(KINDS)}）")
    if not code:
        raise CheckError(400, "缺少 code（手术操作编码、药品编码或项目编码）")
    raw = values.get("date")
    if raw in (None, ""):
        on = today or date.today()
    else:
        try:
            on = date.fromisoformat(str(raw))
        except ValueError:
            raise CheckError(400, f"日期格式应为 YYYY-MM-DD：{raw}") from None
    variant = values.get("right") or None
    return Query(staff[:32], kind, code[:60], on, str(variant) if variant else None)


def answer_many(queries: list[Query | CheckError]) -> list[dict]:
    """Answers in order; a query that failed to parse, or names an unknown doctor or code, gets an
    error entry and never "allowed"."""
    m = maps()
    prepared: list = []
    pairs: set[tuple[int, str]] = set()
    for query in queries:
        if isinstance(query, CheckError):
            prepared.append(query)
            continue
        staff_row = _staff(m, query.staff)
        if staff_row is None:
            prepared.append(CheckError(404, f"未知的工号：{query.staff}"))
            continue
        try:
            needs = needs_for(m, query.kind, query.code, query.on, query.variant)
        except CheckError as exc:
            prepared.append(exc)
            continue
        prepared.append((query, staff_row, needs))
        pairs.update((staff_row.id, key) for need in needs for key in need.keys)
    grants = _load_grants(pairs)
    answers = []
    for entry in prepared:
        if isinstance(entry, CheckError):
            answers.append({"allowed": False, "error": {"status": entry.status, "message": entry.message}})
            continue
        query, staff_row, needs = entry
        met, denial = [], None
        for need in needs:
            found, miss = _meets(need, staff_row.id, grants, query.on)
            if found is None:
                denial = _denial(m, staff_row, need, miss, query.on)
                break
            met.append(found)
        answer = {"allowed": denial is None, "staff": query.staff, "name": staff_row.name, "kind": query.kind,
                  "code": query.code, "date": query.on.isoformat(),
                  "grant": _grant_json(*met[-1]) if met and denial is None else None,
                  "reason": denial or "已授权"}
        if denial is None and len(met) > 1:
            answer["grants"] = [_grant_json(*pair) for pair in met]
        answers.append(answer)
    return answers


def answer_one(query: Query) -> dict:
    return answer_many([query])[0]
