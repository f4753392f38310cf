"""Passes an organiser issued to its event's suppliers, on their way to the suppliers.

- `event_passes` / `event_pass`: the passes of one event (with company, zones), scoped to the event;
  another event's pass reads like a missing one.
- `link_token` / `pass_id_from_token` / `phone_link`: a supplier has no account, so its pass is
  reached through a link that carries the pass id and an HMAC of it (keyed by the application's
  secret key): nothing to store, impossible to guess, and it stops working if the pass is revoked.
- `passes_zip`: one PNG per pass (the screen QR code of cirqliz.issuance.qr) and a French CSV of
  serials, plates, suppliers and phone links.
- `mail_supplier_passes`: the French mail to each supplier address given in the CSV.
- `record_download`: every download of passes by the organiser or the authority is audited (the
  plates are personal data).

Revoked passes are listed as such and never downloadable.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.models import AccessPass, Event, EventPass, Organisation, PassZone, Zone
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.plates import parse_plate
from cirqliz.domain.windows import zone_info
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.events import BulkLine
from cirqliz.issuance.qr import qr_png

PHONE_PATH = "/laissez-passer/"
_LINK_PURPOSE = b"cirqliz supplier pass link v1"
_MAC_BYTES = 16
CSV_HEADER = ("Numéro", "Immatriculation", "Entreprise", "Zones", "Début", "Fin", "Statut", "Lien téléphone",
              "Image")
BOM = "\ufeff"
DISPLAY_TZ = "Europe/Paris"


@dataclass(frozen=True)
class SupplierPass:
    """One pass of an event, with the supplier it was issued to and its zones."""

    access_pass: AccessPass
    event_pass: EventPass
    zones: tuple[Zone, ...]

    @property
    def revoked(self) -> bool:
        """A revoked pass is shown as such and offers no download."""
        return self.access_pass.status == PassStatus.REVOKED.value

    @property
    def downloadable(self) -> bool:
        """Signed and not revoked."""
        return not self.revoked and bool(self.access_pass.signed_text)

    @property
    def plate(self) -> str:
        """The plate as people write it (AB-123-CD)."""
        return display_plate(self.access_pass.plate)

    @property
    def filename(self) -> str:
        """The PNG's name in downloads and in the ZIP."""
        return f"laissez-passer-{self.access_pass.serial}.png"


def display_plate(value: str) -> str:
    """A stored plate as people write it, or as stored if unreadable."""
    try:
        return parse_plate(value).display
    except DomainError:
        return value


# ---- queries -----------------------------------------------------------------------------------


async def event_passes(session: AsyncSession, event_id: uuid.UUID) -> list[SupplierPass]:
    """The event's passes in CSV order (line, then serial), revoked ones included."""
    rows = (await session.exec(
        select(AccessPass, EventPass).join(EventPass, col(EventPass.pass_id) == AccessPass.id)
        .where(col(EventPass.event_id) == event_id)
        .order_by(col(AccessPass.issued_at), col(EventPass.line), col(AccessPass.serial)))).all()
    ids = [p.id for p, _e in rows]
    zones: dict[uuid.UUID, list[Zone]] = {i: [] for i in ids}
    if ids:
        for pass_id, zone in (await session.exec(
                select(PassZone.pass_id, Zone).join(Zone, col(Zone.id) == PassZone.zone_id)
                .where(col(PassZone.pass_id).in_(ids)).order_by(col(Zone.ref)))).all():
            zones[pass_id].append(zone)
    return [SupplierPass(p, e, tuple(zones[p.id])) for p, e in rows]


async def event_pass(session: AsyncSession, event_id: uuid.UUID, pass_id: uuid.UUID) -> SupplierPass:
    """One pass of the event; NotFound for a pass of any other event (or none)."""
    link = await session.get(EventPass, pass_id)
    row = await session.get(AccessPass, pass_id)
    if link is None or row is None or link.event_id != event_id:
        raise NotFound("laissez-passer introuvable", code="pass_not_found")
    zones = (await session.exec(
        select(Zone).join(PassZone, col(PassZone.zone_id) == Zone.id)
        .where(col(PassZone.pass_id) == pass_id).order_by(col(Zone.ref)))).all()
    return SupplierPass(row, link, tuple(zones))


