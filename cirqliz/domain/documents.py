"""Supporting documents: accepted types, size limit, content hash."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cirqliz.domain.errors import DocumentError

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# Declared type -> leading bytes a real file of that type starts with.
ACCEPTED_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """What is stored about a checked document."""

    filename: str
    content_type: str
    size: int
    sha256: str


_EXTENSIONS = {"application/pdf": (".pdf",), "image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}


def sniff_document_type(content: bytes) -> str | None:
    """The accepted type whose magic bytes start `content` (None: not a PDF, JPEG or PNG)."""
    for media_type, signatures in ACCEPTED_TYPES.items():
        if content.startswith(signatures):
            return media_type
    return None


def check_document(*, filename: str, content_type: str, content: bytes) -> DocumentFacts:
    """Accept a PDF, JPEG or PNG of at most 10 MiB, recognised by its first bytes.

    The declared type and the file name are not trusted: the stored type is the sniffed one, a
    declared accepted type that disagrees with the bytes is refused, and the name gets the
    extension of the real type (so "photo.html" holding a PNG is kept as "photo.html.png").
    """
    declared = (content_type or "").split(";")[0].strip().lower()
    size = len(content)
    if size == 0:
        raise DocumentError("fichier vide", code="document_empty")
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"fichier trop lourd : {size / 1048576:.1f} Mio (au plus "
            f"{MAX_DOCUMENT_BYTES // 1048576} Mio)",
            code="document_too_large",
        )
    sniffed = sniff_document_type(content)
    if sniffed is None:
        raise DocumentError(
            "type de fichier refusé : le contenu n'est ni un PDF, ni une image JPEG ou PNG "
            f"(type annoncé : {declared or 'inconnu'})",
            code="document_type",
        )
    if declared in ACCEPTED_TYPES and declared != sniffed:
        raise DocumentError(
            f"le contenu du fichier ({sniffed}) ne correspond pas au type déclaré ({declared})",
            code="document_type_mismatch",
        )
    name = _UNSAFE_NAME.sub("_", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip() or "document"
    extensions = _EXTENSIONS[sniffed]
    if not name.lower().endswith(extensions):
        name += extensions[0]
    if len(name) > 200:  # shorten the stem, keep the extension
        stem, _, extension = name.rpartition(".")
        name = f"{stem[:199 - len(extension)]}.{extension}"
    return DocumentFacts(name, sniffed, size, hashlib.sha256(content).hexdigest())
