"""The `cirqliz` command end to end: keys, bundles, passes and offline verification.

Most runs call cirqliz.cli.main in-process (fast, output through capsys); one chain runs the
installed console script in subprocesses. The keystore signs with the machine's clock, so the
check times (`--at`) are computed from the real "now": tomorrow at 09:00 in Paris, when the
demo zone MARAIS-PIETON (every day 06:00-11:00) is open and the default bundle (3 days) is fresh.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from cli_driver import Run, run_cli

from ._support import PARIS

OPEN_ZONE = "MARAIS-PIETON"  # demo zone 2, Mo-Su 06:00-11:00
OTHER_ZONE = "PARIS-CENTRE"  # demo zone 1
MUTABLE_REASONS = {"MALFORMED", "BAD_SIGNATURE"}


def local_at(days: int, hour: int, minute: int = 0) -> str:
    """ISO 8601 with offset: `days` from today at hour:minute, Paris time."""
    day = datetime.now(PARIS).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).isoformat()


def from_now(**delta: float) -> str:
    return (datetime.now(PARIS) + timedelta(**delta)).replace(microsecond=0).isoformat()


CHECK_AT = local_at(1, 9)  # tomorrow 09:00 in Paris


class Cli:
    """An authority's keys directory in tmp_path, driven through cirqliz.cli.main."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.base = tmp_path
        self.keys = tmp_path / "keys"
        self.capsys = capsys
        self.bundles = 0

    def __call__(self, *args: str) -> Run:
        return run_cli(self.capsys, *args)

    def ok(self, *args: str) -> Run:
        run = self(*args)
        assert run.rc == 0, run
        return run

    def init(self, *extra: str) -> Run:
        return self.ok("keys", "init", "--dir", str(self.keys), "--issuer", "FR-TEST", *extra)

    def build(self, *extra: str) -> Path:
        self.bundles += 1
        out = self.base / f"bundle-{self.bundles}.cose"
        self.ok("bundle", "build", "--dir", str(self.keys), "--out", str(out), *extra)
        return out

    def sign(self, *extra: str, zones: tuple[str, ...] = (OPEN_ZONE,), start: str = "", end: str = "") -> Pass:
        args = ["pass", "sign", "--dir", str(self.keys), "--plate", "AB-123-CD"]
        for zone in zones:
            args += ["--zone", zone]
        args += ["--from", start or from_now(days=-1), "--to", end or from_now(days=10), *extra]
        run = self.ok(*args)
        text = run.out.strip()
        words = run.err.split()
        return Pass(text, serial=words[words.index("numéro") + 1], kid=words[words.index("clé") + 1])

    def verify(self, text: str | None, bundle: Path, *extra: str, zone: str = OPEN_ZONE, at: str = CHECK_AT) -> Run:
        args = ["verify"] + ([text] if text is not None else [])
        args += ["--bundle", str(bundle), "--zone", zone, "--keys-dir", str(self.keys), "--json"]
        if at:
            args += ["--at", at]
        return self(*args, *extra)

    def reason(self, text: str, bundle: Path, *extra: str, **kw: str) -> str:
        run = self.verify(text, bundle, *extra, **kw)
        data = run.json()
        assert run.rc == (0 if data["reason"] == "VALID" else 1), run
        return str(data["reason"])


