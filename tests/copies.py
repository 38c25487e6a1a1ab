"""What a platform or a user's converter makes of a Sitter clip: the same frames in another container and codec,
with no metadata kept. PyAV writes them, small and fast."""

from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np

FPS = 25
VP9 = {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}
COPIES = {  # file name: the container, the codec, its pixel format and options, as a user's converter would pick
    "copy.webm": ("webm", "libvpx-vp9", "yuv420p", VP9),
    "copy.mkv": ("matroska", "libx264", "yuv420p", {"crf": "23"}),
    "copy.mov": ("mov", "libx264", "yuv420p", {"crf": "23"}),
    "copy.avi": ("avi", "mjpeg", "yuvj420p", {}),
    "copy.gif": ("gif", "gif", "rgb8", {}),  # FFmpeg's fixed 256-colour palette: harsher than a tuned one
}


def transcode(frames: Iterable[np.ndarray], dest: Path, name: str) -> Path:
    """Write RGB `frames` to `dest` as COPIES[name] says, at FPS; return `dest`."""
    container, codec, pix_fmt, options = COPIES[name]
    with av.open(str(dest), mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.options = options
        for index, frame in enumerate(frames):
            if index == 0:
                stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], pix_fmt
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format=pix_fmt)
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dest
