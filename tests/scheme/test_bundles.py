"""Trust bundles: signature by the pinned root, rollback, deltas, and sizes at scale."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from cirqliz.domain.windows import TimeWindow
from cirqliz.passcode.bundle import (
    BundleZone,
    Closure,
    TrustBundle,
    encode_full,
    open_bundle,
    revocation_hash,
    sign_bundle,
    sign_delta,
)
from cirqliz.passcode.errors import BundleError
from cirqliz.passcode.keys import Algorithm, SigningKey
from cirqliz.passcode.token import sign_pass
from cirqliz.verify.core import Reason, verify_pass

from ._support import ED_SIGNER, ISS, OTHER, ROOT, SIGNER, T0, ZONES, claims, content, forged, key_entry

ROOTS = [ROOT.verify_key()]


def _open(data: bytes, **kw: object) -> TrustBundle:
    return open_bundle(data, ROOTS, **kw)  # type: ignore[arg-type]


def refused(data: bytes, **kw: object) -> BundleError:
    with pytest.raises(BundleError) as info:
        _open(data, **kw)
    return info.value


def test_full_bundle_round_trip() -> None:
    c = content(revoked=((ISS, bytes(8)), (ISS, b"\x01" * 8)))
    trust = _open(sign_bundle(c, ROOT))
    assert trust.content == c
    assert trust.seq == 1
    assert trust.revoked_count() == 2
    assert trust.is_revoked(ISS, b"\x01" * 8)
    assert not trust.is_revoked(ISS, b"\x02" * 8)
    assert trust.zone("CENTRE") is trust.zone(1)
    assert set(trust.keys_by_kid) == {SIGNER.kid, ED_SIGNER.kid}


def test_ed25519_root() -> None:
    root = SigningKey.generate(Algorithm.EDDSA)
    trust = open_bundle(sign_bundle(content(), root), [root.verify_key()])
    assert trust.content == content()


def test_bundle_signed_by_another_root_is_refused() -> None:
    assert refused(sign_bundle(content(), OTHER)).code == "bundle_unknown_root"


def test_bundle_signed_by_another_root_under_the_pinned_kid_is_refused() -> None:
    assert refused(sign_bundle(content(), forged(OTHER, ROOT.kid))).code == "bundle_bad_signature"


def test_tampered_bundle_is_refused_at_every_byte() -> None:
    data = sign_bundle(content(revoked=((ISS, bytes(8)),)), ROOT)
    for i in range(0, len(data), max(1, len(data) // 97)):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        with pytest.raises(BundleError):
            _open(bytes(tampered))


def test_truncated_and_extended_bundles_are_refused() -> None:
    data = sign_bundle(content(), ROOT)
    assert refused(data[:-1]).code == "bundle_malformed"
    assert refused(data + b"\x00").code == "bundle_malformed"
    assert refused(b"").code == "bundle_malformed"


def test_rollback_to_a_lower_seq_is_refused() -> None:
    one = sign_bundle(content(seq=1), ROOT)
    two = sign_bundle(content(seq=2, issued_at=T0), ROOT)
    current = _open(two)
    assert refused(one, current=current).code == "bundle_rollback"
    assert refused(one, min_seq=2).code == "bundle_rollback"
    # The same seq again, or a higher one, is accepted.
    assert _open(two, current=current).seq == 2
    assert _open(sign_bundle(content(seq=3), ROOT), current=current).seq == 3


def test_same_seq_with_other_content_is_refused_and_the_same_content_is_a_no_op() -> None:
    held = _open(sign_bundle(content(seq=2, issued_at=T0), ROOT))
    # The same content signed again (ECDSA: other bytes) changes nothing: the held bundle stays.
    assert _open(sign_bundle(content(seq=2, issued_at=T0), ROOT), current=held) is held
    for other in (
        content(seq=2, issued_at=T0, revoked=((ISS, bytes(8)),)),  # a revocation more
        content(seq=2, issued_at=T0, zones=ZONES[1:]),  # a zone less
        content(seq=2, issued_at=T0 + 1),
        content(seq=2, issued_at=T0, keys=(key_entry(SIGNER), key_entry(OTHER))),
    ):
        error = refused(sign_bundle(other, ROOT), current=held)
        assert error.code == "bundle_seq_conflict"
        assert "même numéro 2" in error.message and "suspect" in error.message


def test_a_full_bundle_equal_to_the_held_delta_result_is_a_no_op() -> None:
    base, new = _evolved()
    held = _open(sign_delta(base, new, ROOT), current=_open(sign_bundle(base, ROOT)))
    assert _open(sign_bundle(new, ROOT), current=held) is held
    changed = dataclasses.replace(new, zones=new.zones[:-1])
    assert refused(sign_bundle(changed, ROOT), current=held).code == "bundle_seq_conflict"


def test_bundle_of_another_issuer_is_refused_over_a_held_one() -> None:
    current = _open(sign_bundle(content(seq=1), ROOT))
    other = sign_bundle(content(seq=2, iss="FR-AILLEURS"), ROOT)
    assert refused(other, current=current).code == "bundle_wrong_issuer"


# ---- deltas -------------------------------------------------------------------------------------


def _evolved():
    """Two successive full contents: revocations added and removed, zones changed, added, removed."""
    base = content(seq=4, revoked=tuple((ISS, bytes([i]) * 8) for i in range(10)))
    changed_centre = dataclasses.replace(ZONES[0], windows=(TimeWindow(0b11111, 480, 720),))
    new_zone = BundleZone(
        9, "NOUVELLE", "Nouvelle", "pedestrian", "Europe/Paris", closures=(Closure(T0, T0 + 60, "Travaux"),)
    )
    zones = (changed_centre, *ZONES[1:6], new_zone)  # 7 and 8 removed, 1 changed, 9 added
    new = content(
        seq=7,
        issued_at=T0,
        keys=(key_entry(SIGNER), key_entry(ED_SIGNER), key_entry(OTHER)),
        withdrawn=frozenset({ED_SIGNER.kid}),
        revoked=tuple((ISS, bytes([i]) * 8) for i in range(5, 15)),
        zones=zones,
    )
    return base, new


def test_delta_gives_the_same_content_as_the_full_bundle() -> None:
    base, new = _evolved()
    current = _open(sign_bundle(base, ROOT))
    updated = _open(sign_delta(base, new, ROOT), current=current)
    full = _open(sign_bundle(new, ROOT))
    assert updated.content == full.content == new
    assert encode_full(updated.content) == encode_full(new)
    assert updated.revoked_set == full.revoked_set
    assert set(updated.zones_by_code) == set(full.zones_by_code)
    assert set(updated.keys_by_kid) == {SIGNER.kid, ED_SIGNER.kid, OTHER.kid}
    assert updated.content.withdrawn == {ED_SIGNER.kid}


def test_delta_is_smaller_than_the_full_bundle() -> None:
    base, new = _evolved()
    assert len(sign_delta(base, new, ROOT)) < len(sign_bundle(new, ROOT))


def test_delta_then_verdicts_follow_the_new_content() -> None:
    base, new = _evolved()
    current = _open(sign_bundle(base, ROOT))
    updated = _open(sign_delta(base, new, ROOT), current=current)
    ed_pass = sign_pass(claims(), ED_SIGNER)
    assert verify_pass(ed_pass, current, zone="MARAIS", now=T0).reason is Reason.VALID
    assert verify_pass(ed_pass, updated, zone="MARAIS", now=T0).reason is Reason.KEY_WITHDRAWN
    assert verify_pass(sign_pass(claims(), OTHER), updated, zone="MARAIS", now=T0).reason is Reason.VALID
    assert verify_pass(sign_pass(claims(), SIGNER), updated, zone="DST", now=T0).reason is Reason.UNKNOWN_ZONE


def test_delta_on_the_wrong_base_is_refused() -> None:
    base, new = _evolved()
    middle = dataclasses.replace(base, seq=5)
    wrong_base = _open(sign_bundle(middle, ROOT))
    assert refused(sign_delta(base, new, ROOT), current=wrong_base).code == "bundle_delta_base"
    assert refused(sign_delta(base, new, ROOT)).code == "bundle_delta_base"


def test_delta_not_raising_seq_over_the_held_bundle_is_refused() -> None:
    base, new = _evolved()
    held = _open(sign_bundle(dataclasses.replace(new, seq=8), ROOT))
    assert refused(sign_delta(base, new, ROOT), current=held).code == "bundle_rollback"


def test_delta_signed_by_another_root_is_refused() -> None:
    base, new = _evolved()
    current = _open(sign_bundle(base, ROOT))
    assert refused(sign_delta(base, new, OTHER), current=current).code == "bundle_unknown_root"


# ---- sizes --------------------------------------------------------------------------------------


def _serials(n: int, salt: bytes) -> list[tuple[str, bytes]]:
    return [(ISS, hashlib.sha256(salt + i.to_bytes(4, "big")).digest()[:8]) for i in range(n)]


def test_sizes_100k_revocations_and_delta_of_100(capsys: pytest.CaptureFixture[str]) -> None:
    revoked = _serials(100_000, b"a")
    base = content(seq=10, revoked=tuple(revoked))
    full = sign_bundle(base, ROOT)
    new = content(seq=11, revoked=tuple(revoked + _serials(100, b"b")))
    delta = sign_delta(base, new, ROOT)
    with capsys.disabled():
        print(f"\nbundle with 100,000 revocations: {len(full):,} bytes; delta of 100 revocations: {len(delta):,} bytes")
    assert len(full) <= 1_800_000
    assert len(delta) <= 4_096
    current = _open(full)
    assert current.revoked_count() == 100_000
    updated = _open(delta, current=current)
    assert updated.revoked_count() == 100_100
    assert updated.is_revoked(*_serials(100, b"b")[42])
    assert updated.is_revoked(*revoked[99_999])
    assert revocation_hash(*revoked[0]) in updated.revoked_set


# ---- a root-signed bundle with bad entries is refused as a bundle, not with another exception ------


def _p384_spki() -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    from cirqliz.passcode.keys import spki_der

    return spki_der(ec.generate_private_key(ec.SECP384R1()).public_key())


BAD_CONTENTS = {
    "unreadable_spki": lambda: content(keys=(dataclasses.replace(key_entry(SIGNER), spki=b"junk"),)),
    "alg_disagrees_with_key": lambda: content(keys=(dataclasses.replace(key_entry(SIGNER), alg=Algorithm.EDDSA),)),
    "p384_key": lambda: content(keys=(dataclasses.replace(key_entry(SIGNER), spki=_p384_spki()),)),
    "holiday_out_of_range": lambda: content(holidays=(10**8,)),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTENTS))
def test_root_signed_bundle_with_bad_entries_raises_bundle_error(case: str) -> None:
    """open_bundle's contract: BundleError if refused (the CLI catches only that)."""
    data = sign_bundle(BAD_CONTENTS[case](), ROOT)
    with pytest.raises(BundleError) as info:
        _open(data)
    assert info.value.code == "bundle_malformed"


