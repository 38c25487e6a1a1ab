"""Preparing training data at scale: one pass over a folder of talking-face videos into a few large shards of
JPEG frames and landmarks (the format: engine/neural/shards.py), resumable and parallel.

    sitter prepare-data SRC --out DIR [--frames 32] [--size 256] [--shard-mb 1024] [--workers 4]

SRC is searched through: videos directly in it are one video each (a flat folder), and the clips in one
subfolder are one video (VoxCeleb2's id/video/clip.mp4: the clips of a video share its person and its D
column). Of each clip, N frames (`frames`) evenly spread over those with a face are kept, each cut to the
square around the clip's median face at `size` px. A clip's landmarks come from NAME.landmarks.json beside
it when there is one (the fixtures' format), else from face-alignment (engine/faces.py), run on the N
frames only, batched, on the GPU when there is one; a frame where it finds no face is a face missed.

Resuming: a shard is written as .tmp and renamed into place once complete and synced, and only then does
the parent process record its videos in index.json (also renamed into place). A run killed at any point
leaves committed shards and an index that names only them; the next run deletes whatever the index does
not name, skips the videos it lists, and gives its own shards new names (the run number is in them), so
no video is ever stored twice. Workers (processes) each take every W-th remaining video and write their own
shards; a worker whose parent died exits. An exclusive lock on DIR/.lock (which forked workers hold too)
keeps a second run out.
"""

import fcntl
import hashlib
import multiprocessing
import os
import queue as queues
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from engine.crop import crop_square, square, to_crop_coordinates
from engine.errors import BadVideo
from engine.faces import NUM_POINTS, Detector, read_track
from engine.neural.shards import FORMAT, INDEX, ShardWriter, is_prepared, read_index, write_index
from sitter.errors import SitterError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")
DETECT_BATCH = 8  # frames the face detector takes at once
MIN_FRAMES = 2  # frames with a face a clip needs: a source and a target


@dataclass(frozen=True)
class PrepareConfig:
    frames: int = 32  # frames kept per clip
    size: int = 256  # px of the square crops
    shard_mb: float = 1024.0  # a shard is committed once it passes this size
    workers: int = 1  # processes; 1 prepares in this one
    quality: int = 95  # JPEG quality
    skip_bad: bool = False  # skip (and count) unreadable videos instead of stopping at the first


@dataclass(frozen=True)
class PrepareSummary:
    """What DIR holds after a run (all runs together), and how many videos this run added."""

    videos: int
    frames: int
    missed: int  # frames where no face was found
    skipped: int  # videos skipped as unreadable (skip_bad)
    bytes: int
    added: int

    def line(self) -> str:
        return (f"{self.videos} videos ({self.added} new), {self.frames} frames, {self.missed} faces missed, "
                f"{self.skipped} skipped, {self.bytes / 1e6:.1f} MB")


Progress = Callable[[int, int], None]  # (videos done, videos in all)


def find_videos(src: Path | str) -> list[list[Path]]:
    """Each video's clips, videos in path order: a file directly in `src` is a video, the clips of one
    subfolder (deeper, too) one video. Hidden folders (a cache) are not searched. BadVideo when none."""
    src = Path(src)
    if not src.is_dir():
        raise BadVideo("the training data folder does not exist or is not a folder", src)
    groups: dict[Path, list[Path]] = {}
    for folder, subfolders, files in os.walk(src):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            if path.suffix.lower() in VIDEO_SUFFIXES and not name.startswith("."):
                groups.setdefault(path if path.parent == src else path.parent, []).append(path)
    if not groups:
        raise BadVideo(f"no training videos ({', '.join(VIDEO_SUFFIXES)}) in the data folder", src)
    return [groups[key] for key in sorted(groups)]


def video_key(src: Path, clips: list[Path]) -> str:
    """A video's key: a hash of its clips' paths under `src`, sizes and times, so a changed video is
    prepared anew and no file name is stored."""
    digest = hashlib.sha256()
    for clip in clips:
        digest.update(f"{clip.relative_to(src).as_posix()}\0{clip.stat().st_size}\0{clip.stat().st_mtime_ns}\0"
                      .encode())
    return digest.hexdigest()[:20]


def prepare_data(src: Path | str, out: Path | str, config: PrepareConfig = PrepareConfig(), *,
            on_progress: Progress | None = None) -> PrepareSummary:
    """Prepare the videos under `src` into `out` (made, or resumed when it holds an earlier run's index).

    Raises BadVideo for no videos, an unreadable one (unless skip_bad), or an `out` prepared with other
    frames or size."""
    src, out = Path(src), Path(out)
    videos = find_videos(src)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        index = _start(out, config)
        keys = [video_key(src, clips) for clips in videos]
        done = {v["key"] for v in index["videos"]} | set(index["skipped"])
        jobs = [(n, key, clips) for n, (key, clips) in enumerate(zip(keys, videos, strict=True)) if key not in done]
        before = len(index["videos"])
        run = _Run(out, index, len(videos), len(videos) - len(jobs), on_progress)
        if config.workers <= 1 or len(jobs) <= 1:
            _work(jobs, out, f"shard-{index['runs']:02d}-00", config, run.handle, lambda: False)
        else:
            _parallel(jobs, out, index["runs"], config, run)
        run.raise_error()
        return _summary(index, len(index["videos"]) - before)


