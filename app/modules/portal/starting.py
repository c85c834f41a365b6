"""Starting a process from its start form (a service: the caller passes the posted data)."""
from __future__ import annotations

import secrets

from app.core.models import utcnow
from app.workflow import forms, runtime
from app.workflow.forms import FormDef
from app.workflow.models import Instance, ProcessVersion

from . import actions
from .processes import StartInfo


def business_key() -> str:
    """A readable, unique-enough key staff can quote: date and six hex digits."""
    return f"{utcnow():%Y%m%d}-{secrets.token_hex(3).upper()}"


def read_back(form: FormDef, formdata) -> dict:
    return forms.coerce(form, formdata)


def start(actor, version: ProcessVersion, info: StartInfo, form: FormDef, formdata,
          uploads: list[actions.Upload], *, limit_mb: int) -> Instance:
    """Validate the start form, start the process in the applicant's department, keep the files.

    Files of the start form are checked first; their fields hold "sha256:<digest>" references
    (the instance does not exist yet to number attachments), stored as its attachments after it
    starts."""
    checked = actions.check_uploads(uploads, limit_mb)
    try:
        data = actions.read_form(actor, form, formdata, actions.digest_refs(checked))
    except actions.FormErrors as exc:
        exc.data = forms.coerce(form, formdata)
        for item, _ok in checked:
            exc.errors.setdefault(actions.field_path(item.input_name), str(actions.CHOOSE_AGAIN))
        raise
    staff = getattr(actor, "staff", None)
    title = info.name
    if isinstance(data.get("title"), str) and data["title"].strip():
        title = f"{info.name}：{data['title'].strip()}"
    instance = runtime.start(actor, version.key, business_key=business_key(),
                             department_id=staff.department_id if staff else None, data=data, title=title)
    actions.store_uploads(actor, instance, None, checked)
    return instance
