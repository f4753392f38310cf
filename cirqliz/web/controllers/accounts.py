"""Accounts: company self-registration, team pages and invitations, password reset, API tokens
(the page where a company creates them), and the development outbox.

Forms re-render with the French message of the refusal; refused changes run inside a savepoint,
so nothing of them is stored.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from cirqliz.clock import Clock
from cirqliz.db.models import Invitation, Organisation, UserAccount
from cirqliz.domain.errors import CompanyIdError, DomainError, NotFound
from cirqliz.domain.organisations import Role
from cirqliz.issuance import accounts as service
from cirqliz.issuance.api_tokens import Scope, create_api_token, organisation_tokens, revoke_api_token
from cirqliz.issuance.mail import Mailer
from cirqliz.issuance.organisations import authority_organiser, authority_organisers
from cirqliz.issuance.passwords import check_password_policy
from cirqliz.settings import DEVELOPMENT, Settings
from cirqliz.web.auth import CurrentUser, home_for, new_session, requires, user_in_session
from cirqliz.web.client import client_host, is_loopback_client
from cirqliz.web.deps import DB, ClockDep
from cirqliz.web.device_cookies import remember_device
from cirqliz.web.i18n import gettext_for, negotiate
from cirqliz.web.labels import ROLE_LABELS
from cirqliz.web.rendering import page
from cirqliz.web.stores import count_hit

PUBLIC = {"exclude_from_auth": True}
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
RESET_PER_IP = 10
RESET_PER_EMAIL = 3
REGISTRATIONS_PER_IP = 10
HOUR = 3600
REGISTERED = ("Un message vient d'être envoyé à l'adresse indiquée : vérifiez votre boîte aux lettres et suivez "
              "ses indications pour vous connecter.")
RESET_SENT = ("Si un compte correspond à cette adresse, un message vient de lui être envoyé avec un lien "
              "valable une heure.")

AUTHORITY_INVITABLE = (Role.REVIEWER, Role.AGENT, Role.AUTHORITY_ADMIN, Role.ORGANISER)


# ---- helpers shared with the API controller --------------------------------------------------


async def over_limit(request: Request, store_name: str, key: str, *, limit: int, window: int) -> bool:
    """Count one hit in a fixed window (app store `store_name`); True once `limit` is exceeded."""
    store = request.app.stores.get(store_name)
    bucket = f"{key}:{int(time.time()) // window}"
    return await count_hit(store, bucket, expires_in=window) > limit


def invitation_sent(request: Request, email: str, *, replaced: bool = False) -> str:
    """« Invitation envoyée à … » in the request's language (the address is not in the catalog), and
    « L'invitation précédente à … a été remplacée » when it replaced a pending one."""
    _ = gettext_for(negotiate(request))
    text = _("Invitation envoyée à %(email)s.") % {"email": email}
    if replaced:
        text += " " + _("L'invitation précédente à %(email)s a été remplacée : son lien ne fonctionne plus.") % {
            "email": email}
    return text


def invitation_cancelled(request: Request, email: str) -> str:
    """« Invitation à … annulée » in the request's language."""
    return gettext_for(negotiate(request))("Invitation à %(email)s annulée : son lien ne fonctionne plus.") % {
        "email": email}


def settings_of(request: Request) -> Settings:
    """The application's settings."""
    return request.app.state.settings


def mailer_of(request: Request) -> Mailer:
    """The mailer for the application's settings."""
    return Mailer.for_settings(settings_of(request))


def _sign_in(request: Request, user: UserAccount, clock: Clock) -> None:
    request.clear_session()  # a fresh session (no fixation)
    request.set_session(new_session(user, clock.now()))


# ---- registration ----------------------------------------------------------------------------


@dataclass
class RegistrationForm:
    """The company registration form."""

    company_name: str = ""
    company_id: str = ""
    display_name: str = ""
    email: str = ""
    password: str = ""
    password_again: str = ""


