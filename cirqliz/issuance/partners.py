"""Partner authorities (issue 19): the authorities whose passes this authority's agents check.

An authority admin adds a partner from its bundle address, its root public key (PEM, or fetched
from `<address without .cose>/root.pem`) and the root key fingerprint the partner read out by
telephone. The partner's root key is then listed in the authority's signed bundle, so scanners
accept the partner's bundle only when it verifies with that key.

A partner is LOCAL when an authority with its code exists on this platform with the same root key:
its bundle is the one published here (no HTTP). Otherwise it is REMOTE: its last accepted bundle is
kept in `partner_bundle` (one row per issuer and root, shared by every authority trusting it) and
fetched again every few minutes (`sync_partner_bundles`).

Fetching: urllib in a worker thread, http/https only, 10 s in all, 8 MB at most; every refusal is
a French sentence (shown on the partners page, kept in `partner_bundle.last_error`). Addresses on
loopback, private, link-local or reserved networks are refused before any connection (and the
connected peer checked again, against DNS rebinding) unless CIRQLIZ_PARTNER_PRIVATE_ADDRESSES is set:
an authority administrator must not be able to make the server probe its own network.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import ipaddress
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.client import HTTPException
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import AuthorityPartner, Organisation, PartnerBundle
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.keystore import KeyStore
from cirqliz.passcode.bundle import (
    BundlePartner,
    TrustBundle,
    normalise_fingerprint,
    open_bundle,
    root_fingerprint,
)
from cirqliz.passcode.errors import BundleError, SchemeError
from cirqliz.passcode.keys import VerifyKey

MAX_BUNDLE_BYTES = 8 * 1024 * 1024
FETCH_TIMEOUT_S = 10.0
MAX_PEM_BYTES = 64 * 1024
MAX_URL_LENGTH = 2000
MAX_NAME_LENGTH = 200
MAX_ISS_LENGTH = 32
SYNC_INTERVAL = timedelta(minutes=5)
_LOCAL_PATH = re.compile(r"/bundle/(?P<code>[^/]+)\.cose")

Fetch = Callable[[str], Awaitable[bytes]]
"""Fetches the bytes at an address (PartnerError with a French message when it cannot)."""


class PartnerError(DomainError):
    """A partner cannot be added, removed or fetched; the message is French."""

    code = "partner_refused"


# ---- fetching ----------------------------------------------------------------------------------


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http/https addresses only."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise PartnerError("paquet injoignable : redirection vers une adresse qui n'est ni http ni https",
                               code="partner_fetch")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


PRIVATE_REFUSED = ("adresse du paquet : réseau privé ou local refusé (l'exploitant peut l'autoriser avec "
                   "CIRQLIZ_PARTNER_PRIVATE_ADDRESSES=1)")


def is_public_address(ip: str) -> bool:
    """Whether an IP address is on the public internet (not loopback, private, link-local, reserved…)."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _check_host(url: str) -> None:
    """Refuse an address whose host resolves to a non-public address, before connecting (no probe)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        raise PartnerError("paquet injoignable : nom d'hôte inconnu", code="partner_unreachable") from None
    if not infos or not all(is_public_address(str(info[4][0])) for info in infos):
        raise PartnerError(PRIVATE_REFUSED, code="partner_private")


def _check_peer(sock: socket.socket | None) -> None:
    # Checked again once connected: the name may resolve elsewhere the second time (DNS rebinding).
    if sock is None or not is_public_address(str(sock.getpeername()[0])):
        raise PartnerError(PRIVATE_REFUSED, code="partner_private")


class _PublicHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self.sock)


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self.sock)


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        return self.do_open(_PublicHTTPSConnection, req, context=self._context)


class _PublicRedirects(_HttpOnlyRedirects):
    """Redirects to http/https addresses on public networks only."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        _check_host(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(*, allow_private: bool = False) -> urllib.request.OpenerDirector:
    # No file:, ftp: or data: handlers: only http and https are ever opened.
    opener = urllib.request.OpenerDirector()
    handlers: tuple[Any, ...]
    if allow_private:
        handlers = (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    _HttpOnlyRedirects())
    else:
        # No proxy from the environment either: the peer checked must be the partner's server.
        handlers = (urllib.request.ProxyHandler({}), _PublicHTTPHandler(), _PublicHTTPSHandler(), _PublicRedirects())
    for handler in (*handlers, urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def check_url(url: str) -> str:
    """The address trimmed, or PartnerError: http/https with a host, 2,000 characters at most."""
    url = (url or "").strip()
    if not url:
        raise PartnerError("adresse du paquet : champ obligatoire", code="partner_url")
    if len(url) > MAX_URL_LENGTH:
        raise PartnerError(f"adresse du paquet : {MAX_URL_LENGTH} caractères au plus", code="partner_url")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise PartnerError("adresse du paquet : seules les adresses http:// ou https:// complètes sont acceptées",
                           code="partner_url")
    return url


def root_pem_url(bundle_url: str) -> str:
    """Where the partner's root key is published: the bundle address without `.cose`, then `/root.pem`
    (`https://x/bundle/metro.cose` → `https://x/bundle/metro/root.pem`)."""
    parts = urllib.parse.urlsplit(bundle_url)
    path = parts.path.removesuffix(".cose").rstrip("/")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"{path}/root.pem", "", ""))


