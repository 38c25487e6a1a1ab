"""The one render path. The CLI and the studio both call `render`, in their process or on a Ray render worker
(studio/workers.py); nothing else makes a video.

    authorize(sources, purpose, operator)      consent/     -> Grant, or a ConsentRefused (a video with
                                                               sound needs `speech` allowed too)
    engine.prepare(sources) / engine.render    engine/      -> frames (a text spoken, a recording's voice
                                                               or a driver's motion; and their sound)
    visible disclosure (optional)              provenance/
    with stage(out) as s:                      provenance/  a private work folder, locked, swept if the render dies
      s.label: watermark every frame,          provenance/  -> Signed (in memory: nothing on disk yet)
               encode H.264 (+ AAC sound), sign C2PA
      s.register: the registry row, pending    provenance/
      ledger.record_render                     consent/     the grant re-checked and the use logged, in one
                                                               transaction: a revocation mid-render stops it here
      s.commit: atomic rename into place,      studio/      (provenance's mechanism: no clobber, fsync'ed)
                the registry row published

All or nothing: a refusal, a crash or a revocation that lands mid-render leaves no file at the output
path. There is no option that skips the watermark or the manifest; only the visible caption is optional.
"""

import dataclasses
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from consent import Ledger, Purpose, authorize
from engine import (
    Audio,
    BadMotion,
    Detector,
    Motion,
    Track,
    WarpConfig,
    WarpEngine,
    from_track,
    has_sound,
    preset,
    read_audio,
    read_track,
    speak,
    speaking,
    speech_mouth,
    track_video,
    video_gaze,
    voice_mouth,
)
from engine.neural import ModelCache
from provenance import (
    TRAINED_ALGORITHMIC_MEDIA,
    ConsentRef,
    Disclosure,
    DisclosureStyle,
    Output,
    Registry,
    SoundKind,
    SoundSource,
    StudioSigner,
    declared_source_type,
    inputs_folder,
    probe,
    stage,
)
from sitter.errors import SitterError
from sitter.files import file_sha256
from studio.errors import BadRequest

if TYPE_CHECKING:
    from engine.neural import NeuralEngine

ENGINES = ("warp", "neural")
MAX_SECONDS = 120.0
MAX_SEED = 2**32 - 1  # numpy's generators take seeds from 0 up
MAX_FINETUNE = 10_000  # neural engine fine-tuning steps: the paper's few-shot results use tens to hundreds

Progress = Callable[[int, int], None]  # (frames done, frames in all)


@dataclass(frozen=True)
class RenderRequest:
    """What to render. `driver` (a video, or its landmark track as JSON) wins over the `motion` preset.

    With `say` (a text, spoken by espeak-ng) or `audio` (a recorded voice) the face speaks: the mouth follows
    the speech over idle motion and blinks, the speech is the sound track, and the video lasts as long as the
    speech (`seconds` does not apply). A driving video's own sound is carried through unless `driver_sound`
    is False. Any output with sound needs a consent record that allows `speech` as well as `purpose`.
    """

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
    checkpoint: Path | None = None  # the neural engine's checkpoint (`sitter train`) or its export (`sitter export`)
    finetune_steps: int = 0  # neural engine: 0 feed-forward; N fine-tunes on the sources for N steps first
    seconds: float = 6.0  # a preset's length; a driver runs its own length, at most this long
    fps: float = 25.0
    size: int = 512
    disclosure: DisclosureStyle | None = field(default_factory=DisclosureStyle)  # None: no visible caption
    seed: int = 0
    say: str | None = None  # a text to speak; personal data maybe: only its SHA-256 leaves the render
    voice: str | None = None  # an espeak-ng voice variant for `say` ("f3", "m2", ...); None: the language's own
    language: str = "en"  # the espeak-ng language `say` is in ("en", "en-us", "fr", ...)
    audio: Path | None = None  # a recorded voice (WAV, MP3, M4A, ...) to lip-sync to
    driver_sound: bool = True  # carry a driving video's sound track into the output
    overwrite: bool = False  # replace a file already at `out` (the CLI's --overwrite; the studio never does)


