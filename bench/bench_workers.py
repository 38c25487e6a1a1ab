"""Render workers benchmark: N renders one after another in this process, then the same N on a local Ray cluster.

    .venv/bin/python bench/bench_workers.py

Each render is the sample painting, `talk` preset, 4 s at 25 fps, 512x512, through the one pipeline (gate to
published file). The in-process renders run one after another, as `sitter render` runs them without a cluster. The
Ray renders are submitted all at once to a local cluster with one CPU slot per core, so one RenderWorker per core
(`studio/ray_workers.py`), and waited for together. Both sides are warmed first (a render per worker: its studio
opened, the watermark and encoder libraries loaded), so the numbers are the steady state of a studio whose workers
keep their engine loaded. A single render already uses more than one core (OpenCV's and FFmpeg's threads), so on a
small machine the cluster wins little; it is there for machines, and GPUs, that one process cannot fill.
Writes the "## Render workers" section of bench/RESULTS.md.
"""

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import ray
from results import machine, write_section

from studio.demo import run_demo
from studio.pipeline import RenderRequest, render
from studio.settings import Settings
from studio.workers import Runner

RENDERS, SECONDS, FPS, SIZE = 8, 4.0, 25.0, 512
SAMPLE = Path(__file__).resolve().parents[1] / "studio" / "samples" / "bouguereau_girl.jpg"


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {"SITTER_HOME": home, "SITTER_DB_URL": "", "SITTER_RAY_ADDRESS": "local"}
        settings = Settings.from_env(env)
        record_id = run_demo(settings, "bench", seconds=1.0).record_id  # the sample's rights record, warm caches
        request = RenderRequest(sources=(SAMPLE,), landmarks=(SAMPLE.with_suffix(".landmarks.json"),),
                                purpose="exhibit", operator="bench", out=Path(home) / "bench.mp4",
                                record_id=record_id, motion="talk", seconds=SECONDS, fps=FPS, size=SIZE)
        batch = [replace(request, out=Path(home) / f"{name}-{i}.mp4", seed=i)
                 for name in ("alone", "ray") for i in range(RENDERS)]
        with settings.open_studio() as studio:
            alone = _timed(lambda: [render(r, studio) for r in batch[:RENDERS]])
        workers = os.cpu_count() or 1
        ray.init(num_cpus=workers, include_dashboard=False, runtime_env={"env_vars": env})
        try:
            with settings.open_runner() as runner:
                _all(runner, [replace(request, out=Path(home) / f"warm-{i}.mp4") for i in range(workers)])
                on_ray = _timed(lambda: _all(runner, batch[RENDERS:]))
        finally:
            ray.shutdown()
    section = _report(alone, on_ray, workers)
    print(section)
    write_section(section)


# helpers


def _all(runner: Runner, requests: list[RenderRequest]) -> None:
    """Submit every request, then wait for them all."""
    for job in [runner.submit(r) for r in requests]:
        job.wait()


def _timed(work: Callable) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _report(alone: float, on_ray: float, workers: int) -> str:
    frames = round(SECONDS * FPS)
    rows = [("in this process, one after another", alone), (f"local Ray, {workers} RenderWorkers, all at once", on_ray)]
    lines = [
        "## Render workers",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, Ray {ray.__version__}, by `bench/bench_workers.py`: "
        f"{RENDERS} renders of the sample painting, `talk` preset, {SECONDS:.0f} s at {FPS:.0f} fps, {SIZE}x{SIZE} "
        f"({frames} frames each), gate to published file; workers warm.",
        "",
        "| how | renders | seconds | renders/s | s per render |",
        "|---|---|---|---|---|",
        *(f"| {how} | {RENDERS} | {seconds:.2f} | {RENDERS / seconds:.2f} | {seconds / RENDERS:.2f} |"
          for how, seconds in rows),
        "",
        f"Throughput on Ray: **{alone / on_ray:.2f}x** one after another.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
