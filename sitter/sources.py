"""A source image as consent records and manifests name it: the SHA-256 of its pixels (sitter.images.pixel_sha256)
and its size, never the pixels. Kept apart from the decoder, so that reading records needs no image library."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceImage:
    """What a consent record and a manifest keep of a source image: its pixel hash (`pixel_sha256`) and size,
    never the pixels."""

    sha256: str
    width: int
    height: int

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "width": self.width, "height": self.height}