# helpers


class _Run:
    """The parent's side of a run: records committed shards in the index, counts progress, keeps the first
    error. Workers' messages: ("shard", name, bytes, entries), ("video",), ("skip", key), ("error", ...)."""

    def __init__(self, out: Path, index: dict, total: int, done: int, on_progress: Progress | None) -> None:
        self.out, self.index, self.total, self.done, self.on_progress = out, index, total, done, on_progress
        self.error: tuple[str, int] | None = None
        self._progress()

    def handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "shard":
            _, name, size, entries = message
            self.index["shards"][name] = size
            self.index["videos"] = sorted(self.index["videos"] + entries, key=lambda v: v["key"])
            write_index(self.out, self.index)
        elif kind == "skip":
            self.index["skipped"].append(message[1])
            write_index(self.out, self.index)
        elif kind == "error" and self.error is None:
            self.error = (message[1], message[2])
        if kind in ("video", "skip"):
            self.done += 1
            self._progress()

    def raise_error(self) -> None:
        if self.error is not None:
            message, number = self.error
            raise BadVideo(f"{message} (video {number + 1} of {self.total} in path order): remove it, or pass "
                           "--skip-bad to skip unreadable videos; the videos done are kept", self.out)

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)


def _start(out: Path, config: PrepareConfig) -> dict:
    """The index to continue (a new one for an empty folder), after deleting what it does not name: shards
    of a run that was killed before recording them, and half-written files."""
    settings = {"frames": config.frames, "size": config.size}
    if is_prepared(out):
        index = read_index(out)
        if {name: index[name] for name in settings} != settings:
            raise BadVideo(f"the output folder was prepared with --frames {index['frames']} --size {index['size']}: "
                           "prepare with those to resume it, or choose another --out", out)
    elif any(p.name != ".lock" for p in out.iterdir()):
        raise BadVideo("the output folder is not empty and holds no prepared data: choose another --out", out)
    else:
        index = {"format": FORMAT, **settings, "quality": config.quality, "runs": 0, "shards": {}, "videos": [],
                 "skipped": []}
    for path in out.iterdir():
        if path.name.startswith(("shard-", f".{INDEX}")) and path.name not in index["shards"]:
            path.unlink()
    index["runs"] += 1
    write_index(out, index)
    return index


class _locked:
    """An exclusive lock on OUT/.lock for the run (and its workers, which inherit it)."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def __enter__(self) -> None:
        self.file = open(self.out / ".lock", "a")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise BadVideo("another prepare-data is writing to the output folder", self.out) from None

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def _parallel(jobs: list, out: Path, run_number: int, config: PrepareConfig, run: _Run) -> None:
    """`config.workers` processes, each on every W-th job, reporting to `run` through a queue."""
    context = multiprocessing.get_context("fork")  # inherits the lock; nothing here has started CUDA or threads
    queue, stop, parent = context.Queue(), context.Event(), os.getpid()

    def stopping() -> bool:  # in a worker: whether the parent saw an error; orphaned, it exits at once
        if os.getppid() != parent:
            os._exit(1)  # nobody can record its work now: the next run redoes it (and deletes its files)
        return stop.is_set()

    workers = [context.Process(target=_work, args=(jobs[w::config.workers], out, f"shard-{run_number:02d}-{w:02d}",
                                                   config, queue.put, stopping), daemon=True)
               for w in range(min(config.workers, len(jobs)))]
    for worker in workers:
        worker.start()
    ended = 0
    try:
        while ended < len(workers):
            try:
                message = queue.get(timeout=5)
            except queues.Empty:  # see whether a worker died without saying so
                if all(not w.is_alive() for w in workers):
                    break
                continue
            ended += message[0] == "end"
            run.handle(message)
            if run.error is not None:
                stop.set()
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.terminate()
    if ended < len(workers) and run.error is None:
        run.error = ("a worker process died", 0)


def _work(jobs: list, out: Path, prefix: str, config: PrepareConfig, emit: Callable[[tuple], None],
          stopping: Callable[[], bool]) -> None:
    """Prepare `jobs` ((number, key, clips) each) into shards PREFIX-NNNNNN.tar, emitting each committed
    shard, each video and the first error; at an error or when `stopping`, commit what is done and stop."""
    writer = ShardWriter(out, prefix, int(config.shard_mb * 1e6))
    detector: list[Detector] = []  # made on the first clip without a landmarks file
    try:
        for number, key, clips in jobs:
            if stopping():
                break
            try:
                writer.add(key, *_video(clips, config, detector))
            except SitterError as err:
                if not config.skip_bad:
                    emit(("error", str(err), number))
                    break
                emit(("skip", key))
                continue
            emit(("video",))
            if writer.full:
                emit(("shard", *writer.commit()))
        if writer.tar is not None:
            emit(("shard", *writer.commit()))
    finally:
        emit(("end",))


def _video(clips: list[Path], config: PrepareConfig, detector: list[Detector]) -> tuple[list[bytes], np.ndarray,
                                                                                         list[int], int]:
    """A video's JPEG frames, landmarks, frames per clip and faces missed."""
    jpegs, points, counts, missed = [], [], [], 0
    for clip in clips:
        crops, landmarks, clip_missed = _clip(clip, config, detector)
        encode = [cv2.IMWRITE_JPEG_QUALITY, config.quality]
        jpegs += [cv2.imencode(".jpg", cv2.cvtColor(c, cv2.COLOR_RGB2BGR), encode)[1].tobytes() for c in crops]
        points.append(landmarks)
        counts.append(len(crops))
        missed += clip_missed
    return jpegs, np.concatenate(points), counts, missed


