"""Self-reenactment benchmark (issue #14): each clip's first frame animated by the clip's own motion, against the
real video.

    .venv/bin/python bench/bench_reenact.py                        # every clip, 256 and 512, 6 s: a few minutes
    .venv/bin/python bench/bench_reenact.py --clips clip_03 driving_b --size 256 --seconds 2

For every clip in FIXTURES/talking and FIXTURES/driving (a video with its 68-point landmark track):
- the source is the clip's first frame (written losslessly as PNG) with its landmarks; one consent record covers
  them all;
- the engine's driver is the clip's own landmark track: no sound, no visible label, the clip's fps, the first
  SECONDS. The baseline's driver is a track that repeats the first frame's landmarks: the first frame held still,
  through the same pipeline, watermark and encode;
- both are rendered through the one render path (`studio.pipeline.render`, in a throwaway SITTER_HOME) at each
  size, and the signed MP4 is decoded;
- each output frame is compared with the real frame at the same time, both framed by the square the engine cuts
  around the first frame's face (`engine.square`, `engine.crop_square`): L1, PSNR and SSIM on the face (the real
  frame's landmark hull, grown by FACE_MARGIN of the square's side) and on the whole square, and the face's
  sharpness (variance of the Laplacian); see bench/reenact_metrics.py.

Reported per clip and as a mean over clips: the share of the still frame's face-L1 error the engine removes, face
SSIM against the still frame's, and face sharpness, output over real; the targets are #14's. Also the driving
fixtures' landmark error against their own driver (bench/warp_quality.py, as bench_warp reports it for the
portraits). A strip of frames for each of STRIP_CLIPS (rows in time; real | engine | still) goes to
bench/reenact/<clip>.png. Prints the tables and rewrites the "## Self-reenactment" section of the results file
(with what was measured: a run on fewer clips, sizes or seconds says so there).
"""

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from reenact_metrics import Scores, face_region, removed, score, sharpness
from results import machine, write_section
from warp_quality import warp_quality

from consent import Ledger
from engine import (
    Track,
    WarpConfig,
    WarpEngine,
    crop_square,
    from_track,
    read_track,
    save_landmarks,
    square,
    to_crop_coordinates,
)
from provenance.video import read_frames
from studio.pipeline import RenderRequest, Studio, render
from studio.settings import Settings

ROOT = Path(__file__).resolve().parent
SECTION = "## Self-reenactment"
SIZES, SECONDS = (256, 512), 6.0
FACE_MARGIN = 0.02  # of the square's side (~0.1 face units): the face region reaches just past the landmark hull
STRIP_CLIPS = ("clip_03", "clip_05", "driving_b")  # the worst clip today, the best, the fastest head
STRIP_TIMES, STRIP_TILE = 3, 128  # a strip's rows (evenly spaced in time after the first frame), px a tile
PURPOSE, OPERATOR = "research", "bench"


@dataclass(frozen=True)
class Clip:
    """A fixture video and its landmark track."""

    name: str
    video: Path
    track: Path


