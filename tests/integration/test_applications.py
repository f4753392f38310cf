"""Applications in the database: transitions with who and why, eligibility, passes, documents."""

import itertools
import uuid
from datetime import timedelta

import pytest
from factories import (
    COMPANY_ACME_ID,
    USER_ALICE_ID,
    USER_REVIEWER_ID,
    VEHICLE_EV_ID,
    VEHICLE_OLD_ID,
    VEHICLE_TRUCK_ID,
    VEHICLE_VAN_ID,
    ZONE_CENTRE_ID,
    ZONE_ZFE_ID,
    make_application,
    make_submitted_application,
    make_vehicle,
    make_zone,
)
from sqlmodel import col, func, select

from cirqliz.db.models import (
    AccessPass,
    Application,
    ApplicationTransitionRecord,
    AuditRecord,
    PassZone,
    SupportingDocument,
)
from cirqliz.domain.errors import (
    DocumentError,
    EligibilityError,
    NotFound,
    ReasonRequired,
    TransitionError,
)
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import parse_window
from cirqliz.issuance.applications import (
    approve_application,
    attach_document,
    provide_information,
    reject_application,
    request_information,
    submit_application,
    transitions_of,
    withdraw_application,
)

pytestmark = pytest.mark.usefixtures("world")


async def count(session, model, *where):
    return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def test_full_review_records_who_why_and_when(session, clock, signer):
    async with session.begin():
        app = await make_submitted_application(session, clock)
    clock.advance(timedelta(hours=1))
    async with session.begin():
        await request_information(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                  reason="Joindre le Kbis", clock=clock)
    clock.advance(timedelta(hours=1))
    async with session.begin():
        await provide_information(session, application_id=app.id, actor_id=USER_ALICE_ID,
                                  comment="Kbis joint", clock=clock)
    clock.advance(timedelta(hours=1))
    async with session.begin():
        passes = await approve_application(session, application_id=app.id,
                                           reviewer_id=USER_REVIEWER_ID, signer=signer,
                                           clock=clock, reason="Conforme")
    async with session.begin():
        steps = await transitions_of(session, app.id)
        stored = await session.get(Application, app.id)
        await session.refresh(stored)
    assert [(s.from_status, s.to_status, s.actor_id, s.reason) for s in steps] == [
        ("draft", "submitted", USER_ALICE_ID, None),
        ("submitted", "needs_info", USER_REVIEWER_ID, "Joindre le Kbis"),
        ("needs_info", "submitted", USER_ALICE_ID, "Kbis joint"),
        ("submitted", "approved", USER_REVIEWER_ID, "Conforme"),
    ]
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert steps[-1].at == clock.now()
    assert stored.status == "approved" and stored.decided_by_id == USER_REVIEWER_ID
    assert stored.decision_reason == "Conforme" and stored.decided_at == clock.now()
    (issued,) = passes
    assert issued.plate == "AB123CD" and issued.status == "active" and issued.kid == "FAKEKID0"
    assert issued.signed_text == f"FAKE:paris:{issued.serial}:AB123CD:1"
    assert len(issued.serial) == 16 and issued.serial == issued.serial.upper()
    claims = signer.signed[0]
    assert claims.serial.hex().upper() == issued.serial and claims.zone_refs == (1,)
    assert claims.windows == (parse_window("Mo-Fr 07:30-10:30"),)
    assert claims.purpose is Purpose.DELIVERY and claims.issuer == "paris"


