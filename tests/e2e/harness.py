"""Building blocks of the browser tests, also used by js_timing.py (no pytest imports here).

- `start_live_server(folder)`: the real application (uvicorn, in a background thread) on 127.0.0.1
  and a free port, over a fresh SQLite database migrated and seeded with cirqliz.demo.seed, with a
  FixedClock (so the verdicts do not depend on when the tests run). `LiveServer.run(fn)` runs
  `await fn(session)` in one transaction on the same database, for the real services.
- `issue_pass` / `revoke_pass` / `publish`: the real issuance services (application by the demo
  company "pro", approval by the reviewer with app.state.signer, bundle publication).
- `write_y4m(text, path)`: a fake-camera video (640x480, C420jpeg) showing the pass's QR code.
- `launch_chromium(playwright, y4m)`: Debian's chromium with the fake camera (never `playwright install`).
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import FixedClock
from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.db.migrate import upgrade
from cirqliz.demo.seed import (
    AUTHORITY_CODE,
    AUTHORITY_ID,
    COMPANY_ID,
    DEMO_PASSWORD,
    USER_IDS,
    USERS,
    VEHICLES,
    ZONE_IDS,
    seed_demo_database,
)
from cirqliz.settings import Settings
from cirqliz.web.app import create_app

CHROMIUM = os.environ.get("CIRQLIZ_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER_ENV = "CIRQLIZ_REQUIRE_BROWSER"
# Monday 23 November 2026, 09:00 in Paris: inside PARIS-CENTRE's hours (Mo-Sa 07:00-13:00).
LIVE_T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set CIRQLIZ_CHROMIUM)"
    return None


def _in_thread(main: Callable[[], Awaitable[Any]]) -> Any:
    """asyncio.run(main()) in a thread of its own: sync Playwright keeps an event loop running in the
    caller's thread, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """A running application: its base URL, settings, clock and app object."""

    base_url: str
    settings: Settings
    clock: FixedClock
    app: Litestar
    folder: Path
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def run(self, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        """`await work(session)` inside one committed transaction on the server's database."""

        async def main() -> Any:
            engine = create_engine(self.settings)
            try:
                async with transaction(create_session_factory(engine)) as session:
                    return await work(session)
            finally:
                await engine.dispose()

        return _in_thread(main)

    @property
    def keystore(self) -> Any:
        """The demo authority's keystore (the one the server signs and publishes with)."""
        return self.app.state.signer.keystore(AUTHORITY_CODE)

    def stop(self) -> None:
        """Stop uvicorn and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _migrate_and_seed(settings: Settings, at: datetime) -> None:
    """Migrate the database of `settings` and seed the demo world (keys under settings.keys_dir) at `at`."""

    async def seed() -> None:
        await seed_demo_database(settings, clock=FixedClock(at))

    with ThreadPoolExecutor(max_workers=1) as pool:  # Alembic runs its own event loop (see _in_thread)
        pool.submit(upgrade, settings.database_url).result()
    _in_thread(seed)


_TEMPLATES: dict[datetime, Path] = {}


def _seeded_template(settings: Settings, folder: Path, at: datetime) -> Path:
    """A folder migrated and seeded at `at` once per process (database and keys), copied by each live
    server: migrating and seeding again cost about a second per test module, more on a busy machine.
    `settings` name files under `folder`; the template holds the same names under its own folder."""
    template = _TEMPLATES.get(at)
    if template is None:
        template = Path(tempfile.mkdtemp(prefix="cirqliz-live-template-"))
        atexit.register(shutil.rmtree, template, True)
        _migrate_and_seed(dataclasses.replace(
            settings, database_url=f"sqlite+aiosqlite:///{template / 'cirqliz.db'}",
            keys_dir=str(template / Path(settings.keys_dir).relative_to(folder)),
        ), at)  # the engine is disposed after seeding: the WAL is checkpointed into cirqliz.db
        _TEMPLATES[at] = template
    return template


def start_live_server(folder: Path, *, at: datetime = LIVE_T0, **extra: Any) -> LiveServer:
    """Migrate and seed a SQLite database in `folder`, and serve the app on a free local port
    (`extra`: further Settings fields, e.g. the wallet credentials)."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'cirqliz.db'}",
        env="test",
        secret_key="e2e-secret-key-not-for-production-0123456789",
        keys_dir=str(folder / "keys"),
        documents_dir=str(folder / "documents"),
        outbox_dir=str(folder / "outbox"),
        scheduler_enabled=False,
        **extra,
    )
    clock = FixedClock(at)
    if extra or any(folder.iterdir()):  # settings or files of the test's own: migrate and seed here
        _migrate_and_seed(settings, at)
    else:
        shutil.copytree(_seeded_template(settings, folder, at), folder, dirs_exist_ok=True)
    app = create_app(settings, clock=clock)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="cirqliz-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", settings, clock, app, folder, server, thread)


@dataclass(frozen=True)
class IssuedPass:
    """A pass issued through the services."""

    id: Any
    serial: str
    text: str
    plate: str


