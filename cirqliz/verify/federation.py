"""Federation of trust: check passes of the home authority and of its partners, offline (ADR 0009).

The device pins the HOME root only. The home bundle (key 16) lists the partner authorities with
their root keys; a partner's own bundle is accepted only if it verifies with that root and names
that iss. Trust is not transitive: the partners a partner bundle lists are ignored. Checkpoint
zones are named `CODE` (a home zone) or `ISS/CODE` (zone CODE of authority ISS).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cirqliz.passcode.bundle import TrustBundle, open_bundle
from cirqliz.passcode.claims import decode_claims
from cirqliz.passcode.cose import HEADER_KID
from cirqliz.passcode.errors import BundleError, SchemeError
from cirqliz.passcode.token import parse_pass_text, read_pass_parts
from cirqliz.verify.core import DEFAULT_SKEW, Reason, Verdict, verify_pass

ZONE_SEPARATOR = "/"


@dataclass(frozen=True)
class TrustSet:
    """The home bundle and the accepted partner bundles by iss (with the root SPKI that opened each)."""

    home: TrustBundle
    partners: Mapping[str, TrustBundle] = field(default_factory=dict)
    partner_roots: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def bundles(self) -> tuple[TrustBundle, ...]:
        """Every trusted bundle: home first, then partners by iss."""
        return (self.home, *(self.partners[iss] for iss in sorted(self.partners)))

    def authority(self, iss: str) -> TrustBundle | None:
        """The bundle of authority `iss` (home or partner), if trusted."""
        if iss == self.home.iss:
            return self.home
        return self.partners.get(iss)

    def name_of(self, iss: str) -> str | None:
        """Display name of `iss`: its bundle's name, else the home bundle's partner entry, else None."""
        bundle = self.authority(iss)
        if bundle is not None and bundle.content.name:
            return bundle.content.name
        entry = self.home.partner(iss)
        return entry.name if entry is not None else None


def parse_zone_ref(ref: str) -> tuple[str | None, str]:
    """`CODE` -> (None, CODE); `ISS/CODE` -> (ISS, CODE). ValueError for empty parts or several '/'."""
    if type(ref) is not str or not ref:
        raise ValueError("zone vide")
    if ZONE_SEPARATOR not in ref:
        return None, ref
    parts = ref.split(ZONE_SEPARATOR)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ValueError(f"zone {ref!r} : attendu CODE ou AUTORITÉ/CODE, sans partie vide")
    return parts[0], parts[1]


def open_trust_set(
    home: TrustBundle,
    partner_bytes: Mapping[str, bytes],
    *,
    current: TrustSet | None = None,
) -> tuple[TrustSet, dict[str, BundleError]]:
    """Open the partner bundles the home bundle lists: (trust set, refusals by iss).

    Each is checked with the root the home bundle gives for its iss, on top of the bundle held
    for it in `current` (rollback defence per partner). A refused bundle is reported and the held
    one kept. Partners the home bundle no longer lists are dropped, as are bytes offered for an
    iss it does not list (silently: nothing to refuse). A held bundle opened under another root
    than the one now listed is dropped too (the partner changed its root).
    """
    partners: dict[str, TrustBundle] = {}
    roots: dict[str, bytes] = {}
    refusals: dict[str, BundleError] = {}
    for entry in home.content.partners:
        iss = entry.iss
        held = current.partners.get(iss) if current is not None else None
        if held is not None and current is not None and current.partner_roots.get(iss) != entry.root:
            held = None
        data = partner_bytes.get(iss)
        if data is not None:
            try:
                opened = open_bundle(data, [home.partner_roots[iss]], current=held)
                if opened.iss != iss:
                    raise BundleError(
                        f"paquet refusé : émis par {opened.iss!r} au lieu de {iss!r}, l'autorité que liste "
                        "le paquet de votre autorité",
                        code="bundle_wrong_issuer",
                    )
                held = opened
            except BundleError as exc:
                refusals[iss] = exc
        if held is not None:
            partners[iss] = held
            roots[iss] = entry.root
    return TrustSet(home, partners, roots), refusals


def _kid_and_payload(text: str) -> tuple[bytes, bytes] | None:
    parts = read_pass_parts(text)
    if parts is not None:
        return parts[1], parts[3]
    try:
        message = parse_pass_text(text)
    except SchemeError:
        return None
    kid = message.protected.get(HEADER_KID)
    return (kid, message.payload) if isinstance(kid, bytes) else None


def issuer_bundle(text: str, trust: TrustSet) -> TrustBundle | None:
    """The bundle whose keys (or withdrawn kids) hold the pass's kid; by the claims' iss if several."""
    read = _kid_and_payload(text)
    if read is None:
        return None
    kid, payload = read
    candidates = [b for b in trust.bundles() if kid in b.keys_by_kid or kid in b.content.withdrawn]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    try:
        iss = decode_claims(payload).iss
    except SchemeError:
        return candidates[0]
    return next((b for b in candidates if b.iss == iss), candidates[0])


def verify_federated(
    text: str,
    trust: TrustSet,
    *,
    zone: str,
    now: datetime | int,
    plate: str | None = None,
    last_seen: int | None = None,
    skew: int = DEFAULT_SKEW,
) -> Verdict:
    """Check a pass against the home and partner bundles at checkpoint `zone` (`CODE` or `ISS/CODE`).

    The issuer's bundle verifies the pass, the checkpoint authority's bundle gives the zone; an
    untrusted authority or a malformed reference gives UNKNOWN_ZONE (orange: resync). Never raises.
    """
    home = trust.home
    try:
        authority, code = parse_zone_ref(zone)
    except ValueError:
        authority, code = None, ""
        checkpoint: TrustBundle | None = None
    else:
        checkpoint = home if authority is None else trust.authority(authority)
    issuer = issuer_bundle(text, trust)
    if checkpoint is None:
        # A reference no bundle resolves: every zone lookup misses (codes never contain '/').
        signer = issuer or home
        verdict = verify_pass(text, signer, zone=zone if ZONE_SEPARATOR in zone else "",
                              now=now, plate=plate, last_seen=last_seen, skew=skew)
        detail = verdict.detail
        if verdict.reason is Reason.UNKNOWN_ZONE:
            detail = (f"zone {zone!r} : autorité {authority!r} inconnue de cet appareil (resynchroniser)"
                      if authority else f"zone {zone!r} : attendu CODE ou AUTORITÉ/CODE")
        verdict = dataclasses.replace(verdict, detail=detail, zone_authority=None)
    else:
        verdict = verify_pass(text, issuer or home, zone=code, now=now, plate=plate, last_seen=last_seen,
                              skew=skew, checkpoint_bundle=checkpoint)
    if issuer is None and verdict.reason is Reason.UNKNOWN_KEY and verdict.kid is not None:
        return dataclasses.replace(verdict, detail=f"clé {verdict.kid.hex()} absente de tous les paquets de confiance")
    if verdict.issuer is not None and verdict.issuer_name is None:
        name = trust.name_of(verdict.issuer)
        if name is not None:
            return dataclasses.replace(verdict, issuer_name=name)
    return verdict
