"""The public trust-bundle files that scanners download without an account (/bundle/…).

The authority is looked up by its code in the database, and its keys folder is found from that
row's code, never from the URL. Scanners sync often, so the request path is kept to the bare cost
(issue 18): the code → authority answer is remembered for KNOWN_AUTHORITY_SECONDS per process, the
published seq is read from the keyring only when the keyring file changes (one stat per request),
and the bytes served are kept in a small LRU per application (BUNDLE_FILES_KEPT entries) keyed by
(keys folder, since, seq, keyring stamp): a delta is signed once per process and publication, and
a new publication — by any process or host sharing the keys folder — changes the keyring, hence the
key, so nothing stale is ever served. `If-None-Match` with the current ETag answers 304.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from pathlib import Path

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from cirqliz.clock import Clock, to_epoch
from cirqliz.db.engine import create_session_factory
from cirqliz.db.models import Organisation
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.issuance import authority_queries as q
from cirqliz.issuance.keystore import KEYRING, KeyStore
from cirqliz.passcode.errors import SchemeError

PUBLIC = {"exclude_from_auth": True}
COSE_MEDIA_TYPE = "application/cose"
PEM_MEDIA_TYPE = "application/x-pem-file"
BUNDLE_FILES_KEPT = 256  # entries; most are deltas of a few KB
BUNDLE_BYTES_KEPT = 32 * 1024 * 1024  # a full bundle with 100,000 revocations is ~0.8 MB
DELTA_WINDOW = 32
"""Deltas are built from the last DELTA_WINDOW publications only (older bases get the full bundle):
anonymous callers cycling `since` can then make at most this many signatures per publication, all
kept in the cache."""
_NO_DELTA = b""  # remembered too: that base is unknown here, the full bundle will do

# (keys folder, since or 0 for the full bundle, seq, keyring stamp)
BundleKey = tuple[str, int, int, tuple[int, int, int]]
KNOWN_AUTHORITY_SECONDS = 60.0
"""How long a code found to be an authority is believed without asking the database again (an
authority is never deleted; its keys folder is still checked on every request)."""


class BundleFiles:
    """The last bundle bytes served, least recently used dropped first beyond `size` entries or
    `max_bytes` in all (one per application)."""

    def __init__(self, size: int = BUNDLE_FILES_KEPT, max_bytes: int = BUNDLE_BYTES_KEPT) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[BundleKey, bytes] = OrderedDict()

    def get(self, key: BundleKey) -> bytes | None:
        """The bytes kept under `key`, or None."""
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def put(self, key: BundleKey, data: bytes) -> None:
        """Keep `data` under `key`, dropping the least recently used beyond the bounds."""
        previous = self._items.pop(key, None)
        self._bytes += len(data) - (len(previous) if previous is not None else 0)
        self._items[key] = data
        while len(self._items) > 1 and (len(self._items) > self.size or self._bytes > self.max_bytes):
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


def bundle_files(state: State) -> BundleFiles:
    """The application's cache of bundle bytes."""
    files = state.get("bundle_files")
    if files is None:
        files = state.bundle_files = BundleFiles()
    return files


class Published:
    """What one authority has published, as read from its keyring (one per keys folder)."""

    __slots__ = ("code", "folder", "key", "keyring", "seq", "stamp")

    def __init__(self, code: str, folder: Path, seq: int, stamp: tuple[int, int, int]) -> None:
        self.code = code
        self.folder = folder
        self.key = str(folder)
        self.keyring = str(folder / KEYRING)
        self.seq = seq
        self.stamp = stamp


async def _authority_code(request: Request, code: str) -> str:
    """The code of the authority named by the URL (from the database, remembered for a minute);
    404 for anything else, the URL's text never echoed back (any length, any content)."""
    wanted = code.strip().lower()
    state = request.app.state
    known: dict[str, tuple[float, str]] | None = state.get("bundle_authorities")
    if known is None:
        known = state.bundle_authorities = {}
    seen = known.get(wanted)
    if seen is not None and time.monotonic() - seen[0] < KNOWN_AUTHORITY_SECONDS:
        return seen[1]
    engine = state.engine
    made = state.get("bundle_session_maker")
    if made is None or made[0] is not engine:  # a new lifespan gives a new engine
        # A short read-only session (scanners sync often: no write lock is taken on SQLite).
        made = state.bundle_session_maker = (engine, create_session_factory(engine, read_only=True))
    maker = made[1]
    async with maker() as session, session.begin():
        try:
            authority: Organisation = await q.authority_by_code(session, code)
        except NotFound:
            known.pop(wanted, None)
            raise NotFoundException("Autorité inconnue.") from None
    if len(known) > 10_000:
        known.clear()
    known[wanted] = (time.monotonic(), authority.code)
    return authority.code