async def test_every_transition_is_audited_with_before_and_after(session, clock):
    async with session.begin():
        app = await make_submitted_application(session, clock)
        await reject_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                 reason="Hors périmètre", clock=clock)
    async with session.begin():
        records = (await session.exec(
            select(AuditRecord).where(col(AuditRecord.entity_id) == str(app.id))
            .order_by(col(AuditRecord.at), col(AuditRecord.action)))).all()
    by_action = {r.action: r for r in records}
    assert set(by_action) == {"create", "submit", "reject"}
    reject = by_action["reject"]
    assert reject.actor_id == USER_REVIEWER_ID and reject.at == clock.now()
    assert reject.before == {"status": "submitted"}
    assert reject.after == {"status": "rejected", "reason": "Hors périmètre"}


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "approve"),
        ([], "reject"),
        ([], "request_info"),
        (["submit"], "provide_info"),
        (["submit", "reject"], "approve"),
        (["submit", "reject"], "withdraw"),
        (["withdraw"], "submit"),
        (["submit", "approve"], "reject"),
        (["submit", "approve"], "approve"),
        (["submit", "request_info"], "approve"),
    ],
)
async def test_illegal_transitions_raise_and_change_nothing(session, clock, signer, setup, action):
    async with session.begin():
        app = await make_application(session, clock)
    app_id = app.id
    calls = {
        "submit": lambda: submit_application(session, application_id=app_id,
                                             actor_id=USER_ALICE_ID, clock=clock),
        "approve": lambda: approve_application(session, application_id=app_id,
                                               reviewer_id=USER_REVIEWER_ID, signer=signer,
                                               clock=clock),
        "reject": lambda: reject_application(session, application_id=app_id,
                                             reviewer_id=USER_REVIEWER_ID, reason="non",
                                             clock=clock),
        "request_info": lambda: request_information(session, application_id=app_id,
                                                    reviewer_id=USER_REVIEWER_ID,
                                                    reason="pièce", clock=clock),
        "provide_info": lambda: provide_information(session, application_id=app_id,
                                                    actor_id=USER_ALICE_ID, clock=clock),
        "withdraw": lambda: withdraw_application(session, application_id=app_id,
                                                 actor_id=USER_ALICE_ID, clock=clock),
    }
    for step in setup:
        async with session.begin():
            await calls[step]()
    async with session.begin():
        before = (await session.get(Application, app_id)).status
        transitions = await count(session, ApplicationTransitionRecord,
                                  col(ApplicationTransitionRecord.application_id) == app_id)
    with pytest.raises(TransitionError):
        async with session.begin():
            await calls[action]()
    session.expunge_all()
    async with session.begin():
        assert (await session.get(Application, app_id)).status == before
        assert await count(session, ApplicationTransitionRecord,
                           col(ApplicationTransitionRecord.application_id) == app_id) == transitions


async def test_reject_needs_a_reason(session, clock):
    async with session.begin():
        app = await make_submitted_application(session, clock)
    with pytest.raises(ReasonRequired):
        async with session.begin():
            await reject_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                     reason=" ", clock=clock)


async def test_ineligible_application_stays_draft_with_every_reason(session, clock):
    async with session.begin():
        app = await make_application(session, clock,
                                     vehicle_ids=[VEHICLE_VAN_ID, VEHICLE_TRUCK_ID, VEHICLE_OLD_ID],
                                     windows=[parse_window("Su 08:00-10:00")])
    app_id = app.id
    with pytest.raises(EligibilityError) as info:
        async with session.begin():
            await submit_application(session, application_id=app_id, actor_id=USER_ALICE_ID,
                                     clock=clock)
    codes = {r.code for r in info.value.refusals}
    assert {"vehicle_category", "weight_too_high", "crit_air_unclassified",
            "window_outside_zone_hours"} <= codes
    assert any(r.message.startswith("EF-456-GH / CENTRE : ") for r in info.value.refusals)
    session.expunge_all()
    async with session.begin():
        assert (await session.get(Application, app_id)).status == "draft"


async def test_fleet_application_issues_one_pass_per_vehicle(session, clock, signer):
    async with session.begin():
        app = await make_submitted_application(session, clock,
                                               vehicle_ids=[VEHICLE_VAN_ID, VEHICLE_EV_ID])
        passes = await approve_application(session, application_id=app.id,
                                           reviewer_id=USER_REVIEWER_ID, signer=signer,
                                           clock=clock)
    assert sorted(p.plate for p in passes) == ["AB123CD", "GH789JK"]
    assert len({p.serial for p in passes}) == 2
    async with session.begin():
        assert await count(session, PassZone) == 2
        issued = await count(session, AuditRecord, col(AuditRecord.entity) == "pass",
                             col(AuditRecord.action) == "issue")
    assert issued == 2


