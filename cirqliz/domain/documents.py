"""Supporting documents: accepted types, size limit, content hash."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cirqliz.domain.errors import DocumentError

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_DOCUMENTS_PER_APPLICATION = 10
MAX_DOCUMENT_BYTES_PER_ORGANISATION = 200 * 1024 * 1024
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


def size_fr(size: int) -> str:
    """A size in bytes as a French reader expects it: '512 octets', '12 Kio', '3,5 Mio'."""
    if size >= 1048576:
        return f"{size / 1048576:.1f} Mio".replace(".", ",")
    if size >= 10240:
        return f"{size // 1024} Kio"
    return f"{size} octets"


@dataclass(frozen=True, slots=True)
class DocumentQuota:
    """Caps on supporting documents: how many per application, how many stored bytes per
    organisation (a file the organisation already stored counts once)."""

    max_per_application: int = MAX_DOCUMENTS_PER_APPLICATION
    max_bytes_per_organisation: int = MAX_DOCUMENT_BYTES_PER_ORGANISATION

    def check(self, *, application_count: int, organisation_bytes: int, new_bytes: int) -> None:
        """Refuse one more document when the application already has its maximum, or when
        `new_bytes` more would take the organisation past its storage cap (DocumentError)."""
        if application_count >= self.max_per_application:
            raise DocumentError(
                f"cette demande a déjà {application_count} justificatif(s), le maximum est "
                f"{self.max_per_application} par demande : regroupez plusieurs pièces dans un seul PDF",
                code="documents_per_application",
            )
        if new_bytes and organisation_bytes + new_bytes > self.max_bytes_per_organisation:
            raise DocumentError(
                f"espace des justificatifs de votre organisation plein : {size_fr(organisation_bytes)} "
                f"utilisés sur {size_fr(self.max_bytes_per_organisation)}, ce fichier en demande "
                f"{size_fr(new_bytes)} ; réduisez sa taille (PDF compressé, image moins définie) ou "
                "demandez à l'autorité de relever la limite",
                code="documents_organisation_full",
            )
