"""The evidence store: the signed consent forms and consent videos behind each record, and its images.

The ledger keeps only an evidence file's SHA-256; the file itself is copied here, one folder per
record, so that erasing a record's personal data can delete its evidence too without touching any
other record's. The source images a record covers are kept in its `sources/` subfolder for the same
reason: a face is personal data, and the studio renders a record's images again without re-uploading.
"""

import os
import shutil
from pathlib import Path

from consent.errors import InvalidInput
from sitter.files import read_bounded

MAX_EVIDENCE_BYTES = 1024 * 2**20  # a consent video can be long; a file over 1 GB is refused, not read into memory


class EvidenceStore:
    """Files under `root/<record id>/<sha256><suffix>`, written atomically, owner-only (folders 0700, files 0600)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def put(self, record_id: str, data: bytes, name: str, *, under: str = "") -> None:
        """Keep `data` (a file as it was read and hashed, not the file read again) under `record_id` (and its
        subfolder `under`) as `name`."""
        folder = self.root / record_id / under
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for level in (self.root / record_id, folder):  # each one 0700: mkdir(parents=True) makes parents 0755
            level.mkdir(exist_ok=True, mode=0o700)
        target = folder / name
        tmp = folder / f".{target.name}.tmp"
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as dst:
            dst.write(data)  # owner-only from its first byte
        os.chmod(tmp, 0o600)  # a temp file a crash left behind keeps its old mode through O_TRUNC
        os.replace(tmp, target)

    def remove(self, record_id: str) -> None:
        shutil.rmtree(self.root / record_id, ignore_errors=True)

    def files(self, record_id: str, *, under: str = "") -> list[Path]:
        folder = self.root / record_id / under
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def read_evidence(path: Path) -> bytes:
    """An evidence file's bytes, read once (what is hashed is what is kept); InvalidInput when it is missing, empty
    or too large."""
    return read_bounded(path, limit=MAX_EVIDENCE_BYTES, what="evidence file", error=InvalidInput)
