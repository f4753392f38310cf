"""E-mail: compose from templates (French), send by SMTP or write to the outbox, notify people.

- `Mailer.for_settings(settings)`: SMTP with STARTTLS when `smtp_host` is set; otherwise every
  message is written as an .eml file under `outbox_dir` (and shown on /dev/outbox in development).
- `send_after_commit(session, message)`: the message leaves only if the caller's transaction
  commits (a refused or rolled-back change sends nothing).
- `notify_application_change(session, application_id, settings=...)`: call it after a service that
  changed an application's status, in the same transaction.
- `notify_event_submitted(session, event_id, settings=...)`: after an organiser submits an event.
- `send_expiry_reminders(session, now, days=7, settings=...)`: once per pass, remembered in
  `sent_notification` (safe to run again and in several processes).
- `notify_pass_status(session, access_pass, reason=..., settings=...)`: the holder company's people
  learn that a pass was suspended, reinstated or revoked, and why.
- `application_reference(id)`: the one reference of an application, in pages and e-mails alike.

Mail templates live in cirqliz/web/templates/mail/: `{% set subject = ... %}` then the body.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import event, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.models import (
    AccessPass,
    Application,
    ApplicationTransitionRecord,
    Event,
    EventApproval,
    Membership,
    Organisation,
    SentNotification,
    TemporaryZone,
    UserAccount,
    Vehicle,
    window_from_json,
)
from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.errors import DomainError
from cirqliz.domain.hours_form import describe_period, describe_windows
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.plates import parse_plate
from cirqliz.domain.purposes import purpose_label
from cirqliz.settings import Settings

log = logging.getLogger("cirqliz.mail")

MAIL_TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates" / "mail"
PARIS = ZoneInfo("Europe/Paris")
_PENDING = "cirqliz_pending_mail"
_HOOKED = "cirqliz_mail_hooked"
_smtp_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cirqliz-smtp")


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """An e-mail written to the outbox, as read back for the development page and tests."""

    name: str
    to: str
    subject: str
    date: str
    body: str


def _local(value: datetime | None) -> str:
    """A date and time as people in France read it (Europe/Paris)."""
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if value else ""


def _day(value: datetime | None) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y") if value else ""


def _period(start: datetime, end: datetime) -> str:
    """A period phrased as on the pages (one wording: describe_period): 'du 24/11/2026 au
    10/12/2026 inclus' for whole local days, else 'le 24/11/2026 de 9 h à 18 h'."""
    return describe_period(start, end, "Europe/Paris")


def _hours(windows: Sequence[Any] | None) -> str:
    """A pass's own hours as on the pages ('lun.–ven. 7 h–11 h'); '' when it has none."""
    items = [window_from_json(w) if isinstance(w, dict) else w for w in windows or ()]
    return describe_windows(items) if items else ""


def plate_display(value: str) -> str:
    """A stored plate as people read it ('AB123CD' → 'AB-123-CD'); unreadable values unchanged."""
    try:
        return parse_plate(value).display
    except DomainError:
        return value


def application_reference(application_id: uuid.UUID | str) -> str:
    """The reference of an application shown to people, in pages and e-mails alike: the first
    eight hexadecimal digits of its id, upper case ('1A2B3C4D')."""
    return str(application_id).replace("-", "")[:8].upper()