def _published(request: Request, code: str) -> Published:
    """The authority's keys folder and last published seq; the keyring is read again only when the
    file changed (its modification time, size and inode), so every process sees a new publication
    at its next request."""
    state = request.app.state
    published: dict[str, Published] | None = state.get("bundle_published")
    if published is None:
        published = state.bundle_published = {}
    entry = published.get(code)
    if entry is not None:
        folder, keyring = entry.folder, entry.keyring
    else:
        try:
            folder = state.signer.keystore(code).path
        except DomainError:
            raise NotFoundException("aucune clé pour cette autorité") from None
        keyring = str(folder / KEYRING)
    try:
        info = os.stat(keyring)
    except OSError:
        published.pop(code, None)
        raise NotFoundException("aucune clé pour cette autorité") from None
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    if entry is None or entry.stamp != stamp:
        try:
            keystore = KeyStore(folder, clock=request.app.state.clock)
        except SchemeError:
            raise NotFoundException("aucune clé pour cette autorité") from None
        entry = published[code] = Published(code, folder, keystore.last_seq, stamp)
    return entry


def _delta(files: BundleFiles, published: Published, since: int, clock: Clock) -> bytes | None:
    key = (published.key, since, published.seq, published.stamp)
    data = files.get(key)
    if data is None:
        keystore: KeyStore | None = None
        try:
            keystore = KeyStore(published.folder, clock=clock)
            data = keystore.delta_since(since)
        except SchemeError:
            data = _NO_DELTA
        # Published again between the stat and this read: the delta goes to a newer seq than the
        # key says, so it is served once but not kept.
        if keystore is None or keystore.last_seq == published.seq:
            files.put(key, data)
    return data or None


def _full(files: BundleFiles, published: Published) -> bytes:
    key = (published.key, 0, published.seq, published.stamp)
    data = files.get(key)
    if data is None:
        try:
            # Layout documented in cirqliz.issuance.keystore: bundles/<seq>.cose
            data = (published.folder / "bundles" / f"{published.seq}.cose").read_bytes()
        except OSError:
            raise NotFoundException("aucune donnée publiée pour cette autorité") from None
        files.put(key, data)
    return data


_EXPOSED = "ETag, X-Bundle-Seq, X-Bundle-Kind, X-Server-Time"


@get("/bundle/{name:str}", opt=PUBLIC, name="bundle_file", include_in_schema=False)
async def bundle_file(request: Request, name: FromPath[str], since: FromQuery[int | None] = None) -> Response[bytes]:
    """`/bundle/<authority>.cose`: the latest full trust bundle, or with `?since=SEQ` a delta from
    that bundle when it can be built (else the full one). Revalidated on every sync (ETag).
    `X-Server-Time` (epoch seconds) lets a scanner see that its clock is wrong."""
    code, dot, extension = name.rpartition(".")
    if not dot or extension != "cose":
        raise NotFoundException("fichier inconnu")
    published = _published(request, await _authority_code(request, code))
    seq = published.seq
    if seq == 0:
        raise NotFoundException("aucune donnée publiée pour cette autorité")
    clock = request.app.state.clock
    files = bundle_files(request.app.state)
    body: bytes | None = None
    etag = f'"{published.code}-{seq}"'
    kind = "full"
    if since is not None and max(0, seq - DELTA_WINDOW) <= since < seq and since > 0:
        body = _delta(files, published, since, clock)
        if body is not None:
            etag, kind = f'"{published.code}-{since}-{seq}"', "delta"
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Bundle-Seq": str(seq), "X-Bundle-Kind": kind,
               "X-Server-Time": str(to_epoch(clock.now())), "Access-Control-Allow-Origin": "*",
               "Access-Control-Expose-Headers": _EXPOSED}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    if body is None:
        body = _full(files, published)
    return Response(body, media_type=COSE_MEDIA_TYPE, headers=headers)


@get("/bundle/{code:str}/root.pem", opt=PUBLIC, name="bundle_root", include_in_schema=False)
async def bundle_root(request: Request, code: FromPath[str]) -> Response[bytes]:
    """The authority's root PUBLIC key, which scanners pin to check bundles."""
    published = _published(request, await _authority_code(request, code))
    try:
        pem = KeyStore(published.folder, clock=request.app.state.clock).root_public().pem()
    except (OSError, SchemeError):
        raise NotFoundException("aucune clé pour cette autorité") from None
    return Response(pem, media_type=PEM_MEDIA_TYPE,
                    headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})


ROUTES = [bundle_file, bundle_root]
