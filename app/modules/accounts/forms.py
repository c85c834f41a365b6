from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(_l("Enter your username."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])


class PasswordForm(FlaskForm):
    old = PasswordField(_l("Current password"),
                        validators=[DataRequired(_l("Enter your current password."))])
    new = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a new password.")),
        Length(min=8, max=128, message=_l("The password needs at least 8 characters with letters "
                                          "and digits."))])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(_l("Repeat the new password.")),
        EqualTo("new", message=_l("The two passwords differ."))])


class ContactForm(FlaskForm):
    """Checked by services.set_contacts (the same rules for the account page and the admin page)."""

    email = StringField(_l("E-mail"))
    mobile = StringField(_l("Mobile (for SMS)"))
    wecom_userid = StringField(_l("WeCom UserID"))