class Mailer:
    """Composes and sends e-mails for one configuration."""

    def __init__(self, settings: Settings, *, templates: Path = MAIL_TEMPLATES) -> None:
        self.settings = settings
        self.outbox_dir = Path(settings.outbox_dir)
        self.env = Environment(
            loader=FileSystemLoader(str(templates)), autoescape=False,  # noqa: S701 (plain-text mail, no HTML)
            undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        )
        self.env.filters["local"] = _local
        self.env.filters["day"] = _day
        self.env.filters["purpose"] = purpose_label
        self.env.filters["plate"] = plate_display
        self.env.globals["period"] = _period
        self.env.filters["hours"] = _hours

    @staticmethod
    @lru_cache(maxsize=8)
    def for_settings(settings: Settings) -> Mailer:
        """One mailer per configuration (settings are frozen, so they can key a cache)."""
        return Mailer(settings)

    @property
    def uses_outbox(self) -> bool:
        """True when no SMTP server is configured (development, tests)."""
        return not self.settings.smtp_host

    # ---- composing -------------------------------------------------------------------------

    def compose(self, template: str, *, to: str | Sequence[str], **context: Any) -> EmailMessage:
        """A message from mail/<template>.txt: its `subject` variable and its body."""
        tpl = self.env.get_template(f"{template}.txt")
        context = {"base_url": self.settings.base_url.rstrip("/"), **context}
        module = tpl.make_module(context)
        subject = str(getattr(module, "subject", "")).strip() or "CirQliz"
        body = str(module).strip() + "\n\n-- \nCirQliz — " + self.settings.base_url.rstrip("/") + "\n"
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to if isinstance(to, str) else ", ".join(to)
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now().astimezone())
        message["Message-ID"] = make_msgid(domain="cirqliz.invalid")
        message.set_content(body)
        return message

    # ---- sending ---------------------------------------------------------------------------

    def send(self, message: EmailMessage) -> None:
        """Send now: to the outbox (synchronously) or by SMTP (in a worker thread, errors logged)."""
        if self.uses_outbox:
            self.write_outbox(message)
        else:
            _smtp_pool.submit(self._send_smtp_logged, message)

    def write_outbox(self, message: EmailMessage) -> Path:
        """Write the message as an .eml file; names sort by time of writing."""
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        path = self.outbox_dir / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(message.as_bytes(policy=policy.SMTP))
        tmp.replace(path)
        log.info("mail written to the outbox: %s (%s)", path.name, message["Subject"])
        return path

    def send_smtp(self, message: EmailMessage) -> None:
        """Deliver through the configured SMTP server (implicit TLS on 465, STARTTLS otherwise)."""
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_port == 465:
            server: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=30, context=context)
        else:
            server = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30)
        with server:
            if s.smtp_port != 465:
                server.ehlo()
                server.starttls(context=context)
                server.ehlo()
            if s.smtp_user:
                server.login(s.smtp_user, s.smtp_password)
            server.send_message(message)

    def _send_smtp_logged(self, message: EmailMessage) -> None:
        try:
            self.send_smtp(message)
        except Exception:  # a lost mail must not break the request that caused it
            log.exception("sending mail %r to %s failed", message["Subject"], message["To"])

    def send_after_commit(self, session: AsyncSession, message: EmailMessage) -> None:
        """Send `message` when the session's current transaction commits; drop it on rollback."""
        sync = session.sync_session
        sync.info.setdefault(_PENDING, []).append((self, message))
        if not sync.info.get(_HOOKED):
            event.listen(sync, "after_commit", _send_pending)
            event.listen(sync, "after_transaction_end", _drop_pending)
            sync.info[_HOOKED] = True

    # ---- reading the outbox ----------------------------------------------------------------

    def outbox(self, limit: int = 100) -> list[OutboxMessage]:
        """The newest messages of the outbox first."""
        if not self.outbox_dir.is_dir():
            return []
        files = sorted(self.outbox_dir.glob("*.eml"), reverse=True)[:limit]
        parser = BytesParser(policy=policy.default)
        found = []
        for path in files:
            parsed = parser.parsebytes(path.read_bytes())
            body_part = parsed.get_body(preferencelist=("plain",))
            body = body_part.get_content() if body_part is not None else ""
            found.append(OutboxMessage(path.name, str(parsed["To"]), str(parsed["Subject"]),
                                       str(parsed["Date"]), body))
        return found


def _send_pending(sync_session: Any) -> None:
    pending = sync_session.info.pop(_PENDING, [])
    for mailer, message in pending:
        try:
            mailer.send(message)
        except Exception:
            log.exception("mail %r could not be sent", message["Subject"])


def _drop_pending(sync_session: Any, transaction: Any) -> None:
    # The outermost transaction ended without a commit (after_commit pops the list first).
    if transaction.parent is None and not transaction.nested:
        dropped = sync_session.info.pop(_PENDING, [])
        if dropped:
            log.info("%d mail(s) dropped: the transaction was rolled back", len(dropped))


