"""Key lifecycle drill (issue 9) on a real database, SQLite and PostgreSQL.

An authority issues passes with key A, rotates to key B, withdraws A, and publishes a bundle
after each step through the real services (approve_application with the KeyStoreSigner,
publish_bundle). An agent's device, offline between syncs, keeps the newest bundle it accepted
and the latest time it has seen, as the scanner does. The drill checks, at each step:

- rotation: passes signed with A stay VALID until they expire, then EXPIRED; new passes carry B;
- withdrawal: after the next bundle every A pass is refused (KEY_WITHDRAWN), expired ones too;
- rollback: the device holding bundle n+2 refuses bundle n (bundle_rollback) and keeps n+2;
- clock set back: CLOCK_SUSPECT (orange), never VALID;
- the signer refuses to sign once every key is withdrawn, and the approval leaves no half write.

The same drill then runs as an operator would, through the `cirqliz` command (keys init, rotate,
list, withdraw; bundle build; pass sign; verify --state), and its verify steps are replayed by the
scanner's JavaScript verifier (tests/drill/twin.mjs, with node) which must reach the same verdicts.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cli_driver import run_cli
from factories import (
    AUTHORITY_PARIS_ID,
    T0,
    USER_REVIEWER_ID,
    VEHICLE_EV_ID,
    VEHICLE_VAN_ID,
    make_submitted_application,
)
from sqlmodel import col, select

from cirqliz.clock import FixedClock, to_epoch
from cirqliz.db.models import AccessPass, Application
from cirqliz.domain.errors import DomainError
from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.publication import publish_bundle
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.jobs.jobs import PUBLISH, run_job
from cirqliz.passcode.bundle import TrustBundle, open_bundle
from cirqliz.passcode.errors import BundleError, KeyStoreError
from cirqliz.passcode.keys import VerifyKey
from cirqliz.settings import Settings
from cirqliz.verify.core import DEFAULT_SKEW, Reason, Status, Verdict, verify_pass

DAY = timedelta(days=1)
WEEK = 7 * 86400  # bundle max age in the drill: checks spread over a week stay fresh
PARIS = ZoneInfo("Europe/Paris")
TWIN = Path(__file__).with_name("twin.mjs")


@dataclass
class Device:
    """An agent's phone: the newest bundle it accepted and the latest time it has seen."""

    roots: list[VerifyKey]
    bundle: TrustBundle | None = None
    last_seen: int = 0

    def sync(self, data: bytes) -> TrustBundle:
        """Accept a bundle the way the scanner does (rollbacks raise BundleError, the held one stays)."""
        self.bundle = open_bundle(data, self.roots, current=self.bundle)
        return self.bundle

    def check(self, text: str, at: datetime, zone: str = "CENTRE") -> Verdict:
        """Scan a pass with the device clock at `at`; remember the time seen (never backwards)."""
        assert self.bundle is not None
        verdict = verify_pass(text, self.bundle, zone=zone, now=at, last_seen=self.last_seen or None)
        self.last_seen = max(self.last_seen, verdict.checked_at)
        return verdict

    def probe(self, text: str, at: datetime, zone: str = "CENTRE") -> Verdict:
        """What the device would say at `at`, the clock not moved (no time remembered)."""
        assert self.bundle is not None
        return verify_pass(text, self.bundle, zone=zone, now=at, last_seen=self.last_seen or None)


async def _publish(session_factory, store: KeyStore, clock: FixedClock) -> tuple[bytes, int]:
    async with session_factory() as session, session.begin():
        data, content = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock,
                                             max_age=WEEK)
    return data, content.seq


async def _issue(session_factory, clock: FixedClock, signer: KeyStoreSigner, **overrides) -> AccessPass:
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock, **overrides)
        (row,) = await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                           signer=signer, clock=clock)
    return row


def _reason(verdict: Verdict) -> tuple[Status, Reason]:
    return verdict.status, verdict.reason


VALID = (Status.VALID, Reason.VALID)
WITHDRAWN = (Status.REFUSED, Reason.KEY_WITHDRAWN)
EXPIRED = (Status.REFUSED, Reason.EXPIRED)
SUSPECT = (Status.UNCERTAIN, Reason.CLOCK_SUSPECT)


