"""`cirqliz opendata fetch`: install the published reference files, each checked against its pin.

All files are obtained and checked before anything is written: one file whose SHA-256 differs
from its pin (or that cannot be obtained) refuses the whole installation and leaves the folder as
it was. Each file is then written atomically (temporary file in the same folder, then rename).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cirqliz.opendata.files import PUBLISHED_FILES, PublishedFile, file_state

FETCH_TIMEOUT_S = 30.0
MAX_FILE_BYTES = 5 * 1024 * 1024
"""Largest published file accepted (the biggest, DATEXII_3_LocationReferencing.xsd, is about 190 kB)."""


class OpenDataError(Exception):
    """A published file could not be installed; `message` says which and why, in French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Installed:
    """What fetch did with one file."""

    path: str
    action: str
    """'installé' or 'déjà à jour'."""
    origin: str


Reader = Callable[[PublishedFile], tuple[bytes, str]]


def from_folder(source: Path) -> Reader:
    """Read each file from a local copy laid out like the open-data folder (offline servers)."""

    def read(item: PublishedFile) -> tuple[bytes, str]:
        path = source / item.path
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise OpenDataError(f"{item.path} : lecture impossible de {path} ({exc.strerror or 'erreur'})") from exc
        return _bounded(item, data), str(path)

    return read


def from_web(base_url: str | None = None, *, timeout: float = FETCH_TIMEOUT_S) -> Reader:
    """Download each file from its published address, or from `base_url`/<path in the folder>."""

    def read(item: PublishedFile) -> tuple[bytes, str]:
        url = f"{base_url.rstrip('/')}/{item.path}" if base_url else item.url
        if not url.startswith(("https://", "http://")):
            raise OpenDataError(f"{item.path} : adresse non prise en charge : {url} (http:// ou https:// attendu)")
        request = urllib.request.Request(url, headers={"User-Agent": "cirqliz-opendata-fetch"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) checked above)
                data = response.read(MAX_FILE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise OpenDataError(f"{item.path} : téléchargement refusé par le serveur (HTTP {exc.code}) : "
                                f"{url}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None)
            what = "délai dépassé" if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError) else (
                "serveur injoignable")
            raise OpenDataError(f"{item.path} : téléchargement impossible ({what}) : {url}") from exc
        return _bounded(item, data), url

    return read


def _bounded(item: PublishedFile, data: bytes) -> bytes:
    if len(data) > MAX_FILE_BYTES:
        raise OpenDataError(f"{item.path} : fichier trop grand (plus de {MAX_FILE_BYTES // (1024 * 1024)} Mio)")
    return data


def fetch(destination: Path, reader: Reader, files: Sequence[PublishedFile] = PUBLISHED_FILES) -> list[Installed]:
    """Install `files` into `destination`, every one checked against its SHA-256 pin first.

    Files already there with the right hash are kept. OpenDataError (nothing written) when a file
    cannot be obtained or its hash differs: the message names the file, the expected and the
    received hash.
    """
    fetched: list[tuple[PublishedFile, bytes, str]] = []
    done: list[Installed] = []
    for item in files:
        if file_state(destination, item) == "ok":
            done.append(Installed(item.path, "déjà à jour", str(destination / item.path)))
            continue
        data, origin = reader(item)
        received = hashlib.sha256(data).hexdigest()
        if received != item.sha256:
            raise OpenDataError(
                f"{item.path} refusé : son empreinte SHA-256 n'est pas celle de la version publiée épinglée "
                f"(attendue {item.sha256}, reçue {received}, depuis {origin}). Rien n'a été écrit.")
        fetched.append((item, data, origin))
    for item, data, origin in fetched:
        _write_atomically(destination / item.path, data)
        done.append(Installed(item.path, "installé", origin))
    return sorted(done, key=lambda d: [f.path for f in files].index(d.path))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # public files, read by the service whatever user installed them
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
