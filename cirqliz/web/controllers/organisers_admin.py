"""The authority's event organisers (/autorite/organisateurs): an administrator registers the
organisers that submit events to the authority, then invites their users.

Admins only (guards). Every query is scoped to the admin's authority: another authority's organiser
answers 404, exactly like a missing one. Each form is one use case in a savepoint of the request's
transaction: a refusal re-renders the form with its French message and stores nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy.exc import IntegrityError

from cirqliz.db.models import Organisation
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.issuance import accounts as service
from cirqliz.issuance.organisations import authority_organiser, authority_organisers, create_organiser
from cirqliz.web.auth import CurrentUser, requires
from cirqliz.web.controllers.accounts import (
    ROLE_LABELS,
    cancel_pending_invitation,
    cancelled_notice,
    invite_and_mail,
    sentence,
)
from cirqliz.web.deps import DB, ClockDep
from cirqliz.web.rendering import page

ADMIN = [requires(Role.AUTHORITY_ADMIN)]
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
NOTICES = {"cree": "Organisateur enregistré : invitez maintenant ses utilisateurs."}

AdminRequest = Request[CurrentUser, Any, Any]


@dataclass
class OrganiserForm:
    """A new organiser: name, contact address, optional SIREN and code."""

    name: str = ""
    contact_email: str = ""
    siren: str = ""
    code: str = ""


@dataclass
class OrganiserInviteForm:
    """The address of a user to invite into the organiser (role: organiser)."""

    email: str = ""


async def _authority(request: AdminRequest, db: DB) -> Organisation:
    """The admin's authority (403 if the organisation is not an authority)."""
    org = await db.get(Organisation, request.user.organisation_for(Role.AUTHORITY_ADMIN))
    if org is None or org.kind != OrganisationKind.AUTHORITY.value:
        raise PermissionDeniedException("Cette page est réservée aux autorités.")
    return org


async def _list_page(request: AdminRequest, db: DB, authority: Organisation, *, values: OrganiserForm | None = None,
                     error: str | None = None, status: int = 200) -> Template:
    organisers = await authority_organisers(db, authority.id)
    members = {org.id: len(await service.organisation_members(db, org.id)) for org in organisers}
    return page(request, "autorite/organisateurs.html", status_code=status, section="organisers",
                authority=authority, organisers=organisers, members=members, values=values or OrganiserForm(),
                error=error, notice=None)


@get("/autorite/organisateurs", guards=ADMIN, name="authority_organisers")
async def organisers(request: AdminRequest, db: DB) -> Template:
    """The authority's organisers and the form that registers one."""
    return await _list_page(request, db, await _authority(request, db))


@post("/autorite/organisateurs", guards=ADMIN, name="authority_organiser_create")
async def organiser_create(request: AdminRequest, db: DB, clock: ClockDep,
                           data: Annotated[OrganiserForm, FORM]) -> Response[Any]:
    """Register an organiser belonging to the admin's authority."""
    authority = await _authority(request, db)
    try:
        async with db.begin_nested():
            organiser = await create_organiser(
                db, authority_id=authority.id, name=data.name, contact_email=data.contact_email, siren=data.siren,
                code=data.code, clock=clock, actor_id=request.user.id)
    except DomainError as exc:
        return await _list_page(request, db, authority, values=data, error=sentence(exc.message), status=422)
    except IntegrityError:  # the same code registered at the same moment by someone else
        return await _list_page(request, db, authority, values=data, status=422,
                                error="Ce code vient d'être pris : choisissez-en un autre.")
    return Redirect(f"/autorite/organisateurs/{organiser.id}?ok=cree", status_code=303)


async def _organiser_page(request: AdminRequest, db: DB, clock: ClockDep, organiser_id: uuid.UUID, *,
                          email: str = "", error: str | None = None, notice: str | None = None,
                          status: int = 200, invitation_link: str | None = None) -> Template:
    authority = await _authority(request, db)
    organiser = await authority_organiser(db, authority.id, organiser_id)
    if organiser is None:
        raise NotFoundException("Organisateur introuvable.")
    notice = (notice or NOTICES.get(request.query_params.get("ok", ""))
              or await cancelled_notice(request, db, [organiser.id]))
    return page(request, "autorite/organisateur.html", status_code=status, section="organisers",
                authority=authority, organiser=organiser, members=await service.organisation_members(db, organiser.id),
                invitations=await service.pending_invitations(db, [organiser.id], clock.now()),
                role_labels=ROLE_LABELS, email=email, error=error, invitation_link=invitation_link, notice=notice)


@get("/autorite/organisateurs/{organiser_id:uuid}", guards=ADMIN, name="authority_organiser")
async def organiser_detail(request: AdminRequest, db: DB, clock: ClockDep,
                           organiser_id: FromPath[uuid.UUID]) -> Template:
    """An organiser: its users, pending invitations, and the form that invites one."""
    return await _organiser_page(request, db, clock, organiser_id)


@post("/autorite/organisateurs/{organiser_id:uuid}/invitations", guards=ADMIN, name="authority_organiser_invite")
async def organiser_invite(request: AdminRequest, db: DB, clock: ClockDep, organiser_id: FromPath[uuid.UUID],
                           data: Annotated[OrganiserInviteForm, FORM]) -> Template:
    """Invite a user into the organiser (role: organiser of events) and mail them the link; without an
    SMTP server the page shows the link for the admin to hand over, as the team pages do."""
    authority = await _authority(request, db)
    if await authority_organiser(db, authority.id, organiser_id) is None:
        raise NotFoundException("Organisateur introuvable.")
    try:
        notice, link = await invite_and_mail(request, db, clock, request.user, organisation_id=organiser_id,
                                             email=data.email, role=Role.ORGANISER.value)
    except DomainError as exc:
        return await _organiser_page(request, db, clock, organiser_id, email=data.email, status=400,
                                     error=sentence(exc.message))
    return await _organiser_page(request, db, clock, organiser_id, notice=notice, invitation_link=link)


@post("/autorite/organisateurs/{organiser_id:uuid}/invitations/{invitation_id:uuid}/annuler", guards=ADMIN,
      name="authority_organiser_invitation_cancel")
async def organiser_invitation_cancel(request: AdminRequest, db: DB, clock: ClockDep,
                                      organiser_id: FromPath[uuid.UUID],
                                      invitation_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Cancel a pending invitation into the organiser: its link stops working at once."""
    authority = await _authority(request, db)
    if await authority_organiser(db, authority.id, organiser_id) is None:
        raise NotFoundException("Organisateur introuvable.")
    refused = await cancel_pending_invitation(request, db, clock, invitation_id=invitation_id,
                                              organisation_ids=[organiser_id])
    if refused:
        return await _organiser_page(request, db, clock, organiser_id, status=409, error=refused)
    return Redirect(f"/autorite/organisateurs/{organiser_id}?annulee={invitation_id}", status_code=303)


ROUTES = [organisers, organiser_create, organiser_detail, organiser_invite, organiser_invitation_cancel]