@pytest.mark.usefixtures("world")
async def test_key_lifecycle_drill(session_factory, clock, tmp_path):
    keys_root = tmp_path / "keys"
    store = KeyStore.init(keys_root / "paris", issuer="paris", clock=clock)
    signer = KeyStoreSigner(keys_root, clock=clock)
    device = Device([store.root_public()])
    [key_a] = store.keys

    # ---- day 0: key A is published, passes are issued with it, bundle n ------------------------------
    bundles: dict[int, bytes] = {}
    data, seq = await _publish(session_factory, store, clock)
    bundles[seq] = data
    short = await _issue(session_factory, clock, signer, expires_at=T0 + 5 * DAY)  # Tue 3 to Sat 7 March
    long = await _issue(session_factory, clock, signer, vehicle_ids=[VEHICLE_EV_ID], expires_at=T0 + 30 * DAY)
    assert short.kid == long.kid == key_a.kid
    data, n = await _publish(session_factory, store, clock)
    bundles[n] = data
    device.sync(data)
    assert device.bundle is not None and device.bundle.seq == n

    clock.advance(DAY)  # Tuesday 09:00 in Paris, inside the passes' windows
    assert _reason(device.check(short.signed_text, clock.now())) == VALID
    assert _reason(device.check(long.signed_text, clock.now())) == VALID

    # ---- day 1: rotate to key B; A signs until a bundle publishes B ----------------------------------
    key_b = store.rotate()
    assert store.entry(key_b.kid).status == "pending"
    before_publication = await _issue(session_factory, clock, signer, vehicle_ids=[VEHICLE_VAN_ID],
                                      not_before=clock.now() + 20 * DAY, expires_at=clock.now() + 25 * DAY)
    assert before_publication.kid == key_a.kid  # verifiers do not know B yet
    data, seq = await _publish(session_factory, store, clock)
    bundles[seq] = data
    assert seq == n + 1 and KeyStore(store.path).entry(key_b.kid).status == "active"
    fresh = await _issue(session_factory, clock, signer, vehicle_ids=[VEHICLE_VAN_ID],
                         not_before=clock.now() + timedelta(hours=1), expires_at=clock.now() + 28 * DAY)
    assert fresh.kid == key_b.kid  # new passes are signed with B
    device.sync(data)
    clock.advance(timedelta(minutes=10))
    for row in (short, long):
        assert _reason(device.check(row.signed_text, clock.now())) == VALID  # signed earlier: still valid
    assert _reason(device.probe(fresh.signed_text, clock.now() + timedelta(hours=1))) == VALID

    # ---- A's short pass stays valid until its expiry, then is EXPIRED --------------------------------
    clock.set(T0 + 4 * DAY)  # Friday 09:00
    assert _reason(device.check(short.signed_text, clock.now())) == VALID
    expiry = short.expires_at
    assert _reason(device.check(short.signed_text, expiry + timedelta(seconds=DEFAULT_SKEW + 1))) == EXPIRED
    clock.set(T0 + 7 * DAY)  # Monday 9 March, 09:00
    assert _reason(device.check(short.signed_text, clock.now())) == EXPIRED
    assert _reason(device.check(long.signed_text, clock.now())) == VALID

    # ---- day 7: withdraw A and publish bundle n+2 ----------------------------------------------------
    store = KeyStore(store.path, clock=clock)
    store.withdraw(key_a.kid)
    # The scheduled publication job (not a manual step) publishes n+2, withdrawal included.
    run = await run_job(session_factory, PUBLISH, clock=clock, settings=Settings(), signer=signer)
    assert (run.outcome, run.rows) == ("ok", 1) and f"paris n° {n + 2}" in run.detail
    store = KeyStore(store.path, clock=clock)
    seq = store.last_seq
    data = (store.path / "bundles" / f"{seq}.cose").read_bytes()
    bundles[seq] = data
    assert seq == n + 2
    # Until the device syncs, it still accepts A's passes: withdrawal acts through the bundle.
    assert _reason(device.check(long.signed_text, clock.now())) == VALID
    device.sync(data)
    clock.advance(timedelta(minutes=30))
    now = clock.now()
    assert _reason(device.check(long.signed_text, now)) == WITHDRAWN
    assert _reason(device.probe(before_publication.signed_text, now + 20 * DAY)) == WITHDRAWN
    # An A pass already expired stays refused: never VALID, whatever the time.
    for at in (now, short.expires_at - timedelta(hours=1), short.expires_at + 30 * DAY):
        assert _reason(device.probe(short.signed_text, at)) == WITHDRAWN
    assert _reason(device.check(fresh.signed_text, T0 + 9 * DAY + timedelta(hours=1))) == VALID  # Wed 11 March

    # ---- rollback: bundle n (and n+1) offered again are refused, n+2 is kept -------------------------
    for old in (n, n + 1):
        with pytest.raises(BundleError) as refused:
            device.sync(bundles[old])
        assert refused.value.code == "bundle_rollback"
        assert device.bundle.seq == n + 2
        assert _reason(device.check(long.signed_text, clock.now())) == WITHDRAWN
    # A device still on bundle n catches up with a delta (what `/bundle/<code>.cose?since=n` serves):
    # the withdrawal reaches it; the same delta offered again is a rollback.
    late = Device(device.roots)
    late.sync(bundles[n])
    # A week old: the late device cannot say green any more, only orange.
    assert _reason(late.probe(long.signed_text, clock.now())) == (Status.UNCERTAIN, Reason.STALE_BUNDLE)
    delta = store.delta_since(n)
    assert late.sync(delta).seq == n + 2 and len(delta) < len(bundles[n + 2])
    assert _reason(late.probe(long.signed_text, clock.now())) == WITHDRAWN
    with pytest.raises(BundleError) as replayed:
        late.sync(delta)
    assert replayed.value.code == "bundle_rollback"
    # A device that restarts remembers only the seq it held: bundle n is still refused.
    with pytest.raises(BundleError, match="retour en arrière"):
        open_bundle(bundles[n], device.roots, min_seq=n + 2)

    # ---- the device clock set back: CLOCK_SUSPECT, never VALID ---------------------------------------
    issued_at = device.bundle.content.issued_at
    last_seen = device.last_seen
    assert last_seen > issued_at
    wed = T0 + 9 * DAY + timedelta(hours=1)  # the device has seen Wednesday 10:00 in Paris
    assert _reason(device.check(fresh.signed_text, wed)) == VALID
    # Set back an hour (after the bundle, before the last scan), a day, a year: orange each time.
    for back in (timedelta(hours=1), DAY, 2 * DAY, 365 * DAY):
        assert _reason(device.check(fresh.signed_text, wed - back)) == SUSPECT, back
    # A device that never scanned: a clock before the bundle's issue time is suspect too.
    newcomer = Device(device.roots)
    newcomer.sync(bundles[n + 2])
    assert _reason(newcomer.check(fresh.signed_text, datetime.fromtimestamp(issued_at - 3600, tz=T0.tzinfo))) == SUSPECT
    # Within the skew (a phone a few minutes slow) is not suspect.
    within = Device(device.roots)
    within.sync(bundles[n + 2])
    assert _reason(within.check(fresh.signed_text, wed)) == VALID
    assert _reason(within.check(fresh.signed_text, wed - timedelta(seconds=DEFAULT_SKEW - 1))) == VALID
    # Never VALID with the clock set back, for every pass and every offset beyond the skew.
    floor = max(issued_at, device.last_seen)
    for row in (short, long, before_publication, fresh):
        for back in range(DEFAULT_SKEW + 1, 400 * 86400, 7919 * 60):
            verdict = verify_pass(row.signed_text, device.bundle, zone="CENTRE", now=floor - back,
                                  last_seen=device.last_seen)
            assert verdict.status is not Status.VALID, (row.serial, back, verdict)

    # ---- the signer refuses once every key is withdrawn, and leaves nothing half written ----------
    assert signer.keystore("paris").signing_key().kid.hex() == key_b.kid
    store = KeyStore(store.path, clock=clock)
    store.withdraw(key_b.kid)
    with pytest.raises(KeyStoreError) as no_key:
        store.signing_key()
    assert no_key.value.code == "no_signing_key"
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock, vehicle_ids=[VEHICLE_VAN_ID],
                                               not_before=clock.now() + 40 * DAY, expires_at=clock.now() + 45 * DAY)
    passes_before = await _count_passes(session_factory)
    with pytest.raises(DomainError) as refused_sign:
        async with session_factory() as session, session.begin():
            await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                      signer=signer, clock=clock)
    assert refused_sign.value.code == "no_signing_key"
    assert refused_sign.value.message.startswith("signature impossible : aucune clé de signature n'est utilisable")
    assert await _count_passes(session_factory) == passes_before
    async with session_factory() as session:
        assert (await session.get(Application, app.id)).status == "submitted"


