"""label_and_sign: the provenance half of the render path, all or nothing.

Frames go in unlabeled; what comes out at `out_path` is an H.264 MP4 whose every frame carries the
invisible watermark and whose C2PA manifest is signed into the file and registered under the
watermark id. Sound, when given, goes into the same MP4 (AAC), under the same signature, and the
manifest says what it is. Each step writes into a private temp folder beside `out_path` (same
filesystem, so the final move is one atomic rename); any failure removes the folder and the registry
entry, so nothing is left at `out_path`. There is no flag that skips the watermark or the manifest.

`before_publish` runs after signing and registering, right before the rename: the render pipeline
re-checks the consent grant and logs the use there, so a revocation that landed mid-render stops
the output from appearing.
"""

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from consent import Grant, SourceImage
from provenance.keys import StudioSigner
from provenance.manifest import ManifestContent, SoundSource, sign_video
from provenance.registry import Registry
from provenance.video import Sound, file_sha256, write_mp4
from provenance.watermark import ALGORITHM, format_watermark_id, new_watermark_id, watermark_frames

WORK_PREFIX = ".sitter-"  # a render's private work folder beside its output
STALE_SECONDS = 3600  # a work folder untouched this long belongs to a render that died


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
    engine: str,
    engine_version: str,
    before_publish: Callable[["Output"], None] | None = None,
    sound: Sound | None = None,
    sound_source: SoundSource | None = None,
) -> Output:
    """Watermark every frame, encode (with `sound` as the sound track), sign, register, then move into place
    atomically. `sound_source` says what the sound is, for the manifest: both are given, or neither.

    Raises whatever step failed (FrameTooSmall, SigningFailed, a ConsentRefused from
    `before_publish`, ...) after removing every trace of the attempt.
    """
    assert (sound is None) == (sound_source is None), \
        "sound and sound_source come together: the manifest must say what every sound track is"
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_abandoned(out_path.parent)
    wm_id = _unused_watermark_id(registry)
    output_id = f"sitter-{secrets.token_hex(8)}"
    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=out_path.parent))
    registered = False
    try:
        unsigned, signed = work / "unsigned.mp4", work / "signed.mp4"
        count = write_mp4(watermark_frames(frames, wm_id), unsigned, fps, sound=sound)
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
        store = sign_video(unsigned, signed, content, signer)
        output = Output(out_path, output_id, content.watermark_id, file_sha256(signed), count, len(store))
        registry.register(watermark_id=output.watermark_id, manifest=store, output_id=output_id,
                          record_id=grant.record_id, engine=engine, sha256=output.sha256)
        registered = True
        if before_publish is not None:
            before_publish(output)
        os.replace(signed, out_path)
        return output
    except BaseException:
        if registered:
            registry.remove(format_watermark_id(wm_id))
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


# helpers


def _sweep_abandoned(folder: Path) -> None:
    """Remove the work folders of renders that died without cleaning up (killed, power cut).

    Only folders untouched for STALE_SECONDS: a render still running beside this one keeps writing.
    """
    cutoff = time.time() - STALE_SECONDS
    for work in folder.glob(f"{WORK_PREFIX}*"):
        if work.is_dir() and work.stat().st_mtime < cutoff:
            shutil.rmtree(work, ignore_errors=True)


def _unused_watermark_id(registry: Registry) -> int:
    """A fresh random id that names no registered output (32-bit ids collide after ~10^4-10^5 outputs)."""
    while True:
        wm_id = new_watermark_id()
        if registry.find(format_watermark_id(wm_id)) is None:
            return wm_id
