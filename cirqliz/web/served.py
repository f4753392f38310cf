"""Which files the /static and /vendor routers serve (their guards, wired in web/app.py).

/static: any file of cirqliz/web/static, but no hidden file and no path with a NUL or control
character (os.stat raises on a NUL: a 500 instead of a 404).
/vendor: only the front-end package files the pages load, not all of node_modules. node_modules
also holds HTML pages (swagger-ui-dist's index.html and oauth2-redirect.html), package sources, lock
files and build tools: none is needed, and a third party's HTML page served from our origin would
run with our cookies.
Both answer 404 ("Page introuvable.") for anything else; the routers themselves keep a resolved
path inside their folder.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException

# Folders (ending with '/') or files, relative to node_modules.
VENDOR_ALLOWED = (
    "leaflet/dist/",  # leaflet.js, leaflet.css, images/ (zone maps)
    "zxing-wasm/dist/es/",  # reader/index.js and the share.js it imports (scanner)
    "zxing-wasm/dist/reader/",  # zxing_reader.wasm (scanner)
    "swagger-ui-dist/swagger-ui-bundle.js",  # the API viewer at /schema (controllers/api.py)
    "swagger-ui-dist/swagger-ui-standalone-preset.js",
    "swagger-ui-dist/swagger-ui.css",
    "swagger-ui-dist/favicon-32x32.png",
)
MARKUP = (".html", ".htm", ".xhtml", ".svg", ".xml")
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
    name = "/".join(PurePosixPath("/" + path).parts[1:])
    if name.lower().endswith(MARKUP):  # never a page or an image with scripts of a third party
        return False
    return any(name.startswith(allowed) if allowed.endswith("/") else name == allowed for allowed in VENDOR_ALLOWED)


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
