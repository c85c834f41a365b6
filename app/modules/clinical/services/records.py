"""The clinical record kinds (patients, stays, operations, OR registrations, orders, record events,
complications): the fields a sender gives, how a row turns into column values, and which
doctor-months of the metrics it touches.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.modules.clinical import models as m
from app.modules.clinical.services.base import NOT_FOUND, Context, Kind, _codes_in, fetch_by, matching, month_of
from app.modules.clinical.services.ceiling import CeilingLookup
from app.modules.clinical.services.parsing import GENDERS, RowReader

DISCHARGE_METHOD_CHOICES = {
    **{code: code for code in m.DISCHARGE_METHODS},
    "医嘱离院": "1", "医嘱转院": "2", "医嘱转社区卫生服务机构/乡镇卫生院": "3", "转社区": "3",
    "非医嘱离院": "4", "死亡": "5", "其他": "9",
}
SETTING_CHOICES = {"inpatient": "inpatient", "outpatient": "outpatient", "住院": "inpatient",
                   "门诊": "outpatient", "i": "inpatient", "o": "outpatient"}
EVENT_CHOICES = {**{k: k for k in m.EVENT_KINDS}, "术前讨论": "preop_discussion",
                 "死亡病例讨论": "death_discussion", "疑难病例讨论": "difficult_case_discussion"}
INCISION_CHOICES = {"0": "0", "I": "I", "II": "II", "III": "III", "Ⅰ": "I", "Ⅱ": "II", "Ⅲ": "III",
                    "1": "I", "2": "II", "3": "III", "i": "I", "ii": "II", "iii": "III"}
HEALING_CHOICES = {"甲": "甲", "乙": "乙", "丙": "丙", "其他": "其他", "a": "甲", "b": "乙", "c": "丙"}


# --- patients and stays ---------------------------------------------------------------------

class Patients(Kind):
    name, label, model = "patients", _l("Patients"), m.Patient
    fields = ("source_id", "mrn", "name", "gender", "birth_date")
    required = ("source_id", "name")
    compare = ("mrn", "name", "gender", "birth_date")

    def convert(self, ctx, r):
        return dict(source_id=r.text("source_id", 40, True), mrn=r.text("mrn", 32),
                    name=r.text("name", 60, True), gender=r.choice("gender", GENDERS),
                    birth_date=r.date("birth_date"))


class Stays(Kind):
    name, label, model = "stays", _l("Inpatient stays"), m.Stay
    fields = ("source_id", "patient_source_id", "patient_name", "patient_gender", "patient_birth_date",
              "admission_no", "admitted_at", "discharged_at", "admit_department_code",
              "discharge_department_code", "attending_employee_no", "responsible_employee_no",
              "discharge_method", "readmission_plan", "unplanned_readmission", "total_cost",
              "main_diagnosis_code", "main_diagnosis_name", "other_diagnoses")
    required = ("source_id", "patient_source_id", "admitted_at", "discharged_at", "discharge_department_code",
                "attending_employee_no", "discharge_method", "total_cost")
    compare = ("patient_id", "admission_no", "admitted_at", "discharged_at", "admit_department_id",
               "discharge_department_id", "attending_id", "responsible_id", "discharge_method",
               "readmission_plan", "unplanned_readmission", "total_cost", "main_diagnosis_code",
               "main_diagnosis_name")
    fetch_extra = ("discharge_month",)
    need_ids = True

    def prepare(self, ctx, rows):
        ctx.load_refs("patients", m.Patient, rows, "patient_source_id")
        codes = _codes_in(rows, "main_diagnosis_code")
        for row in rows:
            if isinstance(row, dict):
                codes.update(code for code, _name in _diagnosis_list(row.get("other_diagnoses")))
        ctx.load_codes("diagnosis", m.DiagnosisCode, codes)

    def convert(self, ctx, r):
        text, data = r.text, r.data
        source_id, admission_no = text("source_id", 40, True), text("admission_no", 32)
        patient_key = text("patient_source_id", 40, True)
        patient_id = patient = None
        if patient_key is not None:
            found = ctx.refs["patients"].get(patient_key)
            if found is not None:
                patient_id = found.id
            elif data.get("patient_name"):
                patient = {"source_id": patient_key, "name": text("patient_name", 60, True),
                           "gender": r.choice("patient_gender", GENDERS),
                           "birth_date": r.date("patient_birth_date"), "mrn": None}
            else:
                r.fail("patient_source_id", _("No patient with source id %(key)s (send the patient first, "
                                              "or give patient_name).", key=patient_key))
        admitted, discharged = r.datetime("admitted_at", True), r.datetime("discharged_at", True)
        if admitted and discharged and discharged < admitted:
            r.fail("discharged_at", _("Discharge is before admission."))
        departments, not_found = ctx.departments, NOT_FOUND["department"]
        discharge_dept = r.ref("discharge_department_code", departments, not_found, True)
        admit_dept = r.ref("admit_department_code", departments, not_found) or discharge_dept
        main_code = text("main_diagnosis_code", 20)
        main_name = text("main_diagnosis_name", 120)
        if main_code:
            ctx.check_code("diagnosis", main_code, main_name)
        others = data.get("other_diagnoses")
        if others:
            others = _diagnosis_list(others)
            for code, name in others:
                if len(code) > 20 or (name and len(name) > 120):
                    r.fail("other_diagnoses", _("A diagnosis code or name is too long."))
                    break
                ctx.check_code("diagnosis", code, name)
        else:
            others = []
        staff, no_staff = ctx.staff, NOT_FOUND["staff"]
        values = {
            "source_id": source_id, "admission_no": admission_no, "patient_id": patient_id,
            "admitted_at": admitted, "discharged_at": discharged, "admit_department_id": admit_dept,
            "discharge_department_id": discharge_dept,
            "attending_id": r.ref("attending_employee_no", staff, no_staff, True),
            "responsible_id": r.ref("responsible_employee_no", staff, no_staff),
            "discharge_method": r.choice("discharge_method", DISCHARGE_METHOD_CHOICES, True),
            "readmission_plan": r.flag("readmission_plan"), "unplanned_readmission": r.flag("unplanned_readmission"),
            "total_cost": r.money("total_cost", True), "main_diagnosis_code": main_code,
            "main_diagnosis_name": main_name}
        if patient is not None:
            values["_patient_key"] = patient_key
            values["_patient"] = patient
        if admitted and discharged:
            values["discharge_month"] = month_of(discharged)
            values["los_days"] = max(1, (discharged.date() - admitted.date()).days)
        if "other_diagnoses" in data:  # the main diagnosis lives on the stay, the others in a child table
            values["_diagnoses"] = others
        return values

    def before_write(self, ctx, new, changed):
        pending = {}
        for values in [*new, *(v for _old, v in changed)]:
            patient = values.pop("_patient", None)
            if patient is not None:
                pending.setdefault(patient["source_id"], patient)
        if pending:
            from app.core.models import utcnow
            from app.modules.clinical.services.bulk import insert_rows

            now = utcnow()
            ids = dict(zip(pending, insert_rows(m.Patient, list(pending.values()), returning=True,
                                                constants={"created_at": now, "updated_at": now})))
            for values in [*new, *(v for _old, v in changed)]:
                if values["patient_id"] is None:
                    values["patient_id"] = ids[values.pop("_patient_key")]

    def children_differ(self, existing, prepared):
        wanted = {existing[v["source_id"]].id: v for v in prepared
                  if v.get("_diagnoses") is not None and v["source_id"] in existing}
        stored: dict[int, list] = {}
        found = fetch_by(m.StayDiagnosis.stay_id, sorted(wanted), m.StayDiagnosis.seq, m.StayDiagnosis.code,
                         m.StayDiagnosis.name, unique=False)
        for stay_id, _seq, code, name in sorted(found, key=lambda r: (r[0], r[1])):
            stored.setdefault(stay_id, []).append((code, name))
        return {v["source_id"] for stay_id, v in wanted.items()
                if stored.get(stay_id, []) != [tuple(d) for d in v["_diagnoses"]]}

    def after_write(self, ctx, new, changed, ids):
        from sqlalchemy import delete

        from app.modules.clinical.services.bulk import insert_rows

        rows, replaced = [], []
        for values in [*new, *(v for _old, v in changed)]:
            diagnoses = values.get("_diagnoses")
            if diagnoses is None:
                continue
            stay_id = ids[values["source_id"]]
            replaced.append(stay_id)
            rows.extend(dict(stay_id=stay_id, seq=n, code=code, name=name)
                        for n, (code, name) in enumerate(diagnoses, 2))
        changed_ids = [ids[v["source_id"]] for _old, v in changed if v.get("_diagnoses") is not None]
        for clause in matching(m.StayDiagnosis.stay_id, changed_ids):
            db.session.execute(delete(m.StayDiagnosis).where(clause))
        insert_rows(m.StayDiagnosis, rows)

    def deltas(self, ctx, new):
        from decimal import Decimal

        result: dict = {}
        for v in new:  # a new stay has no operations or complications yet
            key = (v["attending_id"], v["discharge_month"])
            d = result.get(key)
            if d is None:
                d = result[key] = {"discharges": 0, "los_days": 0, "total_cost": Decimal(0), "deaths": 0,
                                   "unplanned_readmissions": 0, "long_stays": 0}
            d["discharges"] += 1
            d["los_days"] += v["los_days"]
            d["total_cost"] += v["total_cost"]
            d["deaths"] += v["discharge_method"] == m.DEATH
            d["unplanned_readmissions"] += v["unplanned_readmission"]
            d["long_stays"] += v["los_days"] > m.LONG_STAY_DAYS
        return result

    def affected(self, ctx, new, changed):
        keys = {(v["attending_id"], v["discharge_month"]) for v in new}
        stay_months = {}
        for old, values in changed:
            keys.add((old.attending_id, old.discharge_month))
            keys.add((values["attending_id"], values["discharge_month"]))
            stay_months[old.id] = {old.discharge_month, values["discharge_month"]}
        for stay_id, surgeon_id in fetch_by(m.Operation.stay_id, sorted(stay_months), m.Operation.surgeon_id,
                                            unique=False):
            keys.update((surgeon_id, month) for month in stay_months[stay_id])
        return keys


def _diagnosis_list(value) -> list[tuple[str, str | None]]:
    """Other diagnoses: a JSON list of {code, name} or of codes, or "K35.800 急性阑尾炎; I10.x00"."""
    if not value:
        return []
    result = []
    if isinstance(value, str):
        for part in value.replace("；", ";").split(";"):
            part = part.strip()
            if part:
                code, _sep, name = part.partition(" ")
                result.append((code.strip(), name.strip() or None))
        return result
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item.get("code"):
                result.append((str(item["code"]).strip(), (str(item.get("name") or "").strip() or None)))
            elif isinstance(item, str) and item.strip():
                result.append((item.strip(), None))
    return result


# --- operations and what hangs off a stay ---------------------------------------------------

def _stay_ref(ctx: Context, r: RowReader, required: bool = True):
    return r.ref("stay_source_id", ctx.refs["stays"], NOT_FOUND["stay"], required)


def _operation_ref(ctx: Context, r: RowReader):
    found = r.ref("operation_source_id", ctx.refs["operations"], NOT_FOUND["operation"])
    return found.id if found is not None else None


STAY_COLUMNS = (m.Stay.discharge_department_id, m.Stay.attending_id, m.Stay.discharge_month,
                m.Stay.admitted_at, m.Stay.discharged_at, m.Stay.discharge_method)


class Operations(Kind):
    name, label, model = "operations", _l("Operations"), m.Operation
    fields = ("source_id", "stay_source_id", "seq", "code", "name", "performed_at", "level",
              "surgeon_employee_no", "assistant1_employee_no", "assistant2_employee_no", "incision_grade",
              "healing_grade", "anesthesia_method", "anesthetist_employee_no", "emergency",
              "unplanned_reoperation")
    required = ("source_id", "stay_source_id", "code", "performed_at", "surgeon_employee_no")
    compare = ("stay_id", "department_id", "seq", "code", "name", "performed_at", "level", "surgeon_id",
               "assistant1_id", "assistant2_id", "incision_grade", "healing_grade", "anesthesia_method",
               "anesthetist_id", "emergency", "unplanned_reoperation", "above_level")
    fetch_extra = ("op_month",)

    def prepare(self, ctx, rows):
        ctx.load_refs("stays", m.Stay, rows, "stay_source_id", *STAY_COLUMNS)
        ctx.load_codes("procedure", m.ProcedureCode, _codes_in(rows, "code"), m.ProcedureCode.name,
                       m.ProcedureCode.level)

    def convert(self, ctx, r):
        stay = _stay_ref(ctx, r)
        code, name = r.text("code", 20, True), r.text("name", 120)
        known = ctx.check_code("procedure", code, name)
        level = r.integer("level", 1, 4)
        if level is None and known is not None:
            level = known.level
        if level is None and code is not None and "level" not in {f for f, _m in r.errors}:
            r.fail("level", _("Required: the code is not in the procedure dictionary or has no level."))
        if name is None and known is not None:
            name = known.name
        if name is None and code is not None:
            r.fail("name", _("Required: the code is not in the procedure dictionary."))
        performed = r.datetime("performed_at", True)
        if stay is not None and performed is not None and not (
                stay.admitted_at.date() <= performed.date() <= stay.discharged_at.date()):
            r.fail("performed_at", _("Outside the stay (%(start)s – %(end)s).",
                                     start=stay.admitted_at.date().isoformat(),
                                     end=stay.discharged_at.date().isoformat()))
        return dict(
            source_id=r.text("source_id", 40, True), stay_id=stay.id if stay else None,
            department_id=stay.discharge_department_id if stay else None,
            seq=r.integer("seq", 1, 99) or 1, code=code, name=name, performed_at=performed,
            op_month=month_of(performed) if performed else None, level=level,
            surgeon_id=self.staff_ref(ctx, r, "surgeon_employee_no", True),
            assistant1_id=self.staff_ref(ctx, r, "assistant1_employee_no"),
            assistant2_id=self.staff_ref(ctx, r, "assistant2_employee_no"),
            incision_grade=r.choice("incision_grade", INCISION_CHOICES),
            healing_grade=r.choice("healing_grade", HEALING_CHOICES),
            anesthesia_method=r.text("anesthesia_method", 40),
            anesthetist_id=self.staff_ref(ctx, r, "anesthetist_employee_no"),
            emergency=r.flag("emergency"), unplanned_reoperation=r.flag("unplanned_reoperation"),
            above_level=False, _stay_month=stay.discharge_month if stay else None,
            _stay_died=stay is not None and stay.discharge_method == m.DEATH)

    def finish(self, ctx, prepared):
        lookup = CeilingLookup(v["surgeon_id"] for v in prepared)
        for values in prepared:
            values["above_level"] = lookup.above(values["surgeon_id"], values["performed_at"].date(),
                                                 values["level"])

    def deltas(self, ctx, new):
        """New operations add to their surgeon's month; a surgeon's first operation on a stay adds a
        surgical patient (and a surgical death) to the stay's discharge month."""
        pairs = {(surgeon_id, stay_id) for stay_id, surgeon_id in fetch_by(
            m.Operation.stay_id, sorted({v["stay_id"] for v in new}), m.Operation.surgeon_id, unique=False)}
        result: dict = {}

        def bump(key, field, n=1):
            slot = result.setdefault(key, {})
            slot[field] = slot.get(field, 0) + n

        for v in new:
            key = (v["surgeon_id"], v["op_month"])
            bump(key, "operations")
            bump(key, f"ops_level{v['level']}")
            bump(key, "ops_above_level", int(v["above_level"]))
            bump(key, "reoperations", int(v["unplanned_reoperation"]))
            pair = (v["surgeon_id"], v["stay_id"])
            if pair not in pairs:
                pairs.add(pair)
                bump((v["surgeon_id"], v["_stay_month"]), "surgical_patients")
                bump((v["surgeon_id"], v["_stay_month"]), "surgical_deaths", int(v["_stay_died"]))
        return result

    def affected(self, ctx, new, changed):
        keys = set()
        for values in new:
            keys.add((values["surgeon_id"], values["op_month"]))
            keys.add((values["surgeon_id"], values["_stay_month"]))
        old_stays = sorted({old.stay_id for old, _v in changed})
        months = dict(fetch_by(m.Stay.id, old_stays, m.Stay.discharge_month))
        for old, values in changed:
            keys.update({(old.surgeon_id, old.op_month), (old.surgeon_id, months.get(old.stay_id)),
                         (values["surgeon_id"], values["op_month"]),
                         (values["surgeon_id"], values["_stay_month"])})
        return keys


