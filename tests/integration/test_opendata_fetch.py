"""`cirqliz opendata fetch|status`: pinned installation of the published schemas, from a local copy
and over HTTP (a server on 127.0.0.1 serving ../shared/data), refusal of a changed file with
nothing written, and which validation imports use once the files are there."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cirqliz.imports import ImportFileError, import_datex2
from cirqliz.opendata import BUILTIN, PUBLISHED, PUBLISHED_FILES, opendata_status
from tests.cli_driver import run_cli

XSD = "dialog-datex2/DATEXII_3_TrafficRegulation.xsd"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator:
    """serve(folder) -> base URL of an HTTP server on 127.0.0.1 serving that folder."""
    servers: list[ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _installed(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _validations(out: str) -> dict[str, str]:
    """{format: validation} read from the lines of `cirqliz opendata status`."""
    found = {}
    for line in out.splitlines():
        name, _, rest = line.partition(" ")
        if name in ("zfe", "cerema", "datex2"):
            found[name] = PUBLISHED if rest.strip().startswith(PUBLISHED) else rest.strip().split(" (")[0]
    return found


def _pins() -> dict[str, str]:
    return {f.path: f.sha256 for f in PUBLISHED_FILES}


def _tampered_copy(shared_data: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copie"
    for item in PUBLISHED_FILES:
        (copy / item.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / item.path, copy / item.path)
    (copy / XSD).write_bytes((copy / XSD).read_bytes().replace(b"noEntry", b"noParty", 1))
    return copy


def test_pins_are_those_of_the_published_versions(shared_data):
    assert _installed(shared_data) | _pins() == _installed(shared_data)  # every pin matches ../shared/data
    assert {f.url.split("/")[3] for f in PUBLISHED_FILES} == {"etalab", "CEREMA", "MTES-MCT"}
    assert all(f.url.startswith("https://raw.githubusercontent.com/") and f.commit in f.url for f in PUBLISHED_FILES)


def test_fetch_from_a_local_copy_then_status(capsys, shared_data, tmp_path, monkeypatch):
    target = tmp_path / "opendata"
    monkeypatch.setenv("CIRQLIZ_OPEN_DATA_DIR", str(target))
    before = run_cli(capsys, "opendata", "status")
    assert before.rc == 0 and _validations(before.out) == {"zfe": BUILTIN, "cerema": BUILTIN, "datex2": BUILTIN}
    run = run_cli(capsys, "opendata", "fetch", "--from", str(shared_data))
    assert run.rc == 0, run.err
    assert _installed(target) == _pins()
    assert run.out.count("installé") == len(PUBLISHED_FILES)
    after = run_cli(capsys, "opendata", "status")
    assert after.rc == 0 and str(target) in after.out
    assert _validations(after.out) == {"zfe": PUBLISHED, "cerema": PUBLISHED, "datex2": PUBLISHED}
    again = run_cli(capsys, "opendata", "fetch", "--from", str(tmp_path / "nothing-here"))
    assert again.rc == 0 and again.out.count("déjà à jour") == len(PUBLISHED_FILES)  # nothing to read
    as_json = run_cli(capsys, "opendata", "status", "--json").json()
    assert {k: v["validation"] for k, v in as_json["formats"].items()} == {"zfe": PUBLISHED, "cerema": PUBLISHED,
                                                                           "datex2": PUBLISHED}


def test_fetch_over_http(capsys, shared_data, tmp_path, serve):
    target = tmp_path / "opendata"
    run = run_cli(capsys, "opendata", "fetch", "--dir", str(target), "--base-url", serve(shared_data))
    assert run.rc == 0, run.err
    assert _installed(target) == _pins()
    assert opendata_status(target).summary() == {"zfe": PUBLISHED, "cerema": PUBLISHED, "datex2": PUBLISHED}


@pytest.mark.parametrize("over_http", [False, True], ids=["local-copy", "http"])
def test_a_changed_file_is_refused_and_nothing_is_written(capsys, shared_data, tmp_path, serve, over_http):
    copy = _tampered_copy(shared_data, tmp_path)
    target = tmp_path / "opendata"
    origin = ["--base-url", serve(copy)] if over_http else ["--from", str(copy)]
    run = run_cli(capsys, "opendata", "fetch", "--dir", str(target), *origin)
    assert run.rc == 1
    received = hashlib.sha256((copy / XSD).read_bytes()).hexdigest()
    assert XSD in run.err and _pins()[XSD] in run.err and received in run.err and "Rien n'a été écrit" in run.err
    assert not target.exists() or _installed(target) == {}


def test_a_changed_installed_file_is_not_used_and_fetch_replaces_it(capsys, shared_data, tmp_path, monkeypatch):
    target = tmp_path / "opendata"
    assert run_cli(capsys, "opendata", "fetch", "--dir", str(target), "--from", str(shared_data)).rc == 0
    (target / XSD).write_bytes((target / XSD).read_bytes() + b"\n<!-- changed -->\n")
    status = opendata_status(target)
    assert status.summary()["datex2"] == BUILTIN and status.formats[2].modified == (XSD,)
    run = run_cli(capsys, "opendata", "fetch", "--dir", str(target), "--from", str(shared_data))
    assert run.rc == 0 and f"installé     {XSD}" in run.out
    assert _installed(target) == _pins()


def test_missing_file_or_server_error_is_a_french_refusal(capsys, tmp_path, serve):
    run = run_cli(capsys, "opendata", "fetch", "--dir", str(tmp_path / "a"), "--from", str(tmp_path / "vide"))
    assert run.rc == 1 and "zfe/schema.json : lecture impossible" in run.err
    run = run_cli(capsys, "opendata", "fetch", "--dir", str(tmp_path / "b"), "--base-url", serve(tmp_path / "vide"))
    assert run.rc == 1 and "HTTP 404" in run.err and not (tmp_path / "b").exists()


def test_imports_use_the_xsds_once_fetched(capsys, shared_data, tmp_path, monkeypatch):
    # An element the built-in checks do not look at, but the XSDs refuse.
    example = (shared_data / "dialog-datex2" / "example.xml").read_bytes()
    odd = example.replace(b"<com:vehicleUsage>", b"<com:licorne>1</com:licorne><com:vehicleUsage>")
    target = tmp_path / "opendata"
    monkeypatch.setenv("CIRQLIZ_OPEN_DATA_DIR", str(target))
    assert import_datex2(odd).records  # built-in checks only
    assert run_cli(capsys, "opendata", "fetch", "--from", str(shared_data)).rc == 0
    with pytest.raises(ImportFileError) as caught:
        import_datex2(odd)
    assert "non conforme au schéma" in caught.value.message and "« licorne »" in caught.value.message
