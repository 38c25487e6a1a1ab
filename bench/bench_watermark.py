"""Benchmark of provenance/watermark.py: speed, visibility, robustness and false positives.

    .venv/bin/python bench/bench_watermark.py                # ~30 minutes on 2 cores
    .venv/bin/python bench/bench_watermark.py --quick        # 3 clips, for a smoke run

Test clips: the two driving videos and nine talking clips of ../shared/fixtures (first 4 s, native
sizes 480x480 to 720x1364), the five portraits animated here with a slow sway (4 s each), and two
flat-background clips made here: a portrait hanging on a plain wall, and a slow sky gradient.
Each is marked with its own id and written as Sitter writes outputs (H.264, CRF 18); each attack
starts from that file and ends in a fresh encode (H.264 CRF 23 unless the attack says otherwise).
Unmarked copies of every clip go through the same attacks (the false-positive count).
Visibility is measured on the delivered file against the same clip encoded the same way unmarked,
overall and in flat regions (7x7 local standard deviation of the source under 1.5), and a 4x zoom
of a flat area, marked beside unmarked, is saved as bench/watermark_flat_zoom.png.
Speed is measured pinned to one core with OpenCV's threads set to 1. Prints a Markdown table and
writes it into bench/RESULTS.md as the "## Watermark" section (other sections are kept).
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
from results import RESULTS, machine, write_section

from provenance.video import read_frames, write_mp4
from provenance.watermark import (
    ALGORITHM,
    LOW_BAND_PSNR_DB,
    MIN_PSNR_DB,
    V1,
    Watermarker,
    read_watermark,
    watermark_frames,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
ZOOM = Path(__file__).resolve().parent / "watermark_flat_zoom.png"
FPS = 25
CLIP_SECONDS = 4
RNG = np.random.default_rng(2024)
PREVIOUS = V1  # what renders wrote until 2026-12-04: ALGORITHM's visibility is measured against it


# test clips


def even(value: float) -> int:
    return int(value) // 2 * 2


def video_clip(path: Path) -> list[np.ndarray]:
    frames = list(read_frames(path, limit=CLIP_SECONDS * FPS))
    height, width = frames[0].shape[:2]
    return [frame[:even(height), :even(width)] for frame in frames]


def portrait_clip(path: Path) -> list[np.ndarray]:
    """A still portrait swaying slowly (rotation, zoom, drift), standing in for a render."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    scale = min(1.0, 512 / max(height, width))
    image = cv2.resize(image, (even(width * scale), even(height * scale)), interpolation=cv2.INTER_AREA)
    height, width = image.shape[:2]
    frames = []
    for i in range(CLIP_SECONDS * FPS):
        phase = 2 * np.pi * i / (CLIP_SECONDS * FPS)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 2 * np.sin(phase), 1.03 + 0.02 * np.sin(2 * phase))
        matrix[:, 2] += (4 * np.sin(phase), 3 * np.cos(phase))
        frames.append(cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))
    return frames