def fetch_url(url: str, *, timeout: float = FETCH_TIMEOUT_S, max_bytes: int = MAX_BUNDLE_BYTES,
              allow_private: bool = False) -> bytes:
    """The bytes at `url` (blocking): `timeout` seconds in all, `max_bytes` at most; PartnerError in French.

    Hosts on non-public networks are refused unless `allow_private` (CIRQLIZ_PARTNER_PRIVATE_ADDRESSES)."""
    check_url(url)
    if not allow_private:
        _check_host(url)
    deadline = time.monotonic() + timeout
    # check_url allows http and https only, and the opener has no other handler.
    request = urllib.request.Request(url, headers={  # noqa: S310
        "User-Agent": "CirQliz (paquets partenaires)", "Accept": "application/cose, application/x-pem-file, */*"})
    try:
        with _opener(allow_private=allow_private).open(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise PartnerError("paquet injoignable : délai dépassé", code="partner_timeout")
                chunk = response.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise PartnerError(f"paquet refusé : plus de {max_bytes // (1024 * 1024)} Mo",
                                       code="partner_too_large")
                chunks.append(chunk)
            return b"".join(chunks)
    except PartnerError:
        raise
    except urllib.error.HTTPError as exc:
        raise PartnerError(f"paquet injoignable : le serveur a répondu {exc.code}", code="partner_http") from None
    except (TimeoutError, OSError, HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError) or "timed out" in str(reason):
            raise PartnerError("paquet injoignable : délai dépassé", code="partner_timeout") from None
        raise PartnerError("paquet injoignable : connexion impossible", code="partner_unreachable") from None


async def fetch_bytes(url: str, *, allow_private: bool = False) -> bytes:
    """`fetch_url` in a worker thread (the event loop keeps serving)."""
    return await asyncio.to_thread(functools.partial(fetch_url, url, allow_private=allow_private))


def fetcher(settings: Any) -> Fetch:
    """The fetch function the settings allow (private networks only with CIRQLIZ_PARTNER_PRIVATE_ADDRESSES)."""
    if getattr(settings, "partner_private_addresses", False):
        return functools.partial(fetch_bytes, allow_private=True)
    return fetch_bytes


# ---- keys and bundles -------------------------------------------------------------------------

BUNDLE_REFUSALS_FR = {
    "bundle_unknown_root": "le paquet ne se vérifie pas avec cette clé racine",
    "bundle_bad_signature": "le paquet ne se vérifie pas avec cette clé racine",
    "bundle_malformed": "le paquet est illisible (ce n'est pas un paquet de confiance CirQliz)",
    "bundle_rollback": "paquet plus ancien que celui déjà reçu : refusé, le précédent est gardé",
    "bundle_seq_conflict": "paquet au même numéro que celui déjà reçu mais au contenu différent (suspect) : "
                           "refusé, le précédent est gardé",
    "bundle_wrong_issuer": "le paquet est émis par une autre autorité que ce partenaire",
    "bundle_delta_base": "l'adresse donne un paquet partiel (delta) : donnez l'adresse du paquet complet",
}


def refusal_fr(exc: SchemeError) -> str:
    """A refused bundle in French."""
    return BUNDLE_REFUSALS_FR.get(exc.code, "le paquet est refusé")


def load_root(pem: bytes | str) -> VerifyKey:
    """A root public key from PEM text (ES256 or Ed25519); PartnerError in French."""
    data = pem.encode() if isinstance(pem, str) else pem
    if len(data) > MAX_PEM_BYTES:
        raise PartnerError("clé racine : fichier PEM trop long", code="partner_root")
    try:
        return VerifyKey.from_pem(data.strip() + b"\n")
    except SchemeError:
        raise PartnerError("clé racine : ce n'est pas une clé publique PEM lisible (ES256 ou Ed25519)",
                           code="partner_root") from None


def open_partner_bundle(data: bytes, root_spki: bytes, *, current: TrustBundle | None = None) -> TrustBundle:
    """A partner's bundle checked with its root key (and against the one held); PartnerError in French."""
    try:
        root = VerifyKey.from_spki(root_spki)
        return open_bundle(data, [root], current=current)
    except BundleError as exc:
        raise PartnerError(refusal_fr(exc), code=exc.code) from None
    except SchemeError:
        raise PartnerError("le paquet ne se vérifie pas avec cette clé racine", code="bundle_unknown_root") from None


def _local_keystore(signer: Any, code: str) -> KeyStore | None:
    try:
        return signer.keystore(code)
    except (DomainError, SchemeError):
        return None


def local_root_spki(signer: Any, code: str) -> bytes | None:
    """The current root key (SPKI DER) of the authority `code` on this platform, or None."""
    keystore = _local_keystore(signer, code)
    if keystore is None:
        return None
    try:
        return keystore.root_public().spki()
    except (OSError, SchemeError):
        return None


def local_bundle_file(signer: Any, code: str) -> tuple[Path, int] | None:
    """The latest full bundle published by the authority `code` here (its file and seq), or None."""
    keystore = _local_keystore(signer, code)
    if keystore is None or not keystore.last_seq:
        return None
    # Layout documented in cirqliz.issuance.keystore: bundles/<seq>.cose
    file = keystore.path / "bundles" / f"{keystore.last_seq}.cose"
    return (file, keystore.last_seq) if file.exists() else None


def own_root_fingerprint(signer: Any, code: str) -> str | None:
    """The fingerprint of an authority's own root key, to read out to its partners (None: no keys)."""
    spki = local_root_spki(signer, code)
    return root_fingerprint(spki) if spki else None


async def _local_authority(session: AsyncSession, code: str) -> Organisation | None:
    return (await session.exec(select(Organisation).where(
        col(Organisation.code) == code, col(Organisation.kind) == OrganisationKind.AUTHORITY.value))).first()


async def is_local(session: AsyncSession, signer: Any, iss: str, root_spki: bytes) -> bool:
    """Whether the partner (iss, root) is an authority of this platform with that same root key."""
    if await _local_authority(session, iss) is None:
        return False
    return local_root_spki(signer, iss) == root_spki


def grouped(fingerprint: str) -> str:
    """A stored fingerprint (64 hex) in 16 groups of 4, as people read it out."""
    return " ".join(fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4))


