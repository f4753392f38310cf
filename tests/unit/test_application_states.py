"""The application state machine: every (status, action) pair, legal or not."""

import itertools
import uuid
from datetime import UTC, datetime

import pytest

from cirqliz.domain.applications import (
    ACTIONS_NEEDING_REASON,
    APPLICATION_TRANSITIONS,
    ApplicationAction,
    ApplicationStatus,
    transition,
)
from cirqliz.domain.errors import ReasonRequired, TransitionError
from cirqliz.labels import APPLICATION_ACTION_VERB_FR

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ACTOR = uuid.UUID(int=7)
S, A = ApplicationStatus, ApplicationAction

LEGAL = {
    (S.DRAFT, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.REQUEST_INFO): S.NEEDS_INFO,
    (S.NEEDS_INFO, A.PROVIDE_INFO): S.SUBMITTED,
    (S.SUBMITTED, A.APPROVE): S.APPROVED,
    (S.SUBMITTED, A.REJECT): S.REJECTED,
    (S.DRAFT, A.WITHDRAW): S.WITHDRAWN,
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    (S.NEEDS_INFO, A.WITHDRAW): S.WITHDRAWN,
}
ALL_PAIRS = list(itertools.product(ApplicationStatus, ApplicationAction))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]


def test_table_is_the_specified_one():
    assert APPLICATION_TRANSITIONS == LEGAL


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_illegal_transition_raises_typed_error(status, action):
    with pytest.raises(TransitionError) as info:
        transition(status, action, actor_id=ACTOR, reason="motif", at=AT)
    assert info.value.code == f"illegal_transition_{status.value}_{action.value}"
    assert status.label_fr in info.value.message  # tells the person where the application is
    verb = APPLICATION_ACTION_VERB_FR[action]
    assert verb in info.value.message and action.value not in info.value.message  # in French, not « submit »


@pytest.mark.parametrize(("status", "action"), list(LEGAL), ids=[f"{s}-{a}" for s, a in LEGAL])
def test_legal_transition_records_who_and_why(status, action):
    step = transition(status, action, actor_id=ACTOR, reason="  pièces complètes ", at=AT)
    assert step.from_status is status
    assert step.to_status is LEGAL[(status, action)]
    assert step.actor_id == ACTOR
    assert step.reason == "pièces complètes"
    assert step.at == AT


@pytest.mark.parametrize("action", sorted(ACTIONS_NEEDING_REASON))
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reject_and_request_info_need_a_reason(action, reason):
    with pytest.raises(ReasonRequired):
        transition(S.SUBMITTED, action, actor_id=ACTOR, reason=reason, at=AT)


def test_system_may_act_without_a_person():
    step = transition(S.SUBMITTED, A.APPROVE, actor_id=None, reason="examen automatique", at=AT)
    assert step.actor_id is None and step.to_status is S.APPROVED


def test_naive_time_refused():
    with pytest.raises(ValueError, match="aware"):
        transition(S.DRAFT, A.SUBMIT, actor_id=ACTOR, reason=None, at=datetime(2026, 3, 2))


def test_terminal_states_have_no_way_out():
    for status in (S.APPROVED, S.REJECTED, S.WITHDRAWN):
        assert not [a for (s, a) in LEGAL if s is status]