def wall_clip(path: Path) -> list[np.ndarray]:
    """A portrait hanging on a plain wall (a faint vertical shading, no texture), swaying a little:
    the flat background where a mark shows first."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    picture = cv2.resize(image, (200, 260), interpolation=cv2.INTER_AREA)
    shading = np.linspace(-6, 6, 512, dtype=np.float32)[:, None, None]
    wall = np.clip(np.float32([196, 186, 170]) + shading + np.zeros((512, 512, 3), np.float32), 0, 255)
    frames = []
    for i in range(CLIP_SECONDS * FPS):
        frame = wall.astype(np.uint8)
        left = 156 + round(4 * np.sin(2 * np.pi * i / (CLIP_SECONDS * FPS)))
        frame[120:380, left:left + 200] = picture
        frames.append(frame)
    return frames


def sky_clip() -> list[np.ndarray]:
    """A clear sky: a vertical blue gradient that drifts and brightens slowly, flat everywhere."""
    rows = np.linspace(0, 1, 512, dtype=np.float32)[:, None, None]
    top, bottom = np.float32([70, 120, 200]), np.float32([180, 210, 240])
    frames = []
    for i in range(CLIP_SECONDS * FPS):
        t = i / (CLIP_SECONDS * FPS)
        mix = np.clip(rows + 0.1 * np.sin(2 * np.pi * t), 0, 1)
        frames.append(np.broadcast_to(np.clip(top + (bottom - top) * mix + 3 * t, 0, 255), (512, 512, 3))
                      .astype(np.uint8))
    return frames


def test_clips(quick: bool) -> dict[str, list[np.ndarray]]:
    videos = sorted((FIXTURES / "driving").glob("*.mp4")) + sorted((FIXTURES / "talking").glob("*.mp4"))
    portraits = sorted(p for p in (FIXTURES / "portraits").iterdir() if p.suffix in (".jpg", ".png"))
    if quick:
        videos, portraits = videos[:1] + videos[-1:], portraits[:1]
    clips = {path.stem: video_clip(path) for path in videos}
    clips.update({path.stem: portrait_clip(path) for path in portraits})
    clips["flat: portrait on a wall"] = wall_clip(FIXTURES / "portraits" / "einstein_photo.jpg")
    clips["flat: sky gradient"] = sky_clip()
    return clips


# attacks: each takes the delivered frames and returns (frames, fps, crf, container) to encode


def resize(frames: list[np.ndarray], factor: float) -> list[np.ndarray]:
    height, width = frames[0].shape[:2]
    size = (even(width * factor), even(height * factor))
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def center_crop(frames: list[np.ndarray], keep: float) -> list[np.ndarray]:
    height, width = frames[0].shape[:2]
    new_h, new_w = even(height * keep), even(width * keep)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    return [f[top:top + new_h, left:left + new_w] for f in frames]


def crop_rescaled(frames: list[np.ndarray]) -> list[np.ndarray]:
    height, width = frames[0].shape[:2]
    return [cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR) for f in center_crop(frames, 0.9)]


def drop_to_15fps(frames: list[np.ndarray]) -> list[np.ndarray]:
    keep = sorted({int(i * FPS / 15) for i in range(len(frames) * 15 // FPS)})
    return [frames[i] for i in keep]


def cut_2s(frames: list[np.ndarray]) -> list[np.ndarray]:
    start = int(RNG.integers(0, len(frames) - 2 * FPS + 1))
    return frames[start:start + 2 * FPS]


def rotate(frames: list[np.ndarray], angle: float) -> list[np.ndarray]:
    """A tilt by `angle` degrees about the centre, the corners filled by reflection."""
    height, width = frames[0].shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return [cv2.warpAffine(f, matrix, (width, height), borderMode=cv2.BORDER_REFLECT) for f in frames]


def h264_round_trip(frames: list[np.ndarray], crf: int) -> list[np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        write_mp4(frames, Path(tmp) / "step.mp4", FPS, crf=crf)
        return list(read_frames(Path(tmp) / "step.mp4"))


def aspect_and_back(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Boxed into 16:9 (pillarbox for a clip narrower than that, letterbox otherwise), published as
    H.264 CRF 23, then cropped back to the picture."""
    height, width = frames[0].shape[:2]
    box_w, box_h = max(width, even(height * 16 / 9)), max(height, even(width * 9 / 16))
    top, left = (box_h - height) // 2, (box_w - width) // 2
    boxed = [cv2.copyMakeBorder(f, top, box_h - height - top, left, box_w - width - left, cv2.BORDER_CONSTANT)
             for f in frames]
    return [f[top:top + height, left:left + width] for f in h264_round_trip(boxed, 23)]


