"""Who may act where, and what to post — the action crawl's table (tests/test_action_crawl.py).

RIGHTS: endpoint → may(user, args) for in-scope argument values. True: the role may act there (the
crawl does not post, it would change data); False: the request must be refused and write nothing.
Records outside the role's scope (the GET crawl's invisible markers) must be refused whatever it says.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

from sqlalchemy import select

from tests.portal.crawl import PNG
from tests.test_route_crawl import ARG_VALUES, Marker, World, _with

Rule = Callable[[object, dict], bool]
PUBLIC = "public"  # anonymous visitors may post too (login, language)


def perm(permission: str) -> Rule:
    def may(user, args):
        from app.core.scopes import can

        return can(user, permission)

    return may


def anyone(user, args) -> bool:
    """Any logged-in user, on their own things (their account, their notifications)."""
    return True


def account_manage(user, args) -> bool:
    """accounts.manage, on accounts holding no right beyond the manager's own (rights used only
    for oneself aside): a password reset must not hand over an administrator's rights."""
    from app.core.scopes import can, permissions
    from app.extensions import db
    from app.modules.accounts.models import User

    if not can(user, "accounts.manage"):
        return False
    target = db.session.get(User, args["user_id"])
    mine = permissions(user)
    return "*" in mine or target.id == user.id or \
        not (permissions(target) - mine - {"dossier.own", "privileges.apply"})


def _department_of(args) -> int:
    """The department an org or privileges record belongs to."""
    from app.extensions import db
    from app.modules.org.models import Staff
    from app.modules.privileges.models import CheckOverride, Grant

    if "staff_id" in args:
        return db.session.get(Staff, args["staff_id"]).department_id
    if "grant_id" in args:
        return db.session.get(Staff, db.session.get(Grant, args["grant_id"]).staff_id).department_id
    if "override_id" in args:
        return db.session.get(CheckOverride, args["override_id"]).department_id
    return args["department_id"]


def manage(permission: str) -> Rule:
    """`permission` reaching the record's department: seeing a record (a wider right of another
    role) is not managing it."""
    def may(user, args):
        from app.core.scopes import can, reach

        if not can(user, permission):
            return False
        r = reach(user, permission)
        if not args:
            return r.hospital  # new records: PAYLOADS place them in the marker department
        return r.hospital or _department_of(args) in r.department_ids

    return may


def _dossier_staff(args):
    from app.extensions import db
    from app.modules.dossier.models import AdverseRecord, Certificate, CertificateFile, HistoryEntry
    from app.modules.org.models import Staff

    if "person_id" in args:
        return db.session.get(Staff, args["person_id"])
    if "certificate_id" in args:
        return db.session.get(Certificate, args["certificate_id"]).staff
    if "file_id" in args:
        return db.session.get(CertificateFile, args["file_id"]).certificate.staff
    if "history_id" in args:
        return db.session.get(Staff, db.session.get(HistoryEntry, args["history_id"]).staff_id)
    return db.session.get(AdverseRecord, args["adverse_id"]).staff


def dossier_edit(user, args) -> bool:
    from app.modules.dossier import access

    return access.can_edit(user, _dossier_staff(args))


def dossier_view(user, args) -> bool:
    from app.extensions import db
    from app.modules.dossier import access
    from app.modules.org.models import Staff

    return db.session.scalar(select(Staff.id).where(Staff.id == args["person_id"],
                                                    access.visible_clause(user))) is not None


def dossier_adverse_new(user, args) -> bool:
    from app.modules.dossier import access

    return access.can_record_adverse(user, _dossier_staff(args))


def dossier_adverse_change(user, args) -> bool:
    from app.extensions import db
    from app.modules.dossier.models import AdverseRecord
    from app.modules.dossier.services import adverse

    return adverse.can_change(user, db.session.get(AdverseRecord, args["adverse_id"]))


def catalog_department(user, args) -> bool:
    from app.core.scopes import can, reach
    from app.extensions import db
    from app.modules.catalog.models import DepartmentCatalogItem

    if not can(user, "catalog.department"):
        return False
    dept = args.get("department_id") or db.session.get(DepartmentCatalogItem, args["row_id"]).department_id
    r = reach(user, "catalog.department")
    own = user.staff.department_id if user.staff_id else None
    return r.hospital or dept in r.department_ids or (r.staff_id is not None and dept == own)


