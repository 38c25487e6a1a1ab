"""Training data for meta-learning: talking-face videos, one person each, with landmark tracks, read from
prepared shards (engine/neural/shards.py, written by engine/neural/prepare.py: `sitter prepare-data`).

    DIR/index.json ...          prepared data: read as it is
    DIR/NAME.mp4                (or .mov, .mkv, .avi, .webm; or DIR/ID/VIDEO/CLIP.mp4, VoxCeleb2's layout)
    DIR/NAME.landmarks.json     its track, in the fixtures' video format (see engine/faces.py); without one,
                                the faces are detected with face-alignment

A folder of videos is prepared once into DIR/.sitter-cache/PX/ (or `cache`), which later runs continue or
read. Either way a video's frames are JPEG in a shard, decoded only when an episode draws them, and the
shards are opened a few at a time: memory and open files stay bounded however many videos there are.

An episode (sec. 3.2 of the paper) is, for each of B videos drawn at random, K of its frames and their
landmark images (for E) and one more frame and its landmark image (the target, for G and D).
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import BadVideo
from engine.neural.landmarks import landmark_images, to_tensor
from engine.neural.prepare import PrepareConfig, find_videos, prepare_data, video_key
from engine.neural.shards import Shards, is_prepared


@dataclass(frozen=True, eq=False)
class Clip:
    """One training video, ready: its frames with a face, cut to its square at the model's size."""

    frames: "np.ndarray | StoredFrames"  # (T, S, S, 3) uint8 RGB: an array, or read from shards when indexed
    landmarks: "np.ndarray | StoredLandmarks"  # (T, 68, 2) float32, px of those crops


@dataclass(frozen=True)
class Episode:
    """One meta-learning step's inputs; images are float32 in [0, 1]."""

    source_x: torch.Tensor  # (B, K, 3, S, S) frames of each video, for E
    source_y: torch.Tensor  # (B, K, 3, S, S) their landmark images
    x: torch.Tensor  # (B, 3, S, S) the target frame of each video
    y: torch.Tensor  # (B, 3, S, S) its landmark image
    video: torch.Tensor  # (B,) int64 video indices: which column W_i of D

    def pin_memory(self) -> "Episode":
        """Page-locked copies, which DataLoader(pin_memory=True) makes for a faster copy to the GPU."""
        return Episode(*(t.pin_memory() for t in (self.source_x, self.source_y, self.x, self.y, self.video)))

    def to(self, device: torch.device) -> "Episode":
        return Episode(*(t.to(device, non_blocking=True) for t in
                         (self.source_x, self.source_y, self.x, self.y, self.video)))


def load_clips(folder: Path | str, size: int, *, cache: Path | str | None = None) -> list[Clip]:
    """The videos of prepared data, or of a folder of videos, prepared first (see `prepared`)."""
    return open_clips(*prepared(folder, size, cache))


def prepared(folder: Path | str, size: int, cache: Path | str | None = None, *,
             build: bool = True) -> tuple[Path, int, list[str] | None]:
    """(where the prepared data is, the size to read it at, the keys of the videos to read, in the order of
    their paths, which makes `--holdout` the last videos by name; None: all, in key order).

    Prepared data is itself; a folder of videos is prepared into CACHE/PX (default DATA/.sitter-cache/PX),
    resuming what an earlier run left, unless `build` is off (another process builds it: under torchrun,
    rank 0). Only the folder's current videos are read. Raises BadVideo for unusable data."""
    folder = Path(folder)
    if is_prepared(folder):
        return folder, size, None
    videos = find_videos(folder)
    out = (Path(cache) if cache else folder / ".sitter-cache") / f"{size}px"
    if build:
        prepare_data(folder, out, PrepareConfig(size=size))
    return out, size, [video_key(folder, clips) for clips in videos]


def open_clips(folder: Path, size: int, keys: list[str] | None = None) -> list[Clip]:
    """The videos of prepared data (those of `keys`, in their order), frames read on demand at `size` px."""
    shards = Shards(folder, size, keys=keys)
    if not shards.videos:
        raise BadVideo("no prepared training videos in the data folder", folder)
    return [Clip(StoredFrames(shards, v), StoredLandmarks(shards, v)) for v in range(len(shards.videos))]