def screen_capture(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Played on a screen and recorded: 0.75x, a blur of sigma 1, noise of sigma 2, gamma 0.9."""
    gamma = np.clip(255 * (np.arange(256) / 255) ** 0.9, 0, 255).astype(np.uint8)
    captured = []
    for frame in resize(frames, 0.75):
        blurred = cv2.GaussianBlur(frame, (0, 0), 1.0).astype(np.float32)
        noisy = np.clip(blurred + RNG.normal(0, 2, blurred.shape), 0, 255).astype(np.uint8)
        captured.append(cv2.LUT(noisy, gamma))
    return captured


ATTACKS: dict[str, Callable[[list[np.ndarray]], tuple[list[np.ndarray], float, int, str]]] = {
    "none (CRF 18 output)": lambda f: (f, FPS, 0, "mp4"),
    "H.264 CRF 23": lambda f: (f, FPS, 23, "mp4"),
    "H.264 CRF 28": lambda f: (f, FPS, 28, "mp4"),
    "downscale 0.5x": lambda f: (resize(f, 0.5), FPS, 23, "mp4"),
    "center crop 90%": lambda f: (center_crop(f, 0.9), FPS, 23, "mp4"),
    "crop 90%, rescaled back": lambda f: (crop_rescaled(f), FPS, 23, "mp4"),
    "downscale 0.5x + crop 90%": lambda f: (center_crop(resize(f, 0.5), 0.9), FPS, 23, "mp4"),
    "brightness +20": lambda f: ([cv2.add(x, np.full_like(x, 20)) for x in f], FPS, 23, "mp4"),
    "25 -> 15 fps": lambda f: (drop_to_15fps(f), 15, 23, "mp4"),
    "2 s cut": lambda f: (cut_2s(f), FPS, 23, "mp4"),
    "new: horizontal mirror": lambda f: ([np.ascontiguousarray(x[:, ::-1]) for x in f], FPS, 23, "mp4"),
    "new: rotation by +3 degrees": lambda f: (rotate(f, 3.0), FPS, 23, "mp4"),
    "new: rotation by -3 degrees": lambda f: (rotate(f, -3.0), FPS, 23, "mp4"),
    "new: boxed to 16:9 and cropped back": lambda f: (aspect_and_back(f), FPS, 23, "mp4"),
    "new: downscale 0.25x": lambda f: (resize(f, 0.25), FPS, 23, "mp4"),
    "new: VP9 WebM (CRF 32)": lambda f: (f, FPS, 32, "webm"),
    "new: screen capture (0.75x, blur, noise, gamma), CRF 28": lambda f: (screen_capture(f), FPS, 28, "mp4"),
}
TARGETS = {"new: downscale 0.25x": 14, "new: screen capture (0.75x, blur, noise, gamma), CRF 28": 14}  # else all


def write_webm(frames: list[np.ndarray], path: Path, fps: float, crf: int) -> None:
    """VP9 in WebM, as a browser or a platform's converter writes it (libvpx's constant quality)."""
    with av.open(str(path), mode="w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def attacked_file(frames: list[np.ndarray], attack: str, source: Path, work: Path) -> Path:
    attacked, fps, crf, container = ATTACKS[attack](frames)
    if crf == 0:
        return source
    path = work / f"attacked.{container}"
    if container == "webm":
        write_webm(attacked, path, fps, crf)
    else:
        write_mp4(attacked, path, fps, crf=crf)
    return path


# measurements


def psnr(marked: np.ndarray, original: np.ndarray) -> float:
    mse = np.mean((marked.astype(np.float64) - original) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse else float("inf")


def flat_mask(frame: np.ndarray) -> np.ndarray:
    """Where the source is flat: 7x7 local standard deviation of luma under 1.5 levels."""
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(luma, (7, 7))
    return np.sqrt(np.maximum(cv2.blur(luma * luma, (7, 7)) - mean * mean, 0)) < 1.5


def difference(frames: list[np.ndarray], delivered: list[np.ndarray], plain: list[np.ndarray]) -> tuple[float, float]:
    """RMS difference in grey levels between a delivered file and the same clip encoded unmarked: overall, and
    in the source's flat regions (nan when it has none)."""
    total, flat_total, count, flat_count = 0.0, 0.0, 0, 0
    for source, marked, unmarked in zip(frames, delivered, plain, strict=True):
        squared = ((marked.astype(np.float32) - unmarked) ** 2).mean(axis=2)
        flat = flat_mask(source)
        total, count = total + squared.sum(), count + squared.size
        flat_total, flat_count = flat_total + squared[flat].sum(), flat_count + flat.sum()
    return float(np.sqrt(total / count)), float(np.sqrt(flat_total / flat_count)) if flat_count else float("nan")


def delivered_difference(frames: list[np.ndarray], marked: list[np.ndarray], plain: list[np.ndarray],
                         work: Path) -> tuple[float, float]:
    write_mp4(marked, work / "visibility.mp4", FPS, crf=18)
    return difference(frames, list(read_frames(work / "visibility.mp4")), plain)


def encoder_floor(frames: list[np.ndarray], plain: list[np.ndarray], work: Path) -> tuple[float, float]:
    """The same difference for a change no one could see: one level up on 0.1% of the pixels. What x264
    does differently for any change at all (its decisions move), not the mark."""
    specks = (RNG.random(frames[0].shape[:2]) < 0.001).astype(np.uint8)
    return delivered_difference(frames, [cv2.add(f, cv2.merge([specks] * 3)) for f in frames], plain, work)


