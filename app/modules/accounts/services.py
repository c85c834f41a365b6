"""Accounts: authentication with lock-out, passwords, role grants with scopes, API tokens.

Services take the actor explicitly and flush; the caller's unit of work commits.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import abort, current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.core import audit
from app.core.models import utcnow
from app.core.roles import SCOPES, shipped
from app.core.security import check_password, hash_password
from app.extensions import db
from app.modules.accounts.models import ApiToken, Role, RoleGrant, User
from app.modules.org.models import Department

# A real hash, so that an unknown username costs as much time as a wrong password.
_DUMMY_HASH = hash_password("not-a-password")


class AccountError(ValueError):
    """A refusal with a message fit for the user (already translated), and the field it concerns."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def authenticate(username: str, password: str, ip: str | None = None) -> User:
    username = (username or "").strip()
    user = db.session.scalar(select(User).where(User.username == username)) if username else None
    now = utcnow()
    if user is None:
        check_password(_DUMMY_HASH, password or "")
        audit.record("login.failed", data={"username": username[:64], "reason": "unknown"}, ip=ip)
        raise AccountError(_("Wrong username or password."))
    if user.is_locked(now):
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        audit.record("login.refused", actor=user, object_type="user", object_id=user.id,
                     data={"reason": "locked"}, ip=ip)
        raise AccountError(_("This account is locked after repeated failed logins. "
                             "Try again in %(minutes)d minutes.", minutes=minutes))
    if not check_password(user.password_hash, password or ""):
        user.failed_logins += 1
        data = {"failures": user.failed_logins}
        max_failures = current_app.config["LOGIN_MAX_FAILURES"]
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
            audit.record("login.locked", actor=user, object_type="user", object_id=user.id,
                         data=data, ip=ip)
            db.session.flush()
            raise AccountError(_("Too many failed logins: the account is locked for %(minutes)d "
                                 "minutes.", minutes=current_app.config["LOGIN_LOCK_MINUTES"]))
        audit.record("login.failed", actor=user, object_type="user", object_id=user.id,
                     data=data, ip=ip)
        db.session.flush()
        left = max_failures - user.failed_logins
        raise AccountError(_("Wrong username or password. %(left)d attempts left before the "
                             "account is locked.", left=left))
    if not user.active:
        raise AccountError(_("This account is disabled. Contact the medical affairs office."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record("login", actor=user, object_type="user", object_id=user.id, ip=ip)
    db.session.flush()
    return user


_PASSWORD_RULE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d).{8,128}$")


def change_password(user: User, old: str, new: str, ip: str | None = None) -> None:
    if not check_password(user.password_hash, old or ""):
        raise AccountError(_("The current password is wrong."), field="old")
    set_password(user, new, actor=user, ip=ip)


# Rights a person exercises only for themselves (their dossier, their applications): holding another
# account's password gives no reach over anyone else through them.
SELF_SERVICE_PERMISSIONS = frozenset({"dossier.own", "privileges.apply"})


def _within_reach(actor: User, permissions, scope: str, department_ids, staff_department_id: int | None) -> bool:
    """Whether a grant of `permissions` with that scope (for a user in `staff_department_id`) reaches
    no further than the actor's own reach of each permission."""
    from app.core.scopes import reach

    for permission in permissions:
        r = reach(actor, permission)
        if r.hospital:
            continue
        if scope == "hospital" or (scope == "departments" and not set(department_ids) <= r.department_ids) \
                or (scope == "self" and staff_department_id not in r.department_ids):
            return False
    return True


def may_manage(actor: User | None, user: User) -> bool:
    """Whether `actor` may act on `user`'s account (password, enabling, unlocking, roles, contacts):
    the system and the user themself; an account manager only for accounts holding no right beyond
    the manager's own, nor reaching further (self-service rights aside) — resetting an
    administrator's password hands over their rights as surely as granting them would, and
    stripping their roles takes rights the manager cannot give back."""
    if actor is None or actor.id == user.id:
        return True
    if "*" in _perms(actor.grants):
        return True
    staff_department = user.staff.department_id if user.staff else None
    return all(_within_reach(actor, set(g.role.permissions or []) - SELF_SERVICE_PERMISSIONS, g.scope,
                             [d.id for d in g.departments], staff_department) for g in user.grants)


def _require_may_manage(actor: User | None, user: User) -> None:
    if not may_manage(actor, user):
        abort(403)


def set_password(user: User, new: str, *, actor: User, ip: str | None = None) -> None:
    _require_may_manage(actor, user)
    if not _PASSWORD_RULE.match(new or ""):
        raise AccountError(_("The password needs at least 8 characters with letters and digits."),
                           field="new")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.session_epoch += 1  # ends every other session of this user
    audit.record("password.changed" if actor is user else "password.reset", actor=actor,
                 object_type="user", object_id=user.id, ip=ip)
    db.session.flush()


def unlock(actor: User, user: User, ip: str | None = None) -> None:
    _require_may_manage(actor, user)
    user.locked_until = None
    user.failed_logins = 0
    audit.record("user.unlocked", actor=actor, object_type="user", object_id=user.id, ip=ip)
    db.session.flush()


def set_active(actor: User, user: User, active: bool, ip: str | None = None) -> None:
    _require_may_manage(actor, user)
    if user.id == actor.id and not active:
        raise AccountError(_("You cannot disable your own account."))
    user.active = active
    user.session_epoch += 1
    audit.record("user.enabled" if active else "user.disabled", actor=actor, object_type="user",
                 object_id=user.id, ip=ip)
    db.session.flush()


@dataclass
class GrantSpec:
    role_code: str
    scope: str
    department_ids: tuple[int, ...] = ()


def _describe(grants) -> list[dict]:
    return sorted(
        ({"role": g.role.code, "scope": g.scope, "departments": sorted(d.id for d in g.departments)}
         for g in grants),
        key=lambda item: (item["role"], item["scope"]),
    )


def set_grants(actor: User | None, user: User, specs: list[GrantSpec], ip: str | None = None) -> None:
    """Replace the user's role grants; permission changes go to the audit log.

    `actor=None` is the system itself (installation, demo build), bound by no rights of its own.
    """
    _require_may_manage(actor, user)
    roles = {r.code: r for r in db.session.scalars(select(Role))}
    new_grants = []
    for spec in specs:
        role = roles.get(spec.role_code)
        if role is None:
            raise AccountError(_("Unknown role: %(code)s", code=spec.role_code))
        if spec.scope not in SCOPES:
            raise AccountError(_("Unknown scope: %(scope)s", scope=spec.scope))
        departments = []
        if spec.scope == "departments":
            if not spec.department_ids:
                raise AccountError(_("Choose at least one department for the role %(role)s.",
                                     role=role.name))
            departments = list(db.session.scalars(
                select(Department).where(Department.id.in_(spec.department_ids))))
            if len(departments) != len(set(spec.department_ids)):
                raise AccountError(_("A chosen department does not exist."))
        new_grants.append(RoleGrant(role=role, scope=spec.scope, departments=departments,
                                    granted_by_id=actor.id if actor else None))
    actor_perms = _perms(actor.grants) if actor else {"*"}
    if "*" not in actor_perms:
        # Nobody hands out rights they do not hold themselves.
        beyond = {p for spec in new_grants for p in (spec.role.permissions or [])} - actor_perms
        # … nor wider than they hold them: a manager of one department grants no hospital scope.
        staff_department = user.staff.department_id if user.staff else None
        if beyond or not all(_within_reach(actor, g.role.permissions or [], g.scope, [d.id for d in g.departments],
                                           staff_department) for g in new_grants):
            raise AccountError(_("You cannot grant a role with rights you do not hold yourself."))
    if actor is not None and user.id == actor.id and "*" in _perms(user.grants) and "*" not in _perms(new_grants):
        raise AccountError(_("You cannot remove your own administrator role."))
    before = _describe(user.grants)
    user.grants = new_grants
    db.session.flush()
    after = _describe(user.grants)
    if before != after:
        audit.record("user.roles_changed", actor=actor, object_type="user", object_id=user.id,
                     data={"before": before, "after": after}, ip=ip)


def _perms(grants) -> set[str]:
    return {perm for g in grants for perm in (g.role.permissions or [])}


def create_user(actor: User | None, *, username: str, password: str, display_name: str,
                staff_id: int | None = None, is_demo: bool = False,
                password_hash: str | None = None) -> User:
    username = username.strip()
    if not re.match(r"^[A-Za-z0-9_.\-]{2,64}$", username):
        raise AccountError(_("The username may contain letters, digits, '.', '-' and '_' only."))
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise AccountError(_("The username %(name)s is taken.", name=username))
    user = User(username=username, display_name=display_name, staff_id=staff_id, is_demo=is_demo,
                password_hash=password_hash or hash_password(password))
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", actor=actor, object_type="user", object_id=user.id,
                 data={"username": username, "staff_id": staff_id})
    return user