# ---- the partners of an authority -------------------------------------------------------------


@dataclass
class PartnerRow:
    """A partner as the partners page shows it."""

    partner: AuthorityPartner
    local: bool
    seq: int | None
    fetched_at: datetime | None
    last_error: str | None

    @property
    def fingerprint_groups(self) -> str:
        """The fingerprint in groups of 4."""
        return grouped(self.partner.fingerprint)


async def partners_of(session: AsyncSession, authority_id: uuid.UUID) -> list[AuthorityPartner]:
    """The authority's partners, by issuer code."""
    return list((await session.exec(select(AuthorityPartner).where(col(AuthorityPartner.authority_id) == authority_id)
                                    .order_by(col(AuthorityPartner.iss)))).all())


async def bundle_partners(session: AsyncSession, authority_id: uuid.UUID) -> tuple[BundlePartner, ...]:
    """The partners the authority's next bundle lists (B_PARTNERS), sorted by iss."""
    return tuple(BundlePartner(iss=p.iss, name=p.name, root=p.root_spki, url=p.bundle_url)
                 for p in await partners_of(session, authority_id))


async def stored_bundle(session: AsyncSession, iss: str, fingerprint: str) -> PartnerBundle | None:
    """The last accepted bundle of a remote partner (iss, root fingerprint), or None."""
    return await session.get(PartnerBundle, (iss, fingerprint))


async def list_partners(session: AsyncSession, authority_id: uuid.UUID, *, signer: Any) -> list[PartnerRow]:
    """The partners page's rows: local or remote, last seq received, when, and the last error."""
    rows = []
    for partner in await partners_of(session, authority_id):
        if await is_local(session, signer, partner.iss, partner.root_spki):
            found = local_bundle_file(signer, partner.iss)
            rows.append(PartnerRow(partner, True, found[1] if found else None, None, None))
            continue
        held = await stored_bundle(session, partner.iss, partner.fingerprint)
        rows.append(PartnerRow(partner, False, held.seq if held else None, held.fetched_at if held else None,
                               held.last_error if held else None))
    return rows