class Registrations(Kind):
    name, label, model = "registrations", _l("Operating-room registrations"), m.OrRegistration
    fields = ("source_id", "stay_source_id", "operation_source_id", "code", "name", "scheduled_at",
              "scheduled_surgeon_employee_no", "actual_surgeon_employee_no", "room")
    required = ("source_id", "stay_source_id", "scheduled_at")
    compare = ("stay_id", "operation_id", "code", "name", "scheduled_at", "scheduled_surgeon_id",
               "actual_surgeon_id", "room")

    def prepare(self, ctx, rows):
        ctx.load_refs("stays", m.Stay, rows, "stay_source_id")
        ctx.load_refs("operations", m.Operation, rows, "operation_source_id")
        ctx.load_codes("procedure", m.ProcedureCode, _codes_in(rows, "code"))

    def convert(self, ctx, r):
        stay = _stay_ref(ctx, r)
        code, name = r.text("code", 20), r.text("name", 120)
        ctx.check_code("procedure", code, name)
        return dict(source_id=r.text("source_id", 40, True), stay_id=stay.id if stay else None,
                    operation_id=_operation_ref(ctx, r), code=code, name=name,
                    scheduled_at=r.datetime("scheduled_at", True),
                    scheduled_surgeon_id=self.staff_ref(ctx, r, "scheduled_surgeon_employee_no"),
                    actual_surgeon_id=self.staff_ref(ctx, r, "actual_surgeon_employee_no"),
                    room=r.text("room", 20))


