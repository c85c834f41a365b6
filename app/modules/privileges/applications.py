"""Applying for privileges (R3.1–R3.6) and the operations the approval processes call (R3.7).

An application is started from the module's apply page (or the portal's start form): the items are
checked against the eligibility table first and refused with the rule's reason before anything is
submitted; the computed history goes with the application. The process then calls
`privileges.prepare` (application record, checks again, summary), evaluates the automatic decision,
`privileges.record_auto`, the reviewer table, `privileges.pick_experts`, and finally
`privileges.grant` or `privileges.close`, each inside the instance's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, literal, select

from app.core import audit
from app.core.models import utcnow
from app.core.scopes import can
from app.extensions import db
from app.modules.accounts.models import User
from app.modules.org.models import Staff
from app.workflow import operations
from app.workflow.errors import PermissionDenied
from app.workflow.models import Instance

from . import decide, history, identity, items
from . import grants as grant_service
from .items import Item
from .models import Application, ApplicationItem, Grant
from .types import TYPES, PrivilegeType

RUNNING = ("running", "incident")


class Refused(Exception):
    """Items the rules do not let the applicant apply for: {item key: reason}."""

    def __init__(self, reasons: dict[str, str], names: dict[str, str]):
        super().__init__("refused")
        self.reasons, self.names = reasons, names

    def messages(self) -> list[str]:
        return [f"{self.names.get(key, key)}：{reason}" for key, reason in self.reasons.items()]


@dataclass
class Verdict:
    item: Item
    allowed: bool
    reason: str
    rule: str | None = None
    held: Grant | None = None


# --- who may apply, for what ---------------------------------------------------------------------

def applicant_staff(actor) -> Staff:
    staff = getattr(actor, "staff", None)
    if staff is None or not can(actor, "privileges.apply"):
        raise PermissionDenied(_("Only staff with the right to apply may apply for privileges."))
    return staff


def held_grants(staff_id: int, grant_keys: list[str], on: date | None = None) -> dict[str, list[Grant]]:
    if not grant_keys:
        return {}
    found: dict[str, list[Grant]] = {}
    for grant in db.session.scalars(select(Grant).where(Grant.staff_id == staff_id, Grant.item_key.in_(grant_keys),
                                                        Grant.status.in_(("active", "suspended")))
                                    .order_by(Grant.start_date)):
        found.setdefault(grant.item_key, []).append(grant)
    return found


def pending_keys(staff_id: int) -> set[str]:
    """Item keys of the staff member's applications still under review."""
    rows = db.session.execute(select(ApplicationItem.item_key).join(Application)
                              .join(Instance, Instance.id == Application.instance_id)
                              .where(Application.staff_id == staff_id, Application.status == "pending",
                                     Instance.status.in_(RUNNING)))
    return {key for key, in rows}


def has_evidence(data: dict, uploads: bool = False) -> bool:
    """A certificate was attached, a training named, a training of the dossier quoted, or a
    training/certificate described."""
    if uploads or data.get("certificate") or (data.get("training_name") or "").strip() or data.get("training_refs"):
        return True
    return any(isinstance(row, dict) and row.get("kind") in ("training", "certificate")
               for row in data.get("quoted") or [])


def check(facts: identity.Facts, ptype: str, chosen: list[Item], *, evidence: bool,
          renewal_of: Grant | None = None, on: date | None = None) -> list[Verdict]:
    """Each item against the eligibility table, what the applicant already holds and applied for."""
    on = on or date.today()
    catalog_ids = [i.item_id for i in chosen if i.item_id is not None]
    in_catalog = items.in_department_catalog(facts.department_id, catalog_ids)
    held = held_grants(facts.staff_id, sorted({i.grant_key for i in chosen}), on)
    pending = pending_keys(facts.staff_id)
    verdicts = []
    for item in chosen:
        inputs = {"ptype": ptype, "group": item.group, "right": item.right_code or "", "level": item.level,
                  "variant": item.variant or "", "in_department_catalog": item.item_id in in_catalog,
                  "has_training": evidence, "restricted": item.restricted, "item_label": item.label,
                  **facts.dmn_inputs()}
        result = decide.evaluate(decide.ELIGIBILITY, inputs)
        answer = result.result if isinstance(result.result, dict) else {"allowed": True, "reason": ""}
        rule = result.matched_rules[0] if result.matched_rules else None
        verdict = Verdict(item, bool(answer.get("allowed")), answer.get("reason") or "", rule)
        if verdict.allowed:
            for grant in held.get(item.grant_key, []):
                state = grant_service.current_state(grant, on)
                covers = (grant.level or 0) >= (item.level or 0) if item.right_code else True
                if renewal_of is not None and grant.id == renewal_of.id:
                    continue
                if grant.end_date is not None and grant.end_date < on:
                    continue
                if covers and state.status in ("active", "suspended"):
                    verdict.allowed, verdict.held = False, grant
                    verdict.reason = (_("Already held (valid until %(date)s).", date=grant.end_date.isoformat())
                                      if state.status == "active" else _("Held but suspended; ask medical affairs."))
                    break
        if verdict.allowed and item.key in pending:
            verdict.allowed, verdict.reason = False, _("An application for it is already under review.")
        verdicts.append(verdict)
    return verdicts


