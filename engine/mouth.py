"""Mouth: the shape of a speaking mouth over time, the meeting point of speech and motion.

Speech gives a mouth shape in three numbers, finely sampled in time: how far the jaw drops (`open`), how the
lips are spread or rounded (`spread`) and whether they are pressed shut (`press`). Text-to-speech derives them
from phoneme timings (engine/visemes.py), a recorded voice from its loudness and spectrum (engine/audio.py);
`engine.motion.speaking` turns them into landmark motion for any face.

Both sources sample their curves every millisecond (`STEP`), smooth them (`blur`: a real mouth moves with time
constants of tens of milliseconds, and starts shaping one sound before the last has ended), then average
them over each video frame's time span (`Mouth.average`): a frame shows what the mouth does while it is on
screen, so the mouth neither leads nor trails the sound.
"""

import math
from dataclasses import dataclass

import numpy as np

STEP = 0.001  # seconds between samples of a mouth curve


@dataclass(frozen=True, eq=False)
class Mouth:
    """A mouth shape per video frame; `fps` frames a second.

    open:   (T,) 0 closed .. 1 the jaw dropped fully (an "ah"), ~0.2 face units at the chin
    spread: (T,) -1 rounded and pushed forward ("oo", "w") .. 0 relaxed .. 1 spread wide ("ee")
    press:  (T,) 0 .. 1 the lips pressed together ("p", "b", "m"), whatever the jaw does
    """

    fps: float
    open: np.ndarray
    spread: np.ndarray
    press: np.ndarray

    def __post_init__(self) -> None:
        frames = len(self.open)
        assert self.fps > 0, f"fps must be positive, got {self.fps}"
        assert frames > 0 and self.spread.shape == self.press.shape == (frames,), \
            f"open, spread and press must be (T,) alike, got {self.open.shape}, {self.spread.shape}, {self.press.shape}"

    @property
    def frames(self) -> int:
        return len(self.open)

    @classmethod
    def average(cls, open_: np.ndarray, spread: np.ndarray, press: np.ndarray, *, fps: float,
                frames: int) -> "Mouth":
        """The curves (one sample every STEP seconds from time 0) averaged over each of `frames` frames."""
        return cls(fps, *(_frame_means(curve, fps, frames) for curve in (open_, spread, press)))


def steps(seconds: float) -> int:
    """How many STEP samples cover `seconds`."""
    return max(1, math.ceil(round(seconds / STEP, 6)))


def blur(curve: np.ndarray, sigma: float) -> np.ndarray:
    """A curve sampled every STEP seconds, smoothed by a Gaussian of `sigma` seconds; the ends held, not faded."""
    radius = max(1, round(3 * sigma / STEP))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) * STEP / sigma) ** 2)
    padded = np.pad(curve, radius, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), mode="valid")


# helpers


def _frame_means(curve: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """(frames,) the mean of `curve` over [i / fps, (i + 1) / fps) for each frame i; past its end, its last value."""
    edges = np.round(np.arange(frames + 1) / fps / STEP).astype(int)
    padded = np.pad(curve, (0, max(0, edges[-1] - len(curve) + 1)), mode="edge")
    sums = np.concatenate([[0.0], np.cumsum(padded)])
    widths = np.maximum(edges[1:] - edges[:-1], 1)
    return (sums[edges[:-1] + widths] - sums[edges[:-1]]) / widths
