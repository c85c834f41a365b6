"""The demo hospital's privileges (runs after the catalog step), created through this module's services.

Grants mirror what the clinical demo assumed: a surgeon operates within the title ceiling held on
the day (住院医师 一级 … 主任医师 四级; before `title_since` one step lower), so each doctor holds the
department catalog's procedure items up to that level, from before the clinical data begins, renewed
term after term until today. The operations planted as "above level" stay above the surgeon's grant on
their date (the clinical step's ground truth holds; a test checks it). Prescription rights follow the
clinical demo's default rules; anaesthetists, medical-technology staff and some seniors get their rights
and capabilities. A few changes and applications show the rest of the lifecycle.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.demo import REFERENCE_DATE, DemoContext
from app.extensions import db
from app.modules.catalog.models import CatalogItem, CatalogItemCode, DepartmentCatalogItem
from app.modules.clinical.services import ceiling as clinical_ceiling
from app.modules.org.models import Department, Staff

from . import grants, items, settings
from .models import Grant, PrivilegeRight, PrivilegeSetting
from .types import PROCEDURE_KINDS

CLINICAL_START = REFERENCE_DATE - timedelta(days=730)
# Which medical-technology department holds which catalog category (by the department's base name).
MEDTECH_CATEGORIES = {"检验科": ("检验",), "放射科": ("影像",), "超声医学科": ("超声", "心电"), "病理科": ("病理",),
                      "核医学科": ("核医学",)}
BRAIN_DEATH_DEPARTMENTS = ("神经内科", "神经外科", "重症医学科", "呼吸与危重症医学科", "急诊科")
EQUIPMENT = {"放射科": ("equipment.ct", "equipment.mri", "equipment.dsa"), "核医学科": ("equipment.petct",)}
COSMETIC = {"整形美容科": "cosmetic_surgery", "口腔科": "cosmetic_dental", "皮肤科": "cosmetic_dermatology"}


def _rx_rights(level: int, tcm: bool) -> list[tuple[str, int]]:
    """The prescription rights (right code) a doctor of title level `level` holds by default (the clinical
    demo's rules: antimicrobial tiers by title, anticancer 主治+/高级, 麻精 主治+, 中成药 主治+, 饮片 TCM)."""
    codes = ["general", "psych2", "glucocorticoid.general",
             {1: "antimicrobial.unrestricted", 2: "antimicrobial.restricted"}.get(level, "antimicrobial.special")]
    if level >= 2:
        codes += ["narcotic", "psych1", "tcm.patent", "glucocorticoid.pulse",
                  "anticancer.general" if level == 2 else "anticancer.restricted"]
    if tcm:
        codes.append("tcm.piece")
    return codes


class Builder:
    def __init__(self, ctx: DemoContext):
        self.ctx = ctx
        self.rng = ctx.rng
        self.today = max(date.today(), REFERENCE_DATE)
        self.rows: list[dict] = []
        self.rights = {r.code: r for r in db.session.scalars(select(PrivilegeRight))}

    def chain(self, staff_id: int, item: items.Item, start: date, until: date | None = None) -> None:
        """Grants of `item` from `start`, renewed term after term until today (or until `until`)."""
        previous = None
        while True:
            end = grants.term_end(item.ptype, item.level, start)
            if until is not None and end >= until:
                end = until
            row = {"staff_id": staff_id, "item": item, "start": start, "end": end, "previous": previous}
            self.rows.append(row)
            previous = row
            if until is not None and end >= until or end >= self.today:
                return
            start = end + timedelta(days=1)

    def by_level(self, staff_id: int, item: items.Item, level_now: int, since: date | None, first: date) -> None:
        """Grant `item` (of level item.level) while the doctor's title allowed it: the earlier title one
        step lower before `since` (as the clinical demo's ceiling)."""
        need = item.level or 1
        if need <= max(1, level_now - 1) or since is None or since <= first:
            if need <= level_now:
                self.chain(staff_id, item, first)
        elif need <= level_now:
            self.chain(staff_id, item, since)

    def right(self, code: str) -> items.Item | None:
        right = self.rights.get(code)
        return items.right_item(right) if right is not None else None

    def write(self) -> list[Grant]:
        """Create the grants through the service, predecessors first, then link and expire."""
        created = grants.create_many(None, [
            {"staff_id": r["staff_id"], "item": r["item"], "start": r["start"], "end": r["end"]} for r in self.rows],
            source="demo", summary="演示医院：初始授权")
        for row, grant in zip(self.rows, created):
            row["grant"] = grant
        for row in self.rows:
            if row["previous"] is not None:
                row["grant"].renewal_of_id = row["previous"]["grant"].id
        db.session.flush()
        return created


def _doctors():
    rows = db.session.execute(select(Staff.id, Staff.department_id, Staff.title_code, Staff.title_since,
                                     Staff.practice_category, Staff.staff_type, Staff.hire_date, Department.name,
                                     Department.category)
                              .join(Department, Department.id == Staff.department_id)
                              .where(Staff.status == "active", Staff.staff_type.in_(("physician", "technician")))
                              .order_by(Staff.id)).all()
    return rows


def _department_items(kinds) -> dict[int, list[CatalogItem]]:
    """{department id: its active catalog items of `kinds`}."""
    found: dict[int, list[CatalogItem]] = {}
    rows = db.session.execute(select(DepartmentCatalogItem.department_id, CatalogItem)
                              .join(CatalogItem, CatalogItem.id == DepartmentCatalogItem.item_id)
                              .where(DepartmentCatalogItem.status == "active", CatalogItem.active.is_(True),
                                     CatalogItem.kind.in_(kinds)).order_by(CatalogItem.code)).all()
    for department_id, item in rows:
        found.setdefault(department_id, []).append(item)
    return found


def _item_codes() -> dict[int, list[str]]:
    codes: dict[int, list[str]] = {}
    for item_id, code in db.session.execute(select(CatalogItemCode.item_id, CatalogItemCode.code)):
        codes.setdefault(item_id, []).append(code)
    return codes


def build(ctx: DemoContext) -> None:
    builder = Builder(ctx)
    if db.session.scalar(select(Grant.id).limit(1)) is not None:
        return  # an earlier build made them
    db.session.add(PrivilegeSetting(key=settings.ANAESTHESIA_MODE, value="catalog", effective_from=date(2020, 1, 1),
                                    note="演示：按麻醉项目目录授权"))
    procedures = _department_items(PROCEDURE_KINDS)
    medtech = _department_items(("medtech", "anaesthesia"))
    codes = _item_codes()
    rng = builder.rng
    for row in _doctors():
        base = row.name.split("（")[0]
        level = clinical_ceiling.title_level(row.title_code)
        # Before the clinical data: a start spread over a year, so that terms end on different days.
        first = CLINICAL_START - timedelta(days=30 + int(rng.random() * 365))
        if row.staff_type == "physician" and level and row.category == "clinical":
            for item in procedures.get(row.department_id, []):
                if item.level is None:
                    continue
                ptype = "surgery" if item.kind in ("surgery", "restricted") else "procedure"
                builder.by_level(row.id, items.catalog_item(item, ptype, codes=codes.get(item.id, ())), level,
                                 row.title_since, first)
            _prescriptions(builder, row, level, first)
            _capabilities(builder, row, level, base, first)
            if base == "麻醉科":
                for item in medtech.get(row.department_id, []):
                    if item.kind == "anaesthesia":
                        builder.by_level(row.id, items.catalog_item(item, "anaesthesia"), level, row.title_since,
                                         first)
        elif row.category == "medtech":
            for item in medtech.get(row.department_id, []):
                if item.kind != "medtech":
                    continue
                variants = ("operate", "report") if row.staff_type == "physician" else ("operate",)
                for variant in variants:
                    if (item.level or 1) <= max(level, 1) + (1 if row.staff_type == "technician" else 0):
                        builder.chain(row.id, items.catalog_item(item, "medtech", variant), first)
            for code in EQUIPMENT.get(base, ()):
                if level >= 1 and (item := builder.right(code)) is not None:
                    builder.chain(row.id, item, first)
    created = builder.write()
    expired = grants.expire_due(builder.today)
    _adjustments(builder)
    changed = clinical_ceiling.refresh_above_level()
    if changed:
        from app.modules.clinical.services import metrics

        metrics.rebuild()
    _applications(builder)
    ctx.counts["privilege_grants"] = len(created)
    ctx.counts["privilege_grants_expired"] = expired
    ctx.counts["privilege_above_level_changed"] = changed


def _prescriptions(builder: Builder, row, level: int, first: date) -> None:
    tcm = row.practice_category == "中医"
    before = _rx_rights(max(1, level - 1), tcm)
    after = _rx_rights(level, tcm)
    since = row.title_since
    for code in dict.fromkeys(before + after):
        item = builder.right(code)
        if item is None:
            continue
        held_before, held_after = code in before, code in after
        if since is None or since <= first or held_before == held_after and held_before:
            if held_after:
                builder.chain(row.id, item, first)
            continue
        if held_before:  # an older tier, replaced when the new title came
            builder.chain(row.id, item, first, until=since - timedelta(days=1))
        if held_after:
            builder.chain(row.id, item, since)


def _capabilities(builder: Builder, row, level: int, base: str, first: date) -> None:
    if base in BRAIN_DEATH_DEPARTMENTS and level >= 3:
        if (item := builder.right("brain_death")) is not None:
            builder.chain(row.id, item, first)
    if base in COSMETIC and level >= 3:
        if (item := builder.right(COSMETIC[base])) is not None:
            builder.chain(row.id, item, first)


def _adjustments(builder: Builder) -> None:
    """Dynamic adjustments that change no past day's level ceiling (the clinical ground truth stays valid):
    a suspended antimicrobial right, a narrowed surgery scope, a termination scheduled for next month."""
    from app.demo.hospital import DEMO_ACCOUNTS
    from app.modules.accounts.models import User

    named = set(db.session.scalars(select(User.staff_id).where(User.username.in_([a.username for a in DEMO_ACCOUNTS]),
                                                               User.staff_id.is_not(None)))) or {0}
    today = builder.today
    special = db.session.scalars(select(Grant).where(Grant.right_code == "antimicrobial.special",
                                                     Grant.staff_id.not_in(named),
                                                     Grant.status == "active").order_by(Grant.id).limit(2)).all()
    if special:
        grants.adjust(None, special[0], "suspend", "抗菌药物专项点评：特殊使用级越级使用，暂停3个月", today,
                      allow_past=True)
    surgery = db.session.scalars(select(Grant).where(Grant.ptype == "surgery", Grant.level >= 3,
                                                     Grant.staff_id.not_in(named),
                                                     Grant.status == "active").order_by(Grant.id).limit(2)).all()
    if surgery:
        grants.adjust(None, surgery[0], "narrow", "年度考核：近一年例数不足，限上级医师指导下开展", today,
                      scope="须在上级医师指导下开展", allow_past=True)
    if len(special) > 1:
        grants.adjust(None, special[1], "terminate", "调离临床岗位", today + timedelta(days=30), allow_past=True)


def _applications(builder: Builder) -> None:
    """A few applications run through the processes: two waiting for a department head, a renewal
    approved automatically, and a surgery application the rules reject automatically (or leave to
    review). None involves the named demo logins, whose inboxes the portal's tests take as empty."""
    from app.demo.hospital import DEMO_ACCOUNTS
    from app.modules.accounts.models import User
    from app.workflow import runtime

    from . import applications

    named_users = [a.username for a in DEMO_ACCOUNTS]
    named = set(db.session.scalars(select(User.staff_id).where(User.username.in_(named_users),
                                                               User.staff_id.is_not(None))))
    named_departments = set(db.session.scalars(select(Staff.department_id).where(Staff.id.in_(named or {0}))))

    def start(user, ptype: str, keys: list[str], **extra):
        kind = items.TYPES[ptype]
        data = {"items": keys, "reason": "演示申请", **extra}
        return runtime.start(user, kind.process_key, business_key=f"DEMO-{ptype}-{user.id}",
                             subject=f"staff:{user.staff_id}", department_id=user.staff.department_id, data=data,
                             title=f"{kind.label}：演示")

    def applicants(ptype_hint: str):
        """Users of physicians outside the named logins' departments, seniors first."""
        rows = db.session.execute(select(User, Staff).join(Staff, Staff.id == User.staff_id)
                                  .join(Department, Department.id == Staff.department_id)
                                  .where(Staff.staff_type == "physician", Department.category == "clinical",
                                         Staff.department_id.not_in(named_departments or {0}),
                                         Staff.id.not_in(named or {0}))
                                  .order_by(Staff.title_code.desc(), Staff.id)).all()
        return [user for user, _staff in rows]

    waiting = 0
    for user in applicants("capability"):
        if waiting == 2:
            break
        facts = applications.identity.facts(user.staff)
        for ptype in ("capability", "rx_tcm"):
            offered = items.offered(ptype, user.staff.department_id)
            wanted = [v.item.key for v in applications.check(facts, ptype, offered, evidence=True) if v.allowed][:1]
            if wanted:
                start(user, ptype, wanted, training_name="规范化培训结业并考核合格", quoted=[
                    {"kind": "training", "period": "2025-09至2026-08", "content": "院内专项培训，考核合格"}])
                waiting += 1
                break
    # A renewal of a prescription right that ends soon: the renewal rule approves it.
    ending = db.session.scalars(select(Grant).where(Grant.ptype == "rx_general", Grant.status == "active",
                                                    Grant.staff_id.not_in(named or {0}),
                                                    Grant.end_date >= builder.today,
                                                    Grant.end_date <= builder.today + timedelta(days=60))
                                .order_by(Grant.end_date)).first()
    user = db.session.scalar(select(User).where(User.staff_id == ending.staff_id)) if ending is not None else None
    if user is not None:
        start(user, "rx_general", applications.renewal_keys(ending), renewal_of=ending.id)
    # A senior surgeon applies for a level above the items held: few cases → rejected by rule.
    for user in applicants("surgery"):
        facts = applications.identity.facts(user.staff)
        if facts.ceiling < 3:
            continue
        offered = [i for i in items.offered("surgery", facts.department_id) if (i.level or 0) >= 3]
        verdicts = [v for v in applications.check(facts, "surgery", offered, evidence=False) if v.allowed]
        if verdicts:
            start(user, "surgery", [verdicts[0].item.key])
            break
