"""Evidence files kept under the data directory, addressed by SHA-256: response bodies, screenshots, request logs.

A file is written (to a temporary name, then renamed) before the transaction that references it commits, so a
crash leaves at most an unreferenced file, never a reference to a missing one. Each content is stored once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import StorageError


@dataclass(frozen=True)
class StoredFile:
    """One evidence file: its hash, size, what it is (body | screenshot | requests) and its content type."""

    sha256: str
    size: int
    kind: str
    content_type: str = ""


class EvidenceFiles:
    """The content-addressed evidence directory (``<data_dir>/evidence/<sha[:2]>/<sha>``)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes, kind: str, content_type: str = "") -> StoredFile:
        """Store ``content`` (once); raises :class:`StorageError` when the disk refuses it."""
        sha = hashlib.sha256(content).hexdigest()
        target = self.path(sha)
        if not target.exists():
            tmp = target.with_name(f".{sha}.{os.getpid()}.tmp")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise StorageError(f"cannot keep an evidence file under {self.root}: {exc.strerror or exc}") from exc
        return StoredFile(sha, len(content), kind, content_type)

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            return None
