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


def check_document(*, filename: str, content_type: str, content: bytes) -> DocumentFacts:
    """Accept a PDF, JPEG or PNG of at most 10 MiB whose bytes match its declared type."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in ACCEPTED_TYPES:
        raise DocumentError(
            f"type de fichier refusé : {declared or 'inconnu'} (PDF, JPEG ou PNG acceptés)",
            code="document_type",
        )
    size = len(content)
    if size == 0:
        raise DocumentError("fichier vide", code="document_empty")
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"fichier trop lourd : {size / 1048576:.1f} Mio (au plus "
            f"{MAX_DOCUMENT_BYTES // 1048576} Mio)",
            code="document_too_large",
        )
    if not content.startswith(ACCEPTED_TYPES[declared]):
        raise DocumentError(
            f"le contenu du fichier ne correspond pas au type déclaré ({declared})",
            code="document_type_mismatch",
        )
    name = _UNSAFE_NAME.sub("_", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip() or "document"
    return DocumentFacts(name[:200], declared, size, hashlib.sha256(content).hexdigest())