class Prescriptions(Kind):
    name, label, model = "prescriptions", _l("Orders and prescriptions"), m.Prescription
    fields = ("source_id", "stay_source_id", "department_code", "prescriber_employee_no", "drug_code",
              "prescribed_on", "setting", "dose", "days")
    required = ("source_id", "prescriber_employee_no", "drug_code", "prescribed_on", "setting")
    compare = ("stay_id", "department_id", "prescriber_id", "drug_code", "prescribed_on", "setting", "dose",
               "days")

    def prepare(self, ctx, rows):
        ctx.load_refs("stays", m.Stay, rows, "stay_source_id", m.Stay.discharge_department_id)
        ctx.load_codes("drug", m.Drug, _codes_in(rows, "drug_code"))

    def convert(self, ctx, r):
        setting = r.choice("setting", SETTING_CHOICES, True)
        stay = _stay_ref(ctx, r, required=setting == "inpatient")
        department = self.department_ref(ctx, r, "department_code")
        if department is None and stay is not None:
            department = stay.discharge_department_id
        if department is None and not r.data.get("department_code") and setting == "outpatient":
            r.fail("department_code", _("Required."))
        drug = r.text("drug_code", 32, True)
        ctx.check_code("drug", drug)
        return dict(source_id=r.text("source_id", 40, True), stay_id=stay.id if stay else None,
                    department_id=department,
                    prescriber_id=self.staff_ref(ctx, r, "prescriber_employee_no", True),
                    drug_code=drug, prescribed_on=r.date("prescribed_on", True), setting=setting,
                    dose=r.text("dose", 40), days=r.integer("days", 0, 365))


