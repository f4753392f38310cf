"""Which files the /static and /vendor routers serve (their guards, wired in web/app.py).

/static: any file of cirqliz/web/static, but no hidden file and no path with a NUL or control
character (os.stat raises on a NUL: a 500 instead of a 404).
/vendor: only the front-end package files the pages load (their list: web/vendor_files.py), not all
of node_modules. node_modules also holds HTML pages (swagger-ui-dist's index.html and
oauth2-redirect.html), package sources, lock files and build tools: none is needed, and a third
party's HTML page served from our origin would run with our cookies.
Both answer 404 ("Page introuvable.") for anything else; the routers themselves keep a resolved
path inside their folder.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from litestar import Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException

from cirqliz.domain.documents import sniff_document_type
from cirqliz.web.vendor_files import vendor_name_allowed

_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def static_file_allowed(path: str) -> bool:
    """Whether `path` (relative to the served folder) may be looked up: no control character or
    backslash, no '.' or '..' segment, no hidden file."""
    if _CONTROL.search(path):
        return False
    parts = PurePosixPath("/" + path).parts[1:]
    return bool(parts) and not any(part.startswith(".") for part in parts)


def vendor_file_allowed(path: str) -> bool:
    """Whether `path` (relative to node_modules) is one of the files /vendor serves."""
    if not static_file_allowed(path):
        return False
    return vendor_name_allowed("/".join(PurePosixPath("/" + path).parts[1:]))


def _file_path(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return str(connection.path_params.get("file_path", ""))


def static_files_only(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
    """Guard of the /static router (see static_file_allowed)."""
    if not static_file_allowed(_file_path(connection)):
        raise NotFoundException()


def vendor_files_only(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
    """Guard of the /vendor router (see vendor_file_allowed)."""
    if not vendor_file_allowed(_file_path(connection)):
        raise NotFoundException()


DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Opened in a tab after all (a PDF viewer, a browser that ignores `attachment`): no script, no
    # origin of ours, nothing loaded.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}
"""Headers of every stored file sent back (supporting documents), besides Content-Disposition: attachment."""


def stored_file_response(data: bytes, filename: str) -> Response[bytes]:
    """A stored supporting document sent back: the type of the bytes on disk, not the one recorded
    (a file never goes out as HTML), always an attachment, with DOWNLOAD_HEADERS."""
    plain = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in filename) or "justificatif"
    return Response(data, media_type=sniff_document_type(data) or "application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}",
        **DOWNLOAD_HEADERS,
    })