# ---- notifications ---------------------------------------------------------------------------

_TEMPLATE_BY_STATUS = {
    ApplicationStatus.SUBMITTED: "application_submitted",
    ApplicationStatus.NEEDS_INFO: "application_needs_info",
    ApplicationStatus.APPROVED: "application_approved",
    ApplicationStatus.REJECTED: "application_rejected",
}


async def _reviewer_addresses(session: AsyncSession, authority_id: uuid.UUID,
                              role: Role = Role.REVIEWER) -> list[str]:
    rows = await session.exec(
        select(UserAccount.email).join(Membership, col(Membership.user_id) == UserAccount.id)
        .where(col(Membership.organisation_id) == authority_id, col(Membership.role) == role.value,
               col(UserAccount.is_active).is_(True))
        .distinct().order_by(col(UserAccount.email))
    )
    return list(rows.all())


async def notify_event_submitted(
    session: AsyncSession, event_id: uuid.UUID, *, settings: Settings, mailer: Mailer | None = None,
) -> int:
    """Mail the people who decide on the authority's events that one waits for them (after the
    commit); returns how many messages were queued.

    Events are examined on the authority's admin pages (/autorite/evenements), so the mail goes to
    the authority's active admins: a reviewer without that role could not open the link.
    """
    mailer = mailer or Mailer.for_settings(settings)
    event = await session.get(Event, event_id)
    approval = await session.get(EventApproval, event_id)
    if event is None or approval is None or approval.status != "submitted":
        return 0
    organiser = await session.get(Organisation, event.organiser_id)
    authority = await session.get(Organisation, approval.authority_id)
    zones = int((await session.exec(
        select(func.count()).select_from(TemporaryZone).where(col(TemporaryZone.event_id) == event_id))).one())
    context = {"event": event, "organiser": organiser, "authority": authority, "zones": zones}
    addresses = await _reviewer_addresses(session, approval.authority_id, Role.AUTHORITY_ADMIN)
    for address in addresses:
        mailer.send_after_commit(session, mailer.compose("event_to_review", to=address, **context))
    return len(addresses)


async def notify_application_change(
    session: AsyncSession,
    application_id: uuid.UUID,
    *,
    settings: Settings,
    mailer: Mailer | None = None,
    status: str | None = None,
) -> int:
    """Mail the people concerned by the application's current status (after the commit).

    submitted → the applicant (acknowledgement) and the authority's reviewers (to review);
    needs_info, approved, rejected → the applicant. Other statuses send nothing.
    Returns how many messages were queued.
    """
    mailer = mailer or Mailer.for_settings(settings)
    app = await session.get(Application, application_id)
    if app is None:
        return 0
    current = ApplicationStatus(status or app.status)
    template = _TEMPLATE_BY_STATUS.get(current)
    if template is None:
        return 0
    applicant = await session.get(UserAccount, app.applicant_id)
    organisation = await session.get(Organisation, app.organisation_id)
    authority = await session.get(Organisation, app.authority_id)
    passes: list[AccessPass] = []
    if current is ApplicationStatus.APPROVED:
        passes = list((await session.exec(
            select(AccessPass).where(col(AccessPass.application_id) == app.id).order_by(col(AccessPass.plate))
        )).all())
    last = (await session.exec(
        select(ApplicationTransitionRecord).where(col(ApplicationTransitionRecord.application_id) == app.id)
        .order_by(col(ApplicationTransitionRecord.at).desc(), col(ApplicationTransitionRecord.id)).limit(1)
    )).first()
    context = {
        "reason": (last.reason if last is not None else None) or app.decision_reason or "",
        "application": app, "applicant": applicant, "organisation": organisation, "authority": authority,
        "passes": passes, "reference": application_reference(app.id),
    }
    queued = 0
    if applicant is not None and applicant.is_active:
        mailer.send_after_commit(session, mailer.compose(template, to=applicant.email, **context))
        queued += 1
    if current is ApplicationStatus.SUBMITTED:
        for address in await _reviewer_addresses(session, app.authority_id):
            mailer.send_after_commit(session, mailer.compose("application_to_review", to=address, **context))
            queued += 1
    return queued