class RecordEvents(Kind):
    name, label, model = "record-events", _l("Medical-record events"), m.RecordEvent
    fields = ("source_id", "stay_source_id", "operation_source_id", "kind", "occurred_at", "chair_employee_no")
    required = ("source_id", "stay_source_id", "kind", "occurred_at")
    compare = ("stay_id", "operation_id", "kind", "occurred_at", "chair_id")

    def prepare(self, ctx, rows):
        ctx.load_refs("stays", m.Stay, rows, "stay_source_id")
        ctx.load_refs("operations", m.Operation, rows, "operation_source_id")

    def convert(self, ctx, r):
        stay = _stay_ref(ctx, r)
        return dict(source_id=r.text("source_id", 40, True), stay_id=stay.id if stay else None,
                    operation_id=_operation_ref(ctx, r), kind=r.choice("kind", EVENT_CHOICES, True),
                    occurred_at=r.datetime("occurred_at", True),
                    chair_id=self.staff_ref(ctx, r, "chair_employee_no"))


class Complications(Kind):
    name, label, model = "complications", _l("Complications"), m.Complication
    fields = ("source_id", "stay_source_id", "operation_source_id", "code", "name", "occurred_on")
    required = ("source_id", "stay_source_id", "code")
    compare = ("stay_id", "operation_id", "code", "name", "occurred_on")

    def prepare(self, ctx, rows):
        ctx.load_refs("stays", m.Stay, rows, "stay_source_id", m.Stay.attending_id, m.Stay.discharge_month)
        ctx.load_refs("operations", m.Operation, rows, "operation_source_id")
        ctx.load_codes("diagnosis", m.DiagnosisCode, _codes_in(rows, "code"))

    def convert(self, ctx, r):
        stay = _stay_ref(ctx, r)
        code, name = r.text("code", 20, True), r.text("name", 120)
        ctx.check_code("diagnosis", code, name)
        return dict(source_id=r.text("source_id", 40, True), stay_id=stay.id if stay else None,
                    operation_id=_operation_ref(ctx, r), code=code, name=name,
                    occurred_on=r.date("occurred_on"),
                    _stay_key=(stay.attending_id, stay.discharge_month) if stay else None)

    def deltas(self, ctx, new):
        """A stay's first complication makes it a case with complications."""
        seen = {row[0] for row in fetch_by(m.Complication.stay_id, sorted({v["stay_id"] for v in new}),
                                           unique=False)}
        result: dict = {}
        for v in new:
            if v["stay_id"] not in seen:
                seen.add(v["stay_id"])
                slot = result.setdefault(tuple(v["_stay_key"]), {"complications": 0})
                slot["complications"] += 1
        return result

    def affected(self, ctx, new, changed):
        keys = {v["_stay_key"] for v in new}
        stay_ids = sorted({old.stay_id for old, _v in changed})
        keys.update((attending, month) for _id, attending, month in fetch_by(
            m.Stay.id, stay_ids, m.Stay.attending_id, m.Stay.discharge_month))
        keys.update(v["_stay_key"] for _old, v in changed)
        return {tuple(k) for k in keys}
