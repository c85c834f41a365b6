"""Work and training history (R1.4): kept by the doctor, checked, and quoted into application forms
through the data sources `work_history` and `training_history`."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.modules.dossier.models import Certificate, HistoryEntry
from app.workflow import forms
from tests.dossier.helpers import staff_of, token_of, user

APPLICATION = forms.load_form({
    "title": "资质授权申请",
    "schema": {"type": "object", "required": ["experience"], "properties": {
        "experience": {"type": "array", "title": "相关工作经历", "items": {"type": "integer"}, "minItems": 1},
        "training": {"type": "integer", "title": "相关培训"},
        "reason": {"type": "string", "title": "申请理由"}}},
    "ui": {"experience": {"source": "work_history"}, "training": {"source": "training_history"}},
})


def _new(client, staff_id: int, kind: str, **fields):
    url = f"/dossier/{staff_id}/history/new?kind={kind}"
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": token_of(page), **fields})


@pytest.mark.req("R1.4")
def test_a_doctor_keeps_work_and_training_history_with_checks(client, login, ctx):
    doctor = staff_of("doctor")
    login("doctor")
    response = _new(client, doctor.id, "work", started_on="2016-09-01", ended_on="2019-08-31",
                    institution="北京协和医院", department="基本外科", role="住院医师", content="普外科住院医师工作")
    assert response.status_code == 303
    bad = _new(client, doctor.id, "training", started_on="2023-05-01", ended_on="2023-04-01", institution="",
               hours="abc")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "结束日期不能早于开始日期" in page and "请填写培训名称" in page and "请填写数字" in page
    residency = db.session.scalar(select(Certificate).where(Certificate.staff_id == doctor.id))
    good = _new(client, doctor.id, "training", started_on="2023-05-01", ended_on="2023-05-20",
                institution="中华医学会外科学分会", title="腹腔镜技术培训班", hours="32", credits="8",
                certificate_id=str(residency.id))
    assert good.status_code == 303
    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.title == "腹腔镜技术培训班"))
    assert (float(entry.hours), float(entry.credits), entry.certificate_id) == (32.0, 8.0, residency.id)
    tab = client.get(f"/dossier/{doctor.id}?tab=history").get_data(as_text=True)
    assert "北京协和医院" in tab and "腹腔镜技术培训班" in tab and "32 学时" in tab
    edit = f"/dossier/history/{entry.id}/edit"
    page = client.get(edit).get_data(as_text=True)
    assert client.post(edit, data={"csrf_token": token_of(page), "started_on": "2023-05-01",
                                   "institution": "中华医学会", "title": "腹腔镜技术培训班（高级）",
                                   "hours": ""}).status_code == 303
    db.session.refresh(entry)
    assert entry.title == "腹腔镜技术培训班（高级）" and entry.hours is None
    assert client.post(f"/dossier/history/{entry.id}/delete", data={"csrf_token": token_of(page)}).status_code == 303
    assert db.session.get(HistoryEntry, entry.id) is None


@pytest.mark.req("R1.4")
def test_history_of_others_is_neither_shown_nor_changed(client, login, ctx):
    doctor = staff_of("doctor")
    other = db.session.scalar(select(HistoryEntry).where(HistoryEntry.staff_id != doctor.id))
    login("doctor")
    assert client.get(f"/dossier/history/{other.id}/edit").status_code == 404
    assert client.get(f"/dossier/{other.staff_id}/history/new?kind=work").status_code == 404
    token = token_of(client.get(f"/dossier/{doctor.id}/edit").get_data(as_text=True))
    assert client.post(f"/dossier/history/{other.id}/delete", data={"csrf_token": token}).status_code == 404
    assert db.session.get(HistoryEntry, other.id) is not None


@pytest.mark.req("R1.4")
def test_application_forms_quote_the_applicants_own_history(client, login, ctx):
    doctor, applicant = staff_of("doctor"), user("doctor")
    own_work = db.session.scalars(select(HistoryEntry).where(HistoryEntry.staff_id == doctor.id,
                                                             HistoryEntry.kind == "work")).all()
    own_training = db.session.scalar(select(HistoryEntry).where(HistoryEntry.staff_id == doctor.id,
                                                                HistoryEntry.kind == "training"))
    foreign = db.session.scalar(select(HistoryEntry).where(HistoryEntry.staff_id != doctor.id,
                                                           HistoryEntry.kind == "work"))
    assert own_work and own_training and foreign
    assert forms.check_form(APPLICATION) == []
    # The typeahead offers the applicant's own entries only, labelled as they are quoted.
    login("doctor")
    offered = client.get("/api/lookup/work_history").get_json()
    assert sorted(o["value"] for o in offered) == sorted(e.id for e in own_work)
    assert all(" · " in o["label"] for o in offered)
    found = client.get(f"/api/lookup/training_history?q={own_training.institution[:2]}").get_json()
    assert own_training.id in [o["value"] for o in found]
    # Submitting: own entries pass, someone else's entry is refused by the server.
    data = {"experience": [own_work[0].id], "training": own_training.id, "reason": "开展新术式"}
    assert forms.validate(APPLICATION, data) == {} and forms.check_sources(APPLICATION, data, applicant) == {}
    stolen = {**data, "experience": [own_work[0].id, foreign.id]}
    assert "experience" in forms.check_sources(APPLICATION, stolen, applicant)
    # The saved application shows the quoted lines to the applicant and to the reviewing department head.
    from app.modules.dossier.services import history

    for viewer in (applicant, user("head")):
        with ctx.test_request_context():
            html = str(forms.render(APPLICATION, data, readonly=True, user=viewer))
        assert history.label(own_work[0]) in html and history.label(own_training) in html
    # Outside the reviewer's scope the entry is not revealed.
    with ctx.test_request_context():
        html = str(forms.render(APPLICATION, {"experience": [foreign.id]}, readonly=True, user=applicant))
    assert history.label(foreign) not in html


def test_the_quoted_label_names_period_place_and_role(ctx):
    from datetime import date

    from app.modules.dossier.services import history

    entry = HistoryEntry(kind="work", started_on=date(2015, 9, 1), ended_on=None, institution="示范市第二人民医院",
                         department="骨科", role="主治医师")
    assert history.label(entry) == "2015-09 – 至今 · 示范市第二人民医院 · 骨科 · 主治医师"
    assert db.session.scalar(select(func.count(HistoryEntry.id))) > 0
