"""The staging of one labeled video, all or nothing: from unlabeled frames to a published file.

Frames go in unlabeled; what appears at `out` is an H.264 MP4 whose every frame carries the invisible watermark
and whose C2PA manifest is signed into the file and registered under the watermark id. Sound, when given, goes into
the same MP4 (AAC), under the same signature, and the manifest says what it is. There is no flag that skips the
watermark or the manifest. Consent is known here only by reference (a ConsentRef: the record's id and hash).

`with stage(out, registry=..., work_dir=...) as s` opens a private work folder under `work_dir` (the studio's
SITTER_HOME/work, 0700), never beside the output, and draws the output's ids. Its caller, the render pipeline,
takes the steps in order; what each leaves on disk until the next one:

    s.label(frames, ...)     watermark every frame, encode      unsigned.mp4 in the work folder
                             sign the manifest, into memory     nothing more: no signed video exists anywhere yet
    s.register()             the registry row, pending          a row that no lookup (nor `sitter verify`) sees
    (the caller re-checks consent and logs the use: studio/pipeline.py)
    s.commit()               write a temp file beside out       the signed video, owner-only (0600), in out's folder
                             move it onto out, no clobber       the output, published (same folder: one atomic rename)
                             publish the registry row           now it counts

Everything that can fail because of the input (the engine's frames, encoding, signing, drawing an id) happens in
`label`, and nothing usable exists before `commit`, which only writes the file, renames it and flips the registry
row. Leaving the `with` block by an exception, or without committing, undoes the attempt (temp file, pending row,
work folder) and lets the exception go on; a use the caller logged stays logged, as the ledger is append-only.

A render that dies (killed, power cut) leaves its work folder, whose `owner` file it held an flock on
while it ran (with its pid, the boot and the process start time, for people). `sweep` runs at the start
of every render and of every studio command (studio/settings.py): it removes every folder whose lock no
process holds, whatever its age, after undoing what that render left: the temp file beside its output,
its pending registry row (or, when the file had been renamed into place already, it publishes the row).

For tests only, SITTER_TEST_PAUSE_AT=<step> makes a render wait forever at that step, with a `paused-<step>` file
in its work folder saying so: encoding (in `label`, part of the video on disk), signing (in `label`, encoded),
registering (at the start of `register`), rechecking (at the end of `register`: the row is in, the caller's
re-check is next), renaming (in `commit`, the temp file written), committing (in `commit`, renamed, the row still
pending). tests/test_crash.py kills it there.
"""

import dataclasses
import fcntl
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from provenance.errors import OutputExists, OutputNotWritable
from provenance.keys import StudioSigner
from provenance.manifest import ManifestContent, SoundSource, sign_video
from provenance.registry import Registry
from provenance.video import Sound, write_mp4
from provenance.watermark import ALGORITHM, format_watermark_id, new_watermark_id, watermark_frames
from sitter.errors import SitterError
from sitter.files import file_sha256
from sitter.sources import SourceImage

log = logging.getLogger(__name__)

OWNER = "owner"  # in each work folder: who runs it (JSON), flock'ed by that render while it runs
PUBLISHING = "publishing.json"  # written before the temp file beside the output: what the sweep must undo
GRACE_SECONDS = 60  # a folder whose render has not yet locked and filled its owner file is left this long
PENDING_SECONDS = 3600  # a registry row pending this long belongs to a render that died (it publishes in seconds)
PAUSE_AT = "SITTER_TEST_PAUSE_AT"  # tests only: the step to wait at (see the module docstring)


@dataclass(frozen=True)
class ConsentRef:
    """The consent a video is made under, as its manifest cites it: the record's id and the hash of its grant row in
    the ledger. No personal data, and no live record: re-checking consent is the caller's step."""

    record_id: str
    record_hash: str


@dataclass(frozen=True)
class Signed:
    """A labeled video, signed in memory and written nowhere yet: what its use is logged against."""

    output_id: str
    watermark_id: str
    sha256: str
    frames: int
    manifest_bytes: int