@dataclass(frozen=True)
class Result:
    """One clip at one size: the engine's and the still frame's mean scores, the real frames' face sharpness, and
    the still frame's face sharpness over the real one at the first frame, where they differ only by the watermark
    and the encode (whose noise a Laplacian sees as detail)."""

    clip: str
    size: int
    frames: int
    engine: Scores
    still: Scores
    real_sharpness: float
    encoded_sharpness: float

    @property
    def removed(self) -> float:
        """The share of the still frame's face-L1 error that the engine removes."""
        return removed(self.engine.face_l1, self.still.face_l1)

    def sharpness(self, scores: Scores) -> float:
        """Face sharpness of an output (the engine's or the still frame's), over the real frames'."""
        return scores.sharpness / self.real_sharpness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=ROOT.parents[1] / "shared" / "fixtures")
    parser.add_argument("--results", type=Path, default=ROOT / "RESULTS.md")
    parser.add_argument("--strips", type=Path, default=ROOT / "reenact", help="folder for the strips of frames")
    parser.add_argument("--clips", nargs="+", help="clip names (default: all)")
    parser.add_argument("--size", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args()
    clips = _clips(args.fixtures, args.clips)
    started = time.perf_counter()
    results, landmark_errors = [], []
    with tempfile.TemporaryDirectory() as folder, _studio(Path(folder)) as studio:
        work = Path(folder)
        sources = {clip.name: _first_frame(clip, work) for clip in clips}
        record_id = _grant(studio.ledger, [image for image, _ in sources.values()], work)
        for clip in clips:
            reenacted, strip = _reenact(clip, sources[clip.name], studio, record_id, args.size, args.seconds, work)
            results += reenacted
            if strip is not None:
                args.strips.mkdir(exist_ok=True)
                cv2.imwrite(str(args.strips / f"{clip.name}.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_PNG_COMPRESSION, 9])
            if clip.video.parent.name == "driving":
                landmark_errors.append(_landmark_error(clip, sources[clip.name], max(args.size), args.seconds))
            print(f"{clip.name}: " + ", ".join(f"{r.size}px removed {r.removed:.0%}" for r in reenacted), flush=True)
    section = _report(results, landmark_errors, args.seconds, time.perf_counter() - started)
    print(section)
    write_section(section, args.results)


# helpers


def _clips(fixtures: Path, names: list[str] | None) -> list[Clip]:
    clips = [Clip(video.stem, video, video.with_suffix(".landmarks.json"))
             for kind in ("talking", "driving") for video in sorted((fixtures / kind).glob("*.mp4"))]
    unknown = set(names or ()) - {clip.name for clip in clips}
    if unknown:
        raise SystemExit(f"no such clip in {fixtures}: {', '.join(sorted(unknown))}")
    return [clip for clip in clips if names is None or clip.name in names]


def _studio(home: Path) -> Studio:
    """A throwaway studio (ledger, registry, development signer) in its own SITTER_HOME."""
    return Settings.from_env({"SITTER_HOME": str(home), "SITTER_DB_URL": ""}).open_studio()


def _first_frame(clip: Clip, work: Path) -> tuple[Path, Path]:
    """The clip's first frame as a lossless PNG, and its landmarks as an image's JSON: the source to animate."""
    frame = next(read_frames(clip.video, limit=1))
    image, landmarks = work / f"{clip.name}.png", work / f"{clip.name}.landmarks.json"
    cv2.imwrite(str(image), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    save_landmarks(landmarks, [read_track(clip.track).points[0]], (frame.shape[1], frame.shape[0]))
    return image, landmarks


def _grant(ledger: Ledger, images: list[Path], work: Path) -> str:
    """One consent record for every source frame, for research; its id."""
    evidence = work / "evidence.txt"
    evidence.write_text("Benchmark stand-in: the fixtures' licence (KwaiVGI/LivePortrait examples, MIT)\n")
    record = ledger.grant(kind="person", name="Self-reenactment fixtures", grantor="Sitter bench", purposes=[PURPOSE],
                          expires=date.today() + timedelta(days=1), evidence=evidence, images=images,
                          operator=OPERATOR)
    return record.record_id


def _reenact(clip: Clip, source: tuple[Path, Path], studio: Studio, record_id: str, sizes: list[int],
             seconds: float, work: Path) -> tuple[list[Result], np.ndarray | None]:
    """The clip reenacted at each size, scored against its real frames; and, for STRIP_CLIPS, a strip of frames at
    the largest size."""
    track = read_track(clip.track)
    frames = min(len(track.points), max(1, round(seconds * track.fps)))
    still = _still_track(track, frames, work / f"{clip.name}.still.json")
    box = square(track.points[0])  # the square the engine cuts around the source face, in the clip's px
    video = list(read_frames(clip.video, limit=frames))
    results, strip = [], None
    for size in sorted(sizes):
        crops = [crop_square(frame, box, size)[0] for frame in video]
        faces = [face_region(to_crop_coordinates(points, box, size), size, round(FACE_MARGIN * size))
                 for points in track.points[:frames]]
        outputs = {kind: _render(studio, record_id, source, driver, track.fps, size, seconds,
                                 work / f"{clip.name}-{size}-{kind}.mp4")
                   for kind, driver in (("engine", clip.track), ("still", still))}
        scores = {kind: _scores(video, crops, faces) for kind, video in outputs.items()}
        real = [sharpness(crop, face) for crop, face in zip(crops, faces, strict=True)]
        results.append(Result(clip.name, size, frames, Scores.mean(scores["engine"]), Scores.mean(scores["still"]),
                              float(np.mean(real)), scores["still"][0].sharpness / real[0]))
        if clip.name in STRIP_CLIPS:
            strip = _strip(crops, *outputs.values())
    return results, strip


def _still_track(track: Track, frames: int, path: Path) -> Path:
    """A driver's track (the fixtures' video JSON) that repeats the first frame's landmarks `frames` times."""
    first = np.round(track.points[0].astype(np.float64), 2).tolist()
    path.write_text(json.dumps({"convention": "ibug68", "fps": track.fps, "frames": [first] * frames}))
    return path


def _render(studio: Studio, record_id: str, source: tuple[Path, Path], driver: Path, fps: float, size: int,
            seconds: float, out: Path) -> Path:
    """The source driven by `driver` (a landmark track) through the one render path: watermarked and signed, no
    visible label; the published MP4."""
    image, landmarks = source
    request = RenderRequest(sources=(image,), landmarks=(landmarks,), purpose=PURPOSE, operator=OPERATOR, out=out,
                            record_id=record_id, driver=driver, seconds=seconds, fps=fps, size=size, disclosure=None)
    return render(request, studio).path


def _scores(video: Path, crops: list[np.ndarray], faces: list[np.ndarray]) -> list[Scores]:
    """Each decoded frame of `video` against the real frame at the same time."""
    decoded = list(read_frames(video))
    assert len(decoded) == len(crops), f"{video.name}: {len(decoded)} frames decoded, {len(crops)} real"
    return [score(output, real, face) for output, real, face in zip(decoded, crops, faces, strict=True)]


def _strip(crops: list[np.ndarray], engine: Path, still: Path) -> np.ndarray:
    """Rows of (real | engine | still) tiles at STRIP_TIMES times spread over the clip after its first frame."""
    times = np.linspace(0, len(crops) - 1, STRIP_TIMES + 1).round().astype(int)[1:]
    columns = [crops, list(read_frames(engine)), list(read_frames(still))]
    tile = (STRIP_TILE, STRIP_TILE)
    return np.vstack([np.hstack([cv2.resize(column[t], tile, interpolation=cv2.INTER_AREA) for column in columns])
                      for t in times])


def _landmark_error(clip: Clip, source: tuple[Path, Path], size: int, seconds: float) -> tuple:
    """(clip, frames, error vs driver, vs targets, flips): the warp following the clip's own track."""
    track = read_track(clip.track)
    frames = min(len(track.points), max(1, round(seconds * track.fps)))
    identity = WarpEngine(WarpConfig(size=size)).prepare([source[0]], [source[1]])
    to_driver, to_target, flipped, _ = warp_quality(identity, from_track(Track(track.fps, track.points[:frames])))
    return clip.name, frames, to_driver, to_target, flipped


def _report(results: list[Result], landmark_errors: list[tuple], seconds: float, took: float) -> str:
    sizes = sorted({result.size for result in results})
    by_size = {size: [result for result in results if result.size == size] for size in sizes}
    clips = len(by_size[sizes[0]])
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, OpenCV {cv2.__version__}, by "
        f"`bench/bench_reenact.py` ({clips} clips, the first {seconds:g} s of each, {took / 60:.1f} min in all). "
        "Self-reenactment: each clip's first frame, driven by the clip's own landmark track through "
        "`studio.pipeline.render` (watermarked, H.264, signed; no visible label), against the real frames, both "
        "framed by the engine's square around the first frame's face. The baseline *still* is the first frame "
        "held still, through the same pipeline. Face: the real frame's landmark hull, grown by "
        f"{FACE_MARGIN:.0%} of the square's side. *Removed*: the share of the still frame's face L1 that the "
        "engine removes, 1 - L1(engine) / L1(still). SSIM on luma, 11x11 Gaussian windows. Sharpness: variance "
        "of the Laplacian on the face, output over real frame. Means are over frames, then over clips. Every render "
        "gets a fresh watermark id, so its faint pattern (two renders of one request differ by ~2 levels of L1) "
        "differs between the engine's and the still frame's output and from run to run: the share removed moves "
        "by about a point on the clip with the least motion (clip_03).",
        "",
        "| measure | target | " + " | ".join(f"{size}x{size}" for size in sizes) + " |",
        "|---|---|" + "---|" * len(sizes),
        "| share of the still frame's face-L1 error removed, mean | >= 50% | "
        + " | ".join(f"**{np.mean([r.removed for r in by_size[size]]):.0%}**" for size in sizes) + " |",
        "| same, worst clip | >= 0% | "
        + " | ".join(_worst(by_size[size], lambda r: r.removed, "{:.0%}") for size in sizes) + " |",
        "| clips whose face SSIM beats the still frame's | every clip | "
        + " | ".join(_wins(by_size[size], lambda scores: scores.face_ssim) for size in sizes) + " |",
        "| face sharpness, output over real, lowest clip | >= 0.8 | "
        + " | ".join(_worst(by_size[size], lambda r: r.sharpness(r.engine), "{:.2f}") for size in sizes) + " |",
        "| clips whose whole-square SSIM beats the still frame's | | "
        + " | ".join(_wins(by_size[size], lambda scores: scores.ssim) for size in sizes) + " |",
        "| face sharpness, the still frame's first frame over the real one (watermark and encode alone) | | "
        + " | ".join(_spread([r.encoded_sharpness for r in by_size[size]]) for size in sizes) + " |",
    ]
    for size in sizes:
        lines += _clip_table(size, by_size[size])
    if landmark_errors:
        lines += [
            "",
            f"The driving fixtures' landmark error against their own driver at {max(sizes)}x{max(sizes)} "
            "(bench/warp_quality.py, as in the \"Warp engine\" section): where the source's landmarks land in the "
            "output against the driver's transferred landmarks, as a fraction of the inter-ocular distance; *vs "
            "targets*: against the warp's own targets, after its easing of head travel and folding expressions.",
            "",
            "| clip | frames | landmark error | vs targets | flips |",
            "|---|---|---|---|---|",
            *(f"| {name} | {frames} | {to_driver:.2%} | {to_target:.2%} | {flipped} |"
              for name, frames, to_driver, to_target, flipped in landmark_errors),
        ]
    return "\n".join(lines) + "\n"


def _worst(results: list[Result], measure, form: str) -> str:
    worst = min(results, key=measure)
    return f"{form.format(measure(worst))} ({worst.clip})"


def _wins(results: list[Result], measure) -> str:
    """How many clips the engine's `measure` (of Scores) beats the still frame's on, and which it does not."""
    losing = [r.clip for r in results if measure(r.engine) <= measure(r.still)]
    wins = f"{len(results) - len(losing)} of {len(results)}"
    return wins + (f" (not {', '.join(losing)})" if losing else "")


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} to {max(values):.2f}"


def _clip_table(size: int, results: list[Result]) -> list[str]:
    """Per clip at one size, each measure as still -> engine, and a row of means."""

    def pair(still: float, engine: float, form: str) -> str:
        return f"{form.format(still)} → {form.format(engine)}"

    def row(name: str, frames: str, values: list[tuple[float, float]], share: float, sharp: tuple) -> str:
        forms = ("{:.1f}", "{:.1f}", "{:.3f}", "{:.1f}", "{:.1f}", "{:.3f}")
        cells = [pair(*value, form) for value, form in zip(values, forms, strict=True)]
        return (f"| {name} | {frames} | {cells[0]} | **{share:.0%}** | " + " | ".join(cells[1:])
                + f" | {sharp[1]:.2f} ({sharp[0]:.2f}) |")

    def measures(r: Result) -> list[tuple[float, float]]:
        return [(r.still.face_l1, r.engine.face_l1), (r.still.face_psnr, r.engine.face_psnr),
                (r.still.face_ssim, r.engine.face_ssim), (r.still.l1, r.engine.l1), (r.still.psnr, r.engine.psnr),
                (r.still.ssim, r.engine.ssim)]

    lines = [
        "",
        f"{size}x{size}, each measure still → engine (L1 in levels of 255, PSNR in dB); sharpness: engine (still):",
        "",
        "| clip | frames | face L1 | removed | face PSNR | face SSIM | square L1 | square PSNR | square SSIM "
        "| face sharpness |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(row(r.clip, str(r.frames), measures(r), r.removed, (r.sharpness(r.still), r.sharpness(r.engine))))
    means = np.mean([measures(r) for r in results], axis=0)
    lines.append(row("**mean**", "", [tuple(m) for m in means], float(np.mean([r.removed for r in results])),
                     (np.mean([r.sharpness(r.still) for r in results]),
                      np.mean([r.sharpness(r.engine) for r in results]))))
    return lines


if __name__ == "__main__":
    main()
