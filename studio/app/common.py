"""What every studio page shares: the open studio, who the operator is, uploads within limits, and domain
errors shown as one sentence in the page.

The pages are Streamlit scripts run by `main.py` through st.navigation; each imports what it needs from
here and calls the same library functions as the CLI (the render goes through studio/pipeline.py only).
"""

import getpass
import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from consent import Ledger
from provenance import Registry
from sitter.errors import Refused, SitterError
from studio.errors import BadRequest
from studio.settings import Settings

if TYPE_CHECKING:
    from studio.pipeline import Studio  # imports the engine and torch: only when a page renders

CONSENT_PAGE = "views/consent.py"


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
EVIDENCE = UploadRule("evidence", ("pdf", "jpg", "jpeg", "png", "txt", "mp4", "mov", "webm"), 100)
LANDMARKS = UploadRule("landmarks", ("json",), 5)
AUDIO = UploadRule("audio", ("wav", "mp3", "m4a", "aac", "ogg", "flac"), 50)
MAX_UPLOAD_MB = max(rule.max_mb for rule in (IMAGES, VIDEOS, EVIDENCE, LANDMARKS, AUDIO))  # the server's own limit


# the studio's long-lived objects


def settings() -> Settings:
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def _studio(key: str, _settings: Settings) -> "Studio":
    return _settings.open_studio()


def studio() -> "Studio":
    """The studio (ledger, registry, signer, engine) shared by every session of this server."""
    current = settings()
    return _studio(repr(current), current)


def ledger() -> Ledger:
    return studio().ledger


def lookup() -> tuple[Registry | None, Ledger | None]:
    """The registry and ledger for verifying, or (None, None) where this server has no studio database:
    verifying a clip never creates one."""
    if not settings().has_database():
        return None, None
    opened = studio()
    return opened.registry, opened.ledger


# who is acting


def login_configured() -> bool:
    """Whether the deployment set up OIDC login (an [auth] section in secrets.toml): st.user then says."""
    return "is_logged_in" in st.user.to_dict()


def signed_in() -> bool:
    """Staff pages open when login is not configured (a local studio) or the user has logged in."""
    return not login_configured() or bool(st.user.get("is_logged_in"))


def default_operator() -> str:
    return os.environ.get("SITTER_OPERATOR") or getpass.getuser()


def operator() -> str:
    """Who is acting, recorded with every ledger event: the logged-in user, else the local name setting."""
    if login_configured() and st.user.get("is_logged_in"):
        return str(st.user.get("email") or st.user.get("name") or st.user.get("sub"))
    return str(st.session_state.get("operator") or default_operator()).strip()


# uploads


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


# errors


@contextmanager
def reported() -> Iterator[None]:
    """Show a domain error as one sentence in the page (the page stays usable); a refusal links to Consent."""
    try:
        yield
    except Refused as err:
        st.error(sentence(err))
        st.page_link(CONSENT_PAGE, label="Open Consent to add or renew a record", icon=":material/arrow_forward:")
    except SitterError as err:
        st.error(sentence(err))


def sentence(err: Exception) -> str:
    """The error's own message, capitalized and ended. Paths are left out: in the studio they are temporary
    files the user never named."""
    text = str(err).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