async def test_automatic_zone_approves_on_submit_and_counts_the_quota(session, clock, signer):
    zfe_rule = {"opening_hours": "Mo-Fr 08:00-20:00; PH off", "max_pass_days": 1,
                "quota_days_per_year": 2, "review_mode": "automatic"}
    async with session.begin():
        zone = await make_zone(session, clock, code="ZFE2", kind="low_emission", rule=zfe_rule)
    statuses = []
    for day in range(3):
        start = clock.now().replace(hour=7) + timedelta(days=day + 1)  # 08:00 Paris
        async with session.begin():
            app = await make_application(session, clock, zone_ids=[zone.id],
                                         vehicle_ids=[VEHICLE_OLD_ID], windows=[],
                                         not_before=start, expires_at=start + timedelta(hours=10))
        try:
            async with session.begin():
                app = await submit_application(session, application_id=app.id,
                                               actor_id=USER_ALICE_ID, clock=clock, signer=signer)
            statuses.append(app.status)
        except EligibilityError as exc:
            statuses.append([r.code for r in exc.refusals])
    assert statuses == ["approved", "approved", ["quota_exceeded"]]
    async with session.begin():
        auto = (await session.exec(select(ApplicationTransitionRecord).where(
            col(ApplicationTransitionRecord.to_status) == "approved"))).all()
    assert {(t.actor_id, t.reason) for t in auto} == {(None, "examen automatique")}


async def test_manual_zone_waits_for_a_reviewer(session, clock, signer):
    async with session.begin():
        app = await make_application(session, clock)
        app = await submit_application(session, application_id=app.id, actor_id=USER_ALICE_ID,
                                       clock=clock, signer=signer)
    assert app.status == "submitted" and signer.signed == []


async def test_failed_signature_rolls_back_the_whole_approval(session, clock):
    class BrokenSigner:
        def sign(self, *, claims_input):
            raise RuntimeError("HSM indisponible")

    async with session.begin():
        app = await make_submitted_application(session, clock)
    app_id = app.id
    with pytest.raises(RuntimeError):
        async with session.begin():
            await approve_application(session, application_id=app_id,
                                      reviewer_id=USER_REVIEWER_ID, signer=BrokenSigner(),
                                      clock=clock)
    session.expunge_all()
    async with session.begin():
        assert (await session.get(Application, app_id)).status == "submitted"
        assert await count(session, AccessPass) == 0
        assert await count(session, AuditRecord, col(AuditRecord.action) == "approve") == 0


async def test_approval_rechecks_eligibility(session, clock, signer):
    async with session.begin():
        van2 = await make_vehicle(session, clock, plate="KL-111-MN")
        app = await make_submitted_application(session, clock, vehicle_ids=[van2.id])
    # the zone closed to Crit'Air 2 after submission
    async with session.begin():
        from sqlalchemy import text

        await session.exec(text("UPDATE access_rule SET max_crit_air = 1"))
    with pytest.raises(EligibilityError):
        async with session.begin():
            await approve_application(session, application_id=app.id,
                                      reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock)


async def test_application_spans_one_authority_and_own_vehicles(session, clock):
    from cirqliz.domain.errors import DomainError

    async with session.begin():
        other = await make_vehicle(session, clock, organisation_id=COMPANY_ACME_ID,
                                   plate="ZZ-999-ZZ")
    assert other.organisation_id == COMPANY_ACME_ID
    with pytest.raises(DomainError) as info:
        async with session.begin():
            await make_application(session, clock, organisation_id=COMPANY_ACME_ID,
                                   zone_ids=[ZONE_CENTRE_ID, ZONE_ZFE_ID], vehicle_ids=[],
                                   purpose=Purpose.DELIVERY)
    assert info.value.code == "no_vehicle"