PASSWORD, PASSWORD_AGAIN = "password", "password_again"
# Which field a refusal of the registration service is about (others are shown above the form).
FIELD_OF_CODE = {
    "invalid_company_name": "company_name",
    "company_exists": "company_id",
    "invalid_display_name": "display_name",
    "invalid_email": "email",
    "weak_password": PASSWORD,
}


def registration_problems(form: RegistrationForm) -> dict[str, str]:
    """Every problem of the form at once, by field (French sentences); empty when it can be sent to
    the registration service (which checks the same rules again, and what needs the database)."""
    problems: dict[str, str] = {}
    name = form.company_name.strip()
    if not name or len(name) > 200:
        problems["company_name"] = "Indiquez la raison sociale de l'entreprise (200 caractères au plus)."
    try:
        service.parse_company_id(form.company_id)
    except DomainError as exc:
        problems["company_id"] = sentence(exc.message)
    person = form.display_name.strip()
    if not person or len(person) > 200:
        problems["display_name"] = "Indiquez vos prénom et nom (200 caractères au plus)."
    if not form.email.strip():
        problems["email"] = "Indiquez votre adresse électronique."
    else:
        try:
            service.normalise_email(form.email)
        except DomainError:
            problems["email"] = "Adresse électronique invalide : elle s'écrit nom@domaine.fr."
    if not form.password:
        problems[PASSWORD] = "Choisissez un mot de passe."
    else:
        try:
            check_password_policy(form.password)
        except DomainError as exc:
            problems[PASSWORD] = sentence(exc.message)
    if form.password and form.password != form.password_again:
        problems[PASSWORD_AGAIN] = "Les deux mots de passe ne sont pas identiques."
    elif not form.password_again:
        problems[PASSWORD_AGAIN] = "Saisissez le mot de passe une seconde fois."
    return problems


def _registration_page(request: Request, form: RegistrationForm, error: str | None, status: int = 200,
                       problems: dict[str, str] | None = None) -> Template:
    values = {k: v for k, v in form.__dict__.items() if "password" not in k}  # passwords are never sent back
    return page(request, "comptes/inscription.html", status_code=status, form=values, error=error,
                problems=problems or {})


@get("/inscription", opt=PUBLIC, name="register")
async def register_form(request: Request) -> Template:
    """The registration form for a company."""
    return _registration_page(request, RegistrationForm(), None)


@post("/inscription", opt=PUBLIC, name="register_submit")
async def register_submit(
    request: Request, db: DB, clock: ClockDep, data: Annotated[RegistrationForm, FORM],
) -> Response[Any]:
    """Create the company and its first user in one transaction and mail them. The answer is the same
    when the address already has an account (its owner gets a mail instead): no account enumeration."""
    if await over_limit(request, "registrations", client_host(request), limit=REGISTRATIONS_PER_IP, window=HOUR):
        return _registration_page(request, data, "Trop d'inscriptions depuis cette adresse : réessayez plus tard.",
                                  429)
    problems = registration_problems(data)
    if problems:
        return _registration_page(request, data, None, 400, problems)
    mailer = mailer_of(request)
    try:
        async with db.begin_nested():
            created = await service.register_company(
                db, company_name=data.company_name, company_id=data.company_id, display_name=data.display_name,
                email=data.email, password=data.password, clock=clock,
            )
    except service.AddressTaken as taken:
        # Capped per address, as reset links are: the form must not become a way to flood someone's mailbox.
        if not await over_limit(request, "registrations", f"email:{taken.user.email}", limit=RESET_PER_EMAIL,
                                window=HOUR):
            mailer.send_after_commit(db, mailer.compose("account_exists", to=taken.user.email, user=taken.user))
    except DomainError as exc:
        field = "company_id" if isinstance(exc, CompanyIdError) else FIELD_OF_CODE.get(exc.code or "")
        if field:
            return _registration_page(request, data, None, 400, {field: sentence(exc.message)})
        return _registration_page(request, data, sentence(exc.message), 400)
    else:
        mailer.send_after_commit(db, mailer.compose("welcome", to=created.user.email, user=created.user,
                                                    organisation=created.organisation))
    return page(request, "comptes/message.html", title="Vérifiez votre boîte aux lettres", message=REGISTERED,
                link="/connexion", link_label="Se connecter")