# --- the apply page -----------------------------------------------------------------------------------

@dataclass
class Offer:
    item: Item
    verdict: Verdict
    counts: dict
    grant: Grant | None


def offers(actor, ptype: str, *, evidence: bool = False, query: str = "", renewal_of: Grant | None = None,
           keys: list[str] | None = None) -> tuple[identity.Facts, list[Offer]]:
    """The items the applicant may choose, with their eligibility, history and current grant."""
    staff = applicant_staff(actor)
    kind = TYPES[ptype]
    facts = identity.facts(staff)
    chosen = list(items.resolve(ptype, keys).values()) if keys else items.offered(ptype, staff.department_id, query)
    verdicts = check(facts, ptype, chosen, evidence=evidence, renewal_of=renewal_of)
    counts = history.compute(kind.history, ptype, staff.id, staff.department_id, chosen)
    held = held_grants(staff.id, sorted({i.grant_key for i in chosen}))
    result = []
    for item, verdict in zip(chosen, verdicts):
        grant = next((g for g in held.get(item.grant_key, []) if not item.right_code or g.level == item.level), None)
        result.append(Offer(item, verdict, counts.get(item.key, {}), grant))
    return facts, result


def submit(actor, ptype: str, formdata, uploads: list, *, limit_mb: int) -> Instance:
    """Check the chosen items, then start the type's process with the form's data and the computed
    history. Raises Refused (per-item rule reasons), portal FormErrors (field errors)."""
    from app.modules.portal import actions, starting
    from app.workflow import registry, runtime

    kind = TYPES[ptype]
    staff = applicant_staff(actor)
    keys = [k for k in dict.fromkeys(formdata.getlist("items")) if k]
    found = items.resolve(ptype, keys)
    unknown = [k for k in keys if k not in found]
    if not keys or unknown:
        raise actions.FormErrors({"items": _("Choose at least one item from the list.") if not keys
                                  else _("Please choose from the list.")}, {})
    renewal_of = _renewal(staff.id, formdata.get("renewal_of"))
    checked = actions.check_uploads(uploads, limit_mb)
    form = registry.published_form_def(kind.form)
    data = actions.read_form(actor, form, formdata, actions.digest_refs(checked))
    chosen = [found[k] for k in keys]
    facts = identity.facts(staff)
    verdicts = check(facts, ptype, chosen, evidence=has_evidence(data, bool(checked)), renewal_of=renewal_of)
    refused = {v.item.key: v.reason for v in verdicts if not v.allowed}
    if refused:
        raise Refused(refused, {v.item.key: v.item.display for v in verdicts})
    if kind.history:
        counts = history.compute(kind.history, ptype, staff.id, staff.department_id, chosen)
        data["history"] = history.rows_for_form(kind.history, chosen, counts)
    names = "、".join(item.display for item in chosen[:3]) + (_(" and %(n)d more", n=len(chosen) - 3)
                                                            if len(chosen) > 3 else "")
    instance = runtime.start(actor, kind.process_key, business_key=starting.business_key(),
                             subject=f"staff:{staff.id}", department_id=staff.department_id, data=data,
                             title=f"{kind.label}：{names}"[:200])
    actions.store_uploads(actor, instance, None, checked)
    return instance