PDF = b"%PDF-1.4\n%test\n"


async def test_documents_are_checked_hashed_and_stored(session, clock, document_store):
    async with session.begin():
        app = await make_application(session, clock)
        app_id = app.id
        doc = await attach_document(session, application_id=app_id, filename="kbis.pdf",
                                    content_type="application/pdf", content=PDF,
                                    store=document_store, actor_id=USER_ALICE_ID, clock=clock)
    assert doc.size == len(PDF) and len(doc.sha256) == 64
    assert (document_store.root / doc.storage_key).read_bytes() == PDF
    with pytest.raises(DocumentError):
        async with session.begin():
            await attach_document(session, application_id=app_id, filename="x.exe",
                                  content_type="application/x-msdownload", content=b"MZ",
                                  store=document_store, actor_id=USER_ALICE_ID, clock=clock)
    async with session.begin():
        await withdraw_application(session, application_id=app_id, actor_id=USER_ALICE_ID,
                                   clock=clock)
    with pytest.raises(TransitionError):
        async with session.begin():
            await attach_document(session, application_id=app_id, filename="b.pdf",
                                  content_type="application/pdf", content=PDF + b"2",
                                  store=document_store, actor_id=USER_ALICE_ID, clock=clock)
    async with session.begin():
        assert await count(session, SupportingDocument) == 1


async def test_history_keeps_its_order_when_steps_share_a_clock_reading(session, clock, signer):
    """Several steps at the same instant (a coarse or fixed clock) still read back in order."""
    async with session.begin():
        app = await make_submitted_application(session, clock)
        await request_information(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                  clock=clock, reason="Quel chantier ?")
        await provide_information(session, application_id=app.id, actor_id=USER_ALICE_ID, clock=clock,
                                  comment="Rue de Rivoli")
        await reject_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID, clock=clock,
                                 reason="Hors périmètre")
    async with session.begin():
        steps = await transitions_of(session, app.id)
    assert [s.to_status for s in steps] == ["submitted", "needs_info", "submitted", "rejected"]
    assert all(a.at < b.at for a, b in itertools.pairwise(steps))


async def test_approval_at_a_shared_clock_reading_is_recorded_last(session, clock, signer):
    """The approval (its status UPDATE and transition written in one statement on PostgreSQL)
    follows earlier steps taken at the same instant, with its reviewer and reason."""
    async with session.begin():
        app = await make_submitted_application(session, clock)
        await request_information(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                  clock=clock, reason="Quel chantier ?")
        await provide_information(session, application_id=app.id, actor_id=USER_ALICE_ID, clock=clock,
                                  comment="Rue de Rivoli")
        passes = await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                           signer=signer, clock=clock, reason="Conforme")
    session.expunge_all()
    async with session.begin():
        steps = await transitions_of(session, app.id)
        stored = await session.get(Application, app.id)
        audit = (await session.exec(select(AuditRecord).where(col(AuditRecord.entity_id) == str(app.id))
                                    .order_by(col(AuditRecord.seq)))).all()
    assert [s.to_status for s in steps] == ["submitted", "needs_info", "submitted", "approved"]
    assert all(a.at < b.at for a, b in itertools.pairwise(steps))
    assert (steps[-1].from_status, steps[-1].actor_id, steps[-1].reason) == ("submitted", USER_REVIEWER_ID,
                                                                           "Conforme")
    assert (stored.status, stored.decided_by_id, stored.decision_reason) == ("approved", USER_REVIEWER_ID,
                                                                           "Conforme")
    assert passes and audit[-1].action == "approve" and audit[-1].after["status"] == "approved"


async def test_approving_an_unknown_application_is_not_found(session, clock, signer):
    with pytest.raises(NotFound):
        async with session.begin():
            await approve_application(session, application_id=uuid.uuid4(), reviewer_id=USER_REVIEWER_ID,
                                      signer=signer, clock=clock)
