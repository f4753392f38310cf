"""An installed package serves every page (issue 15).

The wheel is built from the checkout (`pip wheel --no-build-isolation --no-index`: nothing is
downloaded), installed into a fresh virtual environment outside the checkout, and started there
(`cirqliz db upgrade`, `cirqliz serve --demo`, in a folder outside the checkout). Every file that the
pages, the scanner's service worker, its manifest and the style sheets reference must answer 200:
Leaflet, zxing-wasm and Swagger UI come from node_modules, which the installed package does not see.

The new environment reaches the current one's dependencies through a .pth line (a plain path: the
editable install's hook, a .pth of that folder, is not run), so `import cirqliz` finds only the
installed wheel; the test checks it.
Also: the wheel carries every data file of the source tree; an sdist carries the front-end files,
so a wheel built from it without node_modules has them too; without node_modules the build stops
and says to run `npm ci`.
"""

from __future__ import annotations

import html.parser
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import pytest

from cirqliz.demo.seed import DEMO_PASSWORD, USERS, ZONE_IDS

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
SOURCE_FILES = ("pyproject.toml", "setup.py", "README.md")
START_TIMEOUT = 60.0
CSRF_COOKIE = "cirqliz_csrf"
EXPLICIT_ASSETS = (
    "/vendor/leaflet/dist/leaflet.js",
    "/vendor/leaflet/dist/leaflet.css",
    "/vendor/leaflet/dist/images/marker-icon.png",
    "/vendor/zxing-wasm/dist/es/reader/index.js",
    "/vendor/zxing-wasm/dist/reader/zxing_reader.wasm",
    "/vendor/swagger-ui-dist/swagger-ui-bundle.js",
    "/vendor/swagger-ui-dist/swagger-ui.css",
)


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything pointing at the checkout or its settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CIRQLIZ_") and k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    return env | {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"} | extra


def _copy_source(target: Path, *, node_modules: bool) -> Path:
    """The checkout's sources in `target` (a build writes build/ and *.egg-info next to them: not in the
    shared checkout), with node_modules linked in or not."""
    target.mkdir(parents=True)
    for name in SOURCE_FILES:
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "cirqliz", target / "cirqliz",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "vendor"))
    if node_modules:
        (target / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    return target


def _pip_wheel(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                 "--no-index", "--quiet", "-w", str(out)], cwd=source)


def _only_wheel(folder: Path) -> Path:
    wheels = list(folder.glob("cirqliz-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _vendor_names(wheel: Path) -> set[str]:
    prefix = "cirqliz/web/vendor/"
    with zipfile.ZipFile(wheel) as archive:
        return {n.removeprefix(prefix) for n in archive.namelist() if n.startswith(prefix) and not n.endswith("/")}


@dataclass
class Built:
    source: Path
    wheel: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel built from (a copy of) the checkout, with its node_modules."""
    assert (NODE_MODULES / "leaflet" / "dist" / "leaflet.js").is_file(), "run `npm ci` first: node_modules is empty"
    folder = tmp_path_factory.mktemp("wheel")
    source = _copy_source(folder / "src", node_modules=True)
    result = _pip_wheel(source, folder / "dist")
    assert result.returncode == 0, result.stdout + result.stderr
    return Built(source, _only_wheel(folder / "dist"))


@dataclass
class Installed:
    python: Path
    script: Path
    workdir: Path


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel installed into a fresh virtual environment outside the checkout."""
    folder = tmp_path_factory.mktemp("installed")
    assert ROOT not in folder.resolve().parents
    venv = folder / "venv"
    result = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=folder)
    assert result.returncode == 0, result.stderr
    python = venv / "bin" / "python"
    # Installed before the .pth below exists: pip then sees no other cirqliz (the checkout's editable one).
    result = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                   "--quiet", str(built.wheel)], cwd=folder, env=_clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                        cwd=folder, env=_clean_env()).stdout.strip())
    dependencies = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "zz_test_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(dependencies)))
    workdir = folder / "work"
    workdir.mkdir()
    return Installed(python, venv / "bin" / "cirqliz", workdir)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    probe = ("import cirqliz, cirqliz.web.app as app; "
             "print(cirqliz.__file__); print(app._node_modules())")
    result = _run([str(installed.python), "-c", probe], cwd=installed.workdir, env=_clean_env())
    assert result.returncode == 0, result.stderr
    package, vendor = (Path(line) for line in result.stdout.split())
    venv = installed.python.parents[1]
    assert venv in package.parents and ROOT not in package.parents
    assert vendor == package.parent / "web" / "vendor", "the installed package serves /vendor from elsewhere"