def sentence(message: str) -> str:
    """A service message as a sentence on a page (capital letter, final full stop)."""
    text = message.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# ---- password reset --------------------------------------------------------------------------


@get("/mot-de-passe-oublie", opt=PUBLIC, name="password_forgotten")
async def forgotten_form(request: Request) -> Template:
    """Ask for a reset link."""
    return page(request, "comptes/mot_de_passe_oublie.html", sent=False, error=None, email="")


@dataclass
class ForgottenForm:
    """The address that forgot its password."""

    email: str = ""


@post("/mot-de-passe-oublie", opt=PUBLIC, name="password_forgotten_submit")
async def forgotten_submit(
    request: Request, db: DB, clock: ClockDep, data: Annotated[ForgottenForm, FORM],
) -> Template:
    """Always the same answer, whether the address has an account or not (rate limited)."""
    email = data.email.strip().lower()
    if await over_limit(request, "password_resets", f"ip:{client_host(request)}", limit=RESET_PER_IP, window=HOUR):
        return page(request, "comptes/mot_de_passe_oublie.html", status_code=429, sent=False, email=email,
                    error="Trop de demandes depuis cette adresse : réessayez dans une heure.")
    quiet = await over_limit(request, "password_resets", f"email:{email}", limit=RESET_PER_EMAIL, window=HOUR)
    if not quiet:
        settings = settings_of(request)
        found = await service.request_password_reset(db, email=email, clock=clock, secret_key=settings.secret_key)
        if found is not None:
            user, token = found
            mailer = mailer_of(request)
            mailer.send_after_commit(db, mailer.compose(
                "password_reset", to=user.email, user=user,
                link=f"{settings.base_url.rstrip('/')}/mot-de-passe/{token}",
                expires_at=clock.now() + service.RESET_TTL))
    return page(request, "comptes/mot_de_passe_oublie.html", sent=True, error=None, email="")


@get("/mot-de-passe/{token:str}", opt=PUBLIC, name="password_reset")
async def reset_form(request: Request, db: DB, clock: ClockDep, token: FromPath[str]) -> Template:
    """Choose a new password (if the link is still good)."""
    try:
        await service.open_password_reset(db, token=token, clock=clock, secret_key=settings_of(request).secret_key)
    except DomainError as exc:
        return page(request, "comptes/mot_de_passe.html", status_code=400, token=None, error=sentence(exc.message))
    return page(request, "comptes/mot_de_passe.html", token=token, error=None)


@dataclass
class NewPasswordForm:
    """A new password, twice."""

    password: str = ""
    password_again: str = ""


@post("/mot-de-passe/{token:str}", opt=PUBLIC, name="password_reset_submit")
async def reset_submit(
    request: Request, db: DB, clock: ClockDep, token: FromPath[str], data: Annotated[NewPasswordForm, FORM],
) -> Template:
    """Set the new password; the link is spent."""
    if data.password != data.password_again:
        return page(request, "comptes/mot_de_passe.html", status_code=400, token=token,
                    error="Les deux mots de passe ne sont pas identiques.")
    try:
        async with db.begin_nested():
            user = await service.reset_password(db, token=token, password=data.password, clock=clock,
                                                secret_key=settings_of(request).secret_key)
    except service.TokenError as exc:
        return page(request, "comptes/mot_de_passe.html", status_code=400, token=None, error=sentence(exc.message))
    except DomainError as exc:
        return page(request, "comptes/mot_de_passe.html", status_code=400, token=token, error=sentence(exc.message))
    request.clear_session()  # reset_password raised the session version: every session of the user ended
    done = page(request, "comptes/message.html", title="Mot de passe modifié",
                message="Votre mot de passe a été modifié : vos autres sessions ont été fermées. "
                        "Vous pouvez vous connecter.", link="/connexion",
                link_label="Se connecter")
    # The link proved the mailbox: this browser is trusted, so a lock-out of the account cannot keep
    # its owner out after a reset (web/device_cookies.py).
    remember_device(request, done, user.email, clock.now())
    return done


