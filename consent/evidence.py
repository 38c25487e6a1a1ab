"""The evidence store: the signed consent forms and consent videos behind each record, and its images.

The ledger keeps only an evidence file's SHA-256; the file itself is copied here, one folder per
record, so that erasing a record's personal data can delete its evidence too without touching any
other record's. The source images a record covers are kept in its `sources/` subfolder for the same
reason: a face is personal data, and the studio renders a record's images again without re-uploading.
"""

import hashlib
import os
import shutil
from pathlib import Path

from consent.errors import InvalidInput


class EvidenceStore:
    """Files under `root/<record id>/<sha256><suffix>`, written atomically."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def put(self, record_id: str, source: Path | str, digest: str, *, under: str = "") -> None:
        """Copy `source` in under `record_id` (and its subfolder `under`), named by its `digest`."""
        source = Path(source)
        folder = self.root / record_id / under
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / f"{digest}{source.suffix.lower()}"
        tmp = folder / f".{target.name}.tmp"
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)

    def remove(self, record_id: str) -> None:
        shutil.rmtree(self.root / record_id, ignore_errors=True)

    def files(self, record_id: str, *, under: str = "") -> list[Path]:
        folder = self.root / record_id / under
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def file_sha256(path: Path) -> str:
    """SHA-256 of a readable, non-empty file; InvalidInput otherwise."""
    if not path.is_file():
        raise InvalidInput("evidence file not found", path)
    if path.stat().st_size == 0:
        raise InvalidInput("evidence file is empty (0 bytes)", path)
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
