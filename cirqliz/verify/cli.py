"""`cirqliz verify`: check a pass offline. Exit 0 when valid, 1 when refused, 2 on a usage error."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from cirqliz.passcode.bundle import BundleContent, TrustBundle, decode_payload, encode_full, open_bundle
from cirqliz.passcode.cose import decode_sign1
from cirqliz.passcode.errors import BundleError, SchemeError
from cirqliz.passcode.keys import VerifyKey
from cirqliz.passcode.token import PREFIX
from cirqliz.verify.federation import TrustSet, open_trust_set, parse_zone_ref, verify_federated
from cirqliz.verify.messages import bundle_refusal, status_label


def os_reason(exc: OSError) -> str:
    """An operating-system error in French (its own text is English)."""
    if isinstance(exc, FileNotFoundError):
        return "fichier introuvable"
    if isinstance(exc, PermissionError):
        return "accès refusé"
    if isinstance(exc, IsADirectoryError):
        return "c'est un dossier"
    return "erreur de lecture"


class UsageError(Exception):
    """Bad arguments or unreadable files: exit code 2."""


def parse_instant(text: str, what: str) -> datetime:
    """ISO 8601 with a UTC offset (or Z) to an aware datetime; UsageError otherwise."""
    try:
        when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise UsageError(f"{what} : {text!r} n'est pas une date-heure ISO 8601 (ex. 2026-11-23T09:30+01:00)") from None
    if when.tzinfo is None:
        raise UsageError(f"{what} : {text!r} n'a pas de décalage UTC ; ajoutez-en un, ex. {text}+01:00 ou {text}Z")
    return when


def read_image(path: str) -> str:
    """The pass text in a photo (PNG or JPEG) of its QR code, decoded with zxing-cpp."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise UsageError(f"--image : fichier introuvable {path}") from None
    except (UnidentifiedImageError, OSError):
        raise UsageError(f"--image : {path} n'est pas une image PNG ou JPEG lisible") from None
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=True, try_invert=True)
    texts = [r.text for r in results if r.text]
    for text in texts:
        if text.startswith(PREFIX):
            return text
    if texts:
        return texts[0]
    raise UsageError(f"--image : aucun QR code trouvé dans {path}")


def load_root(args: argparse.Namespace) -> list[VerifyKey]:
    """The pinned root key(s): --root PEM files, else the keys directory's root public key."""
    paths = [Path(p) for p in args.root or []]
    if not paths:
        ring = Path(args.keys_dir) / "keyring.json"
        if not ring.exists():
            raise UsageError(f"aucune clé racine : donnez --root RACINE.pem ou --keys-dir (pas de {ring})")
        root_kid = json.loads(ring.read_text())["root"]
        paths = [Path(args.keys_dir) / "public" / f"{root_kid}.pem"]
    keys = []
    for path in paths:
        try:
            keys.append(VerifyKey.from_pem(path.read_bytes()))
        except OSError as exc:
            raise UsageError(f"impossible de lire la clé racine {path} ({os_reason(exc)})") from None
        except SchemeError as exc:
            raise UsageError(f"clé racine {path} : {exc.message}") from None
    return keys


def content_digest(content: BundleContent) -> str:
    """SHA-256 (hex) of a bundle's content in its one deterministic encoding, kept in the state file."""
    return hashlib.sha256(encode_full(content)).hexdigest()