@dataclass(frozen=True)
class Studio:
    """The long-lived objects a render uses: open once, share between renders (they are thread-safe)."""

    ledger: Ledger
    registry: Registry
    signer: StudioSigner
    work_dir: Path  # renders' private work folders (SITTER_HOME/work, 0700), swept when their render dies
    engine: WarpEngine = field(default_factory=WarpEngine)
    models: ModelCache = field(default_factory=ModelCache)  # the neural engine's, each loaded once (no torch till then)
    vgg19_weights: Path | None = None  # perceptual weights for the neural engine's fine-tuning content loss
    vggface_weights: Path | None = None

    def __enter__(self) -> "Studio":
        return self

    def __exit__(self, *exc: object) -> None:
        self.ledger.close()
        self.registry.close()


def render(request: RenderRequest, studio: Studio, on_progress: Progress | None = None) -> Output:
    """Render `request` into a labeled, signed MP4 at `request.out` and return what was published.

    Raises a ConsentRefused before any work when consent does not cover the request, an input error
    (a BadInput: BadRequest, an EngineError, UnreadableImage) for bad sources, landmarks or drivers, and a
    ConsentRefused after the work when the grant no longer holds at publishing time.
    """
    _check(request)
    with inputs_folder(studio.work_dir) as folder, _named_as_given(request) as given:
        request = _snapshot(request, folder, given)
        sound = _sound_kind(request)
        grant = authorize(studio.ledger, request.sources, request.purpose, request.operator,
                          record_id=request.record_id, also=(Purpose.SPEECH,) if sound else ())
        engine = _engine(studio, request)
        identity = engine.prepare(grant.pictures, request.landmarks)  # the pixels consent was checked on
        performance = _performance(request, engine.detector, sound)
        motion = performance.motion
        frames = engine.render(identity, motion)
        if request.disclosure is not None:
            frames = Disclosure(request.disclosure, request.size, request.size, motion.fps).apply(frames)
        if on_progress is not None:
            frames = _counted(frames, motion.frames, on_progress)
        with stage(request.out, registry=studio.registry, work_dir=studio.work_dir, overwrite=request.overwrite) as s:
            signed = s.label(frames, motion.fps, grant.sources, ConsentRef(grant.record_id, grant.record_hash),
                             signer=studio.signer, engine=f"sitter-{request.engine}", engine_version=version("sitter"),
                             sound=performance.sound, sound_source=performance.source)
            s.register()
            # the re-check: logging the use refuses a grant revoked or expired since `authorize`, and nothing is out yet
            studio.ledger.record_render(grant, output_id=signed.output_id, output_sha256=signed.sha256)
            return s.commit()


# helpers


@dataclass(frozen=True)
class Performance:
    """What the face does: its motion, and the sound it is performed to (a text spoken, a recording, a driver's own
    sound) with what the manifest will say that sound is."""

    motion: Motion
    sound: Audio | None = None
    source: SoundSource | None = None