async def _count_passes(session_factory) -> int:
    async with session_factory() as session:
        return len((await session.exec(select(AccessPass.id).where(
            col(AccessPass.authority_id) == AUTHORITY_PARIS_ID))).all())


def test_withdrawn_key_never_signs_even_when_newest(tmp_path):
    """The keystore picks the newest *usable* key: a newer key withdrawn falls back to the older one."""
    clock = FixedClock(T0)
    store = KeyStore.init(tmp_path / "paris", issuer="paris", clock=clock)
    [key_a] = store.keys
    store.build_bundle(zones=())
    clock.advance(DAY)
    key_b = store.rotate()
    store.build_bundle(zones=())
    assert store.signing_key().kid.hex() == key_b.kid
    store.withdraw(key_b.kid)
    assert store.signing_key().kid.hex() == key_a.kid
    with pytest.raises(KeyStoreError) as again:
        store.withdraw(key_b.kid.upper())
    assert again.value.code == "already_withdrawn"
    with pytest.raises(KeyStoreError) as root:
        store.withdraw(store.root_kid)
    assert root.value.code == "unknown_kid"  # the root key is not a signing key
    assert to_epoch(clock.now()) == store.entry(key_b.kid).withdrawn_at


# ---- the same drill as an operator runs it: the `cirqliz` command, and the JavaScript twin -------