def save_zoom(frames: list[np.ndarray], delivered: list[np.ndarray], plain: list[np.ndarray]) -> None:
    """A 96x96 flat patch of the wall, 4x: unmarked delivered, marked delivered, and their difference x8."""
    rows, cols = slice(8, 104), slice(16, 112)  # plain wall, left of the picture
    unmarked, marked = plain[0][rows, cols], delivered[0][rows, cols]
    diff = np.clip(128 + 8 * (marked.astype(np.int16) - unmarked), 0, 255).astype(np.uint8)
    gap = np.full((96, 4, 3), 255, np.uint8)
    strip = np.hstack([unmarked, gap, marked, gap, diff])
    zoomed = cv2.resize(strip, (strip.shape[1] * 4, strip.shape[0] * 4), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(ZOOM), cv2.cvtColor(zoomed, cv2.COLOR_RGB2BGR))


def robustness(clips: dict[str, list[np.ndarray]], work: Path) -> tuple[list[dict], list[dict]]:
    """Mark each clip, attack it every way, read it. Unmarked copies go through the same attacks.
    Also measures each clip's visibility, for this version and the previous one."""
    rows = {attack: {"found": 0, "wrong": 0, "clips": 0, "accuracy": [], "decoded": [], "seconds": [],
                     "false": 0, "unmarked": 0, "flat_found": 0} for attack in ATTACKS}
    looks = []
    for index, (name, frames) in enumerate(clips.items()):
        wm_id = int(RNG.integers(0, 2**32))
        marker = Watermarker(wm_id)
        marked = [marker.embed(frame) for frame in frames]
        delivered_path, plain_path = work / "marked.mp4", work / "plain.mp4"
        write_mp4(marked, delivered_path, FPS, crf=18)
        write_mp4(frames, plain_path, FPS, crf=18)
        delivered, plain = list(read_frames(delivered_path)), list(read_frames(plain_path))
        before = Watermarker(wm_id, PREVIOUS)
        looks.append({"clip": name, "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
                      "flat share": float(flat_mask(frames[0]).mean()),
                      "psnr": min(psnr(m, f) for m, f in zip(marked, frames, strict=True)),
                      "now": difference(frames, delivered, plain),
                      "before": delivered_difference(frames, [before.embed(f) for f in frames], plain, work),
                      "floor": encoder_floor(frames, plain, work)})
        if name.startswith("flat: portrait"):
            save_zoom(frames, delivered, plain)
        flat = name.startswith("flat:")  # counted apart: the targets are on the 16 clips
        for attack, row in rows.items():
            start = time.perf_counter()
            reading = read_watermark(attacked_file(delivered, attack, delivered_path, work))
            row["seconds"].append(time.perf_counter() - start)
            right = reading.found and reading.wm_id == wm_id
            row["wrong"] += reading.found and reading.wm_id != wm_id
            if flat:
                row["flat_found"] += right
            else:
                row["clips"] += 1
                row["found"] += right
                row["accuracy"] += reading.per_frame_scores or [float("nan")]
                row["decoded"].append(reading.frames_decoded / max(reading.frames_examined, 1))
            unmarked = read_watermark(attacked_file(plain, attack, plain_path, work))
            row["unmarked"] += 1
            row["false"] += unmarked.found
        print(f"  [{index + 1}/{len(clips)}] {name}: {looks[-1]['size']}, id {wm_id:08x}, "
              f"{sum(r['found'] + r['flat_found'] for r in rows.values())} found so far", flush=True)
    return [{"attack": attack, **row} for attack, row in rows.items()], looks


def unmarked_frames(quick: bool) -> list[np.ndarray]:
    """Single frames that carry no mark: every 8th frame of every fixture video, the portraits,
    and noise of several kinds (uniform, Gaussian, smooth, flat)."""
    frames = []
    for path in sorted(FIXTURES.glob("*/*.mp4"))[: 2 if quick else None]:
        frames += list(read_frames(path))[::8]
    for path in sorted((FIXTURES / "portraits").iterdir()):
        if path.suffix in (".jpg", ".png"):
            frames.append(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    for i in range(20 if quick else 60):
        size = (int(RNG.integers(256, 720)), int(RNG.integers(256, 720)), 3)
        kind = i % 4
        if kind == 0:
            frames.append(RNG.integers(0, 256, size, dtype=np.uint8))
        elif kind == 1:
            frames.append(np.clip(RNG.normal(128, 40, size), 0, 255).astype(np.uint8))
        elif kind == 2:
            smooth = cv2.GaussianBlur(RNG.normal(128, 60, size).astype(np.float32), (0, 0), 4)
            frames.append(np.clip(smooth, 0, 255).astype(np.uint8))
        else:
            frames.append(np.full(size, int(RNG.integers(0, 256)), np.uint8))
    return frames


def one_core() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)