def may_start(user, args) -> bool:
    from app.modules.portal import processes

    if processes.has_start_page(args["key"]):
        return processes.start_page(args["key"], user) is not None
    return any(info.key == args["key"] for _v, info, _url in processes.startable(user))


def portal_task_action(user, args) -> bool:
    """What the kernel allows this actor on this task (Conflict: allowed, but not now)."""
    from app.extensions import db
    from app.workflow import permissions
    from app.workflow.errors import PermissionDenied
    from app.workflow.models import Task

    task = db.session.get(Task, args["task_id"])
    if args["action"] in ("complete", "reject", "claim", "unclaim", "transfer", "delegate", "resolve", "return",
                          "add_signers", "remove_signers", "copy", "urge"):
        return not isinstance(permissions._refusal(user, task, args["action"]), PermissionDenied)
    return True  # withdraw and the like: the runtime checks them against the history (tests/portal)


def portal_participant(user, args) -> bool:
    """Comments and files: those who take part in the process (seeing it is not enough)."""
    from app.workflow import records

    return records.is_participant(user, args["instance_id"])


RIGHTS: dict[str, Rule | str] = {
    "accounts.login": PUBLIC,
    "accounts.set_locale": PUBLIC,
    "accounts.logout": PUBLIC,  # signs out whoever is signed in, nobody else
    "accounts.account": anyone,
    "accounts.account_contacts": anyone,
    "notifications.read_notification": anyone,
    "notifications.read_all_notifications": anyone,
    "admin.edit_user": account_manage,
    "admin.list_tokens": perm("tokens.manage"),
    "admin.revoke_token": perm("tokens.manage"),
    "admin.retry_job_run": perm("jobs.manage"),
    "admin.retry_rq_job": perm("jobs.manage"),
    "org.edit_department": manage("org.manage"),
    "org.edit_staff": manage("org.manage"),
    "catalog.create_item": perm("catalog.manage"),
    "catalog.edit_item": perm("catalog.manage"),
    "catalog.set_item_active": perm("catalog.manage"),
    "catalog.create_indicator": perm("catalog.manage"),
    "catalog.edit_indicator": perm("catalog.manage"),
    "catalog.import_items": perm("catalog.manage"),
    "catalog.commit_import": perm("catalog.manage"),
    "catalog.apply": catalog_department,
    "catalog.edit_note": catalog_department,
    "catalog.remove_row": catalog_department,
    "clinical.list_imports": perm("clinical.import"),
    "clinical.commit_import": perm("clinical.import"),
    "clinical.edit_dictionary_entry": perm("clinical.import"),
    "dossier.edit_profile": dossier_edit,
    "dossier.new_certificate": dossier_edit,
    "dossier.edit_certificate": dossier_edit,
    "dossier.delete_certificate": dossier_edit,
    "dossier.delete_certificate_file": dossier_edit,
    "dossier.new_history": dossier_edit,
    "dossier.edit_history": dossier_edit,
    "dossier.delete_history": dossier_edit,
    "dossier.new_adverse": dossier_adverse_new,
    "dossier.edit_adverse": dossier_adverse_change,
    "dossier.withdraw_adverse": dossier_adverse_change,
    "dossier.export_person_certificates": dossier_view,
    "dossier.export_all_certificates": perm("dossier.manage"),
    "dossier.list_imports": perm("dossier.import"),
    "dossier.commit_import": perm("dossier.import"),
    "portal.start_process": may_start,
    "portal.perform_action": portal_task_action,
    "portal.add_comment": portal_participant,
    "portal.upload_attachment": portal_participant,
    "privileges.apply": perm("privileges.apply"),
    "privileges.adjust_grant": manage("privileges.manage"),
    "privileges.review_override": manage("privileges.manage"),
    "privileges.edit_settings": perm("privileges.manage"),
    "privileges.list_rights": perm("privileges.manage"),
    **{f"studio.{name}": perm("processes.manage") for name in (
        "create_form", "preview_form", "save_form", "change_form_version", "create_process",
        "import_process", "validate_process", "save_process", "change_process_version",
        "toggle_operation", "ops_act", "ops_migrate", "ops_migrate_bulk", "ops_reassign")},
    **{f"studio.{name}": perm("rules.author") for name in (
        "check_rule", "test_rule", "backtest_rule", "save_rule", "publish_rule")},
}


# --- what to post ----------------------------------------------------------------------------------
# Plausible form data, so that a route that checks the form before the right is not hidden behind a
# 400. Callables: uploads need a fresh stream per request.
def _png(name: str = "crawl.png"):
    return (io.BytesIO(PNG), name)