OPEN_ZONE = "MARAIS-PIETON"  # packaged demo zone, every day 06:00-11:00 in Paris


def _local(days: int, hour: int, minute: int = 0) -> datetime:
    """`days` from today at hour:minute in Paris (the CLI keystore signs with the real clock)."""
    day = datetime.now(PARIS).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


@dataclass
class Operator:
    """A keys directory driven through cirqliz.cli.main, and one agent's state file.

    Every `verify` runs `cirqliz verify --state` like a device that keeps the highest bundle seq
    and the last time seen, and is recorded as steps for the JavaScript twin to replay.
    """

    base: Path
    capsys: pytest.CaptureFixture[str]
    built: int = 0
    held: str | None = None

    def __post_init__(self) -> None:
        self.keys = self.base / "keys"
        self.state = self.base / "agent-state.json"
        self.steps: list[dict[str, Any]] = []
        self.expected: list[dict[str, Any]] = []

    def run(self, *args: str) -> tuple[int, str, str]:
        done = run_cli(self.capsys, *args)
        return done.rc, done.out, done.err

    def ok(self, *args: str) -> str:
        rc, out, err = self.run(*args)
        assert rc == 0, (args, out, err)
        return out

    def build(self) -> Path:
        self.built += 1
        path = self.base / f"bundle-{self.built}.cose"
        self.ok("bundle", "build", "--dir", str(self.keys), "--out", str(path))
        return path

    def sign(self, until: datetime) -> tuple[str, str]:
        rc, out, err = self.run("pass", "sign", "--dir", str(self.keys), "--zone", OPEN_ZONE, "--plate", "AB-123-CD",
                                "--from", _local(-1, 0).isoformat(), "--to", until.isoformat())
        assert rc == 0, err
        words = err.split()
        return out.strip(), words[words.index("clé") + 1]

    def statuses(self) -> dict[str, str]:
        rows = json.loads(self.ok("keys", "list", "--dir", str(self.keys), "--json"))
        return {row["kid"]: row["status"] for row in rows}

    def verify(self, text: str, bundle: Path, at: datetime) -> dict[str, Any]:
        rc, out, err = self.run("verify", text, "--bundle", str(bundle), "--zone", OPEN_ZONE, "--keys-dir",
                                str(self.keys), "--state", str(self.state), "--at", at.isoformat(), "--json")
        result = json.loads(out)
        assert rc == (0 if result["status"] == "VALID" else 1), (rc, out, err)
        if bundle.name != self.held:
            refused = result["reason"] == "BUNDLE_REFUSED"
            self.steps.append({"op": "sync", "bundle": bundle.name})
            self.expected.append({"op": "sync", "ok": not refused})
            if refused:
                return result
            self.held = bundle.name
        self.steps.append({"op": "check", "text": text, "zone": OPEN_ZONE, "at": to_epoch(at)})
        self.expected.append({"op": "check", "status": result["status"], "reason": result["reason"]})
        return result

    def reason(self, text: str, bundle: Path, at: datetime) -> str:
        return str(self.verify(text, bundle, at)["reason"])

    def new_agent(self) -> None:
        """Another agent's device: no bundle held, no time seen."""
        self.state.unlink(missing_ok=True)
        self.held = None
        self.steps.append({"op": "new_device"})


