"""The studio's own errors: a render request or an upload that can't be used (sitter.errors' bad-input family)."""

from sitter.errors import BadInput


class BadRequest(BadInput):
    """A render request or an upload that can't be used: an unknown engine, not an .mp4, a frame rate out of range,
    an upload over its size limit."""
