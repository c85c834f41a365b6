"""Certificate expiry reminders (R1.2) through the notification outbox, from a daily job.

Thresholds are days before expiry (setting DOSSIER_REMINDER_DAYS, default 90, 30, 7) plus 0 for
"expired". A certificate gets one reminder per threshold it reaches — the nearest one only, so a
first run does not send three at once — recorded in `dossier_certificate_reminder`, so running the
job again (or twice at once) sends nothing more. A renewed certificate (new expiry date) starts over.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core import notify
from app.core.notify.service import INAPP
from app.extensions import db
from app.modules.dossier.labels import CERT_TYPES
from app.modules.dossier.models import Certificate, CertificateReminder
from app.modules.org.models import Staff


def thresholds() -> list[int]:
    days = current_app.config.get("DOSSIER_REMINDER_DAYS") or [90, 30, 7]
    return sorted({int(d) for d in days if int(d) > 0} | {0}, reverse=True)


def due_threshold(days_left: int, levels: list[int]) -> int | None:
    """The nearest threshold reached: the smallest one not below `days_left` (0 once expired)."""
    if days_left < 0:
        return 0
    reached = [t for t in levels if t > 0 and days_left <= t]
    return min(reached) if reached else None


def channels() -> tuple[str, ...]:
    """In-app always; e-mail, WeCom and SMS where the hospital has configured them."""
    config = current_app.config
    configured = {"email": config.get("SMTP_HOST"), "wecom": config.get("WECOM_CORP_ID"),
                  "sms": config.get("SMS_GATEWAY_URL")}
    return (INAPP, *[name for name, on in configured.items() if on])


def _message(cert: Certificate, threshold: int, days_left: int) -> tuple[str, str]:
    kind = str(CERT_TYPES.get(cert.cert_type, cert.cert_type))
    if threshold == 0:
        title = _("Certificate expired: %(name)s", name=cert.name)
        body = _("Your %(kind)s no. %(number)s expired on %(date)s. Please renew it and upload the new "
                 "certificate to your dossier.", kind=kind, number=cert.number or "—", date=cert.expires_on.isoformat())
    else:
        title = _("Certificate expires in %(n)d days: %(name)s", n=days_left, name=cert.name)
        body = _("Your %(kind)s no. %(number)s expires on %(date)s. Please arrange its renewal in time.",
                 kind=kind, number=cert.number or "—", date=cert.expires_on.isoformat())
    return title, body


def send_due(today: date | None = None) -> int:
    """Send the reminders due today; returns how many certificates were reminded."""
    from app.modules.accounts.models import User

    today = today or date.today()
    levels = thresholds()
    horizon = today + timedelta(days=max(levels))
    sent = {(r.certificate_id, r.expires_on, r.threshold) for r in db.session.execute(
        select(CertificateReminder.certificate_id, CertificateReminder.expires_on, CertificateReminder.threshold)
        .join(Certificate, Certificate.id == CertificateReminder.certificate_id)
        .where(Certificate.expires_on <= horizon))}
    rows = db.session.execute(
        select(Certificate, User.id).join(Staff, Staff.id == Certificate.staff_id)
        .outerjoin(User, (User.staff_id == Staff.id) & User.active.is_(True))
        .where(Certificate.expires_on.is_not(None), Certificate.expires_on <= horizon,
               Staff.status.in_(("active", "leave")))
        .order_by(Certificate.id)).all()
    wanted = channels()
    count = 0
    for cert, user_id in rows:
        days_left = (cert.expires_on - today).days
        threshold = due_threshold(days_left, levels)
        if threshold is None or (cert.id, cert.expires_on, threshold) in sent:
            continue
        try:
            with db.session.begin_nested():  # a concurrent run that got there first wins quietly
                db.session.add(CertificateReminder(certificate_id=cert.id, expires_on=cert.expires_on,
                                                   threshold=threshold, recipients=1 if user_id else 0))
                db.session.flush()
        except IntegrityError:
            continue
        sent.add((cert.id, cert.expires_on, threshold))
        count += 1
        if user_id is None:
            continue  # nobody to tell (no login): the overview still shows the certificate
        title, body = _message(cert, threshold, days_left)
        notify.notify([user_id], "dossier.certificate_expiry", title, body,
                      link=f"/dossier/{cert.staff_id}?tab=certificates", channels=wanted,
                      important=threshold <= 7,
                      key=f"dossier.certificate_expiry:{cert.id}:{cert.expires_on.isoformat()}:{threshold}")
    return count
