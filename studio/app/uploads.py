"""Uploads within limits: what each kind of file may be, and a private folder that holds them for one run.

The server's own upload limit (studio/app/server.py) is MAX_UPLOAD_MB, the largest of these; the pages enforce
each kind's own.
"""

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from studio.app.session import settings
from studio.errors import BadRequest


@dataclass(frozen=True)
class UploadRule:
    """What one kind of upload may be: its file types (the browser offers only those, and Streamlit refuses
    others on the server too) and its size, checked here as well: the browser's check is a courtesy that a
    crafted request skips. What is inside is checked by whatever reads it (an image decoder, a video probe)."""

    what: str
    types: tuple[str, ...]
    max_mb: int

    def check(self, upload: UploadedFile, position: int, count: int) -> None:
        """BadRequest naming the upload by position: its file name may be a person's name."""
        which = f"upload {position} of {count}" if count > 1 else "the upload"
        if upload.size > self.max_mb * 1024 * 1024:
            raise BadRequest(f"{which} is {upload.size / 2**20:.0f} MB; the limit for {self.what} files is "
                               f"{self.max_mb} MB")
        if upload.size == 0:
            raise BadRequest(f"{which} is empty (0 bytes)")


IMAGES = UploadRule("image", ("jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"), 25)
VIDEOS = UploadRule("video", ("mp4", "mov", "m4v", "webm", "mkv", "avi"), 200)
CLIPS = UploadRule("video", (*VIDEOS.types, "gif"), VIDEOS.max_mb)  # what a verifier may be handed: any video
EVIDENCE = UploadRule("evidence", ("pdf", "jpg", "jpeg", "png", "txt", "mp4", "mov", "webm"), 100)
LANDMARKS = UploadRule("landmarks", ("json",), 5)
AUDIO = UploadRule("audio", ("wav", "mp3", "m4a", "aac", "ogg", "flac"), 50)
MAX_UPLOAD_MB = max(rule.max_mb for rule in (IMAGES, VIDEOS, EVIDENCE, LANDMARKS, AUDIO))  # the server's own limit


def uploader(rule: UploadRule, label: str, *, key: str, multiple: bool = False,
             help: str | None = None) -> list[UploadedFile]:
    """A file uploader limited to the rule's types and size; always a list (empty when nothing is there)."""
    files = st.file_uploader(label, type=list(rule.types), accept_multiple_files=multiple, key=key, help=help,
                             max_upload_size=rule.max_mb)
    if files is None:
        return []
    return list(files) if multiple else [files]


@contextmanager
def workspace() -> Iterator[Path]:
    """A private folder for this run's uploads, deleted when the run is done: uploaded faces and evidence
    are personal data and stay on disk only as long as the work needs them (or in the evidence store)."""
    root = settings().home / "uploads"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=root) as folder:
        yield Path(folder)


def save(uploads: Sequence[UploadedFile], rule: UploadRule, folder: Path) -> list[Path]:
    """Check every upload against the rule, then write each to `folder` under a neutral name."""
    for position, upload in enumerate(uploads, 1):
        rule.check(upload, position, len(uploads))
    paths = []
    for upload in uploads:
        data = upload.getvalue()
        path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}{Path(upload.name).suffix.lower()}"
        path.write_bytes(data)
        paths.append(path)
    return paths
