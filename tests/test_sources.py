"""Source images are bound by the hash of their decoded pixels, and bad files are refused clearly."""

from pathlib import Path

import numpy as np
import pytest
from attacker import png_bomb
from PIL import Image

from consent import UnreadableImage, fingerprint


def test_lossless_resave_in_other_formats_keeps_the_hash(portrait: Path, tmp_path: Path) -> None:
    original = fingerprint(portrait)
    pixels = Image.open(portrait)
    for suffix, options in ((".png", {}), (".bmp", {}), (".tiff", {}), (".webp", {"lossless": True})):
        copy = tmp_path / f"resaved{suffix}"
        pixels.save(copy, **options)
        assert fingerprint(copy) == original, suffix


def test_metadata_is_not_part_of_the_hash(portrait: Path, tmp_path: Path) -> None:
    copy = tmp_path / "with-comment.png"
    Image.open(portrait).save(copy, pnginfo=_png_text("Comment", "re-saved by an editor"))
    assert fingerprint(copy) == fingerprint(portrait)


def test_one_changed_pixel_changes_the_hash(portrait: Path, tmp_path: Path) -> None:
    pixels = np.array(Image.open(portrait))
    pixels[10, 10, 0] ^= 1
    edited = tmp_path / "edited.png"
    Image.fromarray(pixels).save(edited)
    assert fingerprint(edited).sha256 != fingerprint(portrait).sha256


def test_lossy_resave_is_a_different_image(portrait: Path, tmp_path: Path) -> None:
    copy = tmp_path / "recompressed.jpg"
    Image.open(portrait).save(copy, quality=60)
    assert fingerprint(copy).sha256 != fingerprint(portrait).sha256


def test_size_is_recorded(portrait: Path) -> None:
    source = fingerprint(portrait)
    assert (source.width, source.height) == (375, 500)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"this is a text file, not a picture\n", "not an image"),
        (None, "corrupt or truncated"),
    ],
)
def test_bad_files_are_refused_with_a_reason(portrait: Path, tmp_path: Path, content: bytes | None,
                                             message: str) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(portrait.read_bytes()[:4000] if content is None else content)
    with pytest.raises(UnreadableImage, match=message) as err:
        fingerprint(bad)
    assert err.value.path == bad
    assert "bad.jpg" not in str(err.value)  # file names can be personal data: the caller shows them


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage, match="not found"):
        fingerprint(tmp_path / "nope.png")


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(20_000, 20_000))
    with pytest.raises(UnreadableImage, match="too large"):
        fingerprint(bomb)


# helpers


def _png_text(key: str, value: str):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(key, value)
    return info
