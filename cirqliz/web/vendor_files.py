"""The front-end package files served under /vendor, and where a built package keeps its copy.

No import beyond the standard library: the build hook (setup.py) loads this file by its path, before
CirQliz's dependencies are installed, to copy exactly these files from node_modules into the wheel
(issue 15), so the list the server allows and the list the package carries are one.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

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
PACKAGED_VENDOR = Path(__file__).parent / "vendor"
"""The copy of the served files that a built wheel carries (written at build time, never committed)."""
LICENCE_PREFIXES = ("license", "licence", "notice")
"""Each package's licence files travel with its copy (never served: not in VENDOR_ALLOWED)."""


def vendor_name_allowed(name: str) -> bool:
    """Whether `name` (a normalised path relative to node_modules) is one of the files /vendor serves."""
    if name.lower().endswith(MARKUP):  # never a page or an image with scripts of a third party
        return False
    return any(name.startswith(allowed) if allowed.endswith("/") else name == allowed for allowed in VENDOR_ALLOWED)


def vendor_files(node_modules: Path) -> list[str]:
    """Every file under `node_modules` that /vendor serves (no hidden file), relative, sorted."""
    found: set[str] = set()
    for allowed in VENDOR_ALLOWED:
        top = node_modules / allowed
        candidates = (p for p in top.rglob("*") if p.is_file()) if allowed.endswith("/") else [top]
        for path in candidates:
            if not path.is_file():
                continue
            name = path.relative_to(node_modules).as_posix()
            if vendor_name_allowed(name) and not any(part.startswith(".") for part in PurePosixPath(name).parts):
                found.add(name)
    return sorted(found)


def missing_vendor_entries(node_modules: Path) -> list[str]:
    """The entries of VENDOR_ALLOWED absent from `node_modules` (a folder without any served file counts)."""
    served = vendor_files(node_modules)
    return [allowed for allowed in VENDOR_ALLOWED
            if not any(name == allowed or (allowed.endswith("/") and name.startswith(allowed)) for name in served)]


def licence_files(node_modules: Path) -> list[str]:
    """The licence and notice files of the packages whose files /vendor serves, relative, sorted."""
    packages = sorted({allowed.split("/", 1)[0] for allowed in VENDOR_ALLOWED})
    return sorted(f"{package}/{path.name}" for package in packages if (node_modules / package).is_dir()
                  for path in (node_modules / package).iterdir()
                  if path.is_file() and path.name.lower().startswith(LICENCE_PREFIXES))