# ---- invitations -----------------------------------------------------------------------------


@dataclass
class AcceptForm:
    """The invitee's name and password."""

    display_name: str = ""
    password: str = ""
    password_again: str = ""


async def _invitation_page(request: Request, db: DB, clock: ClockDep, token: FromPath[str], *, error: str | None = None,
                           status: int = 200, display_name: str = "") -> Template:
    try:
        invitation = await service.open_invitation(db, token=token, clock=clock,
                                                   secret_key=settings_of(request).secret_key)
    except DomainError as exc:
        return page(request, "comptes/invitation.html", status_code=400, invitation=None, error=sentence(exc.message))
    organisation = await db.get(Organisation, invitation.organisation_id)
    existing = await service.existing_account(db, invitation.email)
    return page(request, "comptes/invitation.html", status_code=status, invitation=invitation, token=token,
                organisation=organisation, role_label=ROLE_LABELS.get(invitation.role, invitation.role),
                existing=existing is not None, error=error, display_name=display_name)


@get("/invitation/{token:str}", opt=PUBLIC, name="invitation")
async def invitation_form(request: Request, db: DB, clock: ClockDep, token: FromPath[str]) -> Template:
    """The invitation: who invites, to what; the form to join."""
    return await _invitation_page(request, db, clock, token)


@post("/invitation/{token:str}", opt=PUBLIC, name="invitation_accept")
async def invitation_accept(
    request: Request, db: DB, clock: ClockDep, token: FromPath[str], data: Annotated[AcceptForm, FORM],
) -> Response[Any]:
    """Join the organisation, then sign in."""
    existing = False
    try:
        invitation = await service.open_invitation(db, token=token, clock=clock,
                                                   secret_key=settings_of(request).secret_key)
        existing = await service.existing_account(db, invitation.email) is not None
    except DomainError:
        pass
    if not existing and data.password != data.password_again:
        return await _invitation_page(request, db, clock, token, status=400, display_name=data.display_name,
                                      error="Les deux mots de passe ne sont pas identiques.")
    try:
        async with db.begin_nested():
            user = await service.accept_invitation(db, token=token, display_name=data.display_name,
                                                   password=data.password, clock=clock,
                                                   secret_key=settings_of(request).secret_key)
    except DomainError as exc:
        return await _invitation_page(request, db, clock, token, status=400, display_name=data.display_name,
                                      error=sentence(exc.message))
    current = await user_in_session(db, user.id)
    _sign_in(request, user, clock)
    response = Redirect(home_for(current) if current else "/", status_code=303)
    # The link proved the mailbox and the person is now signed in, as after a sign-in: this browser is
    # trusted, so a lock-out of the account cannot keep them out of it (web/device_cookies.py).
    remember_device(request, response, user.email, clock.now())
    return response


@dataclass
class InviteForm:
    """Whom to invite, with which role (authority page), into which organiser (organiser role)."""

    email: str = ""
    role: str = ""
    organisation_id: str = ""


async def invite_and_mail(request: Request, db: DB, clock: ClockDep, user: CurrentUser, *,
                          organisation_id: uuid.UUID, email: str, role: str) -> tuple[str, str | None]:
    """Invite (in a savepoint; a pending invitation of the address into the organisation is replaced)
    and queue the e-mail; returns the notice for the page (« Invitation envoyée à … », and « …
    remplacée ») and, when no SMTP server is configured (the mail only reaches the outbox folder), the
    link for the inviter to hand over, as `cirqliz user invite` prints it; None when the mail really leaves."""
    settings = settings_of(request)
    async with db.begin_nested():
        invited = await service.invite_member(
            db, organisation_id=organisation_id, email=email, role=role, invited_by=user.id, clock=clock,
            secret_key=settings.secret_key)
    invitation, token = invited
    organisation = await db.get(Organisation, organisation_id)
    mailer = mailer_of(request)
    link = f"{settings.base_url.rstrip('/')}/invitation/{token}"
    mailer.send_after_commit(db, mailer.compose(
        "invitation", to=invitation.email, inviter=user.display_name, organisation=organisation,
        role_label=ROLE_LABELS.get(invitation.role, invitation.role), expires_at=invitation.expires_at, link=link))
    notice = invitation_sent(request, invitation.email, replaced=bool(invited.replaced))
    return notice, link if mailer.uses_outbox else None