def load_bundle(path: str, roots: list[VerifyKey], state: dict[str, Any]) -> TrustBundle:
    """Read and check a bundle file (BundleError when refused, also for the state's seq with
    another content than the one the state remembers)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"impossible de lire le paquet de confiance {path} ({os_reason(exc)})") from None
    bundle = open_bundle(data, roots, min_seq=state.get("seq"))
    known = state.get("content")
    if known and bundle.seq == state.get("seq") and content_digest(bundle.content) != known:
        raise BundleError(
            f"paquet refusé : même numéro {bundle.seq} que celui déjà vu mais contenu différent (suspect)",
            code="bundle_seq_conflict",
        )
    return bundle


def _partner_of_file(home: TrustBundle, data: bytes) -> str | None:
    """The partner a bundle file is for: the one whose root signed it, else the iss it states (None:
    unreadable)."""
    try:
        message = decode_sign1(data, deterministic=True)
        _, content, _ = decode_payload(message.payload)
    except SchemeError:
        return None
    for iss, root in home.partner_roots.items():
        if root.kid == message.kid:
            return iss
    return content.iss


class PartnerRefusal:
    """A partner bundle file that was not taken: who, which file, why (French)."""

    def __init__(self, path: str, iss: str | None, code: str, reason: str) -> None:
        self.path, self.iss, self.code, self.reason = path, iss, code, reason

    def line(self, home: TrustBundle) -> str:
        """One French line for the agent."""
        if self.iss is None:
            return f"paquet partenaire {self.path} refusé : {self.reason}"
        entry = home.partner(self.iss)
        who = f"{entry.name} ({self.iss})" if entry else self.iss
        verb = "ignoré" if self.code == "not_a_partner" else "refusé"
        return f"paquet partenaire {who}, fichier {self.path}, {verb} : {self.reason}"

    def as_json(self) -> dict[str, Any]:
        """JSON form (--json output)."""
        return {"file": self.path, "iss": self.iss, "code": self.code, "message": self.reason}


def load_partners(
    home: TrustBundle, paths: list[str], state: dict[str, Any]
) -> tuple[TrustSet, list[PartnerRefusal]]:
    """Open the --partner-bundle files against the roots the home bundle lists; refused ones are
    reported (never fatal). The state's partner seqs defend against rollback as for the home bundle."""
    by_iss: dict[str, tuple[str, bytes]] = {}
    refused: list[PartnerRefusal] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"impossible de lire le paquet partenaire {path} ({os_reason(exc)})") from None
        iss = _partner_of_file(home, data)
        if iss is None:
            refused.append(PartnerRefusal(path, None, "bundle_malformed", bundle_refusal("bundle_malformed")))
        elif home.partner(iss) is None:
            refused.append(PartnerRefusal(
                path, iss, "not_a_partner",
                f"{iss} n'est pas un partenaire de {home.iss} (paquet de confiance n° {home.seq})",
            ))
        elif iss in by_iss:
            raise UsageError(f"--partner-bundle : deux paquets pour le partenaire {iss} ({by_iss[iss][0]}, {path})")
        else:
            by_iss[iss] = (path, data)
    trust, refusals = open_trust_set(home, {iss: data for iss, (_, data) in by_iss.items()})
    for iss, exc in refusals.items():
        refused.append(PartnerRefusal(by_iss[iss][0], iss, exc.code, bundle_refusal(exc.code)))
    kept = dict(trust.partners)
    for iss, bundle in trust.partners.items():
        seen = state.get("partners", {}).get(iss)
        if seen is None:
            continue
        code = None
        if bundle.seq < seen["seq"]:
            code = "bundle_rollback"
        elif bundle.seq == seen["seq"] and seen.get("content") not in (None, content_digest(bundle.content)):
            code = "bundle_seq_conflict"
        if code:
            del kept[iss]
            refused.append(PartnerRefusal(
                by_iss[iss][0], iss, code, f"{bundle_refusal(code)} (n° {bundle.seq}, déjà vu : n° {seen['seq']})"
            ))
    return TrustSet(home, kept, {iss: trust.partner_roots[iss] for iss in kept}), refused