def _clip(path: Path, config: PrepareConfig, detector: list[Detector]) -> tuple[list[np.ndarray], np.ndarray, int]:
    """N crops of a clip, their landmarks in crop px, and how many of the N frames had no face found."""
    track_path = path.with_name(path.stem + ".landmarks.json")
    track = read_track(track_path) if track_path.is_file() else None
    if track is not None:
        found = np.flatnonzero(~np.isnan(track.points).any(axis=(1, 2)))
        picks = found[_spread(len(found), config.frames)]
    else:
        picks = _spread(_frame_count(path), config.frames)
    images, count = _decoded(path, set(picks.tolist()))
    if track is not None and count != len(track.points):
        raise BadVideo(f"a training video has {count} frames, its landmark track {len(track.points)}", path)
    picks = np.array([p for p in picks if p in images], int)
    if track is not None:
        points = track.points[picks]
    else:
        if not detector:
            detector.append(Detector())
        points = _detected(detector[0], [images[p] for p in picks])
    ok = ~np.isnan(points).any(axis=(1, 2))
    if ok.sum() < MIN_FRAMES:
        raise BadVideo(f"a training video has fewer than {MIN_FRAMES} frames with a face", path)
    box = square(np.median(points[ok], axis=0))
    crops = [crop_square(images[p], box, config.size)[0] for p in picks[ok]]
    landmarks = to_crop_coordinates(points[ok], box, config.size).astype(np.float32)
    return crops, landmarks.reshape(-1, NUM_POINTS, 2), int((~ok).sum())


def _spread(count: int, n: int) -> np.ndarray:
    """Up to n indices in [0, count), evenly spread, first and last included."""
    return np.unique(np.linspace(0, count - 1, min(n, count)).round().astype(int)) if count else np.zeros(0, int)


def _detected(detector: Detector, images: list[np.ndarray]) -> np.ndarray:
    """(len(images), 68, 2): the largest face's landmarks in each image, NaN where none is found."""
    points = np.full((len(images), NUM_POINTS, 2), np.nan, np.float32)
    for start in range(0, len(images), DETECT_BATCH):
        for i, faces in enumerate(detector.detect_batch(images[start:start + DETECT_BATCH]), start):
            if faces:
                points[i] = faces[0]
    return points


def _frame_count(path: Path) -> int:
    """Frames of a clip: what its container says, else its packets, counted without decoding."""
    with _opened(path) as container:
        stream = container.streams.video[0]
        return stream.frames or sum(1 for packet in container.demux(stream) if packet.size)


def _decoded(path: Path, wanted: set[int]) -> tuple[dict[int, np.ndarray], int]:
    """The wanted frames of a clip (RGB uint8, by index), and how many frames it has."""
    images, count = {}, 0
    with _opened(path) as container:
        for count, frame in enumerate(_frames(container, path), 1):
            if count - 1 in wanted:
                images[count - 1] = frame.to_ndarray(format="rgb24")
    return images, count


def _frames(container: "av.container.InputContainer", path: Path) -> Iterator["av.VideoFrame"]:
    try:
        yield from container.decode(video=0)
    except av.error.FFmpegError as err:
        raise BadVideo(f"a training video can't be decoded ({type(err).__name__})", path) from None


class _opened:
    """A clip opened with PyAV; BadVideo when it is not a video."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> "av.container.InputContainer":
        try:
            self.container = av.open(str(self.path))
            if not self.container.streams.video:
                raise IndexError
        except (av.error.FFmpegError, IndexError, OSError) as err:
            raise BadVideo(f"a training video can't be opened ({type(err).__name__})", self.path) from None
        return self.container

    def __exit__(self, *exc: object) -> None:
        self.container.close()


def _summary(index: dict, added: int) -> PrepareSummary:
    videos = index["videos"]
    return PrepareSummary(len(videos), sum(v["frames"] for v in videos), sum(v["missed"] for v in videos),
                          len(index["skipped"]), sum(index["shards"].values()), added)