def test_key_lifecycle_drill_with_the_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CIRQLIZ_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("CIRQLIZ_KEYS_DIR", raising=False)
    op = Operator(tmp_path, capsys)
    op.ok("keys", "init", "--dir", str(op.keys), "--issuer", "FR-DRILL")
    tomorrow = _local(1, 9)

    # Key A signs two passes; bundle n publishes them.
    op.build()
    short, kid_a = op.sign(until=_local(2, 12))
    long, kid_a2 = op.sign(until=_local(20, 12))
    assert kid_a == kid_a2
    bundle_n = op.build()
    assert op.reason(short, bundle_n, tomorrow) == "VALID"

    # Rotate: B is pending (A still signs) until bundle n+1 publishes it.
    rc, out, _ = op.run("keys", "rotate", "--dir", str(op.keys))
    assert rc == 0 and "en attente" in out
    kid_b = next(kid for kid, status in op.statuses().items() if status == "pending")
    assert op.sign(until=_local(3, 12))[1] == kid_a
    bundle_n1 = op.build()
    assert op.statuses()[kid_b] == "active"
    fresh, kid = op.sign(until=_local(20, 12))
    assert kid == kid_b
    later = tomorrow + timedelta(minutes=5)
    assert op.reason(short, bundle_n1, later) == "VALID"  # signed with A before the rotation
    assert op.reason(long, bundle_n1, later) == "VALID"
    assert op.reason(fresh, bundle_n1, later) == "VALID"

    # A's short pass expires: EXPIRED, not VALID (its bundle is then stale too: expiry is checked first).
    assert op.reason(short, bundle_n1, _local(3, 9)) == "EXPIRED"

    # Withdraw A; bundle n+2 refuses all of A's passes, the expired one included.
    rc, out, _ = op.run("keys", "withdraw", kid_a, "--dir", str(op.keys))
    assert rc == 0 and "retirée" in out
    rc, _, err = op.run("keys", "withdraw", kid_a, "--dir", str(op.keys))
    assert rc == 1 and "déjà retirée" in err
    assert op.statuses()[kid_a] == "withdrawn"
    bundle_n2 = op.build()
    op.new_agent()  # the first agent has seen day 3 already; a second one checks tomorrow
    check = _local(1, 9, 30)
    assert op.reason(long, bundle_n2, check) == "KEY_WITHDRAWN"
    assert op.reason(short, bundle_n2, check + timedelta(minutes=1)) == "KEY_WITHDRAWN"
    assert op.reason(fresh, bundle_n2, check + timedelta(minutes=2)) == "VALID"

    # Rollback: the agent holding n+2 is offered n, then n+1: refused, and A stays refused.
    for old in (bundle_n, bundle_n1):
        result = op.verify(long, old, check + timedelta(minutes=3))
        assert (result["status"], result["reason"]) == ("REFUSED", "BUNDLE_REFUSED")
        assert "retour en arrière" in result["detail"]
        assert json.loads(op.state.read_text())["seq"] == 3 + 1  # bundles 1..4: n+2 is seq 4
    assert op.reason(long, bundle_n2, check + timedelta(minutes=4)) == "KEY_WITHDRAWN"

    # The agent's clock set back: before the last scan, before the bundle: CLOCK_SUSPECT, never VALID.
    assert op.reason(fresh, bundle_n2, check + timedelta(minutes=30)) == "VALID"
    for back in (timedelta(minutes=20), timedelta(hours=2), timedelta(days=1), timedelta(days=400)):
        result = op.verify(fresh, bundle_n2, check + timedelta(minutes=30) - back)
        assert (result["status"], result["reason"]) == ("UNCERTAIN", "CLOCK_SUSPECT"), back
    assert op.reason(long, bundle_n2, check - timedelta(days=1)) == "KEY_WITHDRAWN"

    # With every key withdrawn the operator cannot sign any more.
    op.ok("keys", "withdraw", kid_b, "--dir", str(op.keys))
    rc, _, err = op.run("pass", "sign", "--dir", str(op.keys), "--zone", OPEN_ZONE, "--plate", "AB-123-CD",
                        "--from", _local(0, 0).isoformat(), "--to", _local(2, 0).isoformat())
    assert rc == 1 and "aucune clé de signature" in err

    # The JavaScript twin replays the same steps and reaches the same verdicts.
    _replay_in_javascript(op, tmp_path)