async def _root_for(bundle_url: str, root_pem: str, local_code: str | None, signer: Any, fetch: Fetch) -> bytes:
    """The root SPKI: from the PEM typed, else the local authority's, else fetched from <address>/root.pem."""
    if root_pem.strip():
        return load_root(root_pem).spki()
    if local_code is not None:
        spki = local_root_spki(signer, local_code)
        if spki is not None:
            return spki
    try:
        pem = await fetch(root_pem_url(bundle_url))
    except PartnerError as exc:
        raise PartnerError(f"clé racine introuvable à {root_pem_url(bundle_url)} ({exc.message}) : "
                           "collez-la dans le champ « Clé racine »", code="partner_root") from None
    return load_root(pem).spki()


async def _local_code_of(session: AsyncSession, bundle_url: str) -> str | None:
    """The code of an authority of this platform when the address is one of its /bundle/<code>.cose files."""
    match = _LOCAL_PATH.search(urllib.parse.urlsplit(bundle_url).path)
    if match is None:
        return None
    code = urllib.parse.unquote(match["code"]).strip().lower()
    authority = await _local_authority(session, code) if code else None
    return authority.code if authority else None


async def add_partner(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    name: str,
    bundle_url: str,
    root_pem: str,
    fingerprint: str,
    actor_id: uuid.UUID | None,
    clock: Clock,
    signer: Any,
    fetch: Fetch = fetch_bytes,
) -> AuthorityPartner:
    """Add a partner (after checking the fingerprint and its bundle), audit it and publish the
    authority's bundle again so the next sync lists it. PartnerError (French) stores nothing."""
    authority = await session.get(Organisation, authority_id)
    if authority is None or authority.kind != OrganisationKind.AUTHORITY.value:
        raise NotFound("autorité introuvable", code="not_found")
    name = (name or "").strip()
    if not name:
        raise PartnerError("nom : champ obligatoire", code="partner_name")
    if len(name) > MAX_NAME_LENGTH:
        raise PartnerError(f"nom : {MAX_NAME_LENGTH} caractères au plus", code="partner_name")
    bundle_url = check_url(bundle_url)
    typed = normalise_fingerprint(fingerprint or "")
    if not typed:
        raise PartnerError("empreinte : champ obligatoire (lue par téléphone par votre partenaire)",
                           code="partner_fingerprint")
    if not re.fullmatch(r"[0-9A-F]{64}", typed):
        raise PartnerError("empreinte : 64 caractères hexadécimaux attendus (16 groupes de 4, chiffres et "
                           "lettres A à F)", code="partner_fingerprint")
    local_code = await _local_code_of(session, bundle_url)
    root = await _root_for(bundle_url, root_pem or "", local_code, signer, fetch)
    actual = normalise_fingerprint(root_fingerprint(root))
    if actual != typed:
        raise PartnerError("l'empreinte saisie ne correspond pas à la clé racine : vérifiez-la à nouveau avec "
                           "votre partenaire (rien n'a été enregistré)", code="partner_fingerprint_mismatch")
    local_file = local_bundle_file(signer, local_code) if local_code else None
    if local_file is not None and local_root_spki(signer, local_code or "") == root:
        data = local_file[0].read_bytes()
    else:
        data = await fetch(bundle_url)
    bundle = open_partner_bundle(data, root)
    iss = bundle.content.iss
    if iss == authority.code:
        raise PartnerError("ce paquet est celui de votre propre autorité", code="partner_self")
    if not iss or len(iss) > MAX_ISS_LENGTH or "/" in iss:
        raise PartnerError("le code de l'autorité de ce paquet n'est pas utilisable (32 caractères au plus, "
                           "sans « / »)", code="partner_iss")
    existing = (await session.exec(select(AuthorityPartner).where(
        col(AuthorityPartner.authority_id) == authority_id, col(AuthorityPartner.iss) == iss))).first()
    if existing is not None:
        raise PartnerError(f"l'autorité « {iss} » est déjà partenaire", code="partner_exists")
    now = clock.now()
    partner = AuthorityPartner(authority_id=authority_id, iss=iss, name=name, bundle_url=bundle_url, root_spki=root,
                               fingerprint=actual, added_at=now, added_by=actor_id)
    session.add(partner)
    local = await is_local(session, signer, iss, root)
    if not local:
        await _keep_bundle(session, iss, actual, data, bundle, now)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="partner", entity_id=partner.id, action="add", at=now,
                        after={"authority": authority.code, "iss": iss, "name": name, "url": bundle_url,
                               "fingerprint": actual, "local": local})
    await _publish_again(session, authority, signer=signer, clock=clock, actor_id=actor_id)
    return partner


