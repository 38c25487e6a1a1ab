"""The visible label: a caption people can read, on top of the invisible one machines can.

By default a caption ("AI-generated video") across the bottom for the first two seconds, and a small
"AI" mark in a corner for the whole clip. Both are drawn once into small RGBA patches when the
Disclosure is built; per frame only those patches are alpha-blended into place (no text rendering
in the frame loop). The watermark goes on after the disclosure, so it covers the caption too.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_DUPLEX


class Corner(StrEnum):
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"


@dataclass(frozen=True)
class DisclosureStyle:
    """What the visible label says and where. `caption_seconds=0` drops the caption, keeping the mark."""

    caption: str = "AI-generated video"
    caption_seconds: float = 2.0
    mark: str = "AI"
    corner: Corner = Corner.TOP_RIGHT


class Disclosure:
    """Draws the label onto frames of one size; build one per render."""

    def __init__(self, style: DisclosureStyle, width: int, height: int, fps: float) -> None:
        if not style.caption.isascii() or not style.mark.isascii():
            raise ValueError("the visible label can only hold ASCII text (the built-in font has no other glyphs)")
        self.caption_frames = round(style.caption_seconds * fps) if style.caption else 0
        self._caption = _patch(style.caption, scale=height / 640, pad=height // 60) if self.caption_frames else None
        self._caption_at = self._place_caption(width, height)
        self._mark = _patch(style.mark, scale=height / 1100, pad=height // 120) if style.mark else None
        self._mark_at = self._place_mark(style.corner, width, height)

    def apply(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield the frames with the caption on the first ones and the mark on all."""
        for index, frame in enumerate(frames):
            frame = frame.copy()
            if self._caption is not None and index < self.caption_frames:
                _blend(frame, self._caption, *self._caption_at)
            if self._mark is not None:
                _blend(frame, self._mark, *self._mark_at)
            yield frame

    def _place_caption(self, width: int, height: int) -> tuple[int, int]:
        if self._caption is None:
            return 0, 0
        h, w = self._caption.shape[:2]
        if w > width:
            raise ValueError(f"the caption is {w} px wide, wider than the {width} px frame: shorten it")
        return height - h - height // 20, (width - w) // 2

    def _place_mark(self, corner: Corner, width: int, height: int) -> tuple[int, int]:
        if self._mark is None:
            return 0, 0
        h, w = self._mark.shape[:2]
        margin = max(4, height // 40)
        top = margin if corner in (Corner.TOP_LEFT, Corner.TOP_RIGHT) else height - h - margin
        left = margin if corner in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT) else width - w - margin
        return top, left


# helpers


def _patch(text: str, *, scale: float, pad: int) -> np.ndarray:
    """White text on a translucent dark box, as float32 RGBA in [0, 1]."""
    thickness = max(1, round(scale * 1.5))
    (tw, th), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    h, w = th + baseline + 2 * pad, tw + 2 * pad
    patch = np.zeros((h, w, 4), np.float32)
    patch[..., 3] = 0.55
    canvas = np.zeros((h, w), np.uint8)
    cv2.putText(canvas, text, (pad, pad + th), FONT, scale, 255, thickness, cv2.LINE_AA)
    ink = canvas.astype(np.float32) / 255
    patch[..., :3] = ink[..., None]
    patch[..., 3] = np.maximum(patch[..., 3], ink)
    return patch


def _blend(frame: np.ndarray, patch: np.ndarray, top: int, left: int) -> None:
    h, w = patch.shape[:2]
    region = frame[top:top + h, left:left + w].astype(np.float32)
    alpha = patch[..., 3:]
    frame[top:top + h, left:left + w] = (region * (1 - alpha) + patch[..., :3] * 255 * alpha + 0.5).astype(np.uint8)