def _partners_state(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    for iss, seen in value.items():
        if not isinstance(iss, str) or not isinstance(seen, dict):
            return False
        if type(seen.get("seq")) is not int or seen["seq"] < 0:
            return False
        if "content" in seen and (type(seen["content"]) is not str or len(seen["content"]) != 64):
            return False
    return True


def read_state(path: Path) -> dict[str, Any]:
    """The verifier state {"seq", "last_seen", "content", "partners"} (empty when the file does not
    exist yet); `content` is the digest of the bundle content that `seq` named, `partners` the same
    by partner iss ({"seq", "content"}).

    An unreadable state is a usage error, never silently reset: forgetting it would let an older
    bundle and a clock set back through.
    """
    if not path.parent.is_dir():
        raise UsageError(f"--state : le dossier de {path} n'existe pas")
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"--state : impossible de lire {path} ({os_reason(exc)})") from None
    except ValueError:
        raise UsageError(f"--state : {path} n'est pas un fichier d'état de vérificateur (JSON)") from None
    if not isinstance(state, dict) or any(
        type(state.get(k, 0)) is not int or state.get(k, 0) < 0 for k in ("seq", "last_seen")
    ):
        raise UsageError(f"--state : {path} doit contenir {{\"seq\": N, \"last_seen\": EPOCH}}")
    content = state.get("content")
    if content is not None and (type(content) is not str or len(content) != 64):
        raise UsageError(f"--state : {path} : \"content\" doit être un SHA-256 en hexadécimal")
    if "partners" in state and not _partners_state(state["partners"]):
        raise UsageError(f"--state : {path} : \"partners\" doit associer à chaque autorité "
                         "{\"seq\": N, \"content\": SHA-256}")
    return {k: state[k] for k in ("seq", "last_seen", "content", "partners") if k in state}


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically: a crash never leaves a half-written one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `cirqliz verify`."""
    parser.add_argument("text", nargs="?",
                        help="le texte du laissez-passer (CQ1:…), ou - pour le lire sur l'entrée standard")
    parser.add_argument("--image", help="une photo PNG ou JPEG du QR code au lieu du TEXTE")
    parser.add_argument("--bundle", required=True, help="fichier du paquet de confiance (.cose)")
    parser.add_argument("--zone", required=True,
                        help="zone du contrôle : CODE (zone de votre autorité) ou AUTORITÉ/CODE (zone d'un partenaire)")
    parser.add_argument("--partner-bundle", action="append", default=[], metavar="FICHIER",
                        help="paquet de confiance d'une autorité partenaire (.cose), vérifié avec la clé racine "
                             "que donne le paquet de votre autorité ; répétable")
    parser.add_argument("--at", help="heure du contrôle, ISO 8601 avec décalage (par défaut : maintenant)")
    parser.add_argument("--plate", help="plaque lue sur le véhicule, comparée au laissez-passer")
    parser.add_argument("--json", action="store_true", help="afficher le verdict en JSON")
    parser.add_argument("--root", action="append", help="clé publique racine épinglée (PEM) ; répétable")
    parser.add_argument("--keys-dir", default=os.environ.get("CIRQLIZ_KEYS_DIR", "keys"))
    parser.add_argument(
        "--state", help="fichier d'état du vérificateur (plus haut numéro de paquet, dernière heure vue), "
                        "comme un téléphone le garde"
    )


def run(args: argparse.Namespace) -> int:
    """Execute `cirqliz verify`; returns the exit code."""
    try:
        if args.image and args.text:
            raise UsageError("donnez TEXTE ou --image, pas les deux")
        if args.image:
            text = read_image(args.image)
        elif args.text == "-":
            text = sys.stdin.read().strip()
        elif args.text:
            text = args.text.strip()
        else:
            raise UsageError("donnez le TEXTE du laissez-passer ou --image PHOTO")
        now = parse_instant(args.at, "--at") if args.at else datetime.now().astimezone()
        state_file = Path(args.state) if args.state else None
        state = read_state(state_file) if state_file else {}
        try:
            parse_zone_ref(args.zone)
        except ValueError as exc:
            raise UsageError(f"--zone : {exc}") from None
        roots = load_root(args)
        bundle = load_bundle(args.bundle, roots, state)
        trust, refused = load_partners(bundle, args.partner_bundle, state)
    except UsageError as exc:
        print(f"cirqliz verify: {exc}", file=sys.stderr)
        return 2
    except BundleError as exc:
        if args.json:
            print(json.dumps({"status": "REFUSED", "reason": "BUNDLE_REFUSED", "detail": exc.message}))
        else:
            print(f"{status_label('REFUSED').upper()} — {exc.message}")
        return 1
    for refusal in refused:
        print(refusal.line(bundle), file=sys.stderr)
    verdict = verify_federated(text, trust, zone=args.zone, now=now, plate=args.plate,
                               last_seen=state.get("last_seen"))
    if state_file:
        partners = dict(state.get("partners", {}))
        for iss, held in trust.partners.items():
            partners[iss] = {"seq": held.seq, "content": content_digest(held.content)}
        new_state: dict[str, Any] = {"seq": bundle.seq, "last_seen": max(verdict.checked_at, state.get("last_seen", 0)),
                                     "content": content_digest(bundle.content)}
        if partners:
            new_state["partners"] = partners
        write_state(state_file, new_state)
    if args.json:
        data = verdict.as_json()
        if args.partner_bundle:
            data["partner_refusals"] = [r.as_json() for r in refused]
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(f"{status_label(verdict.status.value).upper()} — {verdict.message_fr}")
        print(f"  code : {verdict.reason.value}")
        if verdict.detail:
            print(f"  détail : {verdict.detail}")
        if verdict.claims:
            c = verdict.claims
            print(f"  plaque : {c.plate}   série : {c.serial}   zones : {list(c.zones)}")
        if verdict.issuer:
            name = verdict.issuer_name
            print(f"  Émis par : {name} ({verdict.issuer})" if name else f"  Émis par : {verdict.issuer}")
        if verdict.zone_authority and verdict.zone_authority != bundle.iss:
            name = trust.name_of(verdict.zone_authority)
            print(f"  zone de : {name} ({verdict.zone_authority})" if name else f"  zone de : {verdict.zone_authority}")
        age = verdict.checked_at - bundle.content.issued_at
        print(f"  paquet de confiance : n° {bundle.seq}, âge {age // 3600} h {age % 3600 // 60} min")
        for iss, partner in sorted(trust.partners.items()):
            age = verdict.checked_at - partner.content.issued_at
            print(f"  paquet de {iss} : n° {partner.seq}, âge {age // 3600} h {age % 3600 // 60} min")
    return 0 if verdict.valid else 1