class StoredFrames:
    """A prepared video's frames as an array-like (T, S, S, 3): indexing with an index or an array of them
    decodes just those frames."""

    def __init__(self, shards: Shards, video: int) -> None:
        self.shards, self.video = shards, video

    def __len__(self) -> int:
        return int(self.shards.videos[self.video]["frames"])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return len(self), self.shards.size, self.shards.size, 3

    def __getitem__(self, picks: int | np.ndarray) -> np.ndarray:
        frames = self.shards.frames(self.video, np.asarray(picks))
        return frames if np.ndim(picks) else frames[0]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return self[np.arange(len(self))]


class StoredLandmarks(StoredFrames):
    """A prepared video's landmarks as an array-like (T, 68, 2), read from its shard when indexed."""

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self), 68, 2

    def __getitem__(self, picks: int | np.ndarray) -> np.ndarray:
        return self.shards.landmarks(self.video)[picks]


def summary(clips: list[Clip]) -> dict:
    """What a checkpoint records about its training data: counts and a fingerprint of the landmark tracks,
    never file names (they can name people)."""
    digest = hashlib.sha256()
    for clip in clips:
        digest.update(np.ascontiguousarray(clip.landmarks).tobytes())
    return {"videos": len(clips), "frames": [len(c.frames) for c in clips], "fingerprint": digest.hexdigest()[:16],
            "size": int(clips[0].frames.shape[1])}


def episode(clips: list[Clip], k: int, batch: int, rng: np.random.Generator) -> Episode:
    """B videos drawn with replacement; from each, K + 1 distinct frames in random order: the first K are the
    sources, the last the target. The order is kept random (not sorted) so that any frame of a clip is as
    likely to be the target as a source: sorted, the target was always the latest, so G and D saw mostly the
    end of each clip and E mostly its start."""
    videos = rng.integers(0, len(clips), batch)
    return _episode(clips, videos, [rng.permutation(len(clips[v].frames))[:k + 1] for v in videos])


class Episodes(torch.utils.data.IterableDataset):
    """The episodes of steps [start, stop), in order, for a DataLoader: with W workers, worker w draws steps
    start + w, start + w + W, ... and the loader hands them back in step order. Step s's episode is drawn
    with the generator seeded (seed, s, rank), so it is the same however many workers draw, and a resumed
    run draws what the uninterrupted one would have."""

    def __init__(self, clips: list[Clip], k: int, batch: int, steps: range, seed: int, rank: int) -> None:
        self.clips, self.k, self.batch, self.steps, self.seed, self.rank = clips, k, batch, steps, seed, rank

    def __iter__(self) -> Iterator[Episode]:
        worker = torch.utils.data.get_worker_info()
        steps = self.steps if worker is None else self.steps[worker.id::worker.num_workers]
        for step in steps:
            yield episode(self.clips, self.k, self.batch, np.random.default_rng([self.seed, step, self.rank]))


def fixed_episode(clips: list[Clip], k: int) -> Episode:
    """Every clip once, with K + 1 evenly spaced frames, the last one the target. The same frames on every
    call, so that training samples drawn at different steps (engine/neural/samples.py) can be compared."""
    picks = [np.linspace(0, len(clip.frames) - 1, k + 1).round().astype(int) for clip in clips]
    return _episode(clips, np.arange(len(clips)), picks)


# helpers


def _episode(clips: list[Clip], videos: np.ndarray, picks: list[np.ndarray]) -> Episode:
    """The episode of frames picks[b] (K + 1 indices, the target last) of clips[videos[b]]."""
    frames = np.stack([clips[v].frames[i] for v, i in zip(videos, picks, strict=True)])  # (B, K + 1, S, S, 3)
    points = np.stack([clips[v].landmarks[i] for v, i in zip(videos, picks, strict=True)])  # (B, K + 1, 68, 2)
    batch, k, size = frames.shape[0], frames.shape[1] - 1, frames.shape[2]
    x = to_tensor(frames.reshape(-1, size, size, 3)).view(batch, k + 1, 3, size, size)
    y = landmark_images(points, size).view(batch, k + 1, 3, size, size)
    return Episode(x[:, :k], y[:, :k], x[:, k], y[:, k], torch.from_numpy(videos).long())