@dataclass(frozen=True)
class Output(Signed):
    """A published, labeled video: a Signed one, in place at `path`."""

    path: Path


class Stage:
    """One output on its way from frames to a published file: `label`, `register`, `commit`, once each and in that
    order (see the module docstring). Made by `stage`, which undoes it all unless `commit` returned."""

    def __init__(self, out: Path, registry: Registry, work: Path, output_id: str, wm_id: int, overwrite: bool) -> None:
        self._out, self._registry, self._work, self._overwrite = out, registry, work, overwrite
        self._output_id, self._wm_id = output_id, wm_id
        self._tmp = out.with_name(f".{out.name}.{output_id}.tmp")
        self._signed: Signed | None = None
        self._video = io.BytesIO()  # the signed video, in memory until the caller's re-check has passed
        self._store = b""  # its manifest store, for the registry
        self._content: ManifestContent | None = None
        self._registered = self._renamed = self._committed = False

    def label(
        self,
        frames: Iterable[np.ndarray],
        fps: float,
        sources: Sequence[SourceImage],
        consent: ConsentRef,
        *,
        signer: StudioSigner,
        engine: str,
        engine_version: str,
        sound: Sound | None = None,
        sound_source: SoundSource | None = None,
    ) -> Signed:
        """Watermark every frame, encode them (with `sound` as the sound track) in the work folder, and sign the C2PA
        manifest into a copy in memory (sign_video says what that costs). `sound_source` says what the sound is, for
        the manifest: both are given, or neither.

        Raises whatever failed (FrameTooSmall, SigningFailed, the engine's own errors, ...).
        """
        assert self._content is None, "a stage labels one video"
        assert (sound is None) == (sound_source is None), \
            "sound and sound_source come together: the manifest must say what every sound track is"
        unsigned = self._work / "unsigned.mp4"
        marked = watermark_frames(frames, self._wm_id)
        if os.environ.get(PAUSE_AT) == "encoding":
            marked = _pause_midway(marked, self._work)
        count = write_mp4(marked, unsigned, fps, sound=sound)
        _pause("signing", self._work)
        self._content = ManifestContent(
            title=f"{self._output_id}.mp4",
            sources=tuple(sources),
            record_id=consent.record_id,
            record_hash=consent.record_hash,
            watermark_id=format_watermark_id(self._wm_id),
            watermark_alg=ALGORITHM,
            engine=engine,
            engine_version=engine_version,
            sound=sound_source,
        )
        self._store = sign_video(unsigned, self._video, self._content, signer)
        unsigned.unlink()
        self._signed = Signed(self._output_id, self._content.watermark_id,
                              hashlib.sha256(self._video.getbuffer()).hexdigest(), count, len(self._store))
        return self._signed

    def register(self) -> None:
        """Register the labeled video under its watermark id, pending: its id is reserved, and no lookup sees it
        until `commit`."""
        assert self._signed is not None and not self._registered, "register once, after label"
        _pause("registering", self._work)
        self._registry.register(watermark_id=self._signed.watermark_id, manifest=self._store,
                                output_id=self._output_id, record_id=self._content.record_id,
                                engine=self._content.engine, sha256=self._signed.sha256, pending=True)
        self._registered = True
        _pause("rechecking", self._work)  # the caller's consent re-check comes next

    def commit(self) -> Output:
        """Publish, once consent is re-checked and the use logged: write the signed video beside `out`, move it onto
        `out`, make the rename durable, publish the registry row.

        Without `overwrite`, a file that appeared at `out` since the render began is kept, and this raises
        OutputExists.
        """
        assert self._registered and not self._committed, "commit once, after register"
        _write_new(self._work / PUBLISHING, json.dumps({"out": str(self._out), "tmp": str(self._tmp),
                                                        "sha256": self._signed.sha256}).encode())
        _write_new(self._tmp, self._video.getbuffer())
        _pause("renaming", self._work)
        _move(self._tmp, self._out, self._overwrite)
        self._renamed = True
        _fsync_folder(self._out.parent)
        _pause("committing", self._work)
        self._registry.publish(self._output_id)
        self._committed = True
        return Output(**dataclasses.asdict(self._signed), path=self._out)

    def _undo(self) -> None:
        """Every trace of an attempt that did not commit, outside its work folder: the temp file, the output if it
        was renamed into place already, the pending registry row."""
        if self._committed:
            return
        self._tmp.unlink(missing_ok=True)
        if self._renamed:
            self._out.unlink(missing_ok=True)
        if self._registered:
            self._registry.discard(self._output_id)