def sync_roles() -> int:
    """Bring the role table in line with the shipped list (app/core/roles.json)."""
    changed = 0
    existing = {r.code: r for r in db.session.scalars(select(Role))}
    for spec in shipped()["roles"]:
        role = existing.get(spec["code"])
        values = dict(name=spec["name"], name_en=spec["name_en"], default_scope=spec["scope"],
                      permissions=list(spec["permissions"]), builtin=True)
        if role is None:
            db.session.add(Role(code=spec["code"], **values))
            changed += 1
        elif any(getattr(role, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(role, key, value)
            changed += 1
    db.session.flush()
    return changed


# --- API tokens -------------------------------------------------------------------------------

API_SCOPES = ("org:read", "org:write", "clinical:read", "clinical:write", "dossier:read", "dossier:write",
              "privileges:read", "privileges:override")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(actor: User, name: str, scopes: list[str], expires_days: int | None,
                 ip: str | None = None) -> tuple[ApiToken, str]:
    """Returns the row and the token text, which is shown once and never stored."""
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown:
        raise AccountError(_("Unknown token scope: %(scope)s", scope=", ".join(unknown)))
    if not name.strip():
        raise AccountError(_("Give the token a name."))
    prefix = secrets.token_hex(4)
    text = f"mt_{prefix}_{secrets.token_urlsafe(32)}"
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    token = ApiToken(name=name.strip(), prefix=prefix, token_hash=_token_hash(text),
                     scopes=sorted(set(scopes)), created_by_id=actor.id, expires_at=expires)
    db.session.add(token)
    db.session.flush()
    audit.record("token.created", actor=actor, object_type="api_token", object_id=token.id,
                 data={"name": token.name, "scopes": token.scopes}, ip=ip)
    return token, text


def revoke_token(actor: User, token: ApiToken, ip: str | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("token.revoked", actor=actor, object_type="api_token", object_id=token.id,
                     ip=ip)
        db.session.flush()


def token_for(text: str) -> ApiToken | None:
    """The usable token matching `text`, or None."""
    parts = (text or "").split("_")
    if len(parts) < 3 or parts[0] != "mt":
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.prefix == parts[1]))
    if token is None or not hmac.compare_digest(token.token_hash, _token_hash(text)):
        return None
    if not token.is_usable():
        return None
    return token


# --- notification contacts ---------------------------------------------------------------------

CONTACT_FIELDS = ("email", "mobile", "wecom_userid")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")  # mainland mobile numbers: SMS goes to mobiles only
_WECOM_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # WeCom's rule for a member's UserID


class ContactErrors(ValueError):
    """Field by field refusals of notification contacts ({field: translated message})."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def contacts_of(user: User) -> dict[str, str]:
    from app.core.notify.models import NotifyAddress

    row = db.session.get(NotifyAddress, user.id)
    return {name: (getattr(row, name) or "") if row else "" for name in CONTACT_FIELDS}


def set_contacts(actor: User, user: User, values, ip: str | None = None) -> dict[str, str]:
    """Set the e-mail, mobile and WeCom UserID that notifications reach `user` at: the user
    themself or an account manager. Empty clears a contact (a mobile then falls back to the staff
    record's phone). Raises ContactErrors (nothing is written) or AccountError (not allowed)."""
    from app.core import notify
    from app.core.scopes import can

    if actor is None or (actor.id != user.id and not can(actor, "accounts.manage")):
        raise AccountError(_("You may not change this person's contacts."))
    _require_may_manage(actor, user)
    cleaned = {name: (values.get(name) or "").strip() for name in CONTACT_FIELDS}
    cleaned["mobile"] = re.sub(r"[\s-]", "", cleaned["mobile"]).removeprefix("+86")
    errors = {}
    if cleaned["email"] and (len(cleaned["email"]) > 200 or not _EMAIL.match(cleaned["email"])):
        errors["email"] = _("Enter an e-mail address such as name@hospital.cn.")
    if cleaned["mobile"] and not _MOBILE.match(cleaned["mobile"]):
        errors["mobile"] = _("Enter an 11-digit mobile number starting with 1.")
    if cleaned["wecom_userid"] and not _WECOM_USERID.match(cleaned["wecom_userid"]):
        errors["wecom_userid"] = _("A WeCom UserID has 1–64 letters, digits and _ . @ - only.")
    if errors:
        raise ContactErrors(errors)
    before = contacts_of(user)
    changed = sorted(name for name in CONTACT_FIELDS if before[name] != cleaned[name])
    if changed:
        notify.set_addresses(user.id, **cleaned)
        # Which contacts changed, not their values: the audit log is read more widely than the directory.
        audit.record("user.contacts_changed", actor=actor, object_type="user", object_id=user.id,
                     data={"changed": changed}, ip=ip)
    return cleaned


# How precisely a token's last use is kept: an integration calling many times a second writes the
# token row once a minute instead of on every call.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def note_token_use(token: ApiToken) -> None:
    """Record that the token was just used (at most once per TOKEN_USE_RESOLUTION)."""
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now