async def _keep_bundle(session: AsyncSession, iss: str, fingerprint: str, data: bytes, bundle: TrustBundle,
                       now: datetime) -> None:
    """Store a remote partner's bundle unless the one held is newer (another authority's partner too)."""
    held = await stored_bundle(session, iss, fingerprint)
    if held is None:
        session.add(PartnerBundle(iss=iss, fingerprint=fingerprint, seq=bundle.seq, data=data, fetched_at=now,
                                  last_attempt_at=now))
        return
    held.last_attempt_at = now
    if bundle.seq > held.seq:
        held.seq, held.data, held.fetched_at, held.last_error = bundle.seq, data, now, None
    session.add(held)


async def partner_of(session: AsyncSession, authority_id: uuid.UUID, partner_id: uuid.UUID) -> AuthorityPartner:
    """A partner of the authority by id; NotFound for a missing one or another authority's."""
    partner = await session.get(AuthorityPartner, partner_id)
    if partner is None or partner.authority_id != authority_id:
        raise NotFound("Partenaire introuvable.", code="not_found")
    return partner


async def remove_partner(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    partner_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    clock: Clock,
    signer: Any,
) -> AuthorityPartner:
    """Remove a partner of the authority (NotFound for any other), audit it and publish again: the next
    bundle no longer lists it, so scanners drop its bundle at their next sync."""
    partner = await partner_of(session, authority_id, partner_id)
    authority = await session.get(Organisation, authority_id)
    if authority is None:
        raise NotFound("autorité introuvable", code="not_found")
    before = {"authority": authority.code, "iss": partner.iss, "name": partner.name, "url": partner.bundle_url,
              "fingerprint": partner.fingerprint}
    await session.delete(partner)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="partner", entity_id=partner_id, action="remove",
                        at=clock.now(), before=before)
    await _publish_again(session, authority, signer=signer, clock=clock, actor_id=actor_id)
    return partner


async def _publish_again(session: AsyncSession, authority: Organisation, *, signer: Any, clock: Clock,
                         actor_id: uuid.UUID | None) -> None:
    """Publish the authority's bundle in the same transaction (nothing when it has no keys yet)."""
    from cirqliz.issuance.publication import publish_bundle  # publication imports this module's callers

    keystore = _local_keystore(signer, authority.code)
    if keystore is None:
        return
    await publish_bundle(session, authority_id=authority.id, keystore=keystore, clock=clock, actor_id=actor_id)


# ---- what scanners and the API get ------------------------------------------------------------


@dataclass(frozen=True)
class PartnerBundleFile:
    """A partner's bundle as the relay serves it."""

    iss: str
    seq: int
    local: bool
    data: bytes | None = None  # remote: the stored bytes
    path: Path | None = None  # local: the published file


async def partner_bundle_for(session: AsyncSession, signer: Any, authority_id: uuid.UUID,
                             iss: str) -> PartnerBundleFile | None:
    """The bundle of the partner `iss` of the authority (None when it is not a partner or has none)."""
    partner = (await session.exec(select(AuthorityPartner).where(
        col(AuthorityPartner.authority_id) == authority_id, col(AuthorityPartner.iss) == iss))).first()
    if partner is None:
        return None
    if await is_local(session, signer, partner.iss, partner.root_spki):
        found = local_bundle_file(signer, partner.iss)
        return PartnerBundleFile(partner.iss, found[1], True, path=found[0]) if found else None
    held = await stored_bundle(session, partner.iss, partner.fingerprint)
    if held is None:
        return None
    return PartnerBundleFile(partner.iss, held.seq, False, data=held.data)


# ---- the sync job -----------------------------------------------------------------------------


@dataclass
class SyncTarget:
    """A remote partner (iss, root) and the addresses its trusting authorities gave."""

    iss: str
    fingerprint: str
    root_spki: bytes
    urls: list[str]


