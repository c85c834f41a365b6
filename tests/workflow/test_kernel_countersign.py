"""Scenario tests of the shipped countersign examples (processes/examples/countersign_*.bpmn),
adding and removing signers, and skipping an approver who already approved."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.workflow import runtime
from app.workflow.errors import Conflict, PermissionDenied
from app.workflow.models import Task
from tests.workflow.conftest import make_user as create_user

pytestmark = [pytest.mark.req("R3.7"), pytest.mark.usefixtures("wf")]


def _people(n: int):
    return [create_user("physician") for _ in range(n)]


def _start(process: str, signers):
    applicant = create_user("physician")
    instance = runtime.start(applicant, process, data={"signers": [s.id for s in signers]})
    return applicant, instance


def _task_of(instance, user) -> Task:
    [task] = [t for t in runtime.open_tasks(instance.id) if t.assignee_id == user.id]
    return task


def _sign(instance, user, outcome="approve"):
    return runtime.complete(user, _task_of(instance, user).id, data={"opinion": outcome}, outcome=outcome)


def _result(instance):
    db.session.refresh(instance)
    return instance.status, runtime.variables(instance).get("decision")


def test_all_must_approve():
    signers = _people(3)
    _, instance = _start("countersign_all", signers)
    assert sorted(t.assignee_id for t in runtime.open_tasks(instance.id)) == sorted(s.id for s in signers)
    assert {t.countersign_of for t in runtime.open_tasks(instance.id)} != {None}
    _sign(instance, signers[0])
    _sign(instance, signers[1])
    assert _result(instance)[0] == "running"
    _sign(instance, signers[2])
    assert _result(instance) == ("completed", "approve")


def test_all_must_approve_one_rejection_rejects_after_everyone_acted():
    signers = _people(3)
    _, instance = _start("countersign_all", signers)
    _sign(instance, signers[0], "reject")
    assert len(runtime.open_tasks(instance.id)) == 2  # 会签: the others still sign
    _sign(instance, signers[1])
    _sign(instance, signers[2])
    assert _result(instance) == ("completed", "reject")


def test_any_one_approval_is_enough_and_closes_the_others():
    signers = _people(3)
    _, instance = _start("countersign_any", signers)
    _sign(instance, signers[1], "reject")
    _sign(instance, signers[2])
    assert _result(instance) == ("completed", "approve")
    assert runtime.open_tasks(instance.id) == []
    [left] = [t for t in db.session.query(Task).filter_by(instance_id=instance.id) if t.assignee_id == signers[0].id]
    assert left.status == "cancelled"


def test_any_all_rejections_reject():
    signers = _people(2)
    _, instance = _start("countersign_any", signers)
    _sign(instance, signers[0], "reject")
    _sign(instance, signers[1], "reject")
    assert _result(instance) == ("completed", "reject")


def test_sequential_in_order_and_a_rejection_stops():
    signers = _people(3)
    _, instance = _start("countersign_sequential", signers)
    assert [t.assignee_id for t in runtime.open_tasks(instance.id)] == [signers[0].id]
    with pytest.raises(PermissionDenied):
        runtime.complete(signers[1], runtime.open_tasks(instance.id)[0].id)
    _sign(instance, signers[0])
    assert [t.assignee_id for t in runtime.open_tasks(instance.id)] == [signers[1].id]
    _sign(instance, signers[1], "reject")
    assert _result(instance) == ("completed", "reject")
    assert not db.session.query(Task).filter_by(instance_id=instance.id, assignee_id=signers[2].id).count()


def test_sequential_all_approve():
    signers = _people(3)
    _, instance = _start("countersign_sequential", signers)
    for signer in signers:
        _sign(instance, signer)
    assert _result(instance) == ("completed", "approve")


def test_two_of_four_approve_early():
    signers = _people(4)
    _, instance = _start("countersign_quorum", signers)
    _sign(instance, signers[3])
    _sign(instance, signers[0], "reject")
    assert _result(instance)[0] == "running"
    _sign(instance, signers[1])
    assert _result(instance) == ("completed", "approve")
    assert runtime.open_tasks(instance.id) == []


def test_two_of_four_rejected_once_out_of_reach():
    signers = _people(4)
    _, instance = _start("countersign_quorum", signers)
    _sign(instance, signers[0], "reject")
    _sign(instance, signers[1], "reject")
    assert _result(instance)[0] == "running"  # two approvals still possible
    _sign(instance, signers[2], "reject")
    assert _result(instance) == ("completed", "reject")


@pytest.mark.parametrize("outcomes, expected", [
    (["approve", "approve", "approve"], "approve"),  # 3 of 4 = 75% >= 60%
    (["reject", "approve", "reject"], "reject"),  # 60% of 4 needs 3: out of reach after two rejections
])
def test_ratio_of_signers(outcomes, expected):
    signers = _people(4)
    _, instance = _start("countersign_ratio", signers)
    for signer, outcome in zip(signers, outcomes):
        if _result(instance)[0] != "running":
            break
        _sign(instance, signer, outcome)
    assert _result(instance) == ("completed", expected)


def test_one_rejection_vetoes_at_once():
    signers = _people(3)
    _, instance = _start("countersign_veto", signers)
    _sign(instance, signers[0])
    _sign(instance, signers[1], "reject")
    assert _result(instance) == ("completed", "reject")
    assert runtime.open_tasks(instance.id) == []


def test_veto_all_approve():
    signers = _people(2)
    _, instance = _start("countersign_veto", signers)
    for signer in signers:
        _sign(instance, signer)
    assert _result(instance) == ("completed", "approve")


# --- 加签 / 减签 -------------------------------------------------------------------------------

def test_add_and_remove_signers_in_a_parallel_countersign(notes):
    signers = _people(2)
    extra, other = _people(2)
    _, instance = _start("countersign_all", signers)
    task = _task_of(instance, signers[0])
    assert "add_signers" in runtime.allowed_actions(signers[0], task)
    new = runtime.add_signers(signers[0], task.id, [extra.id, other.id, signers[1].id])
    assert sorted(t.assignee_id for t in new) == sorted([extra.id, other.id])
    assert any(kind == "task_assigned" and extra.id in users for users, kind, _, _ in notes)
    runtime.remove_signers(signers[0], task.id, [other.id])
    assert sorted(t.assignee_id for t in runtime.open_tasks(instance.id)) == sorted(
        [signers[0].id, signers[1].id, extra.id])
    for signer in (signers[0], signers[1], extra):
        _sign(instance, signer)
    assert _result(instance) == ("completed", "approve")


def test_removing_the_last_unsigned_signer_completes_the_countersign():
    signers = _people(3)
    _, instance = _start("countersign_all", signers)
    _sign(instance, signers[0])
    _sign(instance, signers[1])
    with pytest.raises(Conflict, match="already signed"):
        runtime.remove_signers(signers[2], _task_of(instance, signers[2]).id, [signers[0].id])
    admin = create_user("admin", "hospital")
    runtime.remove_signers(admin, _task_of(instance, signers[2]).id, [signers[2].id])
    assert _result(instance) == ("completed", "approve")


def test_at_least_one_signer_remains_and_outsiders_cannot_change_signers():
    signers = _people(1)
    outsider = create_user("physician")
    _, instance = _start("countersign_all", signers)
    task = _task_of(instance, signers[0])
    with pytest.raises(Conflict, match="At least one signer"):
        runtime.remove_signers(signers[0], task.id, [signers[0].id])
    with pytest.raises(PermissionDenied):
        runtime.add_signers(outsider, task.id, [outsider.id])


def test_add_a_signer_to_a_sequential_countersign_goes_last():
    signers = _people(2)
    extra = create_user("physician")
    _, instance = _start("countersign_sequential", signers)
    runtime.add_signers(signers[0], _task_of(instance, signers[0]).id, [extra.id])
    for signer in (*signers, extra):
        assert [t.assignee_id for t in runtime.open_tasks(instance.id)] == [signer.id]
        _sign(instance, signer)
    assert _result(instance) == ("completed", "approve")


def test_remove_a_queued_signer_of_a_sequential_countersign():
    signers = _people(3)
    _, instance = _start("countersign_sequential", signers)
    runtime.remove_signers(signers[0], _task_of(instance, signers[0]).id, [signers[1].id])
    _sign(instance, signers[0])
    _sign(instance, signers[2])
    assert _result(instance) == ("completed", "approve")