@dataclass
class Pass:
    text: str
    serial: str
    kid: str


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("CIRQLIZ_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("CIRQLIZ_KEYS_DIR", raising=False)
    return Cli(tmp_path, capsys)


@pytest.fixture
def ready(cli: Cli) -> tuple[Cli, Path, Pass]:
    """Keys, a first bundle, and a pass for MARAIS-PIETON valid from yesterday for 10 days."""
    cli.init()
    bundle = cli.build()
    return cli, bundle, cli.sign()


# ---- the round trip ------------------------------------------------------------------------------


def test_round_trip_valid(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    assert signed.text.startswith("CQ1:")
    assert "\n" not in signed.text
    run = cli.verify(signed.text, bundle)
    assert run.rc == 0, run
    data = run.json()
    assert data["status"] == "VALID" and data["reason"] == "VALID"
    assert data["message_fr"] and data["message_en"]
    assert data["claims"]["serial"] == signed.serial
    assert data["claims"]["plate"] == "AB123CD"
    assert data["kid"] == signed.kid
    assert data["zone"] == OPEN_ZONE


def test_round_trip_text_output(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    run = cli("verify", signed.text, "--bundle", str(bundle), "--zone", OPEN_ZONE,
              "--keys-dir", str(cli.keys), "--at", CHECK_AT)
    assert run.rc == 0
    assert run.out.startswith("VALID")
    assert signed.serial in run.out


@pytest.mark.parametrize(
    "position",
    [0, 1, 2, 3, 4, 5, "middle", "middle+1", -3, -2, -1],
)
def test_one_changed_character_is_refused(ready: tuple[Cli, Path, Pass], position: int | str) -> None:
    cli, bundle, signed = ready
    text = signed.text
    middle = 4 + (len(text) - 4) // 2
    i = {"middle": middle, "middle+1": middle + 1}.get(position, position)  # type: ignore[arg-type]
    i = i % len(text)  # type: ignore[operator]
    replacement = "A" if text[i] != "A" else "B"
    changed = text[:i] + replacement + text[i + 1 :]
    assert changed != text
    run = cli.verify(changed, bundle)
    assert run.rc == 1, run
    data = run.json()
    assert data["status"] == "REFUSED"
    assert data["reason"] in MUTABLE_REASONS
    if i < 4:
        assert data["reason"] == "MALFORMED"


def test_expired_after_to(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    assert cli.reason(signed.text, bundle, at=local_at(11, 9)) == "EXPIRED"


def test_not_yet_valid_before_from(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, _ = ready
    later = cli.sign(start=local_at(2, 0), end=local_at(12, 0))
    assert cli.reason(later.text, bundle) == "NOT_YET_VALID"
    assert cli.reason(later.text, bundle, at=local_at(2, 9)) == "VALID"


def test_wrong_zone(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    assert cli.reason(signed.text, bundle, zone=OTHER_ZONE) == "WRONG_ZONE"


def test_outside_hours(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    assert cli.reason(signed.text, bundle, at=local_at(1, 15)) == "OUTSIDE_HOURS"
    assert cli.reason(signed.text, bundle, at=local_at(1, 5, 59)) == "OUTSIDE_HOURS"


def test_pass_window_outside_hours(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, _ = ready
    narrow = cli.sign("--window", "Mo-Su 10:00-10:30")
    assert cli.reason(narrow.text, bundle) == "OUTSIDE_HOURS"
    assert cli.reason(narrow.text, bundle, at=local_at(1, 10, 15)) == "VALID"


def test_revoked_serial(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, signed = ready
    other = cli.sign()
    revoked = cli.base / "revoked.txt"
    revoked.write_text(f"# revoked passes\n{signed.serial}\n\n")
    bundle = cli.build("--revoked", str(revoked))
    assert cli.reason(signed.text, bundle) == "REVOKED"
    assert cli.reason(other.text, bundle) == "VALID"


def test_revoked_serial_with_issuer_prefix(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, signed = ready
    revoked = cli.base / "revoked.txt"
    revoked.write_text(f"FR-TEST:{signed.serial.lower()}\n")
    assert cli.reason(signed.text, cli.build("--revoked", str(revoked))) == "REVOKED"


def test_withdrawn_key(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, signed = ready
    cli.ok("keys", "withdraw", signed.kid, "--dir", str(cli.keys))
    bundle = cli.build()
    assert cli.reason(signed.text, bundle) == "KEY_WITHDRAWN"


def test_no_signing_after_withdrawing_the_only_key(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, signed = ready
    cli.ok("keys", "withdraw", signed.kid, "--dir", str(cli.keys))
    run = cli("pass", "sign", "--dir", str(cli.keys), "--zone", OPEN_ZONE, "--plate", "AB-123-CD",
              "--from", from_now(), "--to", from_now(days=1))
    assert run.rc == 1
    assert "aucune clé de signature" in run.err


def test_stale_bundle(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, signed = ready
    bundle = cli.build("--max-age", "60")
    run = cli.verify(signed.text, bundle)
    assert run.rc == 1
    assert run.json()["reason"] == "STALE_BUNDLE"
    assert run.json()["status"] == "UNCERTAIN"


def test_tampered_bundle_is_refused(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    data = bytearray(bundle.read_bytes())
    for i in (len(data) // 2, len(data) - 1, 40):
        tampered = cli.base / f"tampered-{i}.cose"
        copy = bytearray(data)
        copy[i] ^= 0x20
        tampered.write_bytes(bytes(copy))
        run = cli.verify(signed.text, tampered)
        assert run.rc == 1, run
        assert run.json()["reason"] == "BUNDLE_REFUSED"
        assert run.json()["status"] == "REFUSED"
    plain = cli("verify", signed.text, "--bundle", str(tampered), "--zone", OPEN_ZONE,
                "--keys-dir", str(cli.keys), "--at", CHECK_AT)
    assert plain.rc == 1 and "REFUSÉ" in plain.out


def test_root_signed_bundle_with_a_bad_key_entry_is_refused_not_a_crash(ready: tuple[Cli, Path, Pass]) -> None:
    """Signed by the pinned root but unusable (unreadable key): exit 1 and BUNDLE_REFUSED, no traceback."""
    from cirqliz.issuance.keystore import KeyStore
    from cirqliz.passcode.bundle import sign_bundle

    cli, _, signed = ready
    store = KeyStore(cli.keys)
    good = store.stored_bundle(1).content
    bad = dataclasses.replace(
        good, seq=good.seq + 1, keys=tuple(dataclasses.replace(k, spki=b"junk") for k in good.keys)
    )
    path = cli.base / "bad-keys.cose"
    path.write_bytes(sign_bundle(bad, store.root_key()))
    run = cli.verify(signed.text, path)
    assert run.rc == 1, run
    assert run.json()["reason"] == "BUNDLE_REFUSED"


def test_rolled_back_bundle_is_refused(ready: tuple[Cli, Path, Pass]) -> None:
    cli, old, signed = ready
    new = cli.build()
    state = cli.base / "state.json"
    assert cli.reason(signed.text, new, "--state", str(state)) == "VALID"
    assert json.loads(state.read_text())["seq"] == 2
    run = cli.verify(signed.text, old, "--state", str(state))
    assert run.rc == 1
    assert run.json()["reason"] == "BUNDLE_REFUSED"
    assert "retour en arrière" in run.json()["detail"] and "plus ancien" in run.json()["detail"]
    # The newer bundle is still accepted with the same state.
    assert cli.reason(signed.text, new, "--state", str(state)) == "VALID"


def test_same_seq_with_other_content_is_refused_with_a_state_file(ready: tuple[Cli, Path, Pass]) -> None:
    """The state remembers which content its seq named: another bundle under that seq is suspect."""
    from cirqliz.issuance.keystore import KeyStore
    from cirqliz.passcode.bundle import sign_bundle

    cli, bundle, signed = ready
    state = cli.base / "state.json"
    assert cli.reason(signed.text, bundle, "--state", str(state)) == "VALID"
    store = KeyStore(cli.keys)
    held = store.stored_bundle(1).content
    again, other = cli.base / "again.cose", cli.base / "other.cose"
    again.write_bytes(sign_bundle(held, store.root_key()))  # the same content, signed again
    other.write_bytes(sign_bundle(dataclasses.replace(held, max_age=held.max_age * 10), store.root_key()))
    assert cli.reason(signed.text, again, "--state", str(state)) == "VALID"
    run = cli.verify(signed.text, other, "--state", str(state))
    assert run.rc == 1, run
    assert run.json()["reason"] == "BUNDLE_REFUSED" and "même numéro 1" in run.json()["detail"]
    assert cli.reason(signed.text, bundle, "--state", str(state)) == "VALID"  # the state was kept


def test_state_file_remembers_the_last_time_seen(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    state = cli.base / "state.json"
    assert cli.reason(signed.text, bundle, "--state", str(state), at=local_at(1, 10)) == "VALID"
    # The clock is then turned back an hour: the device has already seen 10:00, so it is suspect.
    assert cli.reason(signed.text, bundle, "--state", str(state), at=local_at(1, 9)) == "CLOCK_SUSPECT"


def test_verify_image_of_the_png(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, _ = ready
    png = cli.base / "pass.png"
    signed = cli.sign("--png", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = cli.verify(None, bundle, "--image", str(png))
    assert run.rc == 0, run
    assert run.json()["claims"]["serial"] == signed.serial


def test_json_output_parses_for_refusals_too(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    for text in (signed.text, "CQ1:XYZ", "not a pass"):
        data = cli.verify(text, bundle).json()
        assert {"status", "reason", "message_fr", "message_en"} <= set(data)
        assert data["status"] in {"VALID", "REFUSED", "UNCERTAIN"}


# ---- usage errors: exit code 2 and a message on stderr ------------------------------------------


def test_usage_error_without_text(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, _ = ready
    run = cli.verify(None, bundle)
    assert run.rc == 2
    assert "TEXT" in run.err
    assert run.out == ""


def test_usage_error_naive_at(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    run = cli.verify(signed.text, bundle, at="2026-11-23T09:30")
    assert run.rc == 2
    assert "--at" in run.err and "décalage UTC" in run.err


def test_usage_error_unparseable_at(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, signed = ready
    run = cli.verify(signed.text, bundle, at="tomorrow")
    assert run.rc == 2
    assert "--at" in run.err


def test_usage_error_missing_bundle_file(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, signed = ready
    missing = cli.base / "nope.cose"
    run = cli.verify(signed.text, missing)
    assert run.rc == 2
    assert "nope.cose" in run.err and "paquet de confiance" in run.err


def test_usage_error_missing_image(ready: tuple[Cli, Path, Pass]) -> None:
    cli, bundle, _ = ready
    run = cli.verify(None, bundle, "--image", str(cli.base / "nope.png"))
    assert run.rc == 2
    assert "nope.png" in run.err


def test_usage_error_missing_required_option(cli: Cli) -> None:
    run = cli("verify", "CQ1:ABC", "--zone", OPEN_ZONE)
    assert run.rc == 2
    assert "--bundle" in run.err


def test_sign_before_any_bundle_is_a_usage_error(cli: Cli) -> None:
    cli.init()
    run = cli("pass", "sign", "--dir", str(cli.keys), "--zone", OPEN_ZONE, "--plate", "AB-123-CD",
              "--from", from_now(), "--to", from_now(days=1))
    assert run.rc == 2
    assert "bundle" in run.err


# ---- keys ---------------------------------------------------------------------------------------


def test_key_rotation(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, old = ready
    run = cli.ok("keys", "rotate", "--dir", str(cli.keys))
    assert "en attente" in run.out
    # Until a bundle publishes the new key, passes are still signed with the old one.
    assert cli.sign().kid == old.kid
    bundle = cli.build()
    new = cli.sign()
    assert new.kid != old.kid
    assert cli.reason(new.text, bundle) == "VALID"
    assert cli.reason(old.text, bundle) == "VALID"
    listing = json.loads(cli.ok("keys", "list", "--dir", str(cli.keys), "--json").out)
    statuses = {row["kid"]: row["status"] for row in listing}
    assert statuses[old.kid] == "active" and statuses[new.kid] == "active"


def test_rotated_key_restricted_to_zones(ready: tuple[Cli, Path, Pass]) -> None:
    from cirqliz.issuance.keystore import KeyStore
    from cirqliz.passcode.claims import PassClaims
    from cirqliz.passcode.token import sign_pass

    cli, _, old = ready
    cli.ok("keys", "rotate", "--dir", str(cli.keys), "--zones", "1")
    bundle = cli.build()
    # The key limited to ref 1 signs only for ref 1: a pass for MARAIS-PIETON (ref 2) keeps the older key.
    other = cli.sign()
    assert other.kid == old.kid
    assert cli.reason(other.text, bundle) == "VALID"
    restricted = cli.sign(zones=(OTHER_ZONE,))
    assert restricted.kid != old.kid
    # Verifiers enforce the restriction whatever signs: the restricted key on a ref-2 pass is refused.
    key = KeyStore(cli.keys)._load_private(restricted.kid)
    now = int(datetime.now().timestamp())
    claims = PassClaims(iss="FR-TEST", iat=now, nbf=now - 86400, exp=now + 10 * 86400, cti=b"\x01" * 8, zones=(2,),
                        plate="AB123CD", purpose=1, windows=(), zone_data_version=0)
    assert cli.reason(sign_pass(claims, key), bundle) == "KEY_NOT_AUTHORISED"


def test_ed25519_round_trip(cli: Cli) -> None:
    cli.init("--alg", "Ed25519")
    bundle = cli.build()
    signed = cli.sign()
    assert cli.reason(signed.text, bundle) == "VALID"
    listing = json.loads(cli.ok("keys", "list", "--dir", str(cli.keys), "--json").out)
    assert [row["alg"] for row in listing if row["role"] == "signing"] == ["EdDSA"]


def test_private_key_files_are_mode_0600(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, _ = ready
    cli.ok("keys", "rotate", "--dir", str(cli.keys))
    private = sorted((cli.keys / "private").iterdir())
    assert len(private) == 3  # root, first signing key, rotated key
    for file in private:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE((cli.keys / "private").stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in private[0].read_bytes()


def test_init_refuses_to_overwrite(ready: tuple[Cli, Path, Pass]) -> None:
    cli, _, _ = ready
    before = (cli.keys / "keyring.json").read_bytes()
    run = cli("keys", "init", "--dir", str(cli.keys))
    assert run.rc == 1
    assert (cli.keys / "keyring.json").read_bytes() == before


# ---- the installed console script ---------------------------------------------------------------


def test_console_script_round_trip(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "cirqliz"
    assert script.exists(), script
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRQLIZ_")}
    keys, bundle = tmp_path / "keys", tmp_path / "bundle.cose"

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args], capture_output=True, text=True, env=env, input=stdin, timeout=60, check=False
        )

    assert run("keys", "init", "--dir", str(keys)).returncode == 0
    assert run("bundle", "build", "--dir", str(keys), "--out", str(bundle)).returncode == 0
    signed = run("pass", "sign", "--dir", str(keys), "--zone", OPEN_ZONE, "--plate", "AB-123-CD",
                 "--from", from_now(days=-1), "--to", from_now(days=10))
    assert signed.returncode == 0, signed.stderr
    text = signed.stdout.strip()
    assert text.startswith("CQ1:")
    common = ["--bundle", str(bundle), "--zone", OPEN_ZONE, "--keys-dir", str(keys), "--at", CHECK_AT]
    valid = run("verify", text, *common)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.startswith("VALID")
    from_stdin = run("verify", "-", *common, "--json", stdin=text + "\n")
    assert from_stdin.returncode == 0
    assert json.loads(from_stdin.stdout)["reason"] == "VALID"
    refused = run("verify", text[:-1] + ("A" if text[-1] != "A" else "B"), *common)
    assert refused.returncode == 1
    usage = run("verify", text, "--bundle", str(bundle), "--zone", OPEN_ZONE, "--keys-dir", str(keys),
                "--at", "2026-11-23T09:30")
    assert usage.returncode == 2
    assert "décalage UTC" in usage.stderr


# ---- federation: --partner-bundle and ISS/CODE zones (golden vectors of federation.json) ---------


class Federation:
    """The bundles of tests/vectors/federation.json written as files, VILLE's root as a PEM."""

    def __init__(self, cli: Cli) -> None:
        import base64

        from cirqliz.passcode.keys import VerifyKey

        vectors = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "federation.json").read_text())
        self.cli = cli
        self.cases = {c["name"]: c for c in vectors["cases"]}
        self.files = {}
        for name, data in vectors["bundles"].items():
            path = cli.base / f"{name}.cose"
            path.write_bytes(base64.b64decode(data))
            self.files[name] = path
        self.root = cli.base / "ville-root.pem"
        self.root.write_bytes(VerifyKey.from_spki(base64.b64decode(vectors["home_root_spki"])).pem())

    def verify(self, case: str, *partners: str, zone: str | None = None, home: str = "ville_v1",
               json_out: bool = True, extra: tuple[str, ...] = ()) -> Run:
        c = self.cases[case]
        at = datetime.fromtimestamp(c["at"], PARIS).isoformat()
        args = ["verify", c["text"], "--bundle", str(self.files[home]), "--root", str(self.root),
                "--zone", zone or c["zone"], "--at", at, *extra]
        for name in partners:
            args += ["--partner-bundle", str(self.files[name])]
        return self.cli(*args, *(["--json"] if json_out else []))


@pytest.fixture
def fed(cli: Cli) -> Federation:
    return Federation(cli)


def test_partner_pass_valid_with_its_issuer(fed: Federation) -> None:
    run = fed.verify("metro_pass_at_metro_zone", "metro_5", "pref")
    assert run.rc == 0, run
    data = run.json()
    assert (data["reason"], data["issuer"], data["issuer_name"], data["zone_authority"]) == (
        "VALID", "METRO", "Métropole de Test", "METRO")
    assert data["partner_refusals"] == []
    text = fed.verify("metro_pass_at_metro_zone", "metro_5", "pref", json_out=False)
    assert text.rc == 0 and "Émis par : Métropole de Test (METRO)" in text.out
    assert "paquet de METRO : n° 5" in text.out
    home = fed.verify("ville_pass_at_home_zone", "metro_5", json_out=False)
    assert "Émis par : Ville de Test (VILLE)" in home.out


def test_partner_name_from_the_home_bundle_entry(fed: Federation) -> None:
    run = fed.verify("pref_pass_at_pref_zone_name_from_home_entry", "metro_5", "pref", json_out=False)
    assert run.rc == 0, run
    assert "Émis par : Préfecture de Test (PREF)" in run.out


def test_home_pass_at_partner_zone_is_wrong_zone(fed: Federation) -> None:
    run = fed.verify("ville_pass_at_metro_zone_same_ref", "metro_5", json_out=False)
    assert run.rc == 1
    assert "WRONG_ZONE" in run.out and "zone de : Métropole de Test (METRO)" in run.out


def test_partner_bundle_under_another_root_is_refused_and_the_others_kept(fed: Federation) -> None:
    run = fed.verify("pref_pass_at_pref_zone_name_from_home_entry", "metro_by_rogue_root", "pref")
    assert run.rc == 0, run  # PREF's bundle still counts
    assert "paquet partenaire Métropole (METRO)" in run.err and "refusé" in run.err
    assert "clé racine" in run.err
    assert run.json()["partner_refusals"][0]["code"] == "bundle_unknown_root"
    metro = fed.verify("metro_pass_at_metro_zone", "metro_by_rogue_root", "pref")
    assert metro.rc == 1 and metro.json()["reason"] == "UNKNOWN_KEY"


def test_partner_bundle_stating_another_issuer_is_refused(fed: Federation) -> None:
    run = fed.verify("metro_pass_at_metro_zone", "metro_root_other_iss")
    assert run.rc == 1
    assert "Métropole (METRO)" in run.err and "autre autorité" in run.err
    assert run.json()["partner_refusals"][0]["code"] == "bundle_wrong_issuer"


def test_bundle_of_a_non_partner_is_ignored(fed: Federation) -> None:
    run = fed.verify("rogue_pass_offered_not_listed", "metro_5", "rogue")
    assert run.rc == 1 and run.json()["reason"] == "UNKNOWN_KEY"
    assert "ROGUE n'est pas un partenaire de VILLE" in run.err and "ignoré" in run.err


def test_removed_partner_passes_are_unknown(fed: Federation) -> None:
    run = fed.verify("pref_pass_home_v2_at_home_zone", "metro_5", "pref", home="ville_v2")
    assert run.rc == 1 and run.json()["reason"] == "UNKNOWN_KEY"
    assert "PREF n'est pas un partenaire de VILLE" in run.err


def test_partner_rollback_refused_with_a_state_file(fed: Federation) -> None:
    state = fed.cli.base / "state.json"
    assert fed.verify("metro_pass_at_metro_zone", "metro_5", extra=("--state", str(state))).rc == 0
    assert json.loads(state.read_text())["partners"]["METRO"]["seq"] == 5
    run = fed.verify("metro_pass_at_metro_zone", "metro_3", extra=("--state", str(state)))
    assert run.rc == 1 and run.json()["reason"] == "UNKNOWN_KEY"
    assert "Métropole (METRO)" in run.err and "plus ancien" in run.err and "n° 3" in run.err
    assert json.loads(state.read_text())["partners"]["METRO"]["seq"] == 5
    assert fed.verify("metro_pass_at_metro_zone", "metro_5", extra=("--state", str(state))).rc == 0


@pytest.mark.parametrize("zone", ["METRO/", "/ZFE", "A/B/C"])
def test_zone_with_an_empty_part_is_a_usage_error(fed: Federation, zone: str) -> None:
    run = fed.verify("metro_pass_at_metro_zone", "metro_5", zone=zone)
    assert run.rc == 2 and "--zone" in run.err and run.out == ""


def test_unreadable_partner_bundle_is_a_usage_error(fed: Federation) -> None:
    fed.files["missing"] = fed.cli.base / "nope.cose"
    run = fed.verify("metro_pass_at_metro_zone", "missing")
    assert run.rc == 2 and "nope.cose" in run.err and "paquet partenaire" in run.err


def test_unknown_authority_zone_is_uncertain(fed: Federation) -> None:
    run = fed.verify("unknown_authority", "metro_5")
    assert run.rc == 1
    assert (run.json()["status"], run.json()["reason"], run.json()["zone_authority"]) == (
        "UNCERTAIN", "UNKNOWN_ZONE", None)