async def cancel_pending_invitation(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep, *,
                                    invitation_id: uuid.UUID, organisation_ids: list[uuid.UUID]) -> str | None:
    """Cancel an invitation into one of `organisation_ids` (the page's team) in a savepoint. None when
    done; the French refusal otherwise (already accepted or cancelled); 404 for an invitation outside
    the team, exactly like an unknown one."""
    try:
        async with db.begin_nested():
            await service.cancel_invitation(db, invitation_id=invitation_id, actor_id=request.user.id, clock=clock,
                                            organisation_ids=organisation_ids)
    except NotFound as exc:
        raise NotFoundException("Invitation introuvable.") from exc
    except DomainError as exc:
        return sentence(exc.message)
    return None


async def cancelled_notice(request: Request, db: DB, organisation_ids: list[uuid.UUID]) -> str | None:
    """The notice after a cancellation (?annulee=ID): the address comes from the database, only for an
    invitation of the page's team that is cancelled; never reflected input."""
    try:
        invitation_id = uuid.UUID(request.query_params.get("annulee", ""))
    except ValueError:
        return None
    invitation = await db.get(Invitation, invitation_id)
    if invitation is None or invitation.cancelled_at is None or invitation.organisation_id not in organisation_ids:
        return None
    return invitation_cancelled(request, invitation.email)


# Shown after a redirect (?ok=…): fixed texts, never reflected input. The same text whether or not
# the account was disabled, which would tell whether the person has roles elsewhere.
TEAM_NOTICES = {"retire": "Membre retiré de l'équipe : toutes ses sessions ont été fermées."}


def _team_base(authority: bool) -> str:
    """The path of the team page: the authority's or the company's."""
    return "/autorite/equipe" if authority else "/pro/equipe"


async def _team_page(request: Request, db: DB, clock: ClockDep, *, organisation_id: uuid.UUID, authority: bool,
                     error: str | None = None, notice: str | None = None, status: int = 200,
                     invitation_link: str | None = None) -> Template:
    organisation = await db.get(Organisation, organisation_id)
    groups = [(organisation, await service.organisation_members(db, organisation_id))]
    organisers: list[Organisation] = []
    if authority:
        organisers = await authority_organisers(db, organisation_id)
        for org in organisers:
            groups.append((org, await service.organisation_members(db, org.id)))
    ids = [org.id for org, _ in groups]
    invitations = await service.pending_invitations(db, ids, clock.now())
    names = {org.id: org.name for org, _ in groups}
    base = _team_base(authority)
    notice = notice or TEAM_NOTICES.get(request.query_params.get("ok", "")) or await cancelled_notice(request, db, ids)
    return page(request, "comptes/equipe.html", status_code=status, organisation=organisation, groups=groups,
                invitations=invitations, org_names=names, role_labels=ROLE_LABELS, authority=authority,
                roles=[(r.value, ROLE_LABELS[r.value]) for r in AUTHORITY_INVITABLE], organisers=organisers,
                error=error, notice=notice, action=base, invitation_link=invitation_link)


async def _cancel_on_team_page(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep, *,
                               invitation_id: uuid.UUID, organisation_id: uuid.UUID, scope: list[uuid.UUID],
                               authority: bool) -> Response[Any]:
    """Cancel an invitation into `scope` (the team page's organisations) from the team page of
    `organisation_id`: back to that page with the notice (303), or the page with the refusal (409);
    404 outside `scope`."""
    refused = await cancel_pending_invitation(request, db, clock, invitation_id=invitation_id, organisation_ids=scope)
    if refused:
        return await _team_page(request, db, clock, organisation_id=organisation_id, authority=authority, status=409,
                                error=refused)
    return Redirect(f"{_team_base(authority)}?annulee={invitation_id}", status_code=303)