def test_the_wheel_carries_every_data_file_of_the_package(built: Built) -> None:
    """Templates (mail .txt included), static files (scanner icons), migrations, schemas, catalogs."""
    with zipfile.ZipFile(built.wheel) as archive:
        names = set(archive.namelist())
    # The copy the wheel was built from (no vendor/), less the bytecode its build wrote there (setup.py
    # imports cirqliz/web/vendor_files.py) when Python may write bytecode.
    expected = {p.relative_to(built.source).as_posix() for p in (built.source / "cirqliz").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert sorted(expected - names) == []


def test_the_wheel_carries_exactly_the_served_front_end_files(built: Built) -> None:
    # The list of the sources built (by its path, like setup.py), not of whatever `cirqliz` imports here.
    spec = importlib.util.spec_from_file_location("_built_vendor_files", built.source / "cirqliz/web/vendor_files.py")
    assert spec is not None and spec.loader is not None
    vendor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vendor)
    served = set(vendor.vendor_files(NODE_MODULES))
    assert {"leaflet/dist/leaflet.js", "zxing-wasm/dist/reader/zxing_reader.wasm"} <= served
    assert _vendor_names(built.wheel) == served | set(vendor.licence_files(NODE_MODULES))
    assert not any(n.endswith((".html", ".htm", ".svg")) for n in _vendor_names(built.wheel))


def test_a_wheel_built_from_the_sdist_needs_no_node_modules(built: Built, tmp_path: Path) -> None:
    backend = f"from setuptools import build_meta; print(build_meta.build_sdist({str(tmp_path / 'sdist')!r}))"
    result = _run([sys.executable, "-c", backend], cwd=built.source)
    assert result.returncode == 0, result.stdout + result.stderr
    with tarfile.open(tmp_path / "sdist" / result.stdout.split()[-1]) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert not (unpacked / "node_modules").exists()
    result = _pip_wheel(unpacked, tmp_path / "dist")
    assert result.returncode == 0, result.stdout + result.stderr
    from_sdist = _vendor_names(_only_wheel(tmp_path / "dist"))
    assert "zxing-wasm/dist/reader/zxing_reader.wasm" in from_sdist
    assert from_sdist == _vendor_names(built.wheel)


def test_without_node_modules_the_build_stops_and_says_to_run_npm_ci(tmp_path: Path) -> None:
    source = _copy_source(tmp_path / "src", node_modules=False)
    result = _pip_wheel(source, tmp_path / "dist")
    assert result.returncode != 0
    assert "Lancez d'abord `npm ci`" in result.stdout + result.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))


# ---- the installed server ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(installed: Installed) -> Iterator[str]:
    """`cirqliz db upgrade` then `cirqliz serve --demo`, from the installed package; its base URL."""
    work = installed.workdir
    env = _clean_env(
        CIRQLIZ_DATABASE_URL=f"sqlite+aiosqlite:///{work / 'cirqliz.db'}",
        CIRQLIZ_KEYS_DIR=str(work / "keys"),
        CIRQLIZ_DOCUMENTS_DIR=str(work / "documents"),
        CIRQLIZ_OUTBOX_DIR=str(work / "outbox"),
        CIRQLIZ_SCHEDULER_ENABLED="0",
    )
    result = _run([str(installed.script), "db", "upgrade"], cwd=work, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    port = _free_port()
    log = work / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(installed.script), "serve", "--demo", "--host", "127.0.0.1", "--port",
                                    str(port)], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"cirqliz serve exited:\n{log.read_text(errors='replace')[-3000:]}"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"no answer:\n{log.read_text(errors='replace')[-3000:]}"
            time.sleep(0.2)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


