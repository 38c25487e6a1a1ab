"""Training data for meta-learning: a folder of talking-face videos, one person each, with landmark tracks.

    DIR/NAME.mp4                (or .mov, .mkv, .avi, .webm)
    DIR/NAME.landmarks.json     its track, in the fixtures' video format (see engine/faces.py); without one,
                                the faces are detected once with face-alignment and the track is cached

Each video is decoded once: every frame with a face is cut to the square around the video's median face
(one square per video, as a render keeps the source's square while the head moves in it; see
engine/crop.py), at the model's size, and cached as .npy arrays under DIR/.sitter-cache/ (or `cache`), which
later runs memory-map instead of decoding again.

An episode (sec. 3.2 of the paper) is, for each of B videos drawn at random, K of its frames and their
landmark images (for E) and one more frame and its landmark image (the target, for G and D).
"""

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from engine.crop import crop_square, square, to_crop_coordinates
from engine.errors import BadVideo
from engine.faces import NUM_POINTS, Detector, Track, read_track, track_video
from engine.neural.landmarks import landmark_images, to_tensor

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")


@dataclass(frozen=True, eq=False)
class Clip:
    """One training video, ready: its frames with a face, cut to its square at the model's size."""

    frames: np.ndarray  # (T, S, S, 3) uint8 RGB (memory-mapped from the cache)
    landmarks: np.ndarray  # (T, 68, 2) float32, px of those crops


@dataclass(frozen=True)
class Episode:
    """One meta-learning step's inputs; images are float32 in [0, 1]."""

    source_x: torch.Tensor  # (B, K, 3, S, S) frames of each video, for E
    source_y: torch.Tensor  # (B, K, 3, S, S) their landmark images
    x: torch.Tensor  # (B, 3, S, S) the target frame of each video
    y: torch.Tensor  # (B, 3, S, S) its landmark image
    video: torch.Tensor  # (B,) int64 video indices: which column W_i of D

    def to(self, device: torch.device) -> "Episode":
        return Episode(*(t.to(device, non_blocking=True) for t in
                         (self.source_x, self.source_y, self.x, self.y, self.video)))


def load_clips(folder: Path | str, size: int, *, detector: Detector | None = None,
               cache: Path | str | None = None) -> list[Clip]:
    """Every video in `folder` (sorted by name: a video's index is its column in D), cut and cached.

    Videos without a landmarks JSON are tracked with `detector` (face-alignment; made when needed).
    Raises BadVideo for an unreadable video, a track that does not match it, or no videos at all.
    """
    folder = Path(folder)
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if folder.is_dir() else []
    if not videos:
        raise BadVideo(f"no training videos ({', '.join(VIDEO_SUFFIXES)}) in the data folder", folder)
    cache = Path(cache) if cache else folder / ".sitter-cache"
    cache.mkdir(parents=True, exist_ok=True)
    return [_clip(video, size, cache, detector) for video in videos]


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


def _clip(video: Path, size: int, cache: Path, detector: Detector | None) -> Clip:
    track_path = video.with_name(video.stem + ".landmarks.json")
    stamp = [video.stat().st_size, video.stat().st_mtime_ns, size]
    if track_path.is_file():
        stamp += [track_path.stat().st_size, track_path.stat().st_mtime_ns]
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:12]
    frames_file, landmarks_file = cache / f"{video.stem}.{key}.frames.npy", cache / f"{video.stem}.{key}.landmarks.npy"
    if not (frames_file.is_file() and landmarks_file.is_file()):
        track = read_track(track_path) if track_path.is_file() else _tracked(video, cache, detector)
        frames, landmarks = _cut(video, track, size)
        _save(frames_file, frames)
        _save(landmarks_file, landmarks)
    return Clip(np.load(frames_file, mmap_mode="r"), np.load(landmarks_file))


def _tracked(video: Path, cache: Path, detector: Detector | None) -> Track:
    """The video's track, detected once and kept in the cache in the fixtures' JSON format."""
    path = cache / f"{video.stem}.{video.stat().st_mtime_ns}.landmarks.json"
    if not path.is_file():
        logger.warning("no landmarks file for a training video: detecting its faces (once, then cached)")
        track = track_video(video, detector or Detector())
        frames = [None if np.isnan(p).any() else np.round(p.astype(np.float64), 2).tolist() for p in track.points]
        path.write_text(json.dumps({"convention": "ibug68", "fps": track.fps, "frames": frames}))
    return read_track(path)


def _cut(video: Path, track: Track, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every frame with a face, cut to the square around the median face, and its landmarks in that square."""
    found = ~np.isnan(track.points).any(axis=(1, 2))
    box = square(np.median(track.points[found], axis=0))
    frames, landmarks, count = [], [], 0
    for index, image in enumerate(_decoded(video)):
        count += 1
        if index < len(found) and found[index]:
            frames.append(crop_square(image, box, size)[0])
            landmarks.append(to_crop_coordinates(track.points[index], box, size).astype(np.float32))
    if count != len(track.points):
        raise BadVideo(f"a training video has {count} frames, its landmark track {len(track.points)}", video)
    if len(frames) < 2:
        raise BadVideo("a training video has fewer than 2 frames with a face", video)
    return np.stack(frames), np.stack(landmarks).reshape(-1, NUM_POINTS, 2)


def _decoded(video: Path) -> Iterator[np.ndarray]:
    try:
        with av.open(str(video)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, IndexError) as err:
        raise BadVideo(f"a training video can't be decoded ({type(err).__name__})", video) from None


def _save(path: Path, array: np.ndarray) -> None:
    """np.save, atomically: a run killed mid-write leaves no half cache file for the next to trust."""
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)