def _renewal(staff_id: int, value) -> Grant | None:
    if value in (None, "") or not str(value).isdigit():
        return None
    grant = db.session.get(Grant, int(value))
    return grant if grant is not None and grant.staff_id == staff_id else None


def renewal_keys(grant: Grant) -> list[str]:
    """The item key to apply for when renewing `grant`."""
    if grant.right_code:
        return [f"right:{grant.right_code}"]
    return [grant.item_key]


# --- the process's operations --------------------------------------------------------------------

def _user(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _application(ctx) -> Application:
    app_id = ctx.data.get("application_id")
    application = db.session.get(Application, app_id) if app_id else None
    if application is None:
        application = db.session.scalar(select(Application).where(Application.instance_id == ctx.instance_id))
    if application is None:
        raise operations.OperationError("privileges", "no application belongs to this process")
    return application


def _summary(facts: identity.Facts, verdicts: list[Verdict], counts: dict, kind: PrivilegeType, data: dict) -> str:
    lines = [f"申请人：{facts.name}（{facts.employee_no}），{facts.department_name}，{facts.title_name or '—'}，"
             f"执业类别：{facts.practice_category or '—'}，执业范围：{facts.practice_scope or '—'}",
             f"授权类型：{kind.label}", "申请项目："]
    for n, verdict in enumerate(verdicts, 1):
        values = counts.get(verdict.item.key) or {}
        line = f"{n}. {verdict.item.display}"
        if "as_surgeon" in values:
            line += (f" — 术者 {values['as_surgeon']} 例，Ⅰ助 {values['as_assistant1']} 例，"
                     f"Ⅱ助 {values['as_assistant2']} 例；本科室 {values['department_volume']} 例")
        elif values:
            line += f" — 本人 {values.get('own', 0)}，本科室/全院 {values.get('department_volume', 0)}"
        if not verdict.allowed:
            line += f"（不符合：{verdict.reason}）"
        lines.append(line)
    for field, heading in (("work_refs", "引用工作经历："), ("training_refs", "引用培训经历：")):
        quoted = _dossier_labels(field, data.get(field) or [], facts.staff_id)
        if quoted:
            lines.append(heading)
            lines += [f"· {text}" for text in quoted]
    quoted = [row for row in data.get("quoted") or [] if isinstance(row, dict)]
    if quoted:
        lines.append("补充经历：")
        lines += [f"· {row.get('period') or ''} {row.get('content') or ''}".strip() for row in quoted]
    if data.get("training_name"):
        lines.append(f"培训/资格：{data['training_name']} {data.get('training_date') or ''}".strip())
    if data.get("reason"):
        lines.append(f"申请理由：{data['reason']}")
    return "\n".join(lines)


def _dossier_labels(field: str, values: list, staff_id: int) -> list[str]:
    """The applicant's quoted dossier entries as the dossier labels them (none without the dossier)."""
    from app.workflow.forms import get_source

    source = get_source("work_history" if field == "work_refs" else "training_history")
    ids = [v for v in values if isinstance(v, int)]
    if source is None or source.resolve is None or not ids:
        return []
    from app.modules.dossier.models import HistoryEntry
    from app.modules.dossier.services import history as dossier_history

    entries = db.session.scalars(select(HistoryEntry).where(HistoryEntry.id.in_(ids),
                                                            HistoryEntry.staff_id == staff_id)).all()
    return [dossier_history.label(entry) for entry in entries]


def op_prepare(ctx, privilege_type: str) -> dict:
    """Record the application, check every item again, compute the history and the summary."""
    kind = TYPES.get(privilege_type)
    if kind is None:
        raise operations.OperationError("privileges.prepare", f"unknown privilege type {privilege_type!r}")
    starter = _user(ctx.started_by_id)
    if starter is None or starter.staff_id is None:
        raise operations.OperationError("privileges.prepare", "the applicant has no staff record")
    data = dict(ctx.data)
    keys = [k for k in dict.fromkeys(data.get("items") or []) if isinstance(k, str)]
    found = items.resolve(privilege_type, keys)
    chosen = [found[k] for k in keys if k in found]
    facts = identity.facts(starter.staff_id)
    renewal_of = _renewal(facts.staff_id, data.get("renewal_of"))
    verdicts = check(facts, privilege_type, chosen, evidence=has_evidence(data), renewal_of=renewal_of)
    missing = [k for k in keys if k not in found]
    counts = history.compute(kind.history, privilege_type, facts.staff_id, facts.department_id, chosen)
    application = Application(instance_id=ctx.instance_id, ptype=privilege_type, staff_id=facts.staff_id,
                              department_id=facts.department_id, applicant_id=starter.id, status="pending",
                              renewal_of_id=renewal_of.id if renewal_of else None,
                              reason=(data.get("reason") or None))
    for verdict in verdicts:
        application.items.append(ApplicationItem(
            item_key=verdict.item.key, item_id=verdict.item.item_id, right_code=verdict.item.right_code,
            variant=verdict.item.variant, item_name=verdict.item.display[:200], level=verdict.item.level,
            eligible=verdict.allowed, eligibility_reason=verdict.reason or None,
            history=counts.get(verdict.item.key) or None))
    db.session.add(application)
    db.session.flush()
    refusals = [f"{v.item.display}：{v.reason}" for v in verdicts if not v.allowed]
    refusals += [_("%(key)s is not an item of this type", key=k) for k in missing]
    case_counts = [history.cases(counts.get(v.item.key) or {}) for v in verdicts]
    return {"application_id": application.id, "ptype": privilege_type,
            "summary": _summary(facts, verdicts, counts, kind, data),
            "eligible": bool(chosen) and not refusals, "refusal": "；".join(refusals) or "",
            "max_level": max((v.item.level or 0 for v in verdicts), default=0),
            "min_cases": min(case_counts) if case_counts else 0,
            "restricted": any(v.item.restricted for v in verdicts), "renewal": renewal_of is not None,
            "item_count": len(chosen)}


def op_record_auto(ctx) -> dict:
    """Keep the automatic decision, with the rules that matched, on the application record."""
    from app.workflow.models import DecisionLog

    application = _application(ctx)
    db.session.flush()
    log = db.session.scalar(select(DecisionLog).where(DecisionLog.instance_id == ctx.instance_id,
                                                      DecisionLog.decision_key == decide.AUTO_DECISION)
                            .order_by(DecisionLog.id.desc()).limit(1))
    application.auto_outcome = ctx.data.get("auto_outcome")
    application.auto_reason = ctx.data.get("auto_reason")
    application.auto_rules = {"decision": decide.AUTO_DECISION,
                              "version": log.decision_version if log else None,
                              "matched": log.matched_rules if log else [],
                              "inputs": log.inputs if log else {}}
    db.session.flush()
    return {}


def op_pick_experts(ctx, role: str = "expert", count: int = 0) -> dict:
    """The expert panel for the countersign: `count` holders of `role`, not the applicant, chosen
    across departments (others' first), the same people for the same data."""
    from app.modules.accounts.resolvers import users_with_role

    application = _application(ctx)
    count = int(count or 0)
    experts: list[int] = []
    if count > 0:
        candidates = [uid for uid in users_with_role(role or "expert", None) if uid != ctx.started_by_id]
        staff_of = dict(db.session.execute(select(User.id, Staff.department_id).join(Staff, Staff.id == User.staff_id)
                                           .where(User.id.in_(candidates))).all()) if candidates else {}
        candidates.sort(key=lambda uid: (staff_of.get(uid) == ctx.department_id, uid))
        experts = candidates[:count]
    application.reviewers = {key: ctx.data.get(key) for key in (
        "need_dept", "need_pharmacy", "need_medaffairs", "expert_count", "expert_role", "need_leader")}
    application.reviewers["experts"] = experts
    db.session.flush()
    return {"experts": experts}


def op_grant(ctx) -> dict:
    """Create the grants of the approved application (inside the instance's transaction)."""
    from .notifications import tell_applicant

    application = _application(ctx)
    if application.status == "approved":
        return {"granted": [item.grant_id for item in application.items if item.grant_id]}
    data = ctx.data
    actor = _user(ctx.actor_id)
    automatic = data.get("auto_outcome") == "approve"
    start = date.today()
    if data.get("start_date"):
        try:
            start = max(start, date.fromisoformat(str(data["start_date"])))
        except ValueError:
            pass
    renewal_of = db.session.get(Grant, application.renewal_of_id) if application.renewal_of_id else None
    if renewal_of is not None and renewal_of.end_date is not None and renewal_of.end_date >= start:
        start = renewal_of.end_date + timedelta(days=1)
    years = data.get("term_years") if isinstance(data.get("term_years"), int) else None
    found = items.resolve(application.ptype, [item.item_key for item in application.items])
    granted = []
    for row in application.items:
        item = found.get(row.item_key)
        if item is None or not row.eligible:
            continue
        grant = grant_service.create(
            None if automatic else actor, application.staff_id, item, start=start,
            end=grant_service.term_end(item.ptype, item.level, start, years), scope=data.get("scope"),
            application_id=application.id, instance_id=ctx.instance_id,
            renewal_of_id=renewal_of.id if renewal_of is not None and renewal_of.item_key == item.grant_key else None,
            reason=data.get("auto_reason") if automatic else data.get("opinion"))
        row.grant_id = grant.id
        granted.append(grant.id)
    application.status, application.decided_at = "approved", utcnow()
    application.decision_note = data.get("auto_reason") if automatic else (data.get("opinion") or None)
    db.session.flush()
    audit.record("privileges.application.approve", actor=None if automatic else actor,
                 object_type="privilege_application", object_id=application.id,
                 data={"instance_id": ctx.instance_id, "grants": granted, "automatic": automatic},
                 summary=f"application {application.id} approved ({len(granted)} grants)")
    tell_applicant(application, approved=True)
    return {"granted": granted}


def op_close(ctx, outcome: str = "rejected", reason: str = "") -> dict:
    """End the application without a grant (automatic rejection, a failed countersign)."""
    from .notifications import tell_applicant

    application = _application(ctx)
    application.status = "rejected" if outcome != "withdrawn" else "withdrawn"
    application.decision_note, application.decided_at = reason or None, utcnow()
    db.session.flush()
    audit.record("privileges.application.reject", object_type="privilege_application", object_id=application.id,
                 data={"instance_id": ctx.instance_id, "reason": reason}, summary=f"application {application.id}: "
                 f"{application.status}")
    tell_applicant(application, approved=False)
    return {}


def register_operations() -> None:
    operations.register_operation("privileges.prepare", op_prepare, {
        "type": "object", "properties": {"privilege_type": {"type": "string", "enum": sorted(TYPES)}},
        "required": ["privilege_type"], "additionalProperties": False},
        _l("Record a privilege application, check its items and compute its history."))
    operations.register_operation("privileges.record_auto", op_record_auto, {
        "type": "object", "properties": {}, "additionalProperties": False},
        _l("Keep the automatic decision and its matched rules on the application."))
    operations.register_operation("privileges.pick_experts", op_pick_experts, {
        "type": "object", "properties": {"role": {"type": ["string", "null"]},
                                         "count": {"type": ["integer", "number", "null"]}},
        "additionalProperties": False}, _l("Choose the expert panel of the countersign."))
    operations.register_operation("privileges.grant", op_grant, {
        "type": "object", "properties": {}, "additionalProperties": False},
        _l("Create the grants of an approved privilege application."))
    operations.register_operation("privileges.close", op_close, {
        "type": "object", "properties": {"outcome": {"type": "string"}, "reason": {"type": ["string", "null"]}},
        "required": ["outcome"], "additionalProperties": False}, _l("End a privilege application without a grant."))


# --- reading -----------------------------------------------------------------------------------------

def effective_status():
    """SQL: the application's status, counting a process that ended without our operations
    (驳回 by a reviewer, 撤回 by the applicant, cancelled by an administrator)."""
    return case((Application.status != "pending", Application.status),
                (Instance.status == "rejected", literal("rejected")),
                (Instance.status == "withdrawn", literal("withdrawn")),
                (Instance.status == "cancelled", literal("cancelled")),
                else_=literal("pending"))


def status_of(application: Application) -> str:
    if application.status != "pending" or application.instance_id is None:
        return application.status
    status = db.session.scalar(select(Instance.status).where(Instance.id == application.instance_id))
    return {"rejected": "rejected", "withdrawn": "withdrawn", "cancelled": "cancelled"}.get(status or "", "pending")
