"""label_and_sign: the provenance half of the render path, all or nothing.

Frames go in unlabeled; what comes out at `out_path` is an H.264 MP4 whose every frame carries the
invisible watermark and whose C2PA manifest is signed into the file and registered under the
watermark id. Sound, when given, goes into the same MP4 (AAC), under the same signature, and the
manifest says what it is. There is no flag that skips the watermark or the manifest.

The steps, and what each leaves on disk until the next one:

    encode the watermarked frames        unsigned.mp4 in a private work folder under `work_dir`
                                         (the studio's SITTER_HOME/work, 0700), never beside the output
    sign the manifest, into memory       nothing more: no signed video exists anywhere yet
    register the output, pending         a registry row that no lookup (nor `sitter verify`) sees
    before_publish                       the grant re-checked and the use logged (the render pipeline's)
    write a temp file beside out_path    the signed video, owner-only (0600), in the output's folder
    os.replace it onto out_path          the output, published (same folder: one atomic rename)
    publish the registry row             now it counts

Everything that can fail because of the input (the engine's frames, encoding, signing, drawing an id)
happens before `before_publish`, and nothing usable exists before it: after it come only writing the
file, the rename and flipping the registry row. A failure at any step undoes the attempt (temp file,
pending row, work folder) and re-raises; a use already logged stays logged, as the ledger is append-only.

A render that dies (killed, power cut) leaves its work folder, whose `owner` file it held an flock on
while it ran (with its pid, the boot and the process start time, for people). `sweep` runs at the start
of every render and of every studio command (studio/settings.py): it removes every folder whose lock no
process holds, whatever its age, after undoing what that render left: the temp file beside its output,
its pending registry row (or, when the file had been renamed into place already, it publishes the row).

For tests only, SITTER_TEST_PAUSE_AT=<step> makes a render wait forever at that step (encoding, signing,
registering, rechecking, renaming, committing), with a `paused-<step>` file in its work folder saying so:
tests/test_crash.py kills it there.
"""

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from consent import Grant
from provenance.errors import OutputExists, OutputNotWritable
from provenance.keys import StudioSigner
from provenance.manifest import ManifestContent, SoundSource, sign_video
from provenance.registry import Registry
from provenance.video import Sound, write_mp4
from provenance.watermark import ALGORITHM, format_watermark_id, new_watermark_id, watermark_frames
from sitter.errors import SitterError
from sitter.files import file_sha256
from sitter.images import SourceImage

log = logging.getLogger(__name__)

OWNER = "owner"  # in each work folder: who runs it (JSON), flock'ed by that render while it runs
PUBLISHING = "publishing.json"  # written before the temp file beside the output: what the sweep must undo
GRACE_SECONDS = 60  # a folder whose render has not yet locked and filled its owner file is left this long
PENDING_SECONDS = 3600  # a registry row pending this long belongs to a render that died (it publishes in seconds)
PAUSE_AT = "SITTER_TEST_PAUSE_AT"  # tests only: the step to wait at (see the module docstring)


@dataclass(frozen=True)
class Output:
    """A published, labeled video."""

    path: Path
    output_id: str
    watermark_id: str
    sha256: str
    frames: int
    manifest_bytes: int


def label_and_sign(
    frames: Iterable[np.ndarray],
    fps: float,
    sources: Sequence[SourceImage],
    grant: Grant,
    out_path: Path | str,
    *,
    signer: StudioSigner,
    registry: Registry,
    work_dir: Path | str,
    engine: str,
    engine_version: str,
    before_publish: Callable[["Output"], None] | None = None,
    sound: Sound | None = None,
    sound_source: SoundSource | None = None,
    overwrite: bool = False,
) -> Output:
    """Watermark every frame, encode (with `sound` as the sound track), sign, register pending, call
    `before_publish`, move into place atomically, publish the registry row. `sound_source` says what the sound
    is, for the manifest: both are given, or neither. `work_dir` holds the render's private work folder. A file
    at `out_path` is replaced only with `overwrite`; without it, one that appears there mid-render is kept and the
    render fails (OutputExists).

    Raises whatever step failed (FrameTooSmall, SigningFailed, a ConsentRefused from `before_publish`, ...)
    after removing every trace of the attempt.
    """
    assert (sound is None) == (sound_source is None), \
        "sound and sound_source come together: the manifest must say what every sound track is"
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(out_path.parent, os.W_OK | os.X_OK):  # found now, not after the use is logged
        raise OutputNotWritable("the output's folder can't be written: choose another place for the video", out_path)
    sweep(work_dir, registry)
    wm_id = _unused_watermark_id(registry)
    output_id = f"sitter-{secrets.token_hex(8)}"
    work, owner = _start_work(Path(work_dir), output_id, format_watermark_id(wm_id))
    registered = renamed = keep = False
    tmp = out_path.with_name(f".{out_path.name}.{output_id}.tmp")
    try:
        unsigned = work / "unsigned.mp4"
        marked = watermark_frames(frames, wm_id)
        if os.environ.get(PAUSE_AT) == "encoding":
            marked = _pause_midway(marked, work)
        count = write_mp4(marked, unsigned, fps, sound=sound)
        _pause("signing", work)
        content = ManifestContent(
            title=f"{output_id}.mp4",
            sources=tuple(sources),
            record_id=grant.record_id,
            record_hash=grant.record_hash,
            watermark_id=format_watermark_id(wm_id),
            watermark_alg=ALGORITHM,
            engine=engine,
            engine_version=engine_version,
            sound=sound_source,
        )
        signed = io.BytesIO()  # in memory until the re-check has passed (sign_video says what it costs)
        store = sign_video(unsigned, signed, content, signer)
        unsigned.unlink()
        data = signed.getbuffer()
        output = Output(out_path, output_id, content.watermark_id, hashlib.sha256(data).hexdigest(), count,
                        len(store))
        _pause("registering", work)
        registry.register(watermark_id=output.watermark_id, manifest=store, output_id=output_id,
                          record_id=grant.record_id, engine=engine, sha256=output.sha256, pending=True)
        registered = True
        _pause("rechecking", work)
        if before_publish is not None:
            before_publish(output)
        _write_new(work / PUBLISHING, json.dumps({"out": str(out_path), "tmp": str(tmp),
                                                  "sha256": output.sha256}).encode())
        _write_new(tmp, data)
        _pause("renaming", work)
        _move(tmp, out_path, overwrite)
        renamed = True
        _fsync_folder(out_path.parent)
        _pause("committing", work)
        registry.publish(output_id)
        return output
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
            if renamed:
                out_path.unlink(missing_ok=True)
            if registered:
                registry.discard(output_id)
        except Exception as err:  # the database went away, say: the work folder tells the next sweep what to undo
            keep = True
            log.warning("could not undo a failed render (%s): the next command's sweep will", err.__class__.__name__)
        raise
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        os.close(owner)  # releases the lock, after the folder is gone


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
