"""Portal test helpers: the fixture process (applicant → 科主任审核 → 3-person 专家会签) published in
the test's transaction, the people who take part, and the UI texts as the page shows them."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

DATA = Path(__file__).parent / "data"
FORMS = ("portal_apply", "portal_head_review", "portal_sign")
PROCESS = "portal_application"
SURGERY = "普通外科"


def publish_fixtures() -> None:
    """Publish the fixture forms and process (as an administrator would in the studio)."""
    from app.workflow import registry

    for name in FORMS:
        registry.publish_form(None, registry.save_form_draft(None, name, json.loads(
            (DATA / f"{name}.json").read_text(encoding="utf-8"))))
    xml = (DATA / f"{PROCESS}.bpmn").read_text(encoding="utf-8")
    for version in registry.save_process_draft(None, xml, f"{PROCESS}.bpmn"):
        registry.publish_process(None, version)


def user(username: str):
    from app.extensions import db
    from app.modules.accounts.models import User

    return db.session.scalar(select(User).where(User.username == username))


def text(app, message: str, **values) -> str:
    """`message` as the page shows it (default locale), whether or not the catalog has it yet."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale(app.config["DEFAULT_LOCALE"]):
        return gettext(message, **values)


def token(body: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', body).group(1)


@dataclass
class Flow:
    """The fixture process and its people: doctor (applicant), head (科主任), three signers."""

    doctor: object
    head: object
    signers: list
    surgery: object

    def start(self, applicant=None, **data):
        from app.workflow import runtime

        applicant = applicant or self.doctor
        values = {"title": "腹腔镜胆囊切除术", "amount": 12000, **data}
        staff = applicant.staff
        return runtime.start(applicant, PROCESS, business_key=data.pop("business_key", None) or "BK-TEST",
                             department_id=staff.department_id if staff else self.surgery.id, data=values,
                             title=f"新技术开展申请（测试）：{values['title']}")

    def open_tasks(self, instance, spec: str | None = None):
        from app.workflow import runtime

        return [t for t in runtime.open_tasks(instance.id) if spec is None or t.spec == spec]

    def head_task(self, instance):
        return self.open_tasks(instance, "head_review")[0]

    def to_countersign(self, instance, signers=None):
        """Start → the head approves naming the signers; returns the countersign's open tasks."""
        from app.workflow import runtime

        ids = [s.id for s in (signers or self.signers)]
        runtime.complete(self.head, self.head_task(instance).id, data={"signers": ids}, comment="同意")
        return self.open_tasks(instance, "countersign")


@pytest.fixture()
def flow(ctx):
    from app.extensions import db
    from app.modules.org.models import Department
    from tests import factories

    publish_fixtures()
    surgery = db.session.scalar(select(Department).where(Department.name == SURGERY))
    signers = [factories.create_user("physician", departments=(surgery,), username=f"signer{i}",
                                     staff=factories.create_staff(department=surgery, name=f"会签专家{i}"))
               for i in (1, 2, 3)]
    db.session.flush()
    return Flow(user("doctor"), user("head"), signers, surgery)
