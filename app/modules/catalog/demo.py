"""The demo hospital's technology catalog (runs after the clinical step).

Every procedure of the clinical procedure dictionary becomes an item of its category with its level
and code; the national restricted technologies come from the sync (`reference.py`); medical-technology
and anaesthesia items are added. Each department's catalog holds the items its doctors operate on in
the clinical data (as if approved before the system started), medical-technology departments get their
kind of items, and the anaesthesia department the anaesthesia items.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from app.demo import REFERENCE_DATE, DemoContext
from app.extensions import db
from app.modules.catalog.labels import KIND_PREFIX
from app.modules.catalog.models import CatalogItem, CatalogItemCode, DepartmentCatalogItem
from app.modules.catalog.reference import sync_restricted
from app.modules.clinical.models import Operation, ProcedureCode
from app.modules.org.models import Department

# (name, category, level) — 医技项目: operation and report rights of medical-technology departments (R3.4).
MEDTECH_ITEMS = (
    ("血常规、生化检验报告审核", "检验", 1), ("微生物培养及药敏报告审核", "检验", 2),
    ("骨髓细胞形态学检验报告", "检验", 3), ("流式细胞术免疫分型报告", "检验", 3),
    ("普通X线摄影诊断报告", "影像", 1), ("CT平扫诊断报告", "影像", 2), ("CT增强及血管成像诊断报告", "影像", 3),
    ("MRI诊断报告", "影像", 3), ("介入放射诊断报告", "影像", 4),
    ("常规超声诊断报告", "超声", 1), ("超声心动图诊断报告", "超声", 2), ("超声引导下穿刺活检", "超声", 3),
    ("常规活检病理诊断", "病理", 2), ("术中冰冻切片病理诊断", "病理", 4), ("免疫组化及分子病理报告", "病理", 3),
    ("常规心电图报告", "心电", 1), ("动态心电图报告", "心电", 2),
    ("SPECT显像诊断报告", "核医学", 3), ("放射性核素治疗", "核医学", 4),
)
# Which medical-technology department offers which category (by the department's base name).
MEDTECH_DEPARTMENTS = {"检验科": ("检验",), "放射科": ("影像",), "超声医学科": ("超声", "心电"), "病理科": ("病理",),
                       "核医学科": ("核医学",)}
# (name, method, grade) — 麻醉项目 by method and grade (R3.5: by catalog or by level).
ANAESTHESIA_ITEMS = (
    ("无痛胃肠镜检查镇静", "镇静", 1), ("术后镇痛（PCA）", "镇痛", 1), ("喉罩全身麻醉", "全身麻醉", 1),
    ("椎管内麻醉（腰麻、硬膜外、腰硬联合）", "椎管内麻醉", 2), ("超声引导下神经阻滞", "神经阻滞", 2),
    ("气管插管全身麻醉", "全身麻醉", 2), ("产科麻醉及分娩镇痛", "椎管内麻醉", 2),
    ("小儿麻醉（3岁以下）", "全身麻醉", 3), ("困难气道处理（纤维支气管镜引导插管）", "全身麻醉", 3),
    ("胸科单肺通气麻醉", "全身麻醉", 3), ("体外循环心脏手术麻醉", "全身麻醉", 4),
    ("ASA Ⅳ级及以上危重患者麻醉", "全身麻醉", 4),
)
ANAESTHESIA_DEPARTMENT = "麻醉科"
ADDED_AT = datetime(REFERENCE_DATE.year - 3, 1, 1, 9, 0)  # before the clinical data begins


def build(ctx: DemoContext) -> None:
    sync_restricted()
    items = _hospital_items()
    ctx.counts["catalog_items"] = db.session.scalar(select(db.func.count()).select_from(CatalogItem))
    ctx.counts["department_catalog_items"] = _department_catalogs(items)


def _hospital_items() -> dict[str, list[int]]:
    """Create the items (unless an earlier demo build did); returns {kind or category: [item ids]}."""
    existing = set(db.session.scalars(select(CatalogItem.code)))
    rows, codes = [], []
    numbers: dict[str, int] = {}

    def add(kind: str, name: str, level, category=None, restricted=False, procedure=None):
        prefix = KIND_PREFIX[kind]
        numbers[prefix] = numbers.get(prefix, 0) + 1
        code = f"{prefix}-{numbers[prefix]:04d}"
        if code in existing:
            return
        rows.append(dict(code=code, name=name, kind=kind, level=level, restricted=restricted, category=category,
                         active=True))
        if procedure:
            codes.append((code, procedure))

    for p in db.session.execute(select(ProcedureCode.code, ProcedureCode.name, ProcedureCode.level,
                                       ProcedureCode.category, ProcedureCode.restricted)
                                .where(ProcedureCode.active.is_(True)).order_by(ProcedureCode.code)):
        add(p.category if p.category in KIND_PREFIX else "surgery", p.name, p.level, restricted=p.restricted,
            procedure=p.code)
    for name, category, level in MEDTECH_ITEMS:
        add("medtech", name, level, category)
    for name, method, grade in ANAESTHESIA_ITEMS:
        add("anaesthesia", name, grade, method)
    if rows:
        db.session.execute(insert(CatalogItem), rows)
        ids = dict(db.session.execute(select(CatalogItem.code, CatalogItem.id)
                                      .where(CatalogItem.code.in_([c for c, _p in codes]))).all())
        if codes:
            db.session.execute(insert(CatalogItemCode), [dict(item_id=ids[c], code=p) for c, p in codes])
    found: dict[str, list[int]] = {}
    for item_id, kind, category in db.session.execute(select(CatalogItem.id, CatalogItem.kind, CatalogItem.category)):
        found.setdefault(kind, []).append(item_id)
        if category:
            found.setdefault(f"category:{category}", []).append(item_id)
    return found


def _department_catalogs(items: dict[str, list[int]]) -> int:
    pairs: set[tuple[int, int]] = set()
    # Clinical departments: every item whose code their doctors operated on.
    performed = (select(Operation.department_id, CatalogItemCode.item_id)
                 .join(CatalogItemCode, CatalogItemCode.code == Operation.code).distinct())
    pairs.update((d, i) for d, i in db.session.execute(performed))
    departments = db.session.execute(select(Department.id, Department.name).where(
        Department.unit_type == "department", Department.active.is_(True))).all()
    for dept_id, name in departments:
        base = name.split("（")[0]
        for category in MEDTECH_DEPARTMENTS.get(base, ()):
            pairs.update((dept_id, i) for i in items.get(f"category:{category}", []))
        if base == ANAESTHESIA_DEPARTMENT:
            pairs.update((dept_id, i) for i in items.get("anaesthesia", []))
    present = set(db.session.execute(select(DepartmentCatalogItem.department_id, DepartmentCatalogItem.item_id)))
    new = sorted(pairs - present)
    if new:
        db.session.execute(insert(DepartmentCatalogItem), [
            dict(department_id=d, item_id=i, status="active", added_at=ADDED_AT, created_at=ADDED_AT,
                 updated_at=ADDED_AT) for d, i in new])
    return len(new)
