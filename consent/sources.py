"""Source images bound to a consent record by the SHA-256 of their decoded pixels.

Hashing the pixels rather than the file means a portrait re-saved losslessly in another format
(PNG -> WebP lossless, BMP, TIFF) or with its metadata stripped is still covered, while any edit to
what the engine would animate is not. The image is normalised the way the engine sees it: EXIF
orientation applied, converted to 8-bit RGB.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from consent.errors import UnreadableImage

MAX_PIXELS = 64_000_000  # 8000x8000: larger is refused before decoding (decompression bombs)


@dataclass(frozen=True)
class SourceImage:
    """What a consent record keeps of an image: its pixel hash and size, never the pixels."""

    sha256: str
    width: int
    height: int

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "width": self.width, "height": self.height}


def fingerprint(path: Path | str) -> SourceImage:
    """Decode an image and hash its pixels; raise UnreadableImage with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableImage("image not found", path)
    if path.stat().st_size == 0:
        raise UnreadableImage("image is empty (0 bytes)", path)
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise UnreadableImage(
                    f"image too large: {img.width}x{img.height} is over {MAX_PIXELS:,} pixels", path
                )
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Sitter can read", path) from None
    except Image.DecompressionBombError:
        raise UnreadableImage(f"image too large: over {MAX_PIXELS:,} pixels", path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise UnreadableImage(f"image is corrupt or truncated ({err})", path) from None
    digest = hashlib.sha256(f"rgb8:{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return SourceImage(digest.hexdigest(), rgb.width, rgb.height)
