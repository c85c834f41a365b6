"""Demo dossiers: every physician gets basic information, certificates with small real scans (JPEG, and
PDF for some), work and training history; a few adverse records are entered by the functional
departments. Certificate expiries are set relative to the day the demo is built, so that the
overview always shows some expired and some expiring ones, and the `doctor` account has both."""
from __future__ import annotations

import hashlib
import io
import random
from datetime import date, timedelta

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import insert, select

from app.demo import DemoContext
from app.extensions import db
from app.modules.dossier.models import (AdverseRecord, Certificate, CertificateFile, DossierProfile,
                                        HistoryEntry)
from app.modules.dossier.services import identity, storage
from app.modules.org.models import Department, Hospital, Staff

REGIONS = ("110105", "310104", "440106", "420106", "510107", "330106", "320102", "370102")
UNIVERSITIES = ("北京大学医学部", "复旦大学上海医学院", "中山大学中山医学院", "华中科技大学同济医学院",
                "四川大学华西临床医学院", "浙江大学医学院", "中南大学湘雅医学院", "首都医科大学", "南京医科大学",
                "山东大学齐鲁医学院")
TEACHING_HOSPITALS = ("北京协和医院", "四川大学华西医院", "复旦大学附属中山医院", "华中科技大学同济医学院附属协和医院",
                      "中南大学湘雅医院", "浙江大学医学院附属第一医院")
MAJORS = {"外科专业": "外科学", "内科专业": "内科学", "妇产科专业": "妇产科学", "儿科专业": "儿科学",
          "眼耳鼻咽喉科专业": "眼科学", "麻醉专业": "麻醉学", "急救医学专业": "急诊医学", "重症医学专业": "重症医学",
          "口腔专业": "口腔医学", "中医专业": "中医学", "医学影像和放射治疗专业": "医学影像学"}
EXTRA_CERTS = (  # (type, name, issuer, years valid)
    ("specialist", "高级心血管生命支持（ACLS）培训证书", "中华医学会急诊医学分会", 2),
    ("other", "放射工作人员证", "示范市卫生健康委员会", 4),
    ("specialist", "内镜诊疗技术培训合格证书", "省医学会消化内镜学分会", 5),
    ("specialist", "超声医学专项能力培训证书", "国家卫生健康委能力建设和继续教育中心", 3),
)
COLOURS = {"qualification": (156, 28, 36), "practice": (20, 82, 150), "title": (120, 72, 16),
           "residency": (18, 110, 74), "specialist": (90, 40, 130), "other": (70, 70, 70)}
SCALE = {"tiny": 3, "small": 12, "medium": 30, "large": 80}  # adverse records
ADVERSE = (
    ("qcdept", "records", "运行病历首次病程记录超时完成（入院后10小时），已在科室质控会上通报。",
     "通报批评，病历质控扣分"),
    ("complaints", "complaint", "患者家属投诉术前告知不充分，经调查沟通记录不完整。", "诫勉谈话，组织医患沟通培训"),
    ("pharmacy", "prescribing", "特殊使用级抗菌药物未经会诊使用，处方点评判定为不合理。", "处方权限警示一次"),
    ("qcdept", "quality", "择期手术术前讨论记录缺失。", "限期整改，纳入科室季度考核"),
    ("medaffairs", "safety", "手术安全核查表签字不全。", "书面检查，全院通报"),
)


class _Scans:
    """Small certificate scans drawn once per type; each certificate gets its own number printed."""

    def __init__(self):
        self.base: dict[str, Image.Image] = {}
        self.thumbs: dict[str, bytes] = {}  # the number is too small to read on a thumbnail: one per type
        self.font = ImageFont.load_default()

    def _base(self, cert_type: str) -> Image.Image:
        if cert_type not in self.base:
            colour = COLOURS.get(cert_type, COLOURS["other"])
            image = Image.new("RGB", (480, 336), (250, 247, 238))
            draw = ImageDraw.Draw(image)
            draw.rectangle([8, 8, 471, 327], outline=colour, width=6)
            draw.rectangle([24, 24, 455, 70], fill=colour)
            draw.ellipse([196, 88, 284, 176], outline=colour, width=4)
            draw.ellipse([218, 110, 262, 154], fill=colour)
            for y in range(196, 292, 22):
                draw.line([48, y, 432, y], fill=(205, 200, 190), width=2)
            self.base[cert_type] = image
        return self.base[cert_type]

    def render(self, cert_type: str, number: str, pdf: bool) -> tuple[bytes, bytes, str, str]:
        """(file bytes, thumbnail JPEG, mime, suffix)."""
        image = self._base(cert_type).copy()
        ImageDraw.Draw(image).text((48, 300), f"No. {number}", fill=(40, 40, 40), font=self.font)
        out = io.BytesIO()
        if pdf:
            image.save(out, "PDF", resolution=96)
            mime, suffix = "application/pdf", ".pdf"
        else:
            image.save(out, "JPEG", quality=80)
            mime, suffix = "image/jpeg", ".jpg"
        if cert_type not in self.thumbs:
            thumb = image.copy()
            thumb.thumbnail(storage.THUMB_SIZE)
            small = io.BytesIO()
            thumb.save(small, "JPEG", quality=80)
            self.thumbs[cert_type] = small.getvalue()
        return out.getvalue(), self.thumbs[cert_type], mime, suffix


