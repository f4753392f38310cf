"""The published reference files CirQliz validates open data against, pinned by SHA-256, and
which validation is active for each format.

Each format is always checked by the product's own code ("contrôles intégrés"); when every
published file of a format is in the open-data folder with its pinned hash, imports and exports
of that format are also validated against them ("schémas publiés"). A missing or different file
leaves the built-in checks alone in charge, and `cirqliz opendata status` says why.

This module imports nothing of cirqliz.imports at load time: the importers depend on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PUBLISHED = "schémas publiés"
BUILTIN = "contrôles intégrés"
FORMAT_LABELS = {
    "zfe": "ZFE (schéma national etalab/schema-zfe)",
    "cerema": "arrêtés de circulation marchandises (schéma Cerema)",
    "datex2": "DATEX II v3 (schémas XSD de DiaLog)",
}


@dataclass(frozen=True, slots=True)
class PublishedFile:
    """One published file: where it goes in the open-data folder, where it is published, its pin."""

    format: str
    path: str
    """Path inside the open-data folder (the layout of ../shared/data)."""
    repository: str
    commit: str
    source_path: str
    """Path of the file in its repository at `commit`."""
    sha256: str

    @property
    def url(self) -> str:
        """Published address: the raw file of the repository at the pinned commit."""
        return f"https://raw.githubusercontent.com/{self.repository}/{self.commit}/{self.source_path}"


_ZFE = ("etalab/schema-zfe", "67a379c3407283c6a47e7c5399a3c0d5be458c1a")
_CEREMA = ("CEREMA/schema-arrete-circulation-marchandises", "c6f475da6715e6e1eaa7e266995451d44f91b13b")
_DIALOG = ("MTES-MCT/dialog", "a55692369d5d9632a408a5bef0918132d5548e10")
_XSD_PINS = {
    "Common": "242bb578ec3bf7c836c6e058b8fae15e4bdd2e291059c62e9987b3161c882b95",
    "CommonExtension": "fcd8867abda52e1889522e52a4837dbb2c34db3dcfb8a3e7a47c9d2603d591b5",
    "D2Payload": "150fcf4371c829dfd70041d34eb7a2e08659c456d2197c6a6e2a7f3ac19cde30",
    "DiaLogExtension": "b5f38589bcc269f0718cbaf03e3c3150151e76c5adc00f657aa22651373ce101",
    "Facilities": "3c197c84e5213604c7ed58ea076d5482cdddc49f8f82d232c065eeaf3ad6444d",
    "LocationExtension": "19a2ee9787b31097eff6e37b030f42df86f3cd6b0c891f56ce92eebe4e301408",
    "LocationReferencing": "af0587827c0ce39b82d6dcfb215bdb8f7255d4d93c1e1c553a091ae466a9d3ae",
    "Parking": "55e7a3db457b931e57e3ebbd50eca9e96725c1f61d2d008f8e5878d4ffaa89f2",
    "TrafficRegulation": "011f1e6b17de7aa6efe6ca6cfe24034a1d76d66781c5f77e3d5ab4ce4fc652c6",
}
PUBLISHED_FILES: tuple[PublishedFile, ...] = (
    PublishedFile("zfe", "zfe/schema.json", *_ZFE, "schema.json",
                  "88ea0d0086081cfbb380b9d1f22f25775e4bf5525c7ad85fd9865529b8800a74"),
    PublishedFile("cerema", "cerema-marchandises/schema.json", *_CEREMA, "schema.json",
                  "27e1643fce09d4dc1e35b0d6f8bca0888d6f6e8ad3352d7377869d1ccc65d01f"),
    PublishedFile("cerema", "cerema-marchandises/referentiels/VEH_USAGES.csv", *_CEREMA,
                  "referentiels/VEH_USAGES.csv", "9be1abfae7ed0f19740ec6299c712f725b1818f2af7957122940a4f1e7b9efb4"),
    *(PublishedFile("datex2", f"dialog-datex2/DATEXII_3_{name}.xsd", *_DIALOG,
                    f"docs/spec/datex2/DATEXII_3_{name}.xsd", pin) for name, pin in _XSD_PINS.items()),
)
"""Every file `cirqliz opendata fetch` installs (the versions in ../shared/data, see its SOURCE.txt)."""


def files_of(fmt: str) -> tuple[PublishedFile, ...]:
    """The published files of one format ('zfe', 'cerema' or 'datex2')."""
    return tuple(f for f in PUBLISHED_FILES if f.format == fmt)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=64)
def _hash_of(path: str, size: int, mtime_ns: int) -> str:
    # Keyed on size and modification time: an import hashes each file once, not at every call.
    return sha256_file(Path(path))


def file_state(folder: Path, item: PublishedFile) -> str:
    """'ok', 'absent' or 'modifié' (present with another hash than the pin)."""
    path = folder / item.path
    try:
        stat = path.stat()
    except OSError:
        return "absent"
    if not path.is_file():
        return "absent"
    return "ok" if _hash_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns) == item.sha256 else "modifié"


@dataclass(frozen=True, slots=True)
class FormatStatus:
    """Which validation one format has, and why."""

    format: str
    label: str
    validation: str
    """PUBLISHED ("schémas publiés": built-in checks and published schemas) or BUILTIN."""
    missing: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()

    @property
    def published(self) -> bool:
        """Whether the published schemas are used for this format."""
        return self.validation == PUBLISHED

    def describe(self) -> str:
        """One French line: the format, its validation and, when the schemas are not used, why."""
        why = []
        if self.missing and len(self.missing) == len(files_of(self.format)):
            why.append("fichiers publiés absents")
        elif self.missing:
            why.append("absents : " + ", ".join(self.missing))
        if self.modified:
            why.append("empreinte SHA-256 inattendue, ignorés : " + ", ".join(self.modified))
        reason = f" ({' ; '.join(why)})" if why else ""
        return f"{self.format:<7} {self.validation}{reason}"


@dataclass(frozen=True, slots=True)
class OpenDataStatus:
    """The open-data folder and the validation active for each format."""

    folder: Path
    formats: tuple[FormatStatus, ...]

    def validation(self, fmt: str) -> str:
        """PUBLISHED or BUILTIN for a format."""
        return next(s.validation for s in self.formats if s.format == fmt)

    def summary(self) -> dict[str, str]:
        """{format: validation}, e.g. for /readyz."""
        return {s.format: s.validation for s in self.formats}

    def lines_fr(self) -> list[str]:
        """What `cirqliz opendata status` prints."""
        lines = [f"dossier des données ouvertes : {self.folder}"]
        lines += [s.describe() for s in self.formats]
        if not all(s.published for s in self.formats):
            lines.append("les contrôles intégrés valident toujours ce qui est lu et écrit ; pour valider aussi "
                         "contre les schémas publiés : cirqliz opendata fetch")
        return lines


def format_status(fmt: str, folder: Path) -> FormatStatus:
    """The validation of `fmt` given the files in `folder`."""
    states = {item.path: file_state(folder, item) for item in files_of(fmt)}
    missing = tuple(p for p, s in states.items() if s == "absent")
    modified = tuple(p for p, s in states.items() if s == "modifié")
    validation = PUBLISHED if not missing and not modified else BUILTIN
    return FormatStatus(fmt, FORMAT_LABELS[fmt], validation, missing, modified)


def opendata_status(folder: str | Path | None = None) -> OpenDataStatus:
    """Which validation is active for each format ('schémas publiés' or 'contrôles intégrés').

    `folder` defaults to the open-data folder (cirqliz.imports.common.open_data_dir).
    """
    base = Path(folder) if folder is not None else _default_folder()
    return OpenDataStatus(base, tuple(format_status(fmt, base) for fmt in FORMAT_LABELS))


def published_folder(fmt: str) -> Path | None:
    """The open-data folder when every published file of `fmt` is there with its pinned hash, else None."""
    folder = _default_folder()
    return folder if format_status(fmt, folder).published else None


def _default_folder() -> Path:
    from cirqliz.imports.common import open_data_dir  # late: cirqliz.imports imports this module

    return open_data_dir()
