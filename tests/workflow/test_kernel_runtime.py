"""Runtime API: start, complete, decisions, forms, permissions, versions, events, assignment."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.extensions import db
from app.workflow import inbox, permissions, records, rewind, runtime
from app.workflow.errors import Conflict, FormInvalid, NotFound, PermissionDenied
from app.workflow.models import DecisionLog, Event, Instance, Task, TaskCandidate
from tests.factories import create_department
from tests.workflow.conftest import make_user

pytestmark = pytest.mark.usefixtures("wf")


def _open(instance_id):
    return runtime.open_tasks(instance_id)


def _events(instance_id) -> list[str]:
    return [e.action for e in db.session.scalars(select(Event).where(Event.instance_id == instance_id)
                                                 .order_by(Event.id))]


def _submit(applicant, instance, amount=300, title="Gloves"):
    [submit] = _open(instance.id)
    return runtime.complete(applicant, submit.id, data={"title": title, "amount": amount}, outcome="submit")


@pytest.mark.req("R3.7")
def test_small_request_is_approved_by_the_decision_table():
    applicant = make_user()
    instance = runtime.start(applicant, "example_approval", business_key="REQ-1", data={"reviewers": []})
    [submit] = _open(instance.id)
    assert (submit.spec, submit.assignee_id, submit.form) == ("submit", applicant.id, "example_request")
    _submit(applicant, instance)
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.ended_at is not None
    log = db.session.scalar(select(DecisionLog).where(DecisionLog.instance_id == instance.id))
    assert (log.decision_key, log.decision_version, log.task) == ("example_risk", 1, "classify")
    assert log.inputs == {"amount": 300} and log.matched_rules == [{"id": "small_amount", "index": 1}]
    assert log.outputs == {"risk": "low", "auto_approve": True}
    assert runtime.variables(instance)["risk"] == "low"
    note = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "workflow.note",
                                                      AuditEntry.object_id == str(instance.id)))
    assert note.summary == "auto-approved: Gloves"
    assert _events(instance.id) == ["start", "complete", "operation", "end"]


@pytest.mark.req("R3.7")
def test_large_request_goes_to_a_countersign_of_the_reviewers_named_in_the_data(notes):
    applicant, *reviewers = [make_user() for _ in range(4)]
    instance = runtime.start(applicant, "example_approval", data={"reviewers": [r.id for r in reviewers]})
    _submit(applicant, instance, amount=50_000)
    tasks = _open(instance.id)
    assert sorted(t.assignee_id for t in tasks) == sorted(r.id for r in reviewers)
    assert {kind for _, kind, _, _ in notes} == {"task_assigned"}
    for reviewer in reviewers:
        [task] = inbox.inbox(reviewer.id)
        runtime.complete(reviewer, task.id, data={"opinion": "fine"})
    db.session.refresh(instance)
    assert instance.status == "completed"
    assert runtime.variables(instance)["review_outcome"] == "approve"
    approvals = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == "workflow.task.complete"))
    assert approvals >= 4


@pytest.mark.req("R3.7")
def test_form_errors_leave_the_instance_as_it_was():
    applicant = make_user()
    instance = runtime.start(applicant, "example_approval", data={"reviewers": []})
    version, events = instance.version, _events(instance.id)
    [submit] = _open(instance.id)
    with pytest.raises(FormInvalid) as refused:
        runtime.complete(applicant, submit.id, data={"title": "", "amount": -1}, outcome="submit")
    assert set(refused.value.errors) == {"title", "amount"}
    db.session.refresh(instance)
    assert instance.version == version and _events(instance.id) == events
    assert [t.id for t in _open(instance.id)] == [submit.id]


@pytest.mark.req("R3.7")
def test_only_the_assignee_may_complete_and_twice_is_a_conflict():
    applicant, stranger = make_user(), make_user()
    instance = runtime.start(applicant, "example_approval", data={"reviewers": []})
    [submit] = _open(instance.id)
    with pytest.raises(PermissionDenied):
        runtime.complete(stranger, submit.id, data={"title": "x", "amount": 1})
    assert runtime.allowed_actions(stranger, submit) == []
    assert "complete" in runtime.allowed_actions(applicant, submit)
    with pytest.raises(Conflict):
        runtime.complete(applicant, submit.id, data={"title": "x", "amount": 1}, expected_version=99)
    _submit(applicant, instance)
    with pytest.raises(Conflict, match="already completed"):
        runtime.complete(applicant, submit.id, data={"title": "x", "amount": 1})
    with pytest.raises(NotFound):
        runtime.complete(applicant, 10**9)


@pytest.mark.req("R3.7")
def test_candidates_claim_unclaim_and_inbox():
    department = create_department()
    heads = [make_user("dept_head", departments=[department]) for _ in range(2)]
    applicant = make_user(departments=[department])
    instance = runtime.start(applicant, "example_review_chain", department_id=department.id)
    _submit(applicant, instance)
    [review] = _open(instance.id)
    assert review.assignee_id is None and review.role == "dept_head"
    assert {c.user_id for c in review.candidates if c.user_id} == {h.id for h in heads}
    assert [(c.role, c.department_id) for c in review.candidates if c.user_id is None] == [("dept_head", department.id)]
    assert [t.id for t in inbox.inbox(heads[0].id)] == [review.id] == [t.id for t in inbox.inbox(heads[1].id)]
    runtime.claim(heads[0], review.id)
    assert inbox.inbox(heads[1].id) == [] and inbox.inbox_count(heads[0].id) == 1
    with pytest.raises(PermissionDenied):
        runtime.complete(heads[1], review.id, data={})
    with pytest.raises(Conflict):
        runtime.claim(heads[1], review.id)
    runtime.unclaim(heads[0], review.id)
    assert [t.id for t in inbox.inbox(heads[1].id)] == [review.id]
    runtime.complete(heads[1], review.id, data={"opinion": "no"}, outcome="reject")  # completing claims
    db.session.refresh(instance)
    assert instance.status == "completed" and runtime.variables(instance)["outcome"] == "reject"
    assert db.session.scalar(select(func.count()).select_from(TaskCandidate)
                             .where(TaskCandidate.task_id == review.id)) == 0


@pytest.mark.req("R3.7")
def test_a_role_nobody_holds_keeps_a_pool_for_the_role():
    department = create_department()
    applicant = make_user(departments=[department])
    instance = runtime.start(applicant, "example_review_chain", department_id=department.id)
    _submit(applicant, instance)
    [review] = _open(instance.id)
    assert [(c.user_id, c.role, c.department_id) for c in review.candidates] == \
        [(None, "dept_head", department.id)]
    newcomer = make_user("dept_head", departments=[department])
    assert inbox.inbox(newcomer.id) == []
    assert [t.id for t in inbox.inbox(newcomer.id, roles=[("dept_head", department.id)])] == [review.id]
    assert "claim" in runtime.allowed_actions(newcomer, review)
    runtime.claim(newcomer, review.id)
    assert review.assignee_id == newcomer.id


@pytest.mark.req("R3.7")
def test_someone_granted_the_role_after_the_task_was_created_can_claim_and_complete_it():
    department, elsewhere = create_department(), create_department()
    heads = [make_user("dept_head", departments=[department]) for _ in range(2)]
    applicant = make_user(departments=[department])
    instance = runtime.start(applicant, "example_review_chain", department_id=department.id)
    _submit(applicant, instance)
    [review] = _open(instance.id)
    assert review.assignee_id is None and {c.user_id for c in review.candidates if c.user_id} == {h.id for h in heads}
    newcomer = make_user("dept_head", departments=[department])  # granted the role now
    other_head = make_user("dept_head", departments=[elsewhere])  # the role, but not for this department
    outsider = make_user(departments=[department])
    assert [t.id for t in inbox.inbox(newcomer.id, roles=[("dept_head", department.id)])] == [review.id]
    assert inbox.inbox(other_head.id, roles=[("dept_head", elsewhere.id)]) == []
    # The newcomer takes part (may comment, attach) from now on; the others do not.
    assert records.is_participant(newcomer, instance) and permissions.may_act(review, newcomer.id)
    for stranger in (other_head, outsider):
        assert not records.is_participant(stranger, instance) and not permissions.may_act(review, stranger.id)
        with pytest.raises(PermissionDenied):
            records.add_comment(stranger, instance, "?")
    records.add_comment(newcomer, instance, "我来审核")
    for stranger in (other_head, outsider):
        assert "claim" not in runtime.allowed_actions(stranger, review)
        assert "complete" not in runtime.allowed_actions(stranger, review)
        with pytest.raises(PermissionDenied):
            runtime.claim(stranger, review.id)
        with pytest.raises(PermissionDenied):
            runtime.complete(stranger, review.id, data={"opinion": "x"})
    assert {"claim", "complete"} <= set(runtime.allowed_actions(newcomer, review))
    runtime.complete(newcomer, review.id, data={"opinion": "fine"})  # completing straight from the pool
    assert (review.status, review.assignee_id, review.completed_by_id) == ("completed", newcomer.id, newcomer.id)
    assert db.session.scalar(select(func.count()).select_from(TaskCandidate)
                             .where(TaskCandidate.task_id == review.id)) == 0


@pytest.mark.req("R3.7")
def test_transfer_delegate_and_resolve(notes):
    department = create_department()
    head = make_user("dept_head", departments=[department])
    deputy, colleague = make_user(), make_user()
    applicant = make_user(departments=[department])
    instance = runtime.start(applicant, "example_review_chain", department_id=department.id)
    _submit(applicant, instance)
    [review] = _open(instance.id)
    assert review.assignee_id == head.id  # the only head: assigned directly
    runtime.delegate(head, review.id, deputy.id, "please check the figures")
    assert (review.status, review.assignee_id, review.owner_id) == ("delegated", deputy.id, head.id)
    assert "complete" not in runtime.allowed_actions(deputy, review)
    assert "resolve" in runtime.allowed_actions(deputy, review)
    with pytest.raises(Conflict):
        runtime.complete(deputy, review.id, data={})
    runtime.resolve_delegation(deputy, review.id, "figures are right")
    assert (review.status, review.assignee_id, review.owner_id) == ("open", head.id, None)
    runtime.transfer(head, review.id, colleague.id, "you know this case")
    assert review.assignee_id == colleague.id
    with pytest.raises(PermissionDenied):
        runtime.complete(head, review.id, data={})
    runtime.complete(colleague, review.id, data={"opinion": "ok"})
    assert ([colleague.id], "task_assigned") in [(users, kind) for users, kind, _, _ in notes]
    assert {"delegate", "resolve", "transfer"} <= set(_events(instance.id))


@pytest.mark.req("R3.7")
def test_reject_ends_the_process_and_tells_the_applicant(notes):
    signers = [make_user() for _ in range(2)]
    applicant = make_user()
    instance = runtime.start(applicant, "countersign_all", data={"signers": [s.id for s in signers]})
    task = next(t for t in _open(instance.id) if t.assignee_id == signers[0].id)
    runtime.reject(signers[0], task.id, "not needed")
    db.session.refresh(instance)
    assert instance.status == "rejected" and _open(instance.id) == []
    assert ([applicant.id], "rejected") in [(users, kind) for users, kind, _, _ in notes]
    with pytest.raises(Conflict):
        runtime.complete(signers[1], task.id)


@pytest.mark.req("R3.7")
def test_copy_and_urge(notes):
    signer, reader = make_user(), make_user()
    applicant = make_user()
    instance = runtime.start(applicant, "countersign_all", data={"signers": [signer.id]})
    [task] = _open(instance.id)
    runtime.copy_to(signer, task.id, [reader.id], "for your information")
    assert [(c.task_id, c.from_user_id) for c in inbox.copies(reader.id, unread_only=True)] == [(task.id, signer.id)]
    runtime.urge(applicant, task.id, "please hurry")
    assert ([signer.id], "urge") in [(users, kind) for users, kind, _, _ in notes]
    assert ([reader.id], "copy") in [(users, kind) for users, kind, _, _ in notes]
    with pytest.raises(PermissionDenied):
        runtime.urge(reader, task.id)
    assert task.urged_at is not None


@pytest.mark.req("R3.7")
def test_suspend_resume_and_cancel():
    admin, signer, applicant = make_user("admin", "hospital"), make_user(), make_user()
    instance = runtime.start(applicant, "countersign_all", data={"signers": [signer.id]})
    [task] = _open(instance.id)
    with pytest.raises(PermissionDenied):
        runtime.suspend(applicant, instance.id, "wait")
    runtime.suspend(admin, instance.id, "audit in progress")
    assert inbox.inbox(signer.id) == []
    with pytest.raises(Conflict):
        runtime.complete(signer, task.id)
    runtime.resume(admin, instance.id)
    assert [t.id for t in inbox.inbox(signer.id)] == [task.id]
    runtime.cancel(applicant, instance.id, "no longer needed")
    db.session.refresh(instance)
    assert instance.status == "cancelled" and _open(instance.id) == []
    assert {"suspend", "resume", "cancel"} <= set(_events(instance.id))


@pytest.mark.req("R3.7")
def test_return_to_an_earlier_step_and_resubmit():
    department = create_department()
    head = make_user("dept_head", departments=[department])
    applicant = make_user(departments=[department])
    instance = runtime.start(applicant, "example_review_chain", department_id=department.id)
    _submit(applicant, instance, title="Laser")
    [review] = _open(instance.id)
    assert "return" in runtime.allowed_actions(head, review)
    runtime.return_to(head, review.id, "submit", "attach the quote")
    assert review.status == "returned"
    [again] = _open(instance.id)
    assert (again.spec, again.assignee_id) == ("submit", applicant.id)
    data = runtime.task_data(again.id)
    assert data["title"] == "Laser" and data["return_comment"] == "attach the quote"
    assert "complete" in runtime.allowed_actions(applicant, again)
    assert "return" not in runtime.allowed_actions(applicant, again)  # the first step: nowhere to go back to
    with pytest.raises(Conflict):
        runtime.return_to(applicant, again.id, "dept_review", "no")  # not an earlier step
    _submit(applicant, instance, title="Laser (quoted)")
    [review2] = _open(instance.id)
    assert review2.spec == "dept_review" and review2.id != review.id


@pytest.mark.req("R3.7")
def test_return_is_offered_only_when_there_is_an_earlier_step():
    signers = [make_user() for _ in range(2)]
    applicant = make_user()
    instance = runtime.start(applicant, "countersign_all", data={"signers": [s.id for s in signers]})
    for task in _open(instance.id):  # the process starts with the countersign: no earlier user step
        signer = next(s for s in signers if s.id == task.assignee_id)
        allowed = runtime.allowed_actions(signer, task)
        assert "complete" in allowed and "return" not in allowed
    department = create_department()
    head = make_user("dept_head", departments=[department])
    requester = make_user(departments=[department])
    chain = runtime.start(requester, "example_review_chain", department_id=department.id)
    [submit] = _open(chain.id)
    assert "return" not in runtime.allowed_actions(requester, submit)
    _submit(requester, chain)
    [review] = _open(chain.id)
    assert "return" in runtime.allowed_actions(head, review)
    assert rewind.return_targets(review) == [("submit", submit.name)]


@pytest.mark.req("R3.7")
def test_withdraw_before_the_next_step_acted():
    department = create_department()
    head = make_user("dept_head", departments=[department])
    applicant = make_user(departments=[department])
    instance = runtime.start(applicant, "example_review_chain", department_id=department.id)
    submitted = _submit(applicant, instance)
    [review] = _open(instance.id)
    assert "withdraw" in runtime.allowed_actions(applicant, review)
    runtime.withdraw(applicant, instance.id, "forgot a file")
    assert review.status == "withdrawn" and submitted.status == "withdrawn"
    [again] = _open(instance.id)
    assert (again.spec, again.assignee_id) == ("submit", applicant.id)
    _submit(applicant, instance)
    [review] = _open(instance.id)
    runtime.complete(head, review.id, data={})
    with pytest.raises(Conflict, match="already acted"):
        runtime.withdraw(applicant, instance.id)
    with pytest.raises(PermissionDenied):
        runtime.withdraw(make_user(), instance.id)


@pytest.mark.req("R3.7")
def test_the_applicant_withdraws_a_whole_application_nobody_acted_on():
    signer, applicant = make_user(), make_user()
    instance = runtime.start(applicant, "countersign_all", data={"signers": [signer.id]})
    runtime.withdraw(applicant, f"instance:{instance.id}")
    db.session.refresh(instance)
    assert instance.status == "withdrawn" and _open(instance.id) == []


@pytest.mark.req("R3.7")
def test_an_approver_who_already_approved_is_skipped():
    department = create_department()
    head = make_user("dept_head", departments=[department])
    head.grants.append(type(head.grants[0])(role=db.session.scalar(
        select(type(head.grants[0].role)).where(type(head.grants[0].role).code == "medaffairs_staff")),
        scope="hospital"))
    db.session.flush()
    applicant = make_user(departments=[department])
    instance = runtime.start(applicant, "example_review_chain", department_id=department.id)
    _submit(applicant, instance)
    [review] = _open(instance.id)
    runtime.complete(head, review.id, data={"opinion": "yes"})
    db.session.refresh(instance)
    assert instance.status == "completed"
    office = db.session.scalar(select(Task).where(Task.instance_id == instance.id, Task.spec == "office_review"))
    assert (office.status, office.outcome, office.completed_by_id) == ("completed", "approve", head.id)
    assert "auto_approve" in _events(instance.id)


def test_instances_and_versions_are_recorded():
    applicant = make_user()
    instance = runtime.start(applicant, "example_approval", business_key="B-7", subject="staff:1",
                             data={"reviewers": []})
    row = db.session.get(Instance, instance.id)
    assert (row.process_key, row.business_key, row.subject, row.started_by_id) == \
        ("example_approval", "B-7", "staff:1", applicant.id)
    assert row.process_version.version >= 1 and row.version >= 1 and row.state
    before = row.version
    _submit(applicant, instance)
    assert db.session.get(Instance, instance.id).version > before
    assert [i.id for i in inbox.started(applicant.id)] == [instance.id]
    assert [t.spec for t in inbox.done(applicant.id)] == ["submit"]


def test_comments_and_attachments_are_kept_per_instance_by_content(app):
    from pathlib import Path

    from app.workflow import records
    from app.workflow.errors import ProcessError

    signer, applicant, outsider = make_user(), make_user(), make_user()
    instance = runtime.start(applicant, "countersign_all", data={"signers": [signer.id]})
    [task] = _open(instance.id)
    runtime.add_comment(signer, instance, "looks fine", task=task)
    with pytest.raises(PermissionDenied):
        runtime.add_comment(outsider, instance, "let me in")
    with pytest.raises(ProcessError):
        runtime.add_comment(applicant, instance, "   ")
    content = b"%PDF-1.4 quote for the laser\n"
    first = runtime.add_attachment(applicant, instance, "C:\\docs\\quote.pdf", content)
    second = runtime.add_attachment(signer, instance.id, "quote-copy.pdf", content, task=task.id)
    assert (first.name, first.size, first.mime) == ("quote.pdf", len(content), "application/pdf")
    assert first.sha256 == second.sha256
    path = records.attachment_path(first)
    assert path == Path(app.instance_path) / "attachments" / first.sha256[:2] / first.sha256
    assert path.read_bytes() == content
    with pytest.raises(PermissionDenied):
        runtime.add_attachment(outsider, instance, "x.txt", b"x")
    assert [c.body for c in records.comments(instance.id)] == ["looks fine"]
    assert [a.name for a in records.attachments(instance.id)] == ["quote.pdf", "quote-copy.pdf"]
    assert {"comment", "attach"} <= {e.action for e in records.timeline(instance.id)}
    assert records.is_participant(signer, instance) and not records.is_participant(outsider, instance)


def test_hot_instances_are_reused_only_at_the_committed_version():
    from app.core import uow
    from app.workflow import engine, store

    signers = [make_user() for _ in range(3)]
    instance = runtime.start(make_user(), "countersign_all", data={"signers": [s.id for s in signers]})
    key = engine.cache_key(instance.id)
    assert store.hot.take(key, instance.version, instance.updated_at) is None  # not before the commit
    uow.commit()
    used = []
    original = engine.Run.__init__

    def spy(run, *args, **kwargs):
        original(run, *args, **kwargs)
        used.append(run.has_workflow)  # a workflow comes with the run only from the cache

    engine.Run.__init__ = spy
    try:
        tasks = {t.assignee_id: t.id for t in _open(instance.id)}
        runtime.complete(signers[0], tasks[signers[0].id])
        uow.commit()
        runtime.complete(signers[1], tasks[signers[1].id])  # not committed: must not be cached …
        db.session.rollback()
        runtime.complete(signers[1], tasks[signers[1].id])  # … so this one reloads the state
    finally:
        engine.Run.__init__ = original
    assert used == [True, True, False]
    assert db.session.get(Task, tasks[signers[1].id]).status == "completed"


@pytest.mark.req("R3.7")
def test_a_process_runs_the_same_without_server_side_prepared_statements():
    """Behind a transaction-mode pooler (DB_PREPARED_STATEMENTS off) every statement goes as it is."""
    from app.core import fastsql

    fastsql.configure(server_prepare=False)
    try:
        applicant = make_user()
        instance = runtime.start(applicant, "example_approval", business_key="REQ-NP", data={"reviewers": []})
        _submit(applicant, instance)
    finally:
        fastsql.configure(server_prepare=True)
    db.session.refresh(instance)
    assert instance.status == "completed" and runtime.variables(instance)["risk"] == "low"
    assert _events(instance.id) == ["start", "complete", "operation", "end"]