def build(ctx: DemoContext) -> None:
    rng = random.Random(f"dossier-{ctx.scale}")  # its own stream: other steps' data stays as it was
    today = date.today()
    hospital = db.session.scalar(select(Hospital.name).order_by(Hospital.id))
    doctors = db.session.execute(
        select(Staff.id, Staff.employee_no, Staff.gender, Staff.birth_date, Staff.hire_date, Staff.title_code,
               Staff.title_since, Staff.practice_scope, Staff.practice_cert_no, Staff.qualification_cert_no)
        .where(Staff.staff_type == "physician").order_by(Staff.id)).all()
    if not doctors:
        return
    named = ctx.shared.get("named_staff", {})
    demo_doctor = named.get("doctor")
    scans = _Scans()
    root = storage.root()
    profiles, certificates, files, history = [], [], [], []
    for n, d in enumerate(doctors):
        born = d.birth_date or date(1985, 1, 1)
        hired = d.hire_date or date(2010, 8, 1)
        level = {"resident": 0, "attending": 1, "assoc_chief": 2, "chief": 3}.get(d.title_code or "", 1)
        education = ("master", "bachelor", "doctorate")[rng.choices((0, 1, 2), (5, 3 if level < 2 else 1,
                                                                                 1 + level))[0]]
        graduated = min(hired - timedelta(days=30), date(born.year + 24 + (education != "bachelor") * 3, 7, 1))
        registered = min(today - timedelta(days=30), hired + timedelta(days=200 + rng.randrange(200)))
        university = rng.choice(UNIVERSITIES)
        profiles.append(dict(
            staff_id=d.id, id_number=identity.make(rng.choice(REGIONS), born, n, d.gender == "M"),
            ethnicity=rng.choices(("汉族", "回族", "满族", "壮族", "蒙古族"), (92, 2, 2, 2, 2))[0],
            education=education, degree={"doctorate": "doctor", "master": "master"}.get(education, "bachelor"),
            graduated_from=university, major=MAJORS.get(d.practice_scope or "", "临床医学"), graduated_on=graduated,
            personnel_category=rng.choices(("established", "contract", "agency"), (7, 2, 1))[0],
            practice_registered_on=registered, practice_institution=hospital,
            email=f"{d.employee_no}@demo-hospital.cn", office_phone=f"0710-8{rng.randrange(1000000):06d}"))

        def cert(cert_type, name, number, issuer, issued, expires=None, pdf=False, staff_id=d.id):
            certificates.append(dict(staff_id=staff_id, cert_type=cert_type, name=name, number=number,
                                     issuer=issuer, issued_on=issued, expires_on=expires, pdf=pdf))

        cert("qualification", "医师资格证书", d.qualification_cert_no or f"Q{d.employee_no}", "国家卫生健康委员会",
             date(hired.year, 12, 1) if date(hired.year, 12, 1) < today else hired)
        cert("practice", "医师执业证书", d.practice_cert_no or f"P{d.employee_no}", "示范市卫生健康委员会", registered,
             pdf=n % 4 == 0)
        if d.title_since and level > 0:
            cert("title", "专业技术职务任职资格证书", f"ZC{d.title_since.year}{d.employee_no}",
                 "示范省人力资源和社会保障厅", d.title_since)
        residency_end = min(today - timedelta(days=60), graduated + timedelta(days=3 * 365))
        if graduated.year >= 2014:  # 规培 became national practice in 2014
            cert("residency", "住院医师规范化培训合格证书", f"GP{residency_end.year}{d.employee_no}",
                 "示范省卫生健康委员会", residency_end)
        # Certificates that expire: most valid, some expiring soon, some expired.
        kind, name, issuer, years = EXTRA_CERTS[n % len(EXTRA_CERTS)]
        roll = rng.random()
        if d.id == demo_doctor or roll < 0.12:
            expires = today + timedelta(days=rng.choice((5, 12, 20, 45, 70)))
        elif roll < 0.22:
            expires = today - timedelta(days=rng.randrange(10, 400))
        else:
            expires = today + timedelta(days=rng.randrange(120, 900))
        cert(kind, name, f"X{n:05d}{d.employee_no}", issuer, expires - timedelta(days=365 * years), expires,
             pdf=n % 3 == 0)
        if d.id == demo_doctor:
            expired = today - timedelta(days=35)
            cert("specialist", "基础生命支持（BLS）培训证书", f"BLS{d.employee_no}", "中国医师协会",
                 expired - timedelta(days=730), expired)

        history.append(dict(staff_id=d.id, kind="work", started_on=hired, ended_on=None, institution=hospital,
                            department=None, role="临床医师", content="门诊、病房诊疗及教学工作"))
        if level >= 2:
            start = hired - timedelta(days=365 * rng.randrange(3, 7))
            history.append(dict(staff_id=d.id, kind="work", started_on=start, ended_on=hired - timedelta(days=15),
                                institution=rng.choice(("示范市第二人民医院", "示范县人民医院", "示范市中心医院")),
                                department=None, role="住院医师", content="住院医师工作"))
        if graduated.year >= 2014:
            history.append(dict(staff_id=d.id, kind="training", started_on=graduated + timedelta(days=60),
                                ended_on=residency_end, institution=rng.choice(TEACHING_HOSPITALS),
                                title="住院医师规范化培训", hours=None, credits=None,
                                content="三年住院医师规范化培训，考核合格"))
        history.append(dict(staff_id=d.id, kind="training", started_on=today - timedelta(days=rng.randrange(60, 700)),
                            ended_on=None, institution="示范市医学会", title="年度继续医学教育（I类学分）",
                            hours=rng.choice((12, 16, 24)), credits=rng.choice((4, 6, 10)),
                            content="专科新进展、医疗质量与安全核心制度"))
        if level >= 1 and rng.random() < 0.4:
            start = hired + timedelta(days=365 * rng.randrange(2, 6))
            if start < today - timedelta(days=200):
                history.append(dict(staff_id=d.id, kind="training", started_on=start,
                                    ended_on=start + timedelta(days=182), institution=rng.choice(TEACHING_HOSPITALS),
                                    title="进修学习（六个月）", hours=None, credits=None,
                                    content="专科疑难病例诊治与新技术学习"))

    db.session.execute(insert(DossierProfile), profiles)
    db.session.flush()
    used: set[tuple[str, str]] = set()
    for item in certificates:
        pdf = item.pop("pdf")
        if (item["cert_type"], item["number"]) in used:
            item["number"] = f"{item['number']}-{len(used)}"
        used.add((item["cert_type"], item["number"]))
        row = Certificate(**item)
        data, thumb, mime, suffix = scans.render(item["cert_type"], item["number"], pdf)
        token = f"demo{rng.getrandbits(64):016x}"
        stored, thumb_name = f"{item['staff_id']}/{token}{suffix}", f"{item['staff_id']}/{token}.thumb.jpg"
        (root / str(item["staff_id"])).mkdir(parents=True, exist_ok=True)
        (root / stored).write_bytes(data)
        (root / thumb_name).write_bytes(thumb)
        row.files.append(CertificateFile(seq=1, original_name=f"{item['name']}{suffix}", stored_name=stored,
                                         thumb_name=thumb_name, mime=mime, size=len(data),
                                         sha256=hashlib.sha256(data).hexdigest()))
        files.append(row)
    db.session.add_all(files)
    db.session.flush()
    residency = {c.staff_id: c.id for c in files if c.cert_type == "residency"}
    for entry in history:
        if entry["kind"] == "training" and entry["title"] == "住院医师规范化培训":
            entry["certificate_id"] = residency.get(entry["staff_id"])
    db.session.execute(insert(HistoryEntry), [{"department": None, "role": None, "title": None, "hours": None,
                                               "credits": None, "certificate_id": None, **e} for e in history])
    ctx.counts.update(dossier_profiles=len(profiles), dossier_certificates=len(files),
                      dossier_history=len(history), dossier_adverse=_adverse(ctx, rng, doctors, today))


def _adverse(ctx: DemoContext, rng: random.Random, doctors, today: date) -> int:
    from app.modules.accounts.models import User

    users = {u.username: u for u in db.session.scalars(
        select(User).where(User.username.in_({a[0] for a in ADVERSE})))}
    departments = dict(db.session.execute(select(Staff.id, Staff.department_id)).all())
    fallback = db.session.scalar(select(Department.id).where(Department.category == "functional")
                                 .order_by(Department.id))
    named = set(ctx.shared.get("named_staff", {}).values())
    candidates = [d.id for d in doctors if d.id not in named]
    rows = []
    for i in range(min(SCALE.get(ctx.scale, 3), len(candidates))):
        username, category, content, handling = ADVERSE[i % len(ADVERSE)]
        user = users.get(username)
        rows.append(dict(staff_id=rng.choice(candidates), occurred_on=today - timedelta(days=rng.randrange(10, 600)),
                         category=category, content=content, handling=handling, source="manual", status="active",
                         duty_department_id=departments.get(user.staff_id, fallback) if user else fallback,
                         recorded_by_id=user.id if user else None))
    if rows:
        db.session.execute(insert(AdverseRecord), rows)
    return len(rows)