async def record_download(session: AsyncSession, *, actor_id: uuid.UUID | None, event_id: uuid.UUID,
                          passes: Sequence[SupplierPass], fmt: str, at: datetime) -> None:
    """Audit a download of passes: one record per pass (png, print) or one for the event (zip)."""
    if fmt == "zip":
        await record_change(session, actor_id=actor_id, entity="event", entity_id=event_id, action="download",
                            at=at, after={"format": fmt, "count": len(passes),
                                          "serials": [p.access_pass.serial for p in passes]})
        return
    for item in passes:
        await record_change(session, actor_id=actor_id, entity="pass", entity_id=item.access_pass.id,
                            action="download", at=at, after={"format": fmt, "event_id": event_id,
                                                             "serial": item.access_pass.serial})


# ---- phone links -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret_key: str, body: bytes) -> bytes:
    key = hmac.new(secret_key.encode("utf-8"), _LINK_PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]


def link_token(secret_key: str, pass_id: uuid.UUID) -> str:
    """The token of a pass's phone link: the pass id and its HMAC, URL-safe (45 characters)."""
    return f"{_b64(pass_id.bytes)}.{_b64(_mac(secret_key, pass_id.bytes))}"


def pass_id_from_token(secret_key: str, token: str) -> uuid.UUID | None:
    """The pass id a token was made for, or None if the token was not made with this key."""
    body_text, dot, mac_text = (token or "").partition(".")
    if not dot or len(token) > 64:
        return None
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        return None
    if len(body) != 16 or not hmac.compare_digest(mac, _mac(secret_key, body)):
        return None
    return uuid.UUID(bytes=body)


def phone_link(settings: Any, pass_id: uuid.UUID) -> str:
    """The full address of a pass's phone page, for the supplier."""
    return f"{settings.base_url.rstrip('/')}{PHONE_PATH}{link_token(settings.secret_key, pass_id)}"


# ---- ZIP ---------------------------------------------------------------------------------------


def _local(value: datetime) -> str:
    return value.astimezone(zone_info(DISPLAY_TZ)).strftime("%d/%m/%Y %H:%M")


def passes_csv(passes: Sequence[SupplierPass], *, link: Callable[[uuid.UUID], str],
               status_label: Callable[[str], str]) -> str:
    """The French spreadsheet CSV (';', BOM): one row per pass; revoked ones without link nor image."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for item in passes:
        row = item.access_pass
        writer.writerow((
            row.serial, item.plate, item.event_pass.company, " ".join(z.code for z in item.zones),
            _local(row.not_before), _local(row.expires_at), status_label(row.status),
            link(row.id) if item.downloadable else "", item.filename if item.downloadable else "",
        ))
    return BOM + buffer.getvalue()


def passes_zip(passes: Sequence[SupplierPass], *, link: Callable[[uuid.UUID], str],
               status_label: Callable[[str], str]) -> bytes:
    """A ZIP with the PNG of every downloadable pass and `laissez-passer.csv`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("laissez-passer.csv", passes_csv(passes, link=link, status_label=status_label)
                         .encode("utf-8"))
        for item in passes:
            if item.downloadable:
                # PNG is already compressed: stored as is.
                archive.writestr(item.filename, qr_png(item.access_pass.signed_text or "", ecc="M", scale=8),
                                 compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


# ---- e-mail ------------------------------------------------------------------------------------


async def mail_supplier_passes(session: AsyncSession, *, event: Event, lines: Sequence[BulkLine],
                               settings: Any, actor_id: uuid.UUID | None, at: datetime,
                               mailer: Any = None) -> int:
    """Send each line that gives an address its pass's phone link (after the commit); the number
    of mails queued. The audit keeps how many were sent, not the addresses."""
    from cirqliz.issuance.mail import Mailer

    mailer = mailer or Mailer.for_settings(settings)
    organiser = await session.get(Organisation, event.organiser_id)
    sent = 0
    for line in lines:
        if not line.email or line.pass_id is None:
            continue
        row = await session.get(AccessPass, line.pass_id)
        if row is None:
            continue
        message = mailer.compose(
            "supplier_pass", to=line.email, event=event, access_pass=row, company=line.company,
            organiser_name=organiser.name if organiser else "L'organisateur", plate=display_plate(row.plate),
            zones=", ".join(f"{z.name} ({z.code})" for z in line.zones), link=phone_link(settings, row.id))
        mailer.send_after_commit(session, message)
        sent += 1
    if sent:
        await record_change(session, actor_id=actor_id, entity="event", entity_id=event.id, action="mail_suppliers",
                            at=at, after={"count": sent})
    return sent
