"""Where supporting documents' bytes go: a content-addressed store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class DocumentStore(Protocol):
    """Stores bytes under their SHA-256 and returns the key to find them again."""

    def put(self, *, sha256: str, content: bytes) -> str:
        """Store `content` (idempotent) and return its storage key."""
        ...


class FileDocumentStore:
    """Files under a root directory, fanned out by the first two hex digits of the hash."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key_for(sha256: str) -> str:
        """The storage key of the content with this hash (`ab/abcd…`)."""
        return f"{sha256[:2]}/{sha256}"

    def read(self, key: str) -> bytes | None:
        """The bytes stored under `key`; None when there are none, or when the key would lead out of
        the root (keys come from the database: a tampered row must not name another file)."""
        root = self.root.resolve()
        path = (root / key).resolve()
        if root not in path.parents or not path.is_file():
            return None
        return path.read_bytes()

    def put(self, *, sha256: str, content: bytes) -> str:
        """Write the file once (atomically); writing it again is a no-op."""
        key = self.key_for(sha256)
        path = self.root / key
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(content)
            os.chmod(partial, 0o600)
            partial.replace(path)
        return key