def _replay_in_javascript(op: Operator, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required in CI for the JavaScript twin of the drill")
        pytest.skip("node is not installed: the JavaScript twin is not replayed")
    store = KeyStore(op.keys)
    drill = {
        "root": base64.b64encode(store.root_public().spki()).decode(),
        "bundles": {p.name: base64.b64encode(p.read_bytes()).decode() for p in op.base.glob("bundle-*.cose")},
        "steps": op.steps,
    }
    file = tmp_path / "drill.json"
    file.write_text(json.dumps(drill))
    done = subprocess.run([node, str(TWIN), str(file)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    replayed = json.loads(done.stdout)
    got = [{k: r[k] for k in ("op", "ok")} if r["op"] == "sync" else {k: r[k] for k in ("op", "status", "reason")}
           for r in replayed]
    assert got == op.expected
    assert sum(1 for r in replayed if r["op"] == "sync" and r.get("code") == "bundle_rollback") == 2


def test_a_key_restricted_to_zones_signs_only_for_them(tmp_path):
    """Rotating to a key limited to some zones must not make the signer issue passes agents refuse."""
    clock = FixedClock(T0)
    store = KeyStore.init(tmp_path / "paris", issuer="paris", clock=clock)
    [key_a] = store.keys
    store.build_bundle(zones=())
    clock.advance(DAY)
    key_b = store.rotate(zones=[1])
    store.build_bundle(zones=())
    assert store.signing_key([1]).kid.hex() == key_b.kid  # newest key allowed for zone 1
    assert store.signing_key([1, 2]).kid.hex() == key_a.kid  # B may not sign for zone 2
    assert store.signing_key().kid.hex() == key_b.kid  # no zones asked: the newest key, as before
    store.withdraw(key_a.kid)
    with pytest.raises(KeyStoreError) as refused:
        store.signing_key([2])
    assert refused.value.code == "no_key_for_zones"
    assert store.signing_key([1]).kid.hex() == key_b.kid


def test_operator_mistakes_are_clear_errors_and_change_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CIRQLIZ_KEY_PASSPHRASE", raising=False)
    op = Operator(tmp_path, capsys)
    op.ok("keys", "init", "--dir", str(op.keys), "--issuer", "FR-DRILL")
    bundle = op.build()
    text, _kid = op.sign(until=_local(5, 12))
    ring = (op.keys / "keyring.json").read_bytes()
    mistakes = [
        (("keys", "rotate", "--dir", str(op.keys), "--zones", "1,deux"), "--zones"),
        (("bundle", "build", "--dir", str(op.keys), "--out", str(tmp_path / "absent" / "b.cose")), "--out"),
        (("bundle", "build", "--dir", str(op.keys), "--out", str(tmp_path / "b.cose"), "--revoked",
          str(tmp_path / "absent.txt")), "--revoked"),
        (("keys", "withdraw", "0123456789abcdef", "--dir", str(op.keys)), "pas de clé de signature"),
    ]
    for args, hint in mistakes:
        rc, out, err = op.run(*args)
        assert rc in (1, 2) and hint in err and "Traceback" not in err, (args, out, err)
    assert (op.keys / "keyring.json").read_bytes() == ring  # no seq taken, no key added
    # A damaged state file is refused, never silently reset (that would forget the seq and the time).
    common = ("--bundle", str(bundle), "--zone", OPEN_ZONE, "--keys-dir", str(op.keys), "--at",
              _local(1, 9).isoformat())
    for content in ("{damaged", '{"seq": "4"}', "[1, 2]", '{"last_seen": -1}'):
        op.state.write_text(content)
        rc, _out, err = op.run("verify", text, *common, "--state", str(op.state))
        assert rc == 2 and "--state" in err, (content, err)
        assert op.state.read_text() == content
    rc, _out, err = op.run("verify", text, *common, "--state", str(tmp_path / "absent" / "state.json"))
    assert rc == 2 and "--state" in err
    op.state.unlink()
    assert op.run("verify", text, *common, "--state", str(op.state))[0] == 0
    assert set(json.loads(op.state.read_text())) == {"seq", "last_seen", "content"}
    assert not list(tmp_path.glob("*.tmp"))