def _check(request: RenderRequest) -> None:
    if request.engine not in ENGINES:
        raise BadRequest(f"unknown engine {request.engine!r}: use one of {', '.join(ENGINES)}")
    if request.out.suffix.lower() != ".mp4":
        raise BadRequest("the output must be an .mp4 file", request.out)
    if request.out.is_dir():
        raise BadRequest("the output path is a folder: name an .mp4 file", request.out)
    if not request.overwrite and (request.out.exists() or request.out.is_symlink()):
        raise BadRequest("a file is already at the output path: choose another, or replace it (--overwrite)",
                         request.out)
    _check_writable(request.out)
    if not 0 < request.seconds <= MAX_SECONDS:
        raise BadRequest(f"length must be between 0 and {MAX_SECONDS:.0f} seconds, got {request.seconds}")
    if not 0 <= request.seed <= MAX_SEED:
        raise BadRequest(f"the seed must be a whole number from 0 to {MAX_SEED}, got {request.seed}")
    if not 1 <= request.fps <= 60:
        raise BadRequest(f"frame rate must be between 1 and 60, got {request.fps}")
    if request.engine == "neural" and request.checkpoint is None:
        raise BadRequest("the neural engine needs a meta-learned checkpoint: give one (sitter train makes it)")
    if request.finetune_steps and request.engine != "neural":
        raise BadRequest("fine-tuning steps are for the neural engine")
    if not 0 <= request.finetune_steps <= MAX_FINETUNE:
        raise BadRequest(f"fine-tuning steps must be between 0 and {MAX_FINETUNE}, got {request.finetune_steps}")
    if request.say is not None and request.audio is not None:
        raise BadRequest("give a text to say or a recording to lip-sync to, not both")
    if (request.say is not None or request.audio is not None) and request.driver is not None:
        raise BadRequest("speech moves the face itself: give a text or a recording, or a driver, not both")
    _config(request)
    if request.disclosure is not None:
        request.disclosure.check(request.size, request.size)  # a BadCaption: its text can't be drawn at this size


def _check_writable(out: Path) -> None:
    """The output's folder can be written (or made, under the nearest folder that exists): found before any work, by
    writing a file there for an instant. Permission bits don't tell: root may write anywhere but /proc and /sys."""
    folder = out.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".sitter-probe-"):
            pass
    except OSError:
        raise BadRequest("the output's folder can't be written: choose another place for the video", out) from None


def _snapshot(request: RenderRequest, folder: Path, given: dict[str, Path]) -> RenderRequest:
    """The request with its driver, driver track and recorded voice replaced by private copies, each read once: every
    later read (has it sound? its frames, its voice) and the hash the manifest names are of the same bytes, whatever
    happens to the original files meanwhile. `given` learns which copy stands for which file, for error messages.
    (Source images are read once by the gate, which keeps their pixels in the Grant.)"""
    copies = {}
    for name in ("driver", "driver_landmarks", "audio"):
        original = getattr(request, name)
        if original is not None and original.is_file():  # a missing file is reported by whatever reads it
            copy = folder / f"{name}{original.suffix.lower()}"
            try:
                shutil.copyfile(original, copy)
            except OSError:
                raise BadRequest(f"the {name.replace('_', ' ')} can't be read", original) from None
            given[str(copy)] = original
            copies[name] = copy
    return dataclasses.replace(request, **copies)


@contextmanager
def _named_as_given(request: RenderRequest) -> Iterator[dict[str, Path]]:
    """An error about a private copy names the file the request gave instead (the CLI shows its option)."""
    given: dict[str, Path] = {}
    try:
        yield given
    except SitterError as err:
        if str(err.path) in given:
            err.path = given[str(err.path)]
        raise


def _sound_kind(request: RenderRequest) -> SoundKind | None:
    """The sound the output will carry, known before any work: consent for `speech` depends on it."""
    if request.say is not None:
        return SoundKind.SYNTHESIZED
    if request.audio is not None:
        return SoundKind.RECORDING
    if request.driver_sound and request.driver is not None and request.driver.suffix.lower() != ".json" \
            and has_sound(request.driver):
        return SoundKind.DRIVER
    return None


def _engine(studio: Studio, request: RenderRequest) -> "WarpEngine | NeuralEngine":
    """The shared warp engine when the size matches (it keeps the face detector loaded), else one for this
    size; or a neural engine on the request's checkpoint or export, loaded once by the studio's ModelCache, sharing
    the detector."""
    shared, config = studio.engine, _config(request)
    if request.engine == "neural":
        from engine.neural import NeuralConfig, NeuralEngine  # imports torch: only when rendering with it

        weights = {"vgg19_weights": studio.vgg19_weights, "vggface_weights": studio.vggface_weights}
        config = NeuralConfig(size=request.size, finetune_steps=request.finetune_steps, **weights)
        return NeuralEngine(studio.models.get(request.checkpoint), config, detector=shared.detector)
    return shared if shared.config == config else WarpEngine(config, detector=shared.detector)


