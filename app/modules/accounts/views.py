from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.core.i18n import LOCALES
from app.modules.accounts import blueprint, services
from app.modules.accounts.forms import ContactForm, LoginForm, PasswordForm


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through our login.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("portal.home")


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("portal.home"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data, form.password.data, request.remote_addr)
        except services.AccountError as exc:
            error = str(exc)
        else:
            session.clear()
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")), code=303)
    return render_template("accounts/login.html", form=form, error=error)


@blueprint.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("accounts.login"), code=303)


def _account_page(form: PasswordForm, contacts: ContactForm, status: int = 200):
    return render_template("accounts/account.html", form=form, contacts=contacts, locales=LOCALES,
                           staff_phone=getattr(current_user.staff, "phone", None) if current_user.staff else None), \
        status


@blueprint.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.old.data, form.new.data, request.remote_addr)
        except services.AccountError as exc:
            form[exc.field or "new"].errors = [str(exc)]
        else:
            login_user(current_user._get_current_object())  # re-issue the session id for the new epoch
            flash(_("Your password was changed. Other sessions were signed out."), "success")
            return redirect(url_for("accounts.account"), code=303)
    contacts = ContactForm(formdata=None, data=services.contacts_of(current_user))
    return _account_page(form, contacts, 422 if form.errors else 200)


@blueprint.route("/account/contacts", methods=["POST"])
@login_required
def account_contacts():
    contacts = ContactForm()
    if contacts.validate_on_submit():  # the CSRF token
        try:
            services.set_contacts(current_user, current_user, request.form, request.remote_addr)
        except services.ContactErrors as exc:
            for name, message in exc.errors.items():
                contacts[name].errors = [message]
        else:
            flash(_("Your notification contacts were saved."), "success")
            return redirect(url_for("accounts.account"), code=303)
    return _account_page(PasswordForm(formdata=None), contacts, 422)


@blueprint.route("/locale", methods=["POST"])
def set_locale():
    locale = request.form.get("locale")
    if locale in LOCALES:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
    return redirect(_safe_next(request.form.get("next")), code=303)