def embed_speed(frame: np.ndarray, count: int = 200) -> float:
    """Mean ms a frame for Watermarker.embed over `count` frames, its every-COMPENSATE_EVERY-frames measure of
    the picture included (the per-render setup, on the first frame, is not counted)."""
    marker = Watermarker(0x5177E4)
    marker.embed(frame)
    start = time.perf_counter()
    for _ in range(count):
        marker.embed(frame)
    return (time.perf_counter() - start) / count * 1000


def verify_speed(work: Path) -> tuple[float, int, float]:
    """Seconds to read a marked 10 s 512x512 25 fps clip from its file (decoding included), how many frames that
    examined, and the median seconds of `sitter verify --json` on it as a whole process (a verifier's machine: no
    studio database, so it checks the manifest and the watermark)."""
    frames = list(read_frames(FIXTURES / "driving" / "driving_a.mp4"))
    frames = (frames + frames[::-1])[: 10 * FPS]
    path = work / "ten_seconds.mp4"
    write_mp4(watermark_frames(frames, 0x0A0B0C0D), path, FPS, crf=18)  # what renders write
    best, examined = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        reading = read_watermark(path)
        best = min(best, time.perf_counter() - start)
        assert reading.found and reading.wm_id == 0x0A0B0C0D, reading
        examined = reading.frames_examined
    env = {**os.environ, "SITTER_HOME": str(work / "verifier-home"), "SITTER_DB_URL": ""}
    command = [str(Path(sys.executable).parent / "sitter"), "verify", str(path), "--json"]
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return best, examined, statistics.median(runs)


def library_reference(frames: list[np.ndarray], work: Path) -> list[tuple[str, float, float, float]]:
    """invisible-watermark's dwtDctSvd on the same footage: ms a frame, per-frame bit accuracy and
    clip majority-vote accuracy after a few attacks (32-bit payload, 48 frames)."""
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    payload = RNG.integers(0, 2, 32).tolist()
    encoder = WatermarkEncoder()
    encoder.set_by_bits(payload)
    decoder = WatermarkDecoder("bits", 32)
    start = time.perf_counter()
    marked = [encoder.encode(np.ascontiguousarray(f[:, :, ::-1]), "dwtDctSvd")[:, :, ::-1] for f in frames]
    ms = (time.perf_counter() - start) / len(frames) * 1000
    path = work / "reference.mp4"
    write_mp4(marked, path, FPS, crf=18)
    delivered = list(read_frames(path))
    table = []
    for attack in ("none (CRF 18 output)", "H.264 CRF 28", "downscale 0.5x", "center crop 90%"):
        attacked = list(read_frames(attacked_file(delivered, attack, path, work)))
        bits = []
        for frame in attacked:
            if frame.shape[0] * frame.shape[1] < 256 * 256:  # the library refuses these
                frame = cv2.resize(frame, (256, 256), interpolation=cv2.INTER_LINEAR)
            bits.append(np.array(decoder.decode(np.ascontiguousarray(frame[:, :, ::-1]), "dwtDctSvd"), dtype=int))
        bits = np.array(bits)
        vote = (bits.mean(axis=0) > 0.5).astype(int)
        table.append((attack, ms, float((bits == payload).mean()), float((vote == payload).mean())))
    return table


# report