def _config(request: RenderRequest) -> WarpConfig:
    """The warp engine's configuration at the request's size: its size rule (even, 128-4096) is the video's, for
    every engine."""
    try:
        return WarpConfig(size=request.size)
    except ValueError as err:
        raise BadRequest(str(err)) from None


def _performance(request: RenderRequest, detector: Detector, sound: SoundKind | None) -> Performance:
    """The motion and sound the request asks for: a text spoken, a recording lip-synced, or a driver or
    preset's motion (with the driver's own sound when it carries one)."""
    if sound is SoundKind.SYNTHESIZED:
        return _spoken(request)
    if sound is SoundKind.RECORDING:
        return _recorded(request)
    motion = _motion(request, detector)
    if sound is SoundKind.DRIVER:
        audio = read_audio(request.driver, until=motion.seconds).cut(motion.seconds)
        return Performance(motion, audio, _carried(SoundKind.DRIVER, request.driver))
    return Performance(motion)


def _spoken(request: RenderRequest) -> Performance:
    """The text spoken, the mouth on its phonemes; the manifest gets the text's hash, never the text."""
    speech = speak(request.say, language=request.language, voice=request.voice)
    frames = _speech_frames(speech.audio.seconds, request.fps)
    mouth = speech_mouth(speech.phonemes, fps=request.fps, frames=frames)
    text_sha256 = hashlib.sha256(request.say.strip().encode()).hexdigest()
    source = SoundSource(SoundKind.SYNTHESIZED, text_sha256, TRAINED_ALGORITHMIC_MEDIA, speech.synthesizer)
    return Performance(speaking(mouth, seed=request.seed), speech.audio, source)


def _recorded(request: RenderRequest) -> Performance:
    """The recording's voice, the mouth on its loudness and spectrum."""
    audio = read_audio(request.audio, until=MAX_SECONDS + 1)
    frames = _speech_frames(audio.seconds, request.fps)
    mouth = voice_mouth(audio, fps=request.fps, frames=frames)
    return Performance(speaking(mouth, seed=request.seed), audio, _carried(SoundKind.RECORDING, request.audio))


def _speech_frames(seconds: float, fps: float) -> int:
    """As many frames as the speech lasts (to within half a frame)."""
    if seconds > MAX_SECONDS:
        raise BadRequest(f"the speech lasts more than {MAX_SECONDS:.0f} seconds, the most a render can be: "
                           "make it shorter")
    return max(1, round(seconds * fps))


def _carried(kind: SoundKind, path: Path) -> SoundSource:
    """A sound carried through from a file: the file's hash, and the source type its own manifest declares."""
    return SoundSource(kind, file_sha256(path), declared_source_type(path))


def _motion(request: RenderRequest, detector: Detector) -> Motion:
    if request.driver is None:
        return preset(request.motion, seconds=request.seconds, fps=request.fps, seed=request.seed)
    track_only = request.driver.suffix.lower() == ".json"  # a track alone has no pixels: the eyes rest
    if track_only:
        track = read_track(request.driver)
    elif request.driver_landmarks is not None:
        track = read_track(request.driver_landmarks)
        _check_track_fits(track, request.driver)
    else:
        track = track_video(request.driver, detector)
    points = track.points[:max(1, round(request.seconds * track.fps))]
    gaze = None if track_only else video_gaze(request.driver, points)
    return from_track(Track(track.fps, points), gaze=gaze)


def _check_track_fits(track: Track, video: Path) -> None:
    """An imported track must be this video's: same frame count, as the fixtures' format promises."""
    info = probe(video)
    if info.frames and info.frames != len(track.points):
        raise BadMotion(f"the driver's landmark track has {len(track.points)} frames, the video {info.frames}",
                        video)


def _counted(frames: Iterable[np.ndarray], total: int, on_progress: Progress) -> Iterator[np.ndarray]:
    for done, frame in enumerate(frames, 1):
        yield frame
        on_progress(done, total)
