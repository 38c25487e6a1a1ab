"""The one render path. The CLI and the studio both call `render`; nothing else makes a video.

    authorize(sources, purpose, operator)      consent/     -> Grant, or a ConsentRefused
    engine.prepare(sources) / engine.render    engine/      -> frames
    visible disclosure (optional)              provenance/
    label_and_sign: watermark every frame, encode H.264, sign C2PA, register
    grant re-checked + the use logged          consent/     (inside label_and_sign, before publishing)
    atomic rename into place                   provenance/

All or nothing: a refusal, a crash or a revocation that lands mid-render leaves no file at the output
path. There is no option that skips the watermark or the manifest; only the visible caption is optional.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from consent import Grant, InvalidInput, Ledger, authorize
from engine import BadMotion, Motion, Track, WarpConfig, WarpEngine, from_track, preset, read_track, track_video
from provenance import Output, Registry, StudioSigner, label_and_sign
from provenance.disclosure import Disclosure, DisclosureStyle
from provenance.video import probe as probe_video

ENGINES = ("warp",)
MAX_SECONDS = 120.0

Progress = Callable[[int, int], None]  # (frames done, frames in all)


@dataclass(frozen=True)
class RenderRequest:
    """What to render. `driver` (a video, or its landmark track as JSON) wins over the `motion` preset."""

    sources: tuple[Path, ...]
    purpose: str
    operator: str
    out: Path
    record_id: str | None = None
    motion: str = "talk"
    driver: Path | None = None
    driver_landmarks: Path | None = None  # the driver's landmark track, instead of detecting it in the video
    landmarks: tuple[Path | None, ...] | None = None  # one JSON (or None: detect) per source
    engine: str = "warp"
    seconds: float = 6.0  # a preset's length; a driver runs its own length, at most this long
    fps: float = 25.0
    size: int = 512
    disclosure: DisclosureStyle | None = field(default_factory=DisclosureStyle)  # None: no visible caption
    seed: int = 0


@dataclass(frozen=True)
class Studio:
    """The long-lived objects a render uses: open once, share between renders (they are thread-safe)."""

    ledger: Ledger
    registry: Registry
    signer: StudioSigner
    engine: WarpEngine = field(default_factory=WarpEngine)

    def __enter__(self) -> "Studio":
        return self

    def __exit__(self, *exc: object) -> None:
        self.ledger.close()
        self.registry.close()


def render(request: RenderRequest, studio: Studio, on_progress: Progress | None = None) -> Output:
    """Render `request` into a labeled, signed MP4 at `request.out` and return what was published.

    Raises a ConsentRefused before any work when consent does not cover the request, an input error
    (InvalidInput, an EngineError, UnreadableImage) for bad sources, landmarks or drivers, and a
    ConsentRefused after the work when the grant no longer holds at publishing time.
    """
    _check(request)
    grant = authorize(studio.ledger, request.sources, request.purpose, request.operator,
                      record_id=request.record_id)
    engine = _engine(studio.engine, request)
    identity = engine.prepare(request.sources, request.landmarks)
    motion = _motion(request, engine)
    frames = engine.render(identity, motion)
    if request.disclosure is not None:
        frames = Disclosure(request.disclosure, request.size, request.size, motion.fps).apply(frames)
    if on_progress is not None:
        frames = _counted(frames, motion.frames, on_progress)
    return label_and_sign(frames, motion.fps, grant.sources, grant, request.out, signer=studio.signer,
                          registry=studio.registry, engine=f"sitter-{request.engine}",
                          engine_version=version("sitter"), before_publish=_publish_check(studio.ledger, grant))


# helpers


def _check(request: RenderRequest) -> None:
    if request.engine not in ENGINES:
        raise InvalidInput(f"unknown engine {request.engine!r}: use one of {', '.join(ENGINES)}")
    if request.out.suffix.lower() != ".mp4":
        raise InvalidInput("the output must be an .mp4 file", request.out)
    if not 0 < request.seconds <= MAX_SECONDS:
        raise InvalidInput(f"length must be between 0 and {MAX_SECONDS:.0f} seconds, got {request.seconds}")
    if not 1 <= request.fps <= 60:
        raise InvalidInput(f"frame rate must be between 1 and 60, got {request.fps}")


def _engine(shared: WarpEngine, request: RenderRequest) -> WarpEngine:
    """The shared engine when the size matches (it keeps the face detector loaded), else one for this size."""
    try:
        config = WarpConfig(size=request.size)
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    return shared if shared.config == config else WarpEngine(config, detector=shared.detector)


def _motion(request: RenderRequest, engine: WarpEngine) -> Motion:
    if request.driver is None:
        return preset(request.motion, seconds=request.seconds, fps=request.fps, seed=request.seed)
    if request.driver.suffix.lower() == ".json":
        track = read_track(request.driver)
    elif request.driver_landmarks is not None:
        track = read_track(request.driver_landmarks)
        _check_track_fits(track, request.driver)
    else:
        track = track_video(request.driver, engine.detector)
    longest = max(1, round(request.seconds * track.fps))
    return from_track(Track(track.fps, track.points[:longest]))


def _check_track_fits(track: Track, video: Path) -> None:
    """An imported track must be this video's: same frame count, as the fixtures' format promises."""
    info = probe_video(video)
    if info.frames and info.frames != len(track.points):
        raise BadMotion(f"the driver's landmark track has {len(track.points)} frames, the video {info.frames}",
                        video)


def _publish_check(ledger: Ledger, grant: Grant) -> Callable[[Output], None]:
    """Right before the rename: log the use, which re-checks the grant in the same write transaction,
    so a revocation that landed during the render refuses it and the output never appears."""

    def check(output: Output) -> None:
        ledger.record_render(grant, output_id=output.output_id, output_sha256=output.sha256)

    return check


def _counted(frames: Iterable[np.ndarray], total: int, on_progress: Progress) -> Iterator[np.ndarray]:
    for done, frame in enumerate(frames, 1):
        yield frame
        on_progress(done, total)