@get("/pro/equipe", guards=[requires(Role.PROFESSIONAL)], name="pro_team")
async def pro_team(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep) -> Template:
    """The company's members and pending invitations; invite a colleague."""
    org_id = request.user.organisation_for(Role.PROFESSIONAL)
    return await _team_page(request, db, clock, organisation_id=org_id, authority=False)


@post("/pro/equipe", guards=[requires(Role.PROFESSIONAL)], name="pro_team_invite")
async def pro_team_invite(
    request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep, data: Annotated[InviteForm, FORM],
) -> Template:
    """Invite a colleague into the company (role: professional)."""
    org_id = request.user.organisation_for(Role.PROFESSIONAL)
    try:
        notice, link = await invite_and_mail(request, db, clock, request.user, organisation_id=org_id,
                                             email=data.email, role=Role.PROFESSIONAL.value)
    except DomainError as exc:
        return await _team_page(request, db, clock, organisation_id=org_id, authority=False, status=400,
                                error=sentence(exc.message))
    return await _team_page(request, db, clock, organisation_id=org_id, authority=False, notice=notice,
                            invitation_link=link)


@post("/pro/equipe/invitations/{invitation_id:uuid}/annuler", guards=[requires(Role.PROFESSIONAL)],
      name="pro_team_invitation_cancel")
