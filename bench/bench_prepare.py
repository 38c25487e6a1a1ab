"""Data preparation benchmark: disk and time of `sitter prepare-data` per 100 videos, extrapolated to VoxCeleb2.

    .venv/bin/python bench/bench_prepare.py                      # the 9 shared talking clips, 256 px, 32 frames
    .venv/bin/python bench/bench_prepare.py --workers 2 --frames 32 --size 256

Prepares the fixtures' talking clips (flat folder, their JSON landmark tracks: face detection is not timed)
into a temporary folder, then reads episodes back from the shards as training does (K + 1 = 9 frames a
video, decoded, landmark images drawn; one process). Per 100 videos (a video here is one clip): seconds
of preparing, MB on disk; extrapolated to VoxCeleb2's dev set (1,092,009 clips in 145,569 videos, 224 px,
~8 s at 25 fps each: its clips decode faster than these 480-1364 px ones, so the time is an upper bound for
decoding and JPEG), beside the same frames uncompressed (197 KB each at 256 px, as the old cache kept them).
Writes the "## Data preparation" section of bench/RESULTS.md.
"""

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from results import machine, write_section

from engine.neural import PrepareConfig, prepare_data
from engine.neural.data import episode, open_clips

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "talking"
VOX_CLIPS, VOX_VIDEOS, VOX_FRAMES_PER_CLIP = 1_092_009, 145_569, 200  # dev set; ~8 s at 25 fps a clip
RAW_FRAME = 256 * 256 * 3  # bytes a frame took in the old uncompressed cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quality", type=int, default=95)
    parser.add_argument("--episodes", type=int, default=50, help="episodes read back (K = 8, B = 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "prepared"
        start = time.perf_counter()
        summary = prepare_data(args.fixtures, out, PrepareConfig(frames=args.frames, size=args.size,
                                                            workers=args.workers, quality=args.quality))
        seconds = time.perf_counter() - start
        read = _read_speed(out, args.size, args.episodes)
    section = _report(summary, seconds, read, args)
    print(section)
    write_section(section)


def _read_speed(out: Path, size: int, episodes: int) -> float:
    """Episodes a second (K = 8, B = 1) drawn from the shards in one process: JPEG decoding and drawing."""
    clips, rng = open_clips(out, size), np.random.default_rng(0)
    times = []
    for _ in range(episodes):
        start = time.perf_counter()
        episode(clips, 8, 1, rng)
        times.append(time.perf_counter() - start)
    return 1 / statistics.median(times)


def _report(summary: object, seconds: float, read: float, args: argparse.Namespace) -> str:
    per_video_s, per_video_b = seconds / summary.videos, summary.bytes / summary.videos
    vox_bytes, vox_hours = per_video_b * VOX_CLIPS, per_video_s * VOX_CLIPS / 3600
    raw_bytes = RAW_FRAME * summary.frames / summary.videos * VOX_CLIPS
    lines = [
        "## Data preparation",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} by `bench/bench_prepare.py`: `sitter prepare-data` "
        f"on the {summary.videos} shared talking clips (480-1364 px, 160-536 frames; landmarks from their JSON "
        f"tracks, face detection not timed), {args.frames} frames a clip at {args.size} px, JPEG quality "
        f"{args.quality}, {args.workers} worker(s).",
        "",
        "| | time | disk |",
        "|---|---|---|",
        f"| the {summary.videos} clips ({summary.frames} frames) | {seconds:.1f} s | {summary.bytes / 1e6:.2f} MB |",
        f"| per 100 clips | {100 * per_video_s:.0f} s | {100 * per_video_b / 1e6:.1f} MB |",
        f"| per frame stored | {1e3 * seconds / summary.frames:.0f} ms | "
        f"{summary.bytes / summary.frames / 1e3:.1f} KB |",
        f"| VoxCeleb2 dev, {VOX_CLIPS:,} clips ({VOX_VIDEOS:,} videos), extrapolated | {vox_hours:,.0f} h on one "
        f"worker, {vox_hours / 16:,.0f} h on 16 | {vox_bytes / 1e9:,.0f} GB |",
        f"| the same frames uncompressed, as the old cache kept them ({RAW_FRAME / 1e3:.0f} KB each) | | "
        f"{raw_bytes / 1e12:,.1f} TB (every frame, as it kept: ~{VOX_FRAMES_PER_CLIP / args.frames:.0f}x that) |",
        "",
        f"Reading back: {read:.0f} episodes/s (K = 8, B = 1, {args.size} px: 9 JPEGs decoded and 9 landmark images "
        "drawn) in one process; `sitter train` draws them in `--loader-workers` DataLoader processes. Open "
        "for a GPU session: face-alignment's time on clips without a track (S3FD batched on the GPU, then FAN "
        "per face), which adds to the time above.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
