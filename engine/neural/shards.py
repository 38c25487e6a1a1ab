"""Prepared training data on disk: a few large tar shards and one index (written by engine/neural/prepare.py).

    DIR/index.json                  what is in the shards: settings, shards, videos (the file `is_prepared` looks for)
    DIR/shard-RR-WW-NNNNNN.tar      run RR's worker WW's shard NNNNNN; every shard a plain tar, webdataset-style:
        KEY.0000.jpg ... KEY.NNNN.jpg   a video's frames, cut to its clips' squares, JPEG
        KEY.landmarks.npy               (T, 68, 2) float32 landmarks, px of those crops
        KEY.json                        {"clips": [frames per clip], "jpg": [[offset, size], ...],
                                         "npy": [offset, size]}

A video's members lie together in one shard, its KEY.json last, holding the byte offsets of the others, so a
reader reaches any frame with two reads (the index says where KEY.json is) and never scans a shard. KEY is
a hash of the video's path: no file name, which can name a person, is stored anywhere.

Reading keeps at most `max_open` shard files open per process (least recently used closed first), whatever
the number of videos, and reads with os.pread, so that DataLoader workers forked from one process share no
file position; a process that finds itself forked drops its parent's handles.
"""

import io
import json
import os
import tarfile
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from engine.errors import BadVideo
from engine.faces import NUM_POINTS

INDEX = "index.json"
FORMAT = 1
MAX_OPEN = 4  # shard files a process keeps open


def is_prepared(folder: Path | str) -> bool:
    """Whether `folder` holds prepared data (its index), rather than videos."""
    return (Path(folder) / INDEX).is_file()


def read_index(folder: Path | str) -> dict:
    """The index of prepared data; BadVideo when it is not one this version writes."""
    path = Path(folder) / INDEX
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        raise BadVideo("the prepared data's index.json can't be read: prepare the data again", path) from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise BadVideo(f"the prepared data's index is not format {FORMAT}: prepare the data again", path)
    return index


def write_index(folder: Path, index: dict) -> None:
    """index.json, atomically: a crash leaves the last complete index."""
    tmp = folder / f".{INDEX}.tmp"
    tmp.write_text(json.dumps(index, separators=(",", ":")))
    os.replace(tmp, folder / INDEX)


class ShardWriter:
    """Appends videos to one shard at a time, committing it (fsync, then renamed into place) once it passes
    `max_bytes`; `commit` returns the shard's name, size and the index entries of its videos."""

    def __init__(self, folder: Path, prefix: str, max_bytes: int) -> None:
        self.folder, self.prefix, self.max_bytes = folder, prefix, max_bytes
        self.count, self.tar, self.entries = 0, None, []

    @property
    def full(self) -> bool:
        return self.tar is not None and self.tar.offset >= self.max_bytes

    def add(self, key: str, jpegs: list[bytes], landmarks: np.ndarray, clips: list[int], missed: int) -> None:
        if self.tar is None:
            self.tar = tarfile.open(self._path(".tmp"), "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115
        offsets = [self._member(f"{key}.{i:04d}.jpg", data) for i, data in enumerate(jpegs)]
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(landmarks, np.float32))
        npy = self._member(f"{key}.landmarks.npy", buffer.getvalue())
        meta = json.dumps({"clips": clips, "jpg": offsets, "npy": npy}).encode()
        self.entries.append({"key": key, "shard": self._path("").name, "meta": self._member(f"{key}.json", meta),
                             "frames": len(jpegs), "missed": missed})

    def commit(self) -> tuple[str, int, list[dict]] | None:
        if self.tar is None:
            return None
        self.tar.close()
        tmp, path = self._path(".tmp"), self._path("")
        with open(tmp, "rb") as file:
            os.fsync(file.fileno())
        os.replace(tmp, path)
        done = (path.name, path.stat().st_size, self.entries)
        self.count, self.tar, self.entries = self.count + 1, None, []
        return done

    def _path(self, suffix: str) -> Path:
        return self.folder / f"{self.prefix}-{self.count:06d}.tar{suffix}"

    def _member(self, name: str, data: bytes) -> list[int]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))
        blocks = -(-len(data) // tarfile.BLOCKSIZE)  # the data ends the member, padded to whole blocks
        return [self.tar.offset - blocks * tarfile.BLOCKSIZE, len(data)]


class Shards:
    """The videos of prepared data, read on demand: frames decoded (and shrunk to `size`) only when drawn."""

    def __init__(self, folder: Path | str, size: int | None = None, *, keys: list[str] | None = None,
                 max_open: int = MAX_OPEN) -> None:
        self.folder = Path(folder)
        index = read_index(self.folder)
        self.stored = int(index["size"])
        self.size = size or self.stored
        if self.size > self.stored:
            raise BadVideo(f"the data was prepared at {self.stored} px, the model is {self.size} px: prepare it "
                           f"again with --size {self.size}", self.folder)
        by_key = {v["key"]: v for v in index["videos"]}
        self.videos = index["videos"] if keys is None else [by_key[key] for key in keys if key in by_key]
        self.max_open = max_open
        self._files: OrderedDict[str, int] = OrderedDict()
        self._pid = os.getpid()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_files": OrderedDict()}  # handles stay with the process that opened them

    def frames(self, video: int, picks: np.ndarray) -> np.ndarray:
        """(len(picks), S, S, 3) uint8 RGB: those frames of the video, at the reader's size."""
        meta = self._meta(video)
        images = []
        for i in np.atleast_1d(picks):
            data = self._read(self.videos[video]["shard"], *meta["jpg"][int(i)])
            decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if decoded is None:
                raise BadVideo("a prepared shard holds a frame that is not a JPEG: prepare the data again",
                               self.folder / self.videos[video]["shard"])
            image = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
            images.append(image if self.size == self.stored else
                          cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA))
        return np.stack(images)

    def landmarks(self, video: int) -> np.ndarray:
        """(T, 68, 2) float32: every frame's landmarks, in px of the reader's size."""
        data = self._read(self.videos[video]["shard"], *self._meta(video)["npy"])
        points = np.load(io.BytesIO(data)).reshape(-1, NUM_POINTS, 2)
        scale = self.size / self.stored  # about pixel centres, as cv2.resize maps them (engine/crop.py)
        return points if scale == 1 else ((points + 0.5) * scale - 0.5).astype(np.float32)

    def open_files(self) -> int:
        return len(self._files)

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()

    def _meta(self, video: int) -> dict:
        entry = self.videos[video]
        return json.loads(self._read(entry["shard"], *entry["meta"]))

    def _read(self, shard: str, offset: int, size: int) -> bytes:
        if os.getpid() != self._pid:  # forked: the parent's descriptors are its own
            self._files, self._pid = OrderedDict(), os.getpid()
        fd = self._files.get(shard)
        if fd is None:
            while len(self._files) >= self.max_open:
                os.close(self._files.popitem(last=False)[1])
            fd = self._files[shard] = os.open(self.folder / shard, os.O_RDONLY)
        self._files.move_to_end(shard)
        data = os.pread(fd, size, offset)
        if len(data) != size:
            raise BadVideo("a prepared shard is shorter than its index says: prepare the data again",
                           self.folder / shard)
        return data