async def pro_team_invitation_cancel(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep,
                                     invitation_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Cancel a pending invitation into the company: its link stops working at once."""
    org_id = request.user.organisation_for(Role.PROFESSIONAL)
    return await _cancel_on_team_page(request, db, clock, invitation_id=invitation_id, organisation_id=org_id,
                                      scope=[org_id], authority=False)


@get("/autorite/equipe", guards=[requires(Role.AUTHORITY_ADMIN)], name="authority_team")
async def authority_team(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep) -> Template:
    """The authority's members, the organisers' users, pending invitations; invite someone."""
    org_id = request.user.organisation_for(Role.AUTHORITY_ADMIN)
    return await _team_page(request, db, clock, organisation_id=org_id, authority=True)


@post("/autorite/equipe", guards=[requires(Role.AUTHORITY_ADMIN)], name="authority_team_invite")
async def authority_team_invite(
    request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep, data: Annotated[InviteForm, FORM],
) -> Template:
    """Invite a reviewer, an agent or an administrator into the authority, or a user into an organiser."""
    org_id = request.user.organisation_for(Role.AUTHORITY_ADMIN)
    target = org_id
    try:
        if data.role not in {r.value for r in AUTHORITY_INVITABLE}:
            raise DomainError("choisissez un rôle dans la liste", code="invalid_role")
        if data.role == Role.ORGANISER.value:
            try:
                target = uuid.UUID(data.organisation_id)
            except ValueError as exc:
                raise DomainError("choisissez l'organisateur d'événements", code="no_organiser") from exc
            # Another authority's organiser reads like an unknown one: its existence is not confirmed.
            if await authority_organiser(db, org_id, target) is None:
                raise DomainError("choisissez l'organisateur d'événements", code="no_organiser")
        notice, link = await invite_and_mail(request, db, clock, request.user, organisation_id=target,
                                             email=data.email, role=data.role)
    except DomainError as exc:
        return await _team_page(request, db, clock, organisation_id=org_id, authority=True, status=400,
                                error=sentence(exc.message))
    return await _team_page(request, db, clock, organisation_id=org_id, authority=True, notice=notice,
                            invitation_link=link)


@post("/autorite/equipe/invitations/{invitation_id:uuid}/annuler", guards=[requires(Role.AUTHORITY_ADMIN)],
      name="authority_team_invitation_cancel")
async def authority_team_invitation_cancel(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep,
                                           invitation_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Cancel a pending invitation into the authority or one of its organisers."""
    org_id = request.user.organisation_for(Role.AUTHORITY_ADMIN)
    team = await db.get(Organisation, org_id)
    scope = [org.id for org in await service.team_organisations(db, team)] if team else []
    return await _cancel_on_team_page(request, db, clock, invitation_id=invitation_id, organisation_id=org_id,
                                      scope=scope, authority=True)


# ---- removing a member (a lost phone, someone who left) ---------------------------------------


async def _removal_page(request: Request, db: DB, *, team_id: uuid.UUID, user_id: uuid.UUID, base: str,
                        error: str | None = None, status: int = 200) -> Template:
    """Who is removed and which roles go; 404 for someone outside the team (like an unknown id)."""
    team = await db.get(Organisation, team_id)
    rows = await service.team_memberships(db, team, user_id) if team else []
    person = await db.get(UserAccount, user_id) if rows else None
    if person is None:
        raise NotFoundException("Membre introuvable.")
    roles = [(org.name, ROLE_LABELS.get(m.role, m.role)) for m, org in rows]
    return page(request, "comptes/retirer.html", status_code=status, team=team, person=person, roles=roles,
                action=f"{base}/{user_id}/retirer", back=base, myself=person.id == request.user.id, error=error,
                authority=base.startswith("/autorite/"))


async def _remove(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep, *, team_id: uuid.UUID,
                  user_id: uuid.UUID, base: str) -> Response[Any]:
    """Remove the member in a savepoint; back to the team page, or to sign-in after removing oneself."""
    try:
        async with db.begin_nested():
            removal = await service.remove_member(db, team_id=team_id, user_id=user_id, actor_id=request.user.id,
                                                  clock=clock)
    except NotFound as exc:
        raise NotFoundException("Membre introuvable.") from exc
    except DomainError as exc:
        return await _removal_page(request, db, team_id=team_id, user_id=user_id, base=base, status=422,
                                   error=sentence(exc.message))
    # The person's API tokens were revoked: this process's token cache forgets them now, and once
    # more after the commit (a background task runs after the response, so after the request's
    # transaction), in case a request with one of them cached it again in between.
    forget = _forget_tokens(removal.revoked_token_ids)
    if removal.user.id == request.user.id:
        request.clear_session()  # the session version was raised: this session has ended too
        return Redirect("/connexion", status_code=303, background=forget)
    return Redirect(f"{base}?ok=retire", status_code=303, background=forget)


def _forget_tokens(token_ids: tuple[uuid.UUID, ...]) -> BackgroundTask | None:
    """Drop revoked tokens from this process's API token cache now; the task does it again later."""
    from cirqliz.web.controllers.api import forget_token  # api imports this module

    def forget() -> None:
        for token_id in token_ids:
            forget_token(token_id)

    if not token_ids:
        return None
    forget()
    return BackgroundTask(forget)


@get("/autorite/equipe/{user_id:uuid}/retirer", guards=[requires(Role.AUTHORITY_ADMIN)],
     name="authority_team_remove_form")
async def authority_team_remove_form(request: Request[CurrentUser, Any, Any], db: DB,
                                     user_id: FromPath[uuid.UUID]) -> Template:
    """Confirm removing a member of the authority or of one of its organisers."""
    return await _removal_page(request, db, team_id=request.user.organisation_for(Role.AUTHORITY_ADMIN),
                               user_id=user_id, base="/autorite/equipe")


@post("/autorite/equipe/{user_id:uuid}/retirer", guards=[requires(Role.AUTHORITY_ADMIN)],
      name="authority_team_remove")
async def authority_team_remove(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep,
                                user_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Remove the member from the authority and its organisers; their sessions end at once."""
    return await _remove(request, db, clock, team_id=request.user.organisation_for(Role.AUTHORITY_ADMIN),
                         user_id=user_id, base="/autorite/equipe")


@get("/pro/equipe/{user_id:uuid}/retirer", guards=[requires(Role.PROFESSIONAL)], name="pro_team_remove_form")
async def pro_team_remove_form(request: Request[CurrentUser, Any, Any], db: DB,
                               user_id: FromPath[uuid.UUID]) -> Template:
    """Confirm removing a colleague from the company."""
    return await _removal_page(request, db, team_id=request.user.organisation_for(Role.PROFESSIONAL),
                               user_id=user_id, base="/pro/equipe")


@post("/pro/equipe/{user_id:uuid}/retirer", guards=[requires(Role.PROFESSIONAL)], name="pro_team_remove")
async def pro_team_remove(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep,
                          user_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Remove a colleague from the company; their sessions end at once."""
    return await _remove(request, db, clock, team_id=request.user.organisation_for(Role.PROFESSIONAL),
                         user_id=user_id, base="/pro/equipe")


# ---- API tokens (page of the professional area) ----------------------------------------------


async def _tokens_page(request: Request[CurrentUser, Any, Any], db: DB, *, new_token: str | None = None,
                       error: str | None = None, status: int = 200, name: str = "") -> Template:
    org_id = request.user.organisation_for(Role.PROFESSIONAL)
    return page(request, "comptes/api_tokens.html", status_code=status, tokens=await organisation_tokens(db, org_id),
                scopes=[(s.value, s.label_fr) for s in Scope], new_token=new_token, error=error, name=name,
                base_url=settings_of(request).base_url.rstrip("/"))


@get("/pro/api", guards=[requires(Role.PROFESSIONAL)], name="pro_api_tokens")
async def api_tokens(request: Request[CurrentUser, Any, Any], db: DB) -> Template:
    """The company's API tokens."""
    return await _tokens_page(request, db)


@post("/pro/api", guards=[requires(Role.PROFESSIONAL)], name="pro_api_token_create")
async def api_token_create(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep) -> Template:
    """Create a token and show it once."""
    form = await request.form()
    name = str(form.get("name") or "")
    scopes = [str(v) for v in form.getall("scopes")] if "scopes" in form else []
    org_id = request.user.organisation_for(Role.PROFESSIONAL)
    try:
        async with db.begin_nested():
            _, token = await create_api_token(db, organisation_id=org_id, name=name, scopes=scopes,
                                              created_by=request.user.id, clock=clock)
    except DomainError as exc:
        return await _tokens_page(request, db, error=sentence(exc.message), status=400, name=name)
    return await _tokens_page(request, db, new_token=token)


@post("/pro/api/{token_id:uuid}/revoquer", guards=[requires(Role.PROFESSIONAL)], name="pro_api_token_revoke")
async def api_token_revoke(request: Request[CurrentUser, Any, Any], db: DB, clock: ClockDep,
                           token_id: FromPath[uuid.UUID]) -> Redirect:
    """Revoke a token (requests with it get 401 at once)."""
    from cirqliz.web.controllers.api import forget_token  # api imports this module

    await revoke_api_token(db, organisation_id=request.user.organisation_for(Role.PROFESSIONAL), token_id=token_id,
                           actor_id=request.user.id, clock=clock)
    forget_token(token_id)
    return Redirect("/pro/api", status_code=303)


# ---- development outbox ----------------------------------------------------------------------


@get("/dev/outbox", opt=PUBLIC, name="dev_outbox")
async def dev_outbox(request: Request) -> Template:
    """The e-mails written to the outbox: reset and invitation links, so development only and for a
    browser on this host only (404 otherwise)."""
    if settings_of(request).env != DEVELOPMENT or not is_loopback_client(request):
        raise NotFoundException()
    mailer = mailer_of(request)
    return page(request, "comptes/outbox.html", messages=mailer.outbox(), smtp=not mailer.uses_outbox,
                outbox_dir=str(mailer.outbox_dir))


ROUTES = [
    register_form, register_submit, forgotten_form, forgotten_submit, reset_form, reset_submit,
    invitation_form, invitation_accept, pro_team, pro_team_invite, authority_team, authority_team_invite,
    pro_team_invitation_cancel, authority_team_invitation_cancel,
    authority_team_remove_form, authority_team_remove, pro_team_remove_form, pro_team_remove,
    api_tokens, api_token_create, api_token_revoke, dev_outbox,
]
