"""One way to read an image, for every part: the file read once, decoded once, under one size and orientation policy.

The consent gate hashes the pixels this returns and the engine animates those same pixels, so what was checked is
what is rendered: nothing opens the file a second time. EXIF orientation is applied, and every mode becomes 8-bit
RGB the way a viewer shows it (16-bit greyscale scaled down, not clipped to white; transparency dropped).
"""

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sitter.errors import BadInput
from sitter.files import read_bounded

MAX_PIXELS = 64_000_000  # 8000x8000: larger is refused before decoding (decompression bombs)
MAX_BYTES = 256 * 2**20  # no image format needs more for 64 Mpx; a bigger file is refused before it is read


class UnreadableImage(BadInput):
    """An image file can't be used: missing, empty, corrupt, not an image, or too large to decode safely."""


def read_image(path: Path | str) -> np.ndarray:
    """The RGB uint8 (H, W, 3) pixels of an image file, reading it once; UnreadableImage with a one-line reason."""
    return decode_image(read_image_file(path), path)


def read_image_file(path: Path | str) -> bytes:
    """An image file's bytes, read once and bounded; UnreadableImage when it is missing, empty or too large."""
    return read_bounded(path, limit=MAX_BYTES, what="image", error=UnreadableImage)


def decode_image(data: bytes, path: Path | str | None = None) -> np.ndarray:
    """Decode image bytes to RGB uint8 (H, W, 3); `path` only goes on the error, for the caller to name."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise UnreadableImage(f"image too large: {img.width}x{img.height} is over {MAX_PIXELS:,} pixels",
                                      path)
            return _rgb8(ImageOps.exif_transpose(img))
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Sitter can read", path) from None
    except Image.DecompressionBombError:
        raise UnreadableImage(f"image too large: over {MAX_PIXELS:,} pixels", path) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise UnreadableImage(f"image is corrupt or truncated ({err})", path) from None


def pixel_sha256(pixels: np.ndarray) -> str:
    """The SHA-256 a consent record binds an image by: over its size and its RGB bytes, so a lossless re-save in
    another format, or with its metadata stripped, hashes the same."""
    height, width = pixels.shape[:2]
    digest = hashlib.sha256(f"rgb8:{width}x{height}:".encode())
    digest.update(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def _rgb8(img: Image.Image) -> np.ndarray:
    """8-bit RGB as a viewer shows it. Pillow's own convert clips 16- and 32-bit greyscale at 255 (a white
    picture), so those are scaled from their full range instead."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or grey.max(initial=0) > 255 else 255.0
        grey = np.clip(np.rint(grey * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"))
