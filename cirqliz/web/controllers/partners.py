"""Partner authorities (issue 19): the admin pages and the relay scanners fetch partner bundles from.

    GET  /autorite/partenaires                        the authority's own root fingerprint, its partners
                                                      and the form that adds one (authority admins)
    POST /autorite/partenaires                        add a partner (fingerprint checked, bundle verified)
    POST /autorite/partenaires/{id}/retrait           remove a partner (confirmed)
    GET  /scan/partenaires/{iss}.cose                 a partner's bundle for the agents of an authority
                                                      that has this partner (`?since=SEQ`: 204 when held)

Adding or removing publishes the authority's bundle again in the same transaction (the next sync
lists the change), audited as entity "partner". Every query is scoped to the user's authority.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from cirqliz.clock import to_epoch
from cirqliz.db.models import Organisation
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.issuance import partners as service
from cirqliz.web.auth import CurrentUser, requires
from cirqliz.web.controllers.accounts import sentence
from cirqliz.web.deps import DB, ClockDep, SignerDep
from cirqliz.web.rendering import page

ADMIN = [requires(Role.AUTHORITY_ADMIN)]
AGENT = [requires(Role.AGENT)]
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
COSE_MEDIA_TYPE = "application/cose"
NOTICES = {
    "ajoute": "Partenaire ajouté : les données de confiance sont publiées à nouveau, les agents accepteront ses "
              "laissez-passer après leur prochaine synchronisation.",
    "retire": "Partenaire retiré : les données de confiance sont publiées à nouveau, les agents refuseront ses "
              "laissez-passer après leur prochaine synchronisation.",
}
AdminRequest = Request[CurrentUser, Any, Any]


@dataclass
class PartnerForm:
    """A new partner: name, bundle address, root key PEM (optional), fingerprint read out by phone."""

    name: str = ""
    bundle_url: str = ""
    root_pem: str = ""
    fingerprint: str = ""


@dataclass
class RemoveForm:
    """Removal of a partner, confirmed."""

    confirm: str = ""


async def _authority(request: AdminRequest, db: DB, role: Role = Role.AUTHORITY_ADMIN) -> Organisation:
    """The user's authority for `role` (403 when that organisation is not an authority)."""
    org = await db.get(Organisation, request.user.organisation_for(role))
    if org is None or org.kind != OrganisationKind.AUTHORITY.value:
        raise PermissionDeniedException("Cette page est réservée aux autorités.")
    return org


def _age_minutes(clock: Any, when: Any) -> int | None:
    if when is None:
        return None
    return max(0, int((clock.now() - when).total_seconds()) // 60)


async def _list_page(request: AdminRequest, db: DB, clock: Any, signer: Any, authority: Organisation, *,
                     values: PartnerForm | None = None, error: str | None = None, status: int = 200) -> Template:
    rows = await service.list_partners(db, authority.id, signer=signer)
    ages = {row.partner.id: _age_minutes(clock, row.fetched_at) for row in rows}
    return page(request, "autorite/partenaires.html", status_code=status, section="partners", authority=authority,
                rows=rows, ages=ages, own_fingerprint=service.own_root_fingerprint(signer, authority.code),
                own_bundle_url=f"{str(request.base_url).rstrip('/')}/bundle/{authority.code}.cose",
                values=values or PartnerForm(), error=error,
                notice=NOTICES.get(request.query_params.get("ok", "")))


@get("/autorite/partenaires", guards=ADMIN, name="authority_partners")
async def partners_page(request: AdminRequest, db: DB, clock: ClockDep, signer: SignerDep) -> Template:
    """The authority's root fingerprint, its partners and the form that adds one."""
    return await _list_page(request, db, clock, signer, await _authority(request, db))


@post("/autorite/partenaires", guards=ADMIN, name="authority_partner_add")
async def partner_add(request: AdminRequest, db: DB, clock: ClockDep, signer: SignerDep,
                      data: Annotated[PartnerForm, FORM]) -> Response[Any]:
    """Add a partner: its root key's fingerprint must match what the partner read out, its bundle must
    verify with that key; nothing is stored otherwise (400 with the form kept)."""
    authority = await _authority(request, db)
    try:
        async with db.begin_nested():
            await service.add_partner(
                db, authority_id=authority.id, name=data.name, bundle_url=data.bundle_url, root_pem=data.root_pem,
                fingerprint=data.fingerprint, actor_id=request.user.id, clock=clock, signer=signer,
                fetch=service.fetcher(request.app.state.settings))
    except DomainError as exc:
        return await _list_page(request, db, clock, signer, authority, values=data, error=sentence(exc.message),
                                status=400)
    return Redirect("/autorite/partenaires?ok=ajoute", status_code=303)


@post("/autorite/partenaires/{partner_id:uuid}/retrait", guards=ADMIN, name="authority_partner_remove")
async def partner_remove(request: AdminRequest, db: DB, clock: ClockDep, signer: SignerDep,
                         partner_id: FromPath[uuid.UUID], data: Annotated[RemoveForm, FORM]) -> Response[Any]:
    """Remove a partner of the authority (after confirmation); another authority's answers 404."""
    authority = await _authority(request, db)
    await service.partner_of(db, authority.id, partner_id)  # another authority's: a French 404
    if data.confirm != "oui":
        return await _list_page(request, db, clock, signer, authority, status=400,
                                error="Cochez la case de confirmation pour retirer ce partenaire.")
    await service.remove_partner(db, authority_id=authority.id, partner_id=partner_id, actor_id=request.user.id,
                                 clock=clock, signer=signer)
    return Redirect("/autorite/partenaires?ok=retire", status_code=303)


_EXPOSED = "ETag, X-Bundle-Seq, X-Bundle-Kind, X-Server-Time"


@get("/scan/partenaires/{name:str}", guards=AGENT, name="scanner_partner_bundle")
async def partner_bundle(request: AdminRequest, db: DB, signer: SignerDep, name: FromPath[str],
                         since: FromQuery[int | None] = None) -> Response[bytes]:
    """`/scan/partenaires/<iss>.cose`: the latest bundle of a partner of the agent's authority (the one
    published here for a local partner, the last one accepted for a remote one). `?since=SEQ` answers
    204 when the agent already holds it; ETag and 304 as the bundle files."""
    iss, dot, extension = name.rpartition(".")
    if not dot or extension != "cose" or not iss:
        raise NotFoundException("Fichier inconnu.")
    authority = await _authority(request, db, Role.AGENT)
    found = await service.partner_bundle_for(db, signer, authority.id, iss)
    if found is None:
        raise NotFound("Cette autorité n'est pas partenaire de la vôtre, ou aucun paquet n'a encore été reçu "
                       "d'elle.", code="not_a_partner")
    clock = request.app.state.clock
    tag = "local" if found.local else "relais"
    etag = f'"{tag}-{found.iss}-{found.seq}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Bundle-Seq": str(found.seq), "X-Bundle-Kind": "full",
               "X-Server-Time": str(to_epoch(clock.now())), "Access-Control-Expose-Headers": _EXPOSED}
    if since is not None and since == found.seq:
        return Response(b"", status_code=204, headers=headers)
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    body = found.data
    if body is None and found.path is not None:
        try:
            body = found.path.read_bytes()
        except OSError:
            body = None
    if body is None:
        raise NotFound("Aucun paquet publié pour ce partenaire.", code="not_a_partner")
    return Response(body, media_type=COSE_MEDIA_TYPE, headers=headers)


ROUTES = [partners_page, partner_add, partner_remove, partner_bundle]