TRIED = """What was tried for v2, on clip_00, driving_a and the Sargent portrait (the hardest for a masked mark), with
CRF 28 and 0.5x + crop 90% + CRF 23 as the yardsticks; what did not work:
- A mask proportional to texture (0.5 + 0.45 x local std, up to 4 levels), scaled to 44 dB: the mark went where
  the picture is loudest, and the reader, which trusts flat pixels most, lost 0.5x + CRF 23 on clip_00 (the
  first watermark work's finding again).
- Starting the texture term at 1.5 levels of local std (the issue's flat threshold) to keep a gradient sky
  under 0.8: lost 0.5x + crop on clip_00 and the Sargent portrait. It starts at 0.5 (a sky's gradient is
  below that).
- The flat strength, swept on clip_08 (74% flat), the wall and the sky, flat-region RMS delivered / clip_08's
  bit accuracy under 0.5x + crop: 0.3 levels: wall 0.40, sky 0.86, 0.70; 0.6: wall 0.75, sky 1.03, 0.78;
  0.9: wall 1.04, sky 1.30, 0.86; 1.2: wall 1.32, sky 1.53, 0.93. 0.5 is the most the wall takes under 0.8;
  the sky is over 0.8 at any strength, as its encoder floor (0.63) says: x264 redraws a gradient
  differently for any change at all.
- Weighting the reader by the mask it can estimate (matched filter, mark strength over local energy), and a
  Huber-clipped whitening for the heavy-tailed texture: no gain, sometimes a loss.
- Averaging every frame into the sampled ones (all 100 frames of a 4 s clip instead of 25): no measurable gain
  on these clips, whose backgrounds are still; kept, since it costs one addition a frame.
- A 44 dB cap: the Sargent portrait (4% flat) fell to ~0.62 bit accuracy under 0.5x + crop and failed to
  decode; 42 dB keeps it. Reaching 44 dB at this robustness needs the host's interference taken out at
  embedding (informed embedding, Malvar and Florencio's improved spread spectrum), not tried yet.
- Overall RMS against the unmarked encode cannot reach 1.6 at CRF 18: one level added to 0.1% of the
  pixels already moves it by ~1.1 on the astronaut (x264's decisions change everywhere; "encoder floor"
  below). The flat-region number is the one that tracks the visible mottle.
- Why v2 loses the astronaut and the sky under 0.5x (checked at the true geometry, period 64): it is not the
  sync. On the astronaut the pilot scan finds the period (peak 5.1 sd, v1: 10.0) but the payload's bit accuracy
  is 0.75 (v1: 0.93) and Viterbi fails: too little payload survives. On the sky the mark is gone altogether
  (pilot 3.9 sd at the true period, bit accuracy 0.48): 0.5 levels on a flat picture, halved in size, fall
  under x264's dead zone at CRF 23. So keeping the pilot unshaped would not bring either back alone.
- Tilting the tile's spectrum toward the band's low rings (amplitude ~ (6 / radius)^p, p = 1 and 2, the reader
  unchanged since it weighs each ring by the pilot): no gain at 0.5x (astronaut and sky still lost) and a loss
  under CRF 28 (astronaut bit accuracy 0.66 -> 0.64, Sargent 0.78 -> 0.74 at p = 2). Not kept.
- Rotation (the scan found the period at 0 degrees only: at 1 degree the pilot's peak was already at noise
  level): a per-angle coherent scan would cost ~0.1 s an angle (25 angles). Built instead: the tilt from the
  autocorrelation of the summed luma (the lattice's side vectors, 33 angles x all periods, ~20 ms), one more
  scan of the luma turned back, the angle polished in the fold; 6 of 6 clips at +3, -3 and +1.5 degrees.
- 0.25x and the screen capture, checked at the true geometry on 6 clips: at 0.25x the payload is gone
  (bit accuracy 0.49-0.65 for v2) and the pilot is under the noise; under the screen capture the payload
  survives (0.71-0.85 on 5 of 6) but the pilot does not (the true period ranks 17th to 93rd of the scan's
  peaks). Scoring the pilot on the band's low rings only (2, 3 or 4 of 6) did not lift it. Dropping
  periods longer than the frame's short side frees decode slots (v1 at 0.25x on a 1280x720 clip now
  reads). The rest needs the embedder: a lower band or a stronger pilot.

What was found for v3 (2026-12-04), sweeping v2's shaping over other bands on all 18 clips under 0.5x, 0.25x and
the screen capture (clips read of 18): v2's band 6-24 bins: 16, 0, 2; 3-20: 16, 0, 9; 3-16: 16, 4, 12; 2.5-14:
16, 2, 12; 3-12: 16, 5, 14; 4-12: 16, 6, 14; 3-10: 0, 0, 0 (fewer bins than the 140 coded bits: some bits get no
carrier). The screen capture's blur (sigma 1 at 0.75x) leaves the low rings only, so energy there is what counts;
4-12 with a texture gain of 1.5 (the band's 189 bins want more of the texture's room): 17, 6, 15, and every other
attack 18 of 18 except 0.5x + crop on the astronaut. That portrait is textured enough for the PSNR cap to bind:
gain, top strength, flat strength and pilot share changed nothing at 42 dB; a 41 dB cap reads it (40.5 dB also
the screen capture). Where 0.25x fails (checked at the true geometry on driving_a): not the downscale (without
the re-encode v2 reads at bit accuracy 0.99, pilot 12.9 sd) but CRF 23 on a 128 px frame; the picture's own
content on the carriers is most of the noise left (astronaut: host alone 44 vs the mark's 15 and the channel's
14, per carrier, at 0.25x). Taking the host out at embedding (informed embedding) works where the channel is
mild: on a 256x256 idle render single frames went from bit accuracy 0.87-0.93 to 0.95-0.99 and GIF copies of it
from 2 of 3 to 10 of 12 ids (v1: 12 of 12), and it costs nothing under the attacks (0.25x 7, screen capture 15
of 16); but it cannot reach 0.25x, where the channel takes 96% of the mark and only 56% of the host.

What made v3 what renders write (2026-12-04): the GIF copy (FFmpeg's fixed rgb8 palette, whose dither puts fine
noise of up to half a palette step on every pixel) lost v3 through the reader's weights, not its carriers: the
whitening divides by local energy, and the dither set that energy on every flat area. Measuring the energy on
the detail blurred by one pixel read the carriers of a 256x256 idle render's GIF at 0.96-1.0 (was 0.86), 36 of
36 ids, and a still 256x256 crop's GIF 6 of 6 (was 1). Blurring the detail itself instead did as well on the
GIF but lost the astronaut at 0.5x + crop 90% and half the 0.25x copies that read (a downscale carries the
band at up to 4x its frequency); a blur of 2 pixels on the energy did the same as 1. The picture's interference,
re-measured every 16 frames, left a swaying portrait's frames at 0.957 of their coded bits between refreshes
(8: 0.993, 4: 1.0); the energy's blur at half resolution (no change the reader can see: 0.8% of the whitened
plane) halved the measure's cost, and it runs every 8 frames. `confidence` is now the correlation of the
unweighed evidence with the code: with one bin a bit, the reader's ring weights alone took a clean v3 clip's
correlation from 0.95 to 0.88, below a CRF 28 copy's."""