def test_same_kid_twice_every_key_is_tried() -> None:
    impostor = dataclasses.replace(key_entry(SIGNER), spki=OTHER.verify_key().spki())
    trust = _open(sign_bundle(content(keys=(impostor, key_entry(SIGNER))), ROOT))
    assert len(trust.keys_by_kid[SIGNER.kid]) == 2
    assert verify_pass(sign_pass(claims(), SIGNER), trust, zone="MARAIS", now=T0).reason is Reason.VALID
    assert verify_pass(sign_pass(claims(), forged(OTHER, SIGNER.kid)), trust, zone="MARAIS", now=T0).reason is (
        Reason.VALID
    )


# ---- refusals say why, in French (the CLI and the keys/bundle commands print them) -------------------


def test_refusal_messages_are_french() -> None:
    data = sign_bundle(content(), ROOT)
    held = _open(sign_bundle(content(seq=2, issued_at=T0), ROOT))
    base, new = _evolved()
    cases = [
        (refused(sign_bundle(content(), OTHER)), "bundle_unknown_root",
         "paquet refusé : pas signé par une clé racine épinglée"),
        (refused(sign_bundle(content(), forged(OTHER, ROOT.kid))), "bundle_bad_signature",
         "paquet refusé : signature invalide (paquet altéré ?)"),
        (refused(data[:-1]), "bundle_malformed", "paquet refusé : message COSE : CBOR illisible (CBOR tronqué)"),
        (refused(data + b"\x00"), "bundle_malformed",
         "paquet refusé : message COSE : 1 octet(s) en trop après l'élément CBOR"),
        (refused(sign_bundle(content(seq=1), ROOT), current=held), "bundle_rollback",
         "paquet refusé : n° 1 plus ancien que le n° 2 déjà détenu (retour en arrière)"),
        (refused(sign_bundle(content(seq=3, iss="FR-AILLEURS"), ROOT), current=held), "bundle_wrong_issuer",
         "paquet refusé : émis par une autre autorité ('FR-AILLEURS' au lieu de 'FR-TEST')"),
        (refused(sign_delta(base, new, ROOT)), "bundle_delta_base",
         "paquet refusé : différentiel pour le n° 4, paquet détenu : aucun ; récupérez un paquet complet"),
        (refused(sign_bundle(content(holidays=(10**8,)), ROOT)), "bundle_malformed",
         "paquet refusé : jour férié : au-delà de l'an 9999"),
        (refused(sign_bundle(BAD_CONTENTS["p384_key"](), ROOT)), "bundle_malformed",
         f"paquet refusé : clé {SIGNER.kid.hex()} : courbe elliptique non prise en charge : secp384r1"),
    ]
    assert [(e.code, e.message) for e, _, _ in cases] == [(code, message) for _, code, message in cases]