async def _pass_recipients(session: AsyncSession, row: AccessPass) -> list[str]:
    """The applicant of the pass's application, else the professionals of the vehicle's company."""
    if row.application_id is not None:
        app = await session.get(Application, row.application_id)
        if app is not None:
            user = await session.get(UserAccount, app.applicant_id)
            if user is not None and user.is_active:
                return [user.email]
    if row.vehicle_id is not None:
        vehicle = await session.get(Vehicle, row.vehicle_id)
        if vehicle is not None:
            rows = await session.exec(
                select(UserAccount.email).join(Membership, col(Membership.user_id) == UserAccount.id)
                .where(col(Membership.organisation_id) == vehicle.organisation_id,
                       col(Membership.role) == Role.PROFESSIONAL.value, col(UserAccount.is_active).is_(True))
                .distinct()
            )
            return list(rows.all())
    return []


EXPIRY_REMINDER = "pass_expiry_reminder"


async def send_expiry_reminders(
    session: AsyncSession,
    now: datetime,
    days: int = 7,
    *,
    settings: Settings,
    mailer: Mailer | None = None,
) -> int:
    """Remind holders of active passes expiring within `days`; each pass is reminded once.

    Set-based (issue 18): one query finds the passes not reminded yet with their applicant, one
    finds the professionals of the vehicles' companies for the others, and the reminders are
    remembered with bulk INSERT … ON CONFLICT DO NOTHING RETURNING in `sent_notification` (kind,
    pass id), in the caller's transaction; mail goes only for the rows this run inserted, when it
    commits. Running it again, or in two processes at once, sends no second reminder (the unique
    constraint turns the second insert into nothing). Returns the number of passes reminded.
    """
    mailer = mailer or Mailer.for_settings(settings)
    due = (col(AccessPass.status) == PassStatus.ACTIVE.value, col(AccessPass.expires_at) > now,
           col(AccessPass.expires_at) <= now + timedelta(days=days))
    # A reminder of a pass still due was written at or after its expiry minus `days`, so after
    # now minus `days`: the records to skip are found without listing every pass id. (The insert
    # below stays the guarantee: an older record still wins the conflict.)
    done = (select(SentNotification.ref).where(col(SentNotification.kind) == EXPIRY_REMINDER,
                                               col(SentNotification.sent_at) > now - timedelta(days=days)))
    found = (await session.exec(
        select(AccessPass, UserAccount.email, UserAccount.is_active)
        .outerjoin(Application, col(Application.id) == AccessPass.application_id)
        .outerjoin(UserAccount, col(UserAccount.id) == Application.applicant_id)
        .where(*due).order_by(col(AccessPass.expires_at), col(AccessPass.id))
    )).all()
    sent = set((await session.exec(done)).all())
    rows: list[tuple[AccessPass, list[str]]] = []
    by_vehicle: dict[uuid.UUID, list[str]] = {}
    for access_pass, email, active in found:
        if str(access_pass.id) in sent:
            continue
        # Same rules as _pass_recipients: the active applicant, else the vehicle's professionals.
        if email is not None and active:
            rows.append((access_pass, [email]))
        else:
            rows.append((access_pass, by_vehicle.setdefault(access_pass.vehicle_id, [])
                         if access_pass.vehicle_id is not None else []))
    if by_vehicle:
        members = await session.exec(
            select(Vehicle.id, UserAccount.email)
            .join(Membership, col(Membership.organisation_id) == Vehicle.organisation_id)
            .join(UserAccount, col(UserAccount.id) == Membership.user_id)
            .where(col(Vehicle.id).in_(select(AccessPass.vehicle_id).where(*due)),
                   col(Membership.role) == Role.PROFESSIONAL.value, col(UserAccount.is_active).is_(True))
            .distinct().order_by(col(UserAccount.email))
        )
        for vehicle_id, email in members.all():
            if vehicle_id in by_vehicle:
                by_vehicle[vehicle_id].append(email)
    inserted = await _remember_once(session, EXPIRY_REMINDER, [(str(p.id), len(r)) for p, r in rows], now)
    reminded = 0
    for access_pass, recipients in rows:
        if str(access_pass.id) not in inserted:
            continue  # another run reminded it meanwhile
        for address in recipients:
            mailer.send_after_commit(session, mailer.compose(
                "pass_expiry", to=address, access_pass=access_pass,
                days_left=max(0, (access_pass.expires_at - now).days)))
        reminded += 1
    return reminded


