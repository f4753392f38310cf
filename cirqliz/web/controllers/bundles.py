"""The public trust-bundle files that scanners download without an account (/bundle/…).

The authority is looked up by its code in the database, and its keys folder is found from that
row's code, never from the URL. The bytes served are kept in a small LRU per application
(BUNDLE_FILES_KEPT entries): a delta is signed once per (keys folder, since, seq), not on every
anonymous request, and a new publication (another seq, a rewritten file) simply uses new keys.
"""

from __future__ import annotations

from collections import OrderedDict

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from cirqliz.clock import to_epoch
from cirqliz.db.engine import create_session_factory
from cirqliz.db.models import Organisation
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.issuance import authority_queries as q
from cirqliz.issuance.keystore import KeyStore
from cirqliz.passcode.errors import SchemeError
from cirqliz.web.deps import ClockDep

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

BundleKey = tuple[str, int, int, int]  # (keys folder, since or 0 for the full bundle, seq, file stamp)


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
    return state.setdefault("bundle_files", BundleFiles())


async def _published_authority(request: Request, code: str) -> tuple[Organisation, KeyStore]:
    """The authority with this code (from the database) and its keystore, read in a short read-only
    session (scanners sync often: no write lock is taken on SQLite)."""
    maker = create_session_factory(request.app.state.engine, read_only=True)
    async with maker() as session, session.begin():
        try:
            authority = await q.authority_by_code(session, code)
        except NotFound:
            # The fixed 404: the URL's text is never echoed back (any length, any content).
            raise NotFoundException("Autorité inconnue.") from None
    try:
        keystore = request.app.state.signer.keystore(authority.code)
    except DomainError:
        raise NotFoundException("aucune clé pour cette autorité") from None
    return authority, keystore


def _stamp(keystore: KeyStore, seq: int) -> int:
    """When the stored bundle `seq` was written (a restored keys folder gives other bytes)."""
    try:
        return (keystore.path / "bundles" / f"{seq}.cose").stat().st_mtime_ns
    except OSError:
        raise NotFoundException("aucune donnée publiée pour cette autorité") from None


def _delta(files: BundleFiles, keystore: KeyStore, since: int, seq: int, stamp: int) -> bytes | None:
    key = (str(keystore.path), since, seq, stamp)
    data = files.get(key)
    if data is None:
        try:
            data = keystore.delta_since(since)
        except SchemeError:
            data = _NO_DELTA
        files.put(key, data)
    return data or None


def _full(files: BundleFiles, keystore: KeyStore, seq: int, stamp: int) -> bytes:
    key = (str(keystore.path), 0, seq, stamp)
    data = files.get(key)
    if data is None:
        # Layout documented in cirqliz.issuance.keystore: bundles/<seq>.cose
        data = (keystore.path / "bundles" / f"{seq}.cose").read_bytes()
        files.put(key, data)
    return data


@get("/bundle/{name:str}", opt=PUBLIC, name="bundle_file", include_in_schema=False)
async def bundle_file(request: Request, clock: ClockDep, name: FromPath[str],
                      since: FromQuery[int | None] = None) -> Response[bytes]:
    """`/bundle/<authority>.cose`: the latest full trust bundle, or with `?since=SEQ` a delta from
    that bundle when it can be built (else the full one). Revalidated on every sync (ETag).
    `X-Server-Time` (epoch seconds) lets a scanner see that its clock is wrong."""
    code, dot, extension = name.rpartition(".")
    if not dot or extension != "cose":
        raise NotFoundException("fichier inconnu")
    authority, keystore = await _published_authority(request, code)
    seq = keystore.last_seq
    if seq == 0:
        raise NotFoundException("aucune donnée publiée pour cette autorité")
    stamp = _stamp(keystore, seq)
    files = bundle_files(request.app.state)
    body: bytes | None = None
    etag = f'"{authority.code}-{seq}"'
    kind = "full"
    if since is not None and max(0, seq - DELTA_WINDOW) <= since < seq and since > 0:
        body = _delta(files, keystore, since, seq, stamp)
        if body is not None:
            etag, kind = f'"{authority.code}-{since}-{seq}"', "delta"
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Bundle-Seq": str(seq), "X-Bundle-Kind": kind,
               "X-Server-Time": str(to_epoch(clock.now())), "Access-Control-Allow-Origin": "*",
               "Access-Control-Expose-Headers": "ETag, X-Bundle-Seq, X-Bundle-Kind, X-Server-Time"}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    if body is None:
        body = _full(files, keystore, seq, stamp)
    return Response(body, media_type=COSE_MEDIA_TYPE, headers=headers)


@get("/bundle/{code:str}/root.pem", opt=PUBLIC, name="bundle_root", include_in_schema=False)
async def bundle_root(request: Request, code: FromPath[str]) -> Response[bytes]:
    """The authority's root PUBLIC key, which scanners pin to check bundles."""
    _authority_row, keystore = await _published_authority(request, code)
    return Response(keystore.root_public().pem(), media_type=PEM_MEDIA_TYPE,
                    headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})


ROUTES = [bundle_file, bundle_root]
