"""Opening a media file to read one of its tracks, with one-line errors that say which file it was.

Driving videos (engine/faces.py) and recorded voices (engine/audio.py) are opened the same way: the file
must exist, hold something, be a container PyAV can read, and have the track wanted.
"""

from pathlib import Path

import av

from engine.errors import EngineError

NOUNS = {"video": "video", "audio": "sound"}  # how a message names each kind of track


def open_media(path: Path | str, *, track: str, error: type[EngineError], what: str) -> "av.container.InputContainer":
    """The file at `path` opened for reading, with at least one `track` ("video" or "audio") stream; else
    `error`, naming the file by `what` it is for ("driving video", "audio file")."""
    path, noun = Path(path), NOUNS[track]
    if not path.is_file():
        raise error(f"{what} not found", path)
    if path.stat().st_size == 0:
        raise error(f"{what} is empty (0 bytes)", path)
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise error(f"the {what} is not a {noun} file Sitter can read ({reason})", path) from None
    if not getattr(container.streams, track):
        container.close()
        raise error(f"the {what} has no {noun} track", path)
    return container