REMEMBER_CHUNK = 1000
"""Rows per INSERT of sent notifications (5 parameters each: under every driver's limit)."""


async def _remember_once(session: AsyncSession, kind: str, refs: list[tuple[str, int]], now: datetime) -> set[str]:
    """Insert (kind, ref) notifications, skipping those already there; the refs this call inserted."""
    if not refs:
        return set()
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = SentNotification.__table__  # type: ignore[attr-defined]
    # The rows as parameters of one statement, not a VALUES list in it: SQLAlchemy caches the compiled
    # form of the former only, and sends each chunk as one multi-row INSERT all the same (insertmanyvalues).
    statement = insert(table).on_conflict_do_nothing(index_elements=["kind", "ref"]).returning(table.c.ref)
    inserted: set[str] = set()
    for start in range(0, len(refs), REMEMBER_CHUNK):
        rows = [{"id": uuid.uuid4(), "kind": kind, "ref": ref, "recipients": count, "sent_at": now}
                for ref, count in refs[start:start + REMEMBER_CHUNK]]
        inserted.update((await session.exec(statement, params=rows)).scalars().all())  # type: ignore[call-overload]
    return inserted


# ---- pass status changes ---------------------------------------------------------------------

_TEMPLATE_BY_PASS_STATUS = {
    PassStatus.SUSPENDED: "pass_suspended",
    PassStatus.ACTIVE: "pass_reinstated",
    PassStatus.REVOKED: "pass_revoked",
}


async def _holder(session: AsyncSession, row: AccessPass) -> Organisation | None:
    """The organisation holding the pass: its application's, else its vehicle's."""
    organisation_id = None
    if row.application_id is not None:
        app = await session.get(Application, row.application_id)
        organisation_id = app.organisation_id if app is not None else None
    if organisation_id is None and row.vehicle_id is not None:
        vehicle = await session.get(Vehicle, row.vehicle_id)
        organisation_id = vehicle.organisation_id if vehicle is not None else None
    return await session.get(Organisation, organisation_id) if organisation_id is not None else None


async def _member_addresses(session: AsyncSession, organisation_id: uuid.UUID) -> list[str]:
    rows = await session.exec(
        select(UserAccount.email).join(Membership, col(Membership.user_id) == UserAccount.id)
        .where(col(Membership.organisation_id) == organisation_id, col(UserAccount.is_active).is_(True))
        .distinct().order_by(col(UserAccount.email))
    )
    return list(rows.all())


async def notify_pass_status(
    session: AsyncSession,
    access_pass: AccessPass,
    *,
    reason: str | None,
    settings: Settings,
    mailer: Mailer | None = None,
) -> int:
    """Mail every active member of the holder organisation that the pass was suspended, reinstated
    or revoked, with the reason and the pass's serial (after the commit). Returns how many
    messages were queued (0 for another status, or a pass nobody holds)."""
    template = _TEMPLATE_BY_PASS_STATUS.get(PassStatus(access_pass.status))
    holder = await _holder(session, access_pass)
    if template is None or holder is None:
        return 0
    mailer = mailer or Mailer.for_settings(settings)
    authority = await session.get(Organisation, access_pass.authority_id)
    context = {
        "access_pass": access_pass, "reason": (reason or "").strip(), "holder": holder, "authority": authority,
        "reference": application_reference(access_pass.application_id) if access_pass.application_id else "",
        "professional": holder.kind == OrganisationKind.COMPANY.value,
    }
    addresses = await _member_addresses(session, holder.id)
    for address in addresses:
        mailer.send_after_commit(session, mailer.compose(template, to=address, **context))
    return len(addresses)
