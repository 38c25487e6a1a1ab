"""Reading and writing video with PyAV: H.264 MP4 out, any FFmpeg-readable video in (MP4, MOV, WebM, MKV, AVI,
an animated GIF, ...).

Frames are RGB uint8 arrays of shape (H, W, 3) everywhere in Sitter. Output is H.264 in yuv420p
(what every player and browser plays), so width and height must be even, with the sound, when there is
some, as AAC at 48 kHz beside it: inside the MP4, so the C2PA hash that binds the manifest covers it too.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from provenance.errors import UnreadableMedia

MAX_PIXELS_PER_FRAME = 4096 * 4096  # refuse absurd headers before allocating frames
AUDIO_RATE = 48_000  # Hz: the sound is resampled to the rate video players expect
AUDIO_BITRATE = 128_000  # bits a second of AAC: transparent for a voice, mono or stereo


class Sound(Protocol):
    """Sound to put beside the frames (engine.Audio is one): (channels, n) float32 samples in [-1, 1], one
    or two channels, `rate` samples a second, starting with the first frame."""

    @property
    def samples(self) -> np.ndarray: ...

    @property
    def rate(self) -> int: ...


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int  # as the container declares it; 0 when it does not say
    duration: float  # seconds: the stream's, else the whole file's (WebM, MKV); 0.0 when unknown
    has_audio: bool
    container: str = ""  # as people call it: MP4, MOV, WebM, Matroska, AVI, GIF, else FFmpeg's name for it
    codec: str = ""  # the video stream's, in FFmpeg's words: h264, vp9, mpeg4, mjpeg, gif, ...


def write_mp4(frames: Iterable[np.ndarray], path: Path | str, fps: float, *, crf: int = 18,
              preset: str = "veryfast", sound: Sound | None = None) -> int:
    """Encode RGB frames into an H.264 MP4 at `path`, with `sound` as its AAC track when given; return how
    many frames were written.

    `crf` is x264's constant rate factor: 18 is visually lossless, 23 its default, 28 small. The whole sound
    is encoded before the first frame (about 1 MB of AAC a minute); the muxer interleaves the two tracks by
    time.
    """
    count = 0
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = _video_stream(container, frame.shape, fps, crf, preset)
                if sound is not None:
                    _write_sound(container, sound)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            count += 1
        if stream is None:
            raise ValueError("no frames to encode")
        for packet in stream.encode():
            container.mux(packet)
    return count


def probe(path: Path | str) -> VideoInfo:
    """What the container says about its first video stream; UnreadableMedia if it is not a video."""
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        duration = (float(stream.duration * stream.time_base) if stream.duration
                    else container.duration / av.time_base if container.duration else 0.0)  # WebM: only the file's
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, fps,
                         stream.frames or 0, duration, bool(container.streams.audio),
                         _container_name(container, path), stream.codec_context.name)


def read_frames(path: Path | str, *, limit: int | None = None) -> Iterator[np.ndarray]:
    """Decode the first video stream to RGB frames, in order; at most `limit` frames.

    Whatever the stream's pixels are (yuv420p, yuvj420p, a GIF's palette composited to bgra), FFmpeg converts them
    to rgb24, at any size, odd ones included.
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                if limit is not None and index >= limit:
                    return
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as err:
            raise UnreadableMedia(f"video is corrupt or truncated ({err.strerror})") from None


# helpers


def _video_stream(container: "av.container.OutputContainer", shape: tuple, fps: float, crf: int,
                  preset: str) -> "av.VideoStream":
    height, width = shape[:2]
    assert len(shape) == 3 and shape[2] == 3, f"frames must be RGB (H, W, 3), got {shape}"
    assert width % 2 == 0 and height % 2 == 0, f"H.264 4:2:0 needs even sizes, got {width}x{height}"
    stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"crf": str(crf), "preset": preset}
    return stream


def _write_sound(container: "av.container.OutputContainer", sound: Sound) -> None:
    """Add an AAC track to `container` and mux all of `sound` into it."""
    samples = np.ascontiguousarray(sound.samples, np.float32)
    assert samples.ndim == 2 and samples.shape[0] in (1, 2) and samples.shape[1] > 0, \
        f"sound must be (1 or 2 channels, n > 0) samples, got {samples.shape}"
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    stream = container.add_stream("aac", rate=AUDIO_RATE, layout=layout)
    stream.bit_rate = AUDIO_BITRATE
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = sound.rate, 0, Fraction(1, sound.rate)
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=AUDIO_RATE)
    for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
        for packet in stream.encode(resampled):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


CONTAINER_NAMES = {"avi": "AVI", "gif": "GIF", "flv": "FLV", "mpegts": "MPEG-TS", "ogg": "Ogg"}
WEBM_DOCTYPE = b"\x42\x82\x84webm"  # the EBML DocType element (id 0x4282, 4 bytes) of a WebM file


def _container_name(container: "av.container.InputContainer", path: Path | str) -> str:
    """The container's everyday name. FFmpeg reads MP4 and MOV with one demuxer, and WebM and Matroska with
    another, so those two pairs are told apart by the file's brand (`qt  ` is MOV) and its EBML DocType."""
    name = container.format.name
    if name.startswith("mov,"):
        return "MOV" if container.metadata.get("major_brand", "").strip() == "qt" else "MP4"
    if name.startswith("matroska"):
        with open(path, "rb") as file:
            return "WebM" if WEBM_DOCTYPE in file.read(64) else "Matroska"
    return CONTAINER_NAMES.get(name, name)


def _open(path: Path | str) -> "av.container.InputContainer":
    path = Path(path)
    if not path.is_file():
        raise UnreadableMedia("video not found")
    if path.stat().st_size == 0:
        raise UnreadableMedia("video file is empty (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise UnreadableMedia(f"not a video Sitter can read ({getattr(err, 'strerror', err)})") from None
    if not container.streams.video:
        container.close()
        raise UnreadableMedia("the file has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context.width * stream.codec_context.height > MAX_PIXELS_PER_FRAME:
        container.close()
        raise UnreadableMedia(
            f"video frames too large: {stream.codec_context.width}x{stream.codec_context.height}"
        )
    return container
