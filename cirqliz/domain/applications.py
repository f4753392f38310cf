"""Applications for a pass: the review state machine.

draft → submitted → needs_info ↔ submitted → approved | rejected; draft, submitted and
needs_info may be withdrawn by the applicant. Every transition records who, when and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from cirqliz.domain.errors import ReasonRequired, TransitionError


class ApplicationStatus(StrEnum):
    """Where an application stands."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label_fr(self) -> str:
        """French label shown to people (cirqliz.labels)."""
        from cirqliz.labels import APPLICATION_STATUS_FR  # the table imports this module

        return APPLICATION_STATUS_FR[self]


class ApplicationAction(StrEnum):
    """What someone does to an application."""

    SUBMIT = "submit"
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"


S, A = ApplicationStatus, ApplicationAction

# (from, action) -> to; anything not listed is illegal.
APPLICATION_TRANSITIONS: dict[tuple[ApplicationStatus, ApplicationAction], ApplicationStatus] = {
    (S.DRAFT, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.REQUEST_INFO): S.NEEDS_INFO,
    (S.NEEDS_INFO, A.PROVIDE_INFO): S.SUBMITTED,
    (S.SUBMITTED, A.APPROVE): S.APPROVED,
    (S.SUBMITTED, A.REJECT): S.REJECTED,
    (S.DRAFT, A.WITHDRAW): S.WITHDRAWN,
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    (S.NEEDS_INFO, A.WITHDRAW): S.WITHDRAWN,
}

# The applicant must be told why.
ACTIONS_NEEDING_REASON = frozenset({A.REQUEST_INFO, A.REJECT})

TERMINAL_STATUSES = frozenset({S.APPROVED, S.REJECTED, S.WITHDRAWN})


@dataclass(frozen=True, slots=True)
class ApplicationTransition:
    """One recorded state change."""

    from_status: ApplicationStatus
    to_status: ApplicationStatus
    action: ApplicationAction
    actor_id: UUID | None
    reason: str | None
    at: datetime


def next_status(current: str, action: str) -> ApplicationStatus:
    """The status after `action`, or TransitionError when the action is illegal now."""
    status, act = ApplicationStatus(current), ApplicationAction(action)
    try:
        return APPLICATION_TRANSITIONS[(status, act)]
    except KeyError:
        from cirqliz.labels import APPLICATION_ACTION_VERB_FR  # the table imports this module

        verb = APPLICATION_ACTION_VERB_FR[act]
        of = "d'" if verb[:1] in "aeéiou" else "de "  # « d'accepter », « de refuser »
        raise TransitionError(
            f"impossible {of}{verb} : la demande est {status.label_fr}",
            code=f"illegal_transition_{status.value}_{act.value}",
        ) from None


def transition(
    current: str,
    action: str,
    *,
    actor_id: UUID | None,
    reason: str | None,
    at: datetime,
) -> ApplicationTransition:
    """Check and describe one transition; `actor_id` None means the system (automatic review)."""
    target = next_status(current, action)
    act = ApplicationAction(action)
    cleaned = (reason or "").strip() or None
    if act in ACTIONS_NEEDING_REASON and cleaned is None:
        raise ReasonRequired(
            "un motif est obligatoire pour demander un complément ou refuser une demande",
            code=f"reason_required_{act.value}",
        )
    if at.tzinfo is None:
        raise ValueError("transition time must be aware (UTC)")
    return ApplicationTransition(ApplicationStatus(current), target, act, actor_id, cleaned, at)