@dataclass
class SyncReport:
    """What a sync did: (iss, new seq) taken, (iss, French error) refused."""

    updated: list[tuple[str, int]]
    errors: list[tuple[str, str]]

    @property
    def detail(self) -> str:
        """One line for the jobs page."""
        parts = [f"{iss} n° {seq}" for iss, seq in self.updated] + [f"{iss} : {err}" for iss, err in self.errors]
        return "; ".join(parts) if parts else "à jour"


async def sync_targets(session: AsyncSession, signer: Any) -> list[SyncTarget]:
    """The remote partners to fetch, one per (iss, root), with every address given for it."""
    targets: dict[tuple[str, str], SyncTarget] = {}
    locals_: dict[tuple[str, str], bool] = {}
    rows = (await session.exec(select(AuthorityPartner).order_by(col(AuthorityPartner.added_at),
                                                                 col(AuthorityPartner.id)))).all()
    for partner in rows:
        key = (partner.iss, partner.fingerprint)
        if key not in locals_:
            locals_[key] = await is_local(session, signer, partner.iss, partner.root_spki)
        if locals_[key]:
            continue
        target = targets.setdefault(key, SyncTarget(partner.iss, partner.fingerprint, partner.root_spki, []))
        if partner.bundle_url not in target.urls:
            target.urls.append(partner.bundle_url)
    return list(targets.values())


async def _fetch_target(target: SyncTarget, fetch: Fetch) -> tuple[bytes | None, str | None]:
    """The first address that answers (bytes), else the last error."""
    error = None
    for url in target.urls:
        try:
            return await fetch(url), None
        except PartnerError as exc:
            error = exc.message
    return None, error


async def apply_fetched(session: AsyncSession, target: SyncTarget, data: bytes | None, error: str | None,
                        now: datetime) -> tuple[int | None, str | None]:
    """Take a fetched bundle when it is newer and verifies against the held one; else keep the held one
    and record why. Returns (new seq or None, French error or None)."""
    held = await stored_bundle(session, target.iss, target.fingerprint)
    if data is not None:
        current = None
        if held is not None:
            try:
                current = open_partner_bundle(held.data, target.root_spki)
            except PartnerError:
                current = None  # the held bytes no longer open: anything valid replaces them
        try:
            bundle = open_partner_bundle(data, target.root_spki, current=current)
            if bundle.content.iss != target.iss:
                raise PartnerError(BUNDLE_REFUSALS_FR["bundle_wrong_issuer"], code="bundle_wrong_issuer")
        except PartnerError as exc:
            error = exc.message
        else:
            if held is None:
                session.add(PartnerBundle(iss=target.iss, fingerprint=target.fingerprint, seq=bundle.seq, data=data,
                                          fetched_at=now, last_attempt_at=now))
                return bundle.seq, None
            held.last_attempt_at, held.last_error = now, None
            taken = None
            if bundle.seq > held.seq or current is None:
                held.seq, held.data, held.fetched_at, taken = bundle.seq, data, now, bundle.seq
            session.add(held)
            return taken, None
    if held is not None:
        held.last_attempt_at, held.last_error = now, error
        session.add(held)
    return None, error


async def sync_partner_bundles(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    signer: Any,
    fetch: Fetch = fetch_bytes,
) -> SyncReport:
    """Fetch every remote partner's bundle: the list is read in one short transaction, the addresses
    fetched outside any transaction (several at once), the results stored in another."""
    async with session_factory() as session, session.begin():
        targets = await sync_targets(session, signer)
    results = await asyncio.gather(*(_fetch_target(t, fetch) for t in targets))
    async with session_factory() as session, session.begin():
        return await _store(session, targets, results, clock.now())


async def sync_in_session(session: AsyncSession, clock: Clock, *, signer: Any,
                          fetch: Fetch = fetch_bytes) -> SyncReport:
    """`sync_partner_bundles` inside a transaction the caller holds (the scheduled job's)."""
    targets = await sync_targets(session, signer)
    results = await asyncio.gather(*(_fetch_target(t, fetch) for t in targets))
    return await _store(session, targets, results, clock.now())


async def _store(session: AsyncSession, targets: Iterable[SyncTarget],
                 results: Iterable[tuple[bytes | None, str | None]], now: datetime) -> SyncReport:
    report = SyncReport([], [])
    for target, (data, error) in zip(targets, results, strict=True):
        seq, refused = await apply_fetched(session, target, data, error, now)
        if seq is not None:
            report.updated.append((target.iss, seq))
        if refused is not None:
            report.errors.append((target.iss, refused))
    return report