PAYLOADS: dict[str, Callable[[World], dict]] = {
    "accounts.login": lambda w: {"username": "admin", "password": "demo"},
    "admin.edit_user": lambda w: {"action": "password", "password": "crawl-takeover-2026"},
    # New staff and departments go into the marker department, outside a departments-scoped reach.
    "org.edit_staff": lambda w: {"department_id": str(w.markers["dept"].id), "name": "爬虫人员",
                                 "employee_no": "ZZ7F3A01", "gender": "M", "staff_type": "physician",
                                 "status": "active"},
    "org.edit_department": lambda w: {"parent_id": str(w.markers["dept"].id), "name": "爬虫病区",
                                      "code": "ZZ7F3A", "category": "clinical", "unit_type": "ward"},
    "privileges.review_override": lambda w: {"outcome": "accepted", "note": "爬虫"},
    "privileges.adjust_grant": lambda w: {"action": "suspend", "reason": "爬虫暂停"},
    "portal.add_comment": lambda w: {"body": "爬虫评论"},
    "portal.upload_attachment": lambda w: {"file": _png()},
    # transfer/delegate/copy take a person, return a step: a wrong one must not be what refuses.
    "portal.perform_action": lambda w: {"comment": "爬虫意见", "user_ids": str(w.own_user_id), "target": "start"},
}


# --- argument values only actions use --------------------------------------------------------------
def _admin_user_ids() -> list[int]:
    from app.extensions import db
    from app.modules.accounts.models import User

    return [db.session.scalar(select(User.id).where(User.username == "admin"))]


def _notification_values(world: World) -> tuple[list, list]:
    from app.core.notify import service as notify
    from app.core.notify.models import Notification
    from app.extensions import db
    from app.modules.accounts.models import User

    own = db.session.scalar(select(User.id).where(User.username == world.username)) if world.username else None
    marker_user = world.markers["user"].id
    notify.notify([marker_user, *([own] if own else [])], "crawl", "爬虫通知")
    rows = {n.user_id: n.id for n in db.session.scalars(select(Notification).where(Notification.kind == "crawl"))}
    marker = Marker("notification", "爬虫通知-marker", rows[marker_user], False)
    return [rows.get(own, rows[marker_user])], [marker]


def _override_values(world: World) -> tuple[list, list]:
    from app.extensions import db
    from app.modules.privileges.models import CheckOverride

    row = CheckOverride(staff_id=world.markers["staff_other"].id, department_id=world.markers["dept"].id,
                        ptype="surgery", code="CRAWL", on_date=date(2026, 1, 5), denial="crawl", reason="crawl")
    db.session.add(row)
    db.session.flush()
    return [row.id], []


ACTION_ARG_VALUES: dict[str, Callable[[World], tuple[list, list[Marker]]]] = {
    **ARG_VALUES,
    # Accounts: besides the role's own and the marker's, the administrator's (rights beyond everyone's).
    "user_id": lambda w: _with(_admin_user_ids(), ARG_VALUES["user_id"](w)),
    "rq_job_id": lambda w: (["crawl-no-such-job"], []),
    "notification_id": _notification_values,
    "override_id": _override_values,
    # /tasks/<id>/<action>: the portal's actions (routes with any(...) take their own choices).
    "action": lambda w: (list(__import__("app.modules.portal.actions", fromlist=["x"]).ACTIONS), []),
}


def seen_only_records(world: World) -> dict[str, list]:
    """Dossier records of the two marker staff members, for the roles that may see their dossiers:
    seeing is not changing (department heads, the QC office, a manager of one department who sees
    the hospital …), so RIGHTS judges these like in-scope ids."""
    from app.extensions import db
    from app.modules.accounts.models import User
    from app.modules.dossier import access
    from app.modules.org.models import Staff
    from tests.dossier.crawl import _records

    user = db.session.scalar(select(User).where(User.username == world.username)) if world.username else None
    found: dict[str, list] = {}
    for key in ("staff_same", "staff_other"):
        marker = world.markers[key]
        if user is None or db.session.scalar(select(Staff.id).where(
                Staff.id == marker.id, access.visible_clause(user))) is None:
            continue
        records = {"person_id": marker.id, **_records(marker.id, None, f"seen-{key}")}
        for arg, value in records.items():
            if value is not None:
                found.setdefault(arg, []).append(value)
    return found
