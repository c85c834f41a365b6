"""Demo organisation: campuses, departments and wards, staff with realistic titles and practice
scopes, a user account per staff member and one named login per role."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import insert, select

from app.core import audit
from app.core.security import hash_password
from app.demo import REFERENCE_DATE, DemoContext
from app.demo.names import GIVEN, SURNAME_WEIGHTS, SURNAMES
from app.extensions import db
from app.modules.accounts import services as accounts
from app.modules.accounts.models import Role, RoleGrant, User, role_grant_department
from app.modules.org.models import Campus, Department, Hospital, Staff

# (name, category, practice scope of its physicians, surgical?) in the order hospitals list them.
CLINICAL = (
    ("普通外科", "外科专业", True), ("心血管内科", "内科专业", False), ("骨科", "外科专业", True),
    ("呼吸与危重症医学科", "内科专业", False), ("妇科", "妇产科专业", True), ("神经外科", "外科专业", True),
    ("消化内科", "内科专业", False), ("泌尿外科", "外科专业", True), ("神经内科", "内科专业", False),
    ("心胸外科", "外科专业", True), ("儿科", "儿科专业", False), ("产科", "妇产科专业", True),
    ("肾内科", "内科专业", False), ("眼科", "眼耳鼻咽喉科专业", True), ("内分泌科", "内科专业", False),
    ("耳鼻咽喉头颈外科", "眼耳鼻咽喉科专业", True), ("血液科", "内科专业", False),
    ("肿瘤科", "内科专业", False), ("急诊科", "急救医学专业", False), ("重症医学科", "重症医学专业", False),
    ("麻醉科", "麻醉专业", False), ("皮肤科", "皮肤病与性病专业", False), ("康复医学科", "康复医学专业", False),
    ("口腔科", "口腔专业", True), ("中医科", "中医专业", False), ("感染科", "内科专业", False),
    ("老年医学科", "内科专业", False), ("整形美容科", "外科专业", True), ("精神心理科", "精神卫生专业", False),
    ("全科医学科", "全科医学专业", False),
)
MEDTECH = (
    ("药学部", None), ("检验科", "医学检验、病理专业"), ("放射科", "医学影像和放射治疗专业"),
    ("超声医学科", "医学影像和放射治疗专业"), ("病理科", "医学检验、病理专业"), ("核医学科", "医学影像和放射治疗专业"),
)
FUNCTIONAL = ("医务科", "质控科", "护理部", "信息科", "院办", "投诉办", "人事科", "科教科")

# Departments per scale: clinical, medical-technical, campuses (departments repeat per campus).
SCALE_SHAPE = {
    "tiny": dict(clinical=5, medtech=2, campuses=1, staff_per_clinical=6, wards=True),
    "small": dict(clinical=18, medtech=4, campuses=1, staff_per_clinical=9, wards=False),
    "medium": dict(clinical=30, medtech=6, campuses=2, staff_per_clinical=16, wards=True),
    "large": dict(clinical=30, medtech=6, campuses=3, staff_per_clinical=34, wards=False),
}
CAMPUS_NAMES = ("本部", "东院区", "南院区")

TITLE_BY_LEVEL = {  # series → titles from junior to senior
    "physician": ("resident", "attending", "assoc_chief", "chief"),
    "nurse": ("nurse_practitioner", "nurse_charge", "nurse_assoc_chief", "nurse_chief"),
    "pharmacist": ("pharmacist", "pharmacist_charge", "pharmacist_assoc_chief", "pharmacist_chief"),
    "technician": ("technician", "technician_charge", "technician_assoc_chief", "technician_chief"),
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    scope: str
    department: str | None  # where the person works (a department name), None: no staff record
    staff_type: str = "administrative"
    title_level: int | None = None


# One login per role; department heads, QC officers, doctors and nurses work in 普通外科.
DEMO_ACCOUNTS = (
    DemoAccount("admin", "admin", "hospital", None),
    DemoAccount("medaffairs", "medaffairs_admin", "hospital", "医务科"),
    DemoAccount("medclerk", "medaffairs_staff", "hospital", "医务科"),
    DemoAccount("leader", "leader", "hospital", "院办", "physician", 3),
    DemoAccount("head", "dept_head", "departments", "普通外科", "physician", 3),
    DemoAccount("qcofficer", "dept_qc", "departments", "普通外科", "physician", 1),
    DemoAccount("doctor", "physician", "self", "普通外科", "physician", 1),
    DemoAccount("nurse", "nurse", "self", "普通外科", "nurse", 1),
    DemoAccount("expert", "expert", "self", "心血管内科", "physician", 3),
    DemoAccount("qcdept", "qc_office", "hospital", "质控科"),
    DemoAccount("complaints", "complaints_office", "hospital", "投诉办"),
    DemoAccount("pharmacy", "pharmacy", "hospital", "药学部", "pharmacist", 2),
    DemoAccount("itdept", "it", "hospital", "信息科"),
    DemoAccount("ruleauthor", "rule_author", "hospital", "医务科"),
)


def _name(rng) -> str:
    surname = rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return surname + given


def _title_level(rng) -> int:
    # A department's pyramid: many juniors and attendings, fewer seniors.
    return rng.choices((0, 1, 2, 3), weights=(35, 35, 20, 10))[0]


def _digits(rng, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def build(ctx: DemoContext) -> None:
    shape = SCALE_SHAPE[ctx.scale]
    hospital = Hospital(code="DEMO", name="示范市第一人民医院", is_demo=True)
    db.session.add(hospital)
    db.session.flush()

    campuses = []
    for i in range(shape["campuses"]):
        campus = Campus(hospital_id=hospital.id, code=f"C{i + 1}", name=CAMPUS_NAMES[i])
        db.session.add(campus)
        campuses.append(campus)
    db.session.flush()

    departments: list[tuple[Department, str | None, bool]] = []  # dept, practice scope, surgical
    order = 0

    def add(name, category, campus, scope=None, surgical=False, parent=None, unit="department"):
        nonlocal order
        order += 1
        dept = Department(hospital_id=hospital.id, campus_id=campus.id, code=f"D{order:03d}",
                          name=name, category=category, unit_type=unit, sort_order=order,
                          parent_id=parent.id if parent else None)
        db.session.add(dept)
        db.session.flush()
        departments.append((dept, scope, surgical))
        return dept

    for c, campus in enumerate(campuses):
        suffix = "" if c == 0 else f"（{campus.name}）"
        for name, scope, surgical in CLINICAL[:shape["clinical"]]:
            dept = add(name + suffix, "clinical", campus, scope, surgical)
            if shape["wards"]:
                add(f"{name}病区{suffix}", "clinical", campus, scope, surgical, dept, "ward")
        for name, scope in MEDTECH[:shape["medtech"]]:
            add(name + suffix, "medtech", campus, scope)
    for name in FUNCTIONAL:
        add(name, "functional", campuses[0])

    staff_rows = _staff_rows(ctx, hospital.id, departments, shape)
    db.session.execute(insert(Staff), staff_rows)
    ctx.counts["departments"] = len(departments)
    ctx.counts["staff"] = len(staff_rows)
    _accounts(ctx, departments)
    audit.record("demo.loaded", object_type="hospital", object_id=hospital.id,
                 data={"scale": ctx.scale, "counts": ctx.counts})


def _staff_rows(ctx: DemoContext, hospital_id: int, departments, shape) -> list[dict]:
    rng = ctx.rng
    rows: list[dict] = []
    next_no = 100001

    def person(dept_id, staff_type, level, scope, post):
        nonlocal next_no
        age = 26 + level * 7 + rng.randrange(0, 8)
        birth = REFERENCE_DATE - timedelta(days=age * 365 + rng.randrange(365))
        hire = date(birth.year + 24 + rng.randrange(0, 3), rng.randrange(1, 13), 1)
        hire = min(hire, REFERENCE_DATE - timedelta(days=60))
        title_since = min(REFERENCE_DATE - timedelta(days=200),
                          hire + timedelta(days=365 * (2 + level * 5) + rng.randrange(365)))
        series = TITLE_BY_LEVEL.get(staff_type)
        is_doctor = staff_type == "physician"
        category = None
        if is_doctor and scope:
            category = "中医" if scope.startswith("中") else "口腔" if scope == "口腔专业" else "临床"
        row = dict(
            hospital_id=hospital_id, employee_no=str(next_no), name=_name(rng),
            gender=rng.choice("MF") if staff_type != "nurse" else rng.choices("MF", (1, 9))[0],
            birth_date=birth, department_id=dept_id, staff_type=staff_type, post=post,
            title_code=series[level] if series else None,
            title_since=title_since if series else None,
            practice_category=category, practice_scope=scope if category else None,
            practice_cert_no=("1" + _digits(rng, 14)) if is_doctor else None,
            qualification_cert_no=(str(hire.year - 1) + _digits(rng, 11)) if is_doctor else None,
            hire_date=hire, status="active", phone="13" + _digits(rng, 9),
        )
        next_no += 1
        rows.append(row)
        return row

    for dept, scope, _surgical in departments:
        if dept.category == "clinical" and dept.unit_type == "department":
            head = person(dept.id, "physician", 3, scope, "科主任")
            head["title_code"] = TITLE_BY_LEVEL["physician"][3]
            for _ in range(shape["staff_per_clinical"]):
                person(dept.id, "physician", _title_level(rng), scope, "临床医师")
            for _ in range(max(2, shape["staff_per_clinical"] // 2)):
                person(dept.id, "nurse", _title_level(rng), None, "护士")
        elif dept.unit_type == "ward":
            for _ in range(max(2, shape["staff_per_clinical"] // 3)):
                person(dept.id, "nurse", _title_level(rng), None, "病区护士")
        elif dept.category == "medtech":
            kind = "pharmacist" if dept.name.startswith("药学部") else "technician"
            for _ in range(max(3, shape["staff_per_clinical"] // 2)):
                person(dept.id, kind, _title_level(rng), None, "技师" if kind == "technician" else "药师")
            if scope:
                for _ in range(2):
                    person(dept.id, "physician", _title_level(rng), scope, "医师")
        else:
            for _ in range(3):
                person(dept.id, "administrative", 0, None, "管理")
    return rows


@dataclass(frozen=True)
class _StaffRow:
    id: int
    name: str
    employee_no: str
    staff_type: str
    department_id: int
    post: str | None
    title_code: str | None


def _person_row(ctx: DemoContext, dept: Department, staff_type: str, title_code: str | None,
                n: int) -> dict:
    rng = ctx.rng
    return dict(hospital_id=dept.hospital_id, employee_no=f"9{n:05d}", name=_name(rng),
                gender=rng.choice("MF"), birth_date=date(1970 + rng.randrange(10), 5, 1),
                department_id=dept.id, staff_type=staff_type, post="院领导", title_code=title_code,
                title_since=date(2012, 1, 1) if title_code else None, hire_date=date(1996, 8, 1),
                status="active", practice_category="临床" if staff_type == "physician" else None,
                practice_scope="内科专业" if staff_type == "physician" else None)


def _accounts(ctx: DemoContext, departments) -> None:
    """A user per staff member (username = 工号) plus the named demo logins."""
    password_hash = hash_password(ctx.password)  # one hash for all: argon2 is slow on purpose
    roles = {r.code: r for r in db.session.scalars(select(Role))}
    dept_by_name = {d.name: d for d, _s, _g in departments}
    staff = [_StaffRow(*row) for row in db.session.execute(
        select(Staff.id, Staff.name, Staff.employee_no, Staff.staff_type, Staff.department_id,
               Staff.post, Staff.title_code).order_by(Staff.id))]

    # Named accounts take particular staff members of their department.
    taken: set[int] = set()
    named: dict[str, int] = {}
    for account in DEMO_ACCOUNTS:
        if account.department is None:
            continue
        dept = dept_by_name[account.department]
        wanted_title = (TITLE_BY_LEVEL[account.staff_type][account.title_level]
                        if account.title_level is not None else None)
        candidates = [s for s in staff if s.department_id == dept.id and s.id not in taken
                      and s.staff_type == account.staff_type]
        if account.role == "dept_head":
            candidates = [s for s in candidates if s.post == "科主任"] or candidates
        exact = [s for s in candidates if wanted_title is None or s.title_code == wanted_title]
        if exact or candidates:
            chosen_id = (exact or candidates)[0].id
        else:  # e.g. a hospital leader who is a senior physician working in the director's office
            row = _person_row(ctx, dept, account.staff_type, wanted_title, len(staff))
            chosen_id = db.session.execute(insert(Staff).returning(Staff.id), [row]).scalar_one()
            staff = [*staff, _StaffRow(chosen_id, row["name"], row["employee_no"], account.staff_type,
                                       dept.id, row["post"], wanted_title)]
        taken.add(chosen_id)
        named[account.username] = chosen_id

    named_staff = set(named.values())
    user_rows = [dict(username=s.employee_no, display_name=s.name, staff_id=s.id, is_demo=True,
                      password_hash=password_hash, active=True, failed_logins=0, session_epoch=0)
                 for s in staff if s.id not in named_staff]
    db.session.execute(insert(User), user_rows)
    ids = dict(db.session.execute(select(User.staff_id, User.id)
                                  .where(User.staff_id.is_not(None))).all())
    grant_rows, head_grants = [], []
    for s in staff:
        if s.id in named_staff:
            continue
        role = {"physician": "physician", "nurse": "nurse"}.get(s.staff_type)
        if role:
            grant_rows.append(dict(user_id=ids[s.id], role_id=roles[role].id, scope="self"))
        if s.post == "科主任":
            head_grants.append((ids[s.id], s.department_id))
    db.session.execute(insert(RoleGrant), grant_rows)
    for user_id, dept_id in head_grants:
        grant = RoleGrant(user_id=user_id, role_id=roles["dept_head"].id, scope="departments")
        db.session.add(grant)
        db.session.flush()
        db.session.execute(insert(role_grant_department),
                           [dict(role_grant_id=grant.id, department_id=dept_id)])

    admin = None
    staff_names = {s.id: s.name for s in staff}
    for account in DEMO_ACCOUNTS:
        staff_id = named.get(account.username)
        user = accounts.create_user(admin, username=account.username, password=ctx.password,
                                    display_name=staff_names.get(staff_id, "系统管理员"),
                                    staff_id=staff_id, is_demo=True, password_hash=password_hash)
        admin = admin or user
        department_ids = ()
        if account.scope == "departments":
            staff_dept = next(s.department_id for s in staff if s.id == staff_id)
            department_ids = (staff_dept,)
        accounts.set_grants(None if user is admin else admin, user,
                            [accounts.GrantSpec(account.role, account.scope, department_ids)])
        if account.role in ("dept_head", "dept_qc"):
            # They are clinicians too, and act on their own records as such.
            user.grants.append(RoleGrant(role=roles["physician"], scope="self",
                                         granted_by_id=admin.id))
    ctx.counts["users"] = len(user_rows) + len(DEMO_ACCOUNTS)
    ctx.shared["named_staff"] = named