def issue_pass(server: LiveServer, *, zones: tuple[str, ...] = ("PARIS-CENTRE",), vehicle: int = 0,
               days: int = 30) -> IssuedPass:
    """An application by the demo company ("pro"), submitted, approved by the reviewer and signed
    with app.state.signer; valid from an hour ago for `days` days, no windows of its own."""
    from cirqliz.domain.purposes import Purpose
    from cirqliz.issuance.applications import approve_application, create_application, submit_application

    now = server.clock.now()

    async def work(session: AsyncSession) -> IssuedPass:
        app = await create_application(
            session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"],
            zone_ids=[ZONE_IDS[code] for code in zones], vehicle_ids=[VEHICLES[vehicle][0]],
            purpose=Purpose.DELIVERY, not_before=now - timedelta(hours=1), expires_at=now + timedelta(days=days),
            clock=server.clock,
        )
        await submit_application(session, application_id=app.id, actor_id=USER_IDS["pro"], clock=server.clock)
        (row,) = await approve_application(session, application_id=app.id, reviewer_id=USER_IDS["reviewer"],
                                           signer=server.app.state.signer, clock=server.clock)
        return IssuedPass(row.id, row.serial, row.signed_text, row.plate)

    return server.run(work)


def publish(server: LiveServer) -> int:
    """Publish the demo authority's next trust bundle; its seq."""
    from cirqliz.issuance.publication import publish_bundle

    async def work(session: AsyncSession) -> int:
        _, content = await publish_bundle(session, authority_id=AUTHORITY_ID, keystore=server.keystore,
                                          clock=server.clock, actor_id=USER_IDS["admin"])
        return content.seq

    return server.run(work)


def revoke_pass(server: LiveServer, pass_id: Any, reason: str = "véhicule volé") -> None:
    """Revoke a pass through the service (the next bundle lists it)."""
    from cirqliz.issuance.passes import revoke_pass as revoke

    async def work(session: AsyncSession) -> None:
        await revoke(session, pass_id=pass_id, actor_id=USER_IDS["admin"], reason=reason, clock=server.clock)

    server.run(work)


# ---- fake camera ------------------------------------------------------------------------------

def qr_frame(text: str, size: tuple[int, int] = (640, 480), *, qr_side: int = 400) -> Any:
    """A grey-level 640x480 image with the pass's QR code large and centred (ECC M, quiet zone)."""
    import qrcode
    from PIL import Image

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=4)
    code.add_data(text)
    code.make(fit=True)
    modules = code.make_image(fill_color="black", back_color="white").get_image().convert("L")
    scale = max(1, qr_side // modules.size[0])
    modules = modules.resize((modules.size[0] * scale, modules.size[1] * scale), Image.NEAREST)
    frame = Image.new("L", size, 255)
    frame.paste(modules, ((size[0] - modules.size[0]) // 2, (size[1] - modules.size[1]) // 2))
    return frame


def write_y4m(text: str, path: Path, *, frames: int = 10, fps: int = 10) -> Path:
    """A YUV4MPEG2 (C420jpeg) video of `frames` identical frames showing the QR code of `text`."""
    frame = qr_frame(text)
    width, height = frame.size
    luma = frame.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(luma)
            out.write(chroma)
            out.write(chroma)
    return path


def launch_chromium(playwright: Any, y4m: Path | None = None) -> Any:
    """Debian's chromium, headless, with the fake camera playing `y4m` when given."""
    args = list(CHROMIUM_ARGS)
    if y4m is not None:
        args.append(f"--use-file-for-fake-video-capture={y4m}")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args)


def sign_in(page: Any, base_url: str, who: str = "agent", next_path: str = "/scan") -> None:
    """Sign in through the form as one of the demo people, landing on `next_path`."""
    sign_in_with(page, base_url, USERS[who][0], DEMO_PASSWORD, next_path)


def sign_in_with(page: Any, base_url: str, email: str, password: str, next_path: str = "") -> None:
    """Sign in through the form with an address and a password (then `next_path`, or the person's home)."""
    page.goto(f"{base_url}/connexion" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click('form[action="/connexion"] button[type=submit]')


# ---- screenshots for the guides (docs/images/) -------------------------------------------------

DOC_IMAGES = Path(__file__).parents[2] / "docs" / "images"
UPDATE_DOC_SCREENSHOTS_ENV = "CIRQLIZ_UPDATE_DOC_SCREENSHOTS"
DOC_IMAGE_MAX_BYTES = 150_000


def update_doc_screenshots() -> bool:
    """Whether this run refreshes docs/images/ (CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1); by default the
    tests never write into docs/."""
    return os.environ.get(UPDATE_DOC_SCREENSHOTS_ENV) == "1"


def write_doc_image(png: bytes, path: Path, *, max_bytes: int = DOC_IMAGE_MAX_BYTES) -> int:
    """Save a screenshot for the guides as a small palette PNG (fewer colours, then a smaller
    scale, until it fits in `max_bytes`); its size in bytes."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    data = b""
    for scale in (1.0, 0.85, 0.7):
        sized = image if scale == 1.0 else image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        for colours in (96, 48, 24):
            buffer = io.BytesIO()
            sized.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
                buffer, "PNG", optimize=True)
            data = buffer.getvalue()
            if len(data) <= max_bytes:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                return len(data)
    raise ValueError(f"{path.name}: {len(data)} bytes even at 24 colours and 70 % scale")


def session_elsewhere(browser: Any, base_url: str, cookies: list[dict[str, Any]], path: str) -> tuple[int, str]:
    """Another device holding a copy of a session cookie: (status of GET /moi/session, where `path` leads)."""
    context = browser.new_context()
    try:
        context.add_cookies([c for c in cookies if c["name"] == "cirqliz_session"])
        probe = context.request.get(f"{base_url}/moi/session", headers={"Accept": "application/json"})
        page = context.new_page()
        page.goto(f"{base_url}{path}")
        return probe.status, page.url
    finally:
        context.close()