def report(rows: list[dict], looks: list[dict], frames_fp: tuple[int, int], embed_ms: dict[str, float],
           verify: tuple[float, int, float], reference: list, clip_count: int, elapsed: float) -> str:
    fixture_looks = [look for look in looks if not look["clip"].startswith("flat:")]
    lines = [
        "## Watermark",
        "",
        f"`bench/bench_watermark.py`, {datetime.date.today().isoformat()}, {machine()}, no GPU; numpy "
        f"{np.__version__}, OpenCV {cv2.__version__}, PyAV {av.__version__}.",
        f"`{ALGORITHM}`, what renders write (perceptually shaped, low band, informed embedding), measured against "
        f"`{PREVIOUS}`, which they wrote until 2026-12-04; "
        f"{clip_count} fixture clips (2 driving + 9 talking fixture videos, first {CLIP_SECONDS} s at native "
        "size; 5 portraits animated with a sway) and 2 flat-background clips made by the bench. Every attack "
        f"ends in a fresh encode of the CRF 18 output (H.264 CRF 23 unless stated). Bench run took "
        f"{elapsed / 60:.1f} min.",
        "",
        "| Measure | Target | Result |",
        "|---|---|---|",
    ]
    for size, ms in embed_ms.items():
        target = "<= 2 ms" if size == "512x512" else "-"
        lines.append(f"| embed, ms a frame at {size} (1 core, mean of 200) | {target} | {ms:.2f} |")
    psnr_min = min(look["psnr"] for look in looks)
    lines += [
        f"| verify a 10 s 512x512 25 fps clip from file (1 core, decode included; "
        f"{verify[1]} frames examined) | <= 1 s | {verify[0]:.2f} s |",
        f"| `sitter verify --json` of that clip, as a whole process (1 core, median of 5) | <= 1.5 s | "
        f"{verify[2]:.2f} s |",
        f"| PSNR of the mark alone, worst frame of all clips | >= 44 dB | {psnr_min:.2f} dB "
        f"(the cap is {LOW_BAND_PSNR_DB:.0f} dB; the promise {MIN_PSNR_DB:.0f}) |",
        f"| RMS vs the unmarked encode, delivered file, overall (worst clip) | <= 1.6 | "
        f"{max(look['now'][0] for look in looks):.2f} (v1: {max(look['before'][0] for look in looks):.2f}; "
        f"encoder floor {max(look['floor'][0] for look in looks):.2f}) |",
        f"| same, flat regions (worst clip with >= 5% flat) | <= 0.8 | "
        f"{max(look['now'][1] for look in looks if look['flat share'] >= 0.05):.2f} (v1: "
        f"{max(look['before'][1] for look in looks if look['flat share'] >= 0.05):.2f}) |",
        f"| false detections, unmarked single frames | 0 | {frames_fp[0]} of {frames_fp[1]} |",
        f"| false detections, unmarked clips (every clip under every attack) | 0 | "
        f"{sum(r['false'] for r in rows)} of {sum(r['unmarked'] for r in rows)} |",
        f"| wrong ids, marked clips (every attack) | 0 | {sum(r['wrong'] for r in rows)} of "
        f"{sum(r['clips'] for r in rows) + 2 * len(rows)} |",
        "",
        "Bound on a false or wrong id: per carrier layout (v3's low band; v1 and v2's band) at most 4 candidate "
        "geometries (plain or mirrored, upright or tilted) are decoded per clip, and a decoded word is accepted only "
        "if its 32-bit check matches under one of that layout's versions (1 and 2), so "
        "P(false or wrong id) <= 4 x (1 + 2) x 2^-32 ~ 2.8e-9 per clip.",
        "",
        "Visibility, per clip: RMS difference in grey levels between the delivered file (H.264 CRF 18) and the "
        "same clip encoded unmarked, overall / in flat regions (7x7 std of the source < 1.5). The encoder "
        "floor is the same measure for one level added to 0.1% of the pixels.",
        "",
        "| Clip | Size | Flat share | Mark PSNR, worst frame | v3 overall / flat | v1 overall / flat | "
        "Encoder floor overall / flat |",
        "|---|---|---|---|---|---|---|",
    ]
    for look in looks:
        lines.append(f"| {look['clip']} | {look['size']} | {look['flat share']:.0%} | {look['psnr']:.1f} dB | "
                     f"{look['now'][0]:.2f} / {look['now'][1]:.2f} | {look['before'][0]:.2f} / "
                     f"{look['before'][1]:.2f} | {look['floor'][0]:.2f} / {look['floor'][1]:.2f} |")
    mean_now = np.nanmean([look["now"][1] for look in fixture_looks])
    lines += [
        "",
        f"Mean flat-region RMS over the 16 fixture clips: {mean_now:.2f} (v1: "
        f"{np.nanmean([look['before'][1] for look in fixture_looks]):.2f}). "
        f"A 4x zoom of the wall, unmarked | marked | difference x8: `bench/{ZOOM.name}`.",
        "",
        "| Attack | Target | Right id recovered (16 clips) | Per-frame bit accuracy (mean) | Frames that decode "
        "alone | Flat clips (wall, sky) | Read time (mean, 2 cores, from file) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        accuracy = np.nanmean(row["accuracy"]) if not np.all(np.isnan(row["accuracy"])) else float("nan")
        target = TARGETS.get(row["attack"], row["clips"])
        lines.append(f"| {row['attack']} | {target}/{row['clips']} | {row['found']}/{row['clips']} | "
                     f"{accuracy:.3f} | {np.mean(row['decoded']):.0%} | {row['flat_found']}/2 | "
                     f"{np.mean(row['seconds']):.2f} s |")
    lines += ["", TRIED]
    if reference:
        lines += [
            "",
            f"Reference, invisible-watermark 0.2.0 `dwtDctSvd` on the same pipeline (driving_a, 48 frames, "
            f"32-bit payload, no error correction): {reference[0][1]:.0f} ms a frame to embed.",
            "",
            "| Attack | Per-frame bit accuracy | Clip majority-vote bit accuracy |",
            "|---|---|---|",
        ]
        lines += [f"| {attack} | {frame:.3f} | {vote:.3f} |" for attack, _, frame, vote in reference]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 clips and fewer frames: a smoke run")
    parser.add_argument("--no-reference", action="store_true", help="skip invisible-watermark's dwtDctSvd")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = test_clips(args.quick)
        print(f"robustness: {len(clips)} clips x {len(ATTACKS)} attacks, marked and unmarked", flush=True)
        rows, looks = robustness(clips, work)
        singles = unmarked_frames(args.quick)
        false_frames = sum(read_watermark([frame]).found for frame in singles)
        print(f"unmarked single frames: {false_frames} false of {len(singles)}", flush=True)
        reference = [] if args.no_reference else library_reference(clips["driving_a"][:48], work)
        affinity = os.sched_getaffinity(0)
        one_core()
        portrait = cv2.cvtColor(cv2.imread(str(FIXTURES / "portraits" / "astronaut.png")), cv2.COLOR_BGR2RGB)
        wide = clips.get("clip_05", [cv2.resize(portrait, (1280, 720))])[0]
        embed_ms = {"512x512": embed_speed(portrait), f"{wide.shape[1]}x{wide.shape[0]}": embed_speed(wide)}
        verify = verify_speed(work)
        os.sched_setaffinity(0, affinity)
    section = report(rows, looks, (false_frames, len(singles)), embed_ms, verify, reference, len(clips) - 2,
                     time.perf_counter() - started)
    print()
    print(section)
    write_section(section)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
