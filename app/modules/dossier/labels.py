"""Dictionaries of the dossier (code → label) and how each is spelled in Chinese files from HR."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

CERT_TYPES = {
    "practice": _l("Practising certificate"),  # 医师执业证书
    "qualification": _l("Qualification certificate"),  # 医师资格证书
    "title": _l("Professional title certificate"),  # 职称证书
    "specialist": _l("Specialist training certificate"),  # 专科培训证书
    "residency": _l("Standardised residency training certificate"),  # 住院医师规范化培训合格证书
    "education": _l("Diploma or degree certificate"),  # 学历学位证书
    "other": _l("Other certificate"),
}
# Certificates whose number identifies them: the same number twice (per type) is refused.
NUMBERED_TYPES = ("practice", "qualification", "title", "specialist", "residency", "education")

EDUCATION = {
    "doctorate": _l("Doctoral postgraduate"),
    "master": _l("Master's postgraduate"),
    "bachelor": _l("Undergraduate (bachelor)"),
    "college": _l("Junior college"),
    "secondary": _l("Technical secondary school"),
}
DEGREES = {"doctor": _l("Doctor's degree"), "master": _l("Master's degree"), "bachelor": _l("Bachelor's degree"),
           "none": _l("No degree")}
PERSONNEL_CATEGORIES = {
    "established": _l("Established post"),  # 在编
    "contract": _l("Contract staff"),  # 合同制
    "agency": _l("Personnel agency"),  # 人事代理
    "resident": _l("Residency trainee"),  # 规培
    "visiting": _l("Visiting physician"),  # 进修
    "rehired": _l("Re-employed retiree"),  # 返聘
}
ETHNICITIES = ("汉族", "壮族", "回族", "满族", "维吾尔族", "苗族", "彝族", "土家族", "藏族", "蒙古族", "侗族", "布依族",
               "瑶族", "白族", "朝鲜族", "哈尼族", "黎族", "哈萨克族", "傣族", "畲族", "其他")

HISTORY_KIND_LABELS = {"work": _l("Work experience"), "training": _l("Training")}

ADVERSE_CATEGORIES = {
    "quality": _l("Medical quality"),  # 医疗质量
    "safety": _l("Patient safety"),  # 医疗安全
    "prescribing": _l("Rational drug use"),  # 合理用药
    "records": _l("Medical records"),  # 病历书写
    "ethics": _l("Professional ethics"),  # 医德医风
    "complaint": _l("Complaints and disputes"),  # 投诉纠纷
    "infection": _l("Infection control"),  # 院感防控
    "other": _l("Other"),
}
ADVERSE_SOURCE_LABELS = {"manual": _l("Entered by hand"), "demerit": _l("Demerit record")}
CHANGE_SOURCE_LABELS = {"manual": _l("Entered by hand"), "import": _l("File import"), "api": _l("HIS/HR sync")}
EXPIRY_FILTERS = {"expired": _l("Expired"), "expiring": _l("Expiring soon"), "valid": _l("Valid"),
                  "none": _l("No expiry date")}
EXPORT_STATUS_LABELS = {"queued": _l("Queued"), "running": _l("Running"), "done": _l("Ready"),
                        "failed": _l("Failed"), "expired": _l("Removed")}

# Chinese spellings in import files and API payloads, besides the codes.
CERT_TYPE_ALIASES = {"执业证书": "practice", "医师执业证书": "practice", "资格证书": "qualification",
                     "医师资格证书": "qualification", "职称证书": "title", "专科培训证书": "specialist",
                     "规培证书": "residency", "住院医师规范化培训合格证书": "residency", "学历证书": "education",
                     "学位证书": "education", "学历学位证书": "education", "其他": "other"}
EDUCATION_ALIASES = {"博士研究生": "doctorate", "博士": "doctorate", "硕士研究生": "master", "硕士": "master",
                     "大学本科": "bachelor", "本科": "bachelor", "大学专科": "college", "专科": "college",
                     "大专": "college", "中专": "secondary", "中等专科": "secondary"}
DEGREE_ALIASES = {"博士": "doctor", "博士学位": "doctor", "硕士": "master", "硕士学位": "master", "学士": "bachelor",
                  "学士学位": "bachelor", "无": "none", "无学位": "none"}
PERSONNEL_ALIASES = {"在编": "established", "编制内": "established", "合同制": "contract", "合同": "contract",
                     "人事代理": "agency", "规培": "resident", "规培生": "resident", "进修": "visiting",
                     "进修生": "visiting", "返聘": "rehired"}
STAFF_TYPE_ALIASES = {"医师": "physician", "医生": "physician", "护士": "nurse", "药师": "pharmacist",
                      "技师": "technician", "医技": "technician", "管理": "administrative", "行政": "administrative"}
STATUS_ALIASES = {"在职": "active", "休假": "leave", "离休": "retired", "退休": "retired", "离职": "resigned"}