class _References(html.parser.HTMLParser):
    """The files a page loads: scripts, style sheets, icons, manifest, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))
        elif tag in {"script", "img", "source"} and values.get("src"):
            self.urls.append(str(values["src"]))


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")
JS_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([./][^'"]*)['"]""")


def _local(base_page: str, url: str) -> str | None:
    """The path of `url` (relative to `base_page`) when it is on our origin and a file, else None."""
    if url.startswith(("data:", "blob:", "#")):
        return None
    parts = urlsplit(urljoin(f"http://origin{base_page}", url))
    return parts.path if parts.netloc == "origin" else None


def _sign_in(client: httpx.Client, who: str) -> None:
    client.cookies.clear()
    client.get("/connexion")
    token = client.cookies.get(CSRF_COOKIE)
    assert token, "no CSRF cookie"
    body = urlencode({"email": USERS[who][0], "password": DEMO_PASSWORD, "_csrf_token": token})
    response = client.post("/connexion", content=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 303, f"sign-in of {who}: {response.status_code} {response.text[:300]}"


def test_the_installed_server_answers_200_for_every_asset_the_pages_reference(server: str) -> None:
    pages = {
        None: ["/", "/connexion"],
        "agent": ["/scan"],
        "pro": ["/pro/demandes/nouvelle"],  # the zone map of an application
        "admin": [f"/autorite/zones/{ZONE_IDS['PARIS-CENTRE']}", "/schema"],
    }
    assets: dict[str, str] = {url: "explicit" for url in EXPLICIT_ASSETS}  # url -> where it was found
    failures: list[str] = []
    with httpx.Client(base_url=server, timeout=20) as client:
        for who, paths in pages.items():
            if who:
                _sign_in(client, who)
            for page in paths:
                response = client.get(page)
                if response.status_code != 200:
                    failures.append(f"{page} ({who}): {response.status_code}")
                    continue
                parser = _References()
                parser.feed(response.text)
                for url in parser.urls:
                    if (path := _local(page, url)) is not None:
                        assets.setdefault(path, page)
            if who == "agent":  # the service worker's pre-cache list and the manifest's icons
                sw = client.get("/scan/sw.js")
                assert sw.status_code == 200, sw.status_code
                precache = re.search(r"const ASSETS = (\[.*?\]);", sw.text)
                assert precache, "no ASSETS list in /scan/sw.js"
                for url in httpx.Response(200, content=precache.group(1)).json():
                    assets.setdefault(url, "/scan/sw.js")
                manifest = client.get("/scan/manifest.webmanifest").json()
                for icon in manifest.get("icons", []):
                    assets.setdefault(_local("/scan/", icon["src"]) or icon["src"], "manifest")
        # Style sheets' url(...) and the ES modules' imports (the scanner loads zxing-wasm that way).
        queue = list(assets)
        while queue:
            url = queue.pop()
            if url.startswith(("/scan", "/schema")) or not url.endswith((".css", ".js")):
                continue
            if url.endswith(".js") and not url.startswith(("/static/", "/vendor/zxing-wasm/")):
                continue
            response = client.get(url)
            pattern = CSS_URL if url.endswith(".css") else JS_IMPORT
            for ref in pattern.findall(response.text):
                if (path := _local(url, ref)) is not None and path not in assets:
                    assets[path] = url
                    queue.append(path)
        vendor_checked = 0
        client.cookies.clear()  # the files are public (the pages were checked above, signed in)
        fetched_pages = {page for paths in pages.values() for page in paths}
        for url, found_in in sorted(assets.items()):
            if url in fetched_pages:
                continue
            response = client.get(url)
            if response.status_code != 200:
                failures.append(f"{url} (from {found_in}): {response.status_code}")
            elif url.startswith("/vendor/"):  # the packaged copy is node_modules' file
                vendor_checked += 1
                if response.content != (NODE_MODULES / url.removeprefix("/vendor/")).read_bytes():
                    failures.append(f"{url}: not the file of node_modules")
    assert failures == []
    assert vendor_checked >= len(EXPLICIT_ASSETS) + 3, sorted(assets)
    assert {"/vendor/leaflet/dist/images/layers.png", "/vendor/zxing-wasm/dist/es/share.js",
            "/static/scanner/icon-192.png"} <= set(assets), sorted(assets)
