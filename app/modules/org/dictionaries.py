"""Shipped dictionaries of the organisation module (synced by `medtech db upgrade`)."""
from __future__ import annotations

# (code, name, series, level): 职称 with its level 初级/中级/副高/正高.
TITLES = (
    ("resident", "住院医师", "physician", "junior"),
    ("attending", "主治医师", "physician", "intermediate"),
    ("assoc_chief", "副主任医师", "physician", "associate_senior"),
    ("chief", "主任医师", "physician", "senior"),
    ("nurse", "护士", "nurse", "junior"),
    ("nurse_practitioner", "护师", "nurse", "junior"),
    ("nurse_charge", "主管护师", "nurse", "intermediate"),
    ("nurse_assoc_chief", "副主任护师", "nurse", "associate_senior"),
    ("nurse_chief", "主任护师", "nurse", "senior"),
    ("pharmacist", "药师", "pharmacist", "junior"),
    ("pharmacist_charge", "主管药师", "pharmacist", "intermediate"),
    ("pharmacist_assoc_chief", "副主任药师", "pharmacist", "associate_senior"),
    ("pharmacist_chief", "主任药师", "pharmacist", "senior"),
    ("technician", "技师", "technician", "junior"),
    ("technician_charge", "主管技师", "technician", "intermediate"),
    ("technician_assoc_chief", "副主任技师", "technician", "associate_senior"),
    ("technician_chief", "主任技师", "technician", "senior"),
)

# 执业类别 → 执业范围 (《关于医师执业注册中执业范围的暂行规定》).
PRACTICE_SCOPES = {
    "临床": (
        "内科专业", "外科专业", "妇产科专业", "儿科专业", "眼耳鼻咽喉科专业", "皮肤病与性病专业",
        "精神卫生专业", "职业病专业", "医学影像和放射治疗专业", "医学检验、病理专业", "全科医学专业",
        "急救医学专业", "康复医学专业", "预防保健专业", "重症医学专业", "麻醉专业",
    ),
    "中医": ("中医专业", "中西医结合专业", "民族医专业"),
    "口腔": ("口腔专业",),
    "公共卫生": ("公共卫生类别专业",),
}
PRACTICE_CATEGORIES = tuple(PRACTICE_SCOPES)


def sync_titles() -> int:
    """Insert or update the shipped titles; returns how many rows changed."""
    from app.extensions import db
    from app.modules.org.models import Title

    changed = 0
    existing = {t.code: t for t in db.session.scalars(db.select(Title))}
    for order, (code, name, series, level) in enumerate(TITLES):
        row = existing.get(code)
        if row is None:
            db.session.add(Title(code=code, name=name, series=series, level=level, sort_order=order))
            changed += 1
        elif (row.name, row.series, row.level, row.sort_order) != (name, series, level, order):
            row.name, row.series, row.level, row.sort_order = name, series, level, order
            changed += 1
    db.session.flush()
    return changed
