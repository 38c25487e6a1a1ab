"""Neural models loaded once: a studio (and each Ray render worker, which holds one) renders every request on the
model it already has, instead of reading the checkpoint and building the networks for each render.

A model is kept per file and device. The file is known by its real path and by its inode, size and modification
time, so a checkpoint or export replaced at the same path (a new `sitter export`, a resumed training) is loaded
again on the next render. Output size is not part of the key: the networks do not depend on it (G paints at the
model's size and the frame is resized), so each render makes its own cheap NeuralEngine on the shared model.

Thread-safe: two renders asking for the same model at once load it once (the second waits for the first); renders of
other models do not wait. Importing this file does not import torch (the Studio holds a ModelCache from the start);
the first load does.
"""

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.neural.engine import NeuralModel

Where = tuple[str, str | None]  # (real path, device)
Stamp = tuple[int, int, int, int]  # (st_dev, st_ino, st_size, st_mtime_ns)


@dataclass(eq=False)
class _Slot:
    """One model, loaded by the first caller while later ones wait on `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    model: "NeuralModel | None" = None


class ModelCache:
    """Loaded neural models, at most `capacity` (the least recently used goes first), one per file and device.

    Example:

        models = ModelCache()
        engine = NeuralEngine(models.get("heads.safetensors"), NeuralConfig(size=512))
    """

    def __init__(self, capacity: int = 2) -> None:
        assert capacity >= 1, f"a cache holds at least one model, got capacity {capacity}"
        self.capacity = capacity
        self._lock = threading.Lock()  # guards _slots; held for dict updates only, never while loading
        self._slots: OrderedDict[Where, tuple[Stamp, _Slot]] = OrderedDict()

    def get(self, path: Path | str, device: str | None = None) -> "NeuralModel":
        """The model in the checkpoint or export at `path` on `device` (None: CUDA when available, else the CPU),
        loaded now unless it was already, from this very file. Raises BadCheckpoint, as `load_model` does."""
        from engine.neural import engine  # imports torch: on the first neural render, not with the Studio

        try:
            where, stamp = _identity(path, device)
        except OSError:  # missing or unreadable: load_model says so, in its words
            return engine.load_model(path, device)
        with self._lock:
            held = self._slots.get(where)
            if held is None or held[0] != stamp:  # new, or the file was replaced: the old model goes
                held = self._slots[where] = (stamp, _Slot())
            self._slots.move_to_end(where)
            while len(self._slots) > self.capacity:
                self._slots.popitem(last=False)
        slot = held[1]
        with slot.lock:
            if slot.model is None:  # a failed load leaves it empty: the next caller tries again
                slot.model = engine.load_model(path, device)
            return slot.model


def _identity(path: Path | str, device: str | None) -> tuple[Where, Stamp]:
    real = os.path.realpath(path)
    info = os.stat(real)
    return (real, device), (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