@contextmanager
def stage(out: Path | str, *, registry: Registry, work_dir: Path | str, overwrite: bool = False) -> Iterator[Stage]:
    """A Stage for the video to be published at `out`, in a new private work folder under `work_dir`, after sweeping
    the folders of renders that died. A file at `out` is replaced only with `overwrite`.

    On leaving the block, unless `commit` returned, the attempt is undone (temp file, pending row, work folder) and
    whatever was raised goes on.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(out.parent, os.W_OK | os.X_OK):  # found now, not after the use is logged
        raise OutputNotWritable("the output's folder can't be written: choose another place for the video", out)
    sweep(work_dir, registry)
    wm_id = _unused_watermark_id(registry)
    output_id = f"sitter-{secrets.token_hex(8)}"
    work, owner = _start_work(Path(work_dir), output_id, format_watermark_id(wm_id))
    staged = Stage(out, registry, work, output_id, wm_id, overwrite)
    keep = False
    try:
        yield staged
    finally:
        try:
            staged._undo()
        except Exception as err:  # the database went away, say: the work folder tells the next sweep what to undo
            keep = True
            log.warning("could not undo a failed render (%s): the next command's sweep will", err.__class__.__name__)
        finally:
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
            os.close(owner)  # releases the lock, after the folder is gone


@contextmanager
def inputs_folder(work_dir: Path | str) -> Iterator[Path]:
    """A private folder under `work_dir` for a render's inputs (copies of its driver or voice), locked and swept like
    a render's work folder: gone when the render ends, and after it, however it ended."""
    folder, owner = _start_work(Path(work_dir), None, None, prefix="inputs-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(owner)


def sweep(work_dir: Path | str, registry: Registry) -> None:
    """Remove the work folders of renders that died, whatever their age, undoing what each left behind.

    A folder whose `owner` lock is held belongs to a live render (in this process or another) and is left alone.
    A dead render's temp file beside its output is deleted and its pending registry row discarded; when its file
    had been renamed into place already (it died just before publishing the row), the row is published instead.
    A folder that can't be swept now (the database is unreachable, say) is left for the next sweep.

    Pending rows older than PENDING_SECONDS are discarded too, whichever machine registered them: a render
    publishes seconds after registering, so those belong to renders that died with their folder lost, or on
    another machine sharing the database.
    """
    work_dir = Path(work_dir)
    for folder in work_dir.iterdir() if work_dir.is_dir() else ():
        if folder.is_dir() and not folder.is_symlink():
            try:
                _sweep_folder(folder, registry)
            except (OSError, ValueError, SitterError, SQLAlchemyError) as err:
                log.warning("left a dead render's work folder for the next sweep: %s", err.__class__.__name__)
    try:
        registry.discard_stale(datetime.now(UTC) - timedelta(seconds=PENDING_SECONDS))
    except SQLAlchemyError as err:
        log.warning("could not discard stale pending registry rows: %s", err.__class__.__name__)


# helpers


def _move(tmp: Path, out_path: Path, overwrite: bool) -> None:
    """One atomic rename onto `out_path`; without `overwrite` a hard link instead, which fails rather than replace
    a file that appeared there since the render began."""
    if overwrite:
        os.replace(tmp, out_path)
        return
    try:
        os.link(tmp, out_path)
    except FileExistsError:
        raise OutputExists("a file appeared at the output path during the render; it was kept", out_path) from None
    except OSError:  # a filesystem without hard links (some network and FUSE mounts): check, then rename
        if out_path.exists():
            raise OutputExists("a file appeared at the output path during the render; it was kept", out_path) from None
        os.replace(tmp, out_path)
        return
    tmp.unlink()


def _start_work(work_dir: Path, output_id: str | None, watermark_id: str | None,
                prefix: str = "render-") -> tuple[Path, int]:
    """A new private work folder and its owner file, locked for as long as the returned descriptor is open."""
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=work_dir))  # 0700
    try:
        fd = os.open(work / OWNER, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks only while a sweep looks at the still-empty file
        owner = {"pid": os.getpid(), "boot_id": _boot_id(), "started": _start_time(), "output_id": output_id,
                 "watermark_id": watermark_id}
        os.write(fd, json.dumps(owner).encode())
        os.fsync(fd)  # a power cut must not leave an empty owner file beside a pending registry row
        _fsync_folder(work_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return work, fd


def _sweep_folder(folder: Path, registry: Registry) -> None:
    try:
        fd = os.open(folder / OWNER, os.O_RDONLY)
    except FileNotFoundError:  # a render that died in the instant between making its folder and its owner file
        if _age(folder) > GRACE_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with os.fdopen(fd, "rb") as owner_file:  # closing it releases the lock taken here
        try:
            fcntl.flock(owner_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a live render
        owner = _parse(owner_file.read())
        if owner is None and _age(folder) <= GRACE_SECONDS:
            return  # its render has not locked and filled it yet
        if owner is not None and owner.get("output_id"):  # else it died before it could register anything
            _undo(folder, owner["output_id"], registry)
        shutil.rmtree(folder, ignore_errors=True)


def _undo(folder: Path, output_id: str, registry: Registry) -> None:
    """What a dead render left outside its work folder: its temp file beside the output, its pending row."""
    note = folder / PUBLISHING
    publishing = _parse(note.read_bytes()) if note.is_file() else None
    if publishing is None:  # it died before writing its temp file (a half-written note included)
        registry.discard(output_id)
        return
    out, tmp = Path(publishing["out"]), Path(publishing["tmp"])
    if out.is_file() and file_sha256(out) == publishing["sha256"]:
        registry.publish(output_id)  # renamed into place before it died: the registry catches up
    else:
        registry.discard(output_id)
    if tmp.name.startswith(".") and tmp.name.endswith(f".{output_id}.tmp"):  # only ever the name made above
        tmp.unlink(missing_ok=True)


def _parse(text: bytes) -> dict | None:
    """A note this module wrote; None when it is empty or half-written (its writer was killed mid-write)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _write_new(path: Path, data: bytes | memoryview) -> None:
    """A new owner-only file with `data`, on disk (fsync) before this returns."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable before the registry says the file is there."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _boot_id() -> str | None:
    """This boot's id (Linux): with the pid and its start time, it names one process for good."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _start_time() -> int | None:
    """This process's start time, in clock ticks after boot (Linux)."""
    try:
        return int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _pause(step: str, work: Path) -> None:
    """Tests only: with SITTER_TEST_PAUSE_AT=<step>, say so in the work folder and wait here to be killed."""
    if os.environ.get(PAUSE_AT) == step:
        (work / f"paused-{step}").touch()
        while True:
            time.sleep(1)


def _pause_midway(frames: Iterator[np.ndarray], work: Path, after: int = 20) -> Iterator[np.ndarray]:
    """Tests only: pause at "encoding" once `after` frames have gone to the encoder (x264 holds about a dozen
    back, so by then part of the video is on disk)."""
    for done, frame in enumerate(frames):
        if done == after:
            _pause("encoding", work)
        yield frame


def _unused_watermark_id(registry: Registry) -> int:
    """A fresh random id that names no registered output, published or pending (32-bit ids collide after
    ~10^4-10^5 outputs)."""
    while True:
        wm_id = new_watermark_id()
        if registry.find(format_watermark_id(wm_id), include_pending=True) is None:
            return wm_id
