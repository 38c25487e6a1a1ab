"""Source images bound to a consent record by the SHA-256 of their decoded pixels.

Hashing the pixels rather than the file means a portrait re-saved losslessly in another format
(PNG -> WebP lossless, BMP, TIFF) or with its metadata stripped is still covered, while any edit to
what the engine would animate is not. Each file is read once and decoded once (sitter.images): the
gate keeps the pixels it hashed in the Grant, and the engine animates those, never the file again.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sitter.images import decode_image, pixel_sha256, read_image_file
from sitter.sources import SourceImage


@dataclass(frozen=True, eq=False)
class Picture:
    """An image as read once: the file's bytes, their RGB uint8 pixels (read-only) and the fingerprint of exactly
    those pixels. A record keeps these bytes as its copy of the image, the gate these pixels."""

    data: bytes
    pixels: np.ndarray
    source: SourceImage


def read_picture(path: Path | str) -> Picture:
    """Read and decode an image file once and fingerprint its pixels; UnreadableImage with a one-line reason."""
    data = read_image_file(path)
    pixels = decode_image(data, path)
    pixels.setflags(write=False)
    height, width = pixels.shape[:2]
    return Picture(data, pixels, SourceImage(pixel_sha256(pixels), width, height))


def fingerprint(path: Path | str) -> SourceImage:
    """The fingerprint of an image file's pixels; UnreadableImage with a one-line reason."""
    return read_picture(path).source
