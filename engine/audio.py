"""Audio: sound read from a file or from a driving video's track, the mouth a recorded voice implies, and how
well a mouth keeps time with a sound.

Sound is decoded with PyAV (FFmpeg), so WAV, MP3, M4A and the sound tracks of videos all read the same way,
into float samples in [-1, 1] at the file's own rate (one channel, or two: more are mixed down to stereo). A
video's sound is read from the time of its first video frame, so that it stays in sync with the motion taken
from that video.

A recorded voice moves the mouth through two cues, computed every 10 ms over a 32 ms window:
- loudness, in dB between the recording's own quiet floor and its peaks: a mouth opens to make sound, so
  loud means open. Fricatives ("s", "sh", "f") are loud but made with an almost shut mouth, so the opening is
  also scaled by the share of the energy below 1 kHz, which is high in vowels and low in fricatives.
- the spectral centroid between 300 and 3500 Hz, where the first two formants live: spread vowels ("ee")
  put their second formant high, rounded ones ("oo") low, so a high centroid spreads the lips and a low one
  rounds them. The map from centroid to spread is calibrated on espeak-ng's English vowels: their mean
  centroids ("oo" ~650 Hz, "ah" ~950 Hz, "ee" ~1600 Hz) land on the spreads engine/visemes.py gives them.
Neither cue can see the lips close for "p", "b" and "m"; the silence of the closure shuts the mouth instead.
"""

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from engine.errors import BadAudio
from engine.media import open_media
from engine.mouth import STEP, Mouth, blur, steps

HOP, WINDOW = 0.010, 0.032  # seconds: analysis step and window for a recorded voice
LOW_BAND, VOICE_BAND, FORMANT_BAND = (80.0, 1000.0), (80.0, 8000.0), (300.0, 3500.0)  # Hz
CENTROIDS, SPREADS = (650.0, 950.0, 1600.0), (-1.0, 0.0, 0.8)  # Hz -> spread: "oo", "ah", "ee" (see above)
VOICED_SHARE = (0.25, 0.7)  # energy share below 1 kHz: "s" ~0.03, "f" ~0.35, vowels 0.65-0.95 -> 0 .. 1
SILENCE_DB, RANGE_DB = -60.0, 45.0  # peaks below SILENCE_DB are silence; quieter than RANGE_DB below peak is shut
OPEN_BLUR, SPREAD_BLUR = 0.025, 0.040  # seconds


@dataclass(frozen=True, eq=False)
class Audio:
    """Sound: `samples` (channels, n) float32 in [-1, 1], `rate` samples a second; one or two channels."""

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        assert self.samples.ndim == 2 and self.samples.shape[0] in (1, 2), \
            f"samples must be (1 or 2 channels, n), got {self.samples.shape}"
        assert self.rate > 0, f"rate must be positive, got {self.rate}"

    @property
    def seconds(self) -> float:
        return self.samples.shape[1] / self.rate

    def mono(self) -> np.ndarray:
        """(n,) float64, the channels averaged."""
        return self.samples.mean(axis=0, dtype=np.float64)

    def cut(self, seconds: float) -> "Audio":
        """The first `seconds`, padded with silence when the sound is shorter."""
        n = round(seconds * self.rate)
        kept = self.samples[:, :n]
        return Audio(np.pad(kept, ((0, 0), (0, n - kept.shape[1]))), self.rate)


@dataclass(frozen=True)
class LipSync:
    """How well a mouth keeps time with a sound: the correlation of the mouth's opening with the sound's
    loudness (RMS) frame by frame, at the best lag, and that lag in seconds (positive: the mouth trails)."""

    correlation: float
    lag: float


def read_audio(path: Path | str, *, until: float) -> Audio:
    """The sound of an audio file, or of a video's sound track from its first video frame on; at most its
    first `until` seconds. Raises BadAudio when there is no sound to read."""
    with _open(path) as container:
        stream = container.streams.audio[0]
        start = _first_frame_time(container, stream)
        rate = stream.codec_context.sample_rate
        layout = "mono" if stream.codec_context.layout.nb_channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks, offset = _decode(container, stream, resampler, start + until)
    if not chunks:
        raise BadAudio("the sound track has no samples in it", path)
    sound = np.concatenate(chunks, axis=1)
    lead = round((offset - start) * rate)  # the sound starts this many samples after the first video frame
    sound = np.pad(sound, ((0, 0), (lead, 0))) if lead > 0 else sound[:, -lead:]
    return Audio(np.ascontiguousarray(sound[:, :round(until * rate)], np.float32), rate)


def has_sound(path: Path | str) -> bool:
    """Whether a media file has a sound track; False for a file that can't be opened at all (reading it for
    its frames or its sound says why)."""
    try:
        with _open(path):
            return True
    except BadAudio:
        return False


def voice_mouth(audio: Audio, *, fps: float, frames: int) -> Mouth:
    """The mouth a recorded voice implies, `frames` frames at `fps` (see the module docstring for the cues)."""
    open_, spread = _voice_cues(audio)
    fine = np.arange(steps(frames / fps)) * STEP
    hops = np.arange(len(open_)) * HOP + WINDOW / 2  # each hop's window centre
    open_, spread = (blur(np.interp(fine, hops, cue), sigma) for cue, sigma in ((open_, OPEN_BLUR),
                                                                                 (spread, SPREAD_BLUR)))
    return Mouth.average(open_, spread, np.zeros_like(fine), fps=fps, frames=frames)


def lip_sync(opening: np.ndarray, audio: Audio, fps: float, *, search: float = 0.2) -> LipSync:
    """Correlate a mouth's opening per frame (T,) with the sound's RMS over each frame, the sound shifted by
    every whole millisecond within `search` seconds either way; the best shift wins."""
    energy = np.concatenate([[0.0], np.cumsum(audio.mono() ** 2)])
    starts = np.arange(len(opening)) / fps
    lags = np.arange(-round(search * 1000), round(search * 1000) + 1) / 1000
    scores = [_correlation(opening, _rms(energy, starts - lag, 1 / fps, audio.rate)) for lag in lags]
    best = int(np.nanargmax(scores))
    return LipSync(float(scores[best]), float(lags[best]))


# helpers


def _open(path: Path | str) -> "av.container.InputContainer":
    return open_media(path, track="audio", error=BadAudio, what="audio file")


def _first_frame_time(container: "av.container.InputContainer", audio: "av.AudioStream") -> float:
    """When the sound should start: a video's first frame, else the sound's own start."""
    stream = container.streams.video[0] if container.streams.video else audio
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _decode(container: "av.container.InputContainer", stream: "av.AudioStream", resampler: "av.AudioResampler",
            end: float) -> tuple[list[np.ndarray], float]:
    """Decoded (channels, n) chunks from the start up to at least time `end` (s), and the time of the first."""
    chunks, offset, have = [], 0.0, 0
    try:
        for frame in container.decode(stream):
            if not chunks and frame.pts is not None:
                offset = float(frame.pts * frame.time_base)
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
                have += out.samples
            if offset + have / frame.sample_rate >= end:
                break
    except av.error.FFmpegError as err:
        raise BadAudio(f"the sound is corrupt or truncated ({err.strerror})") from None
    return chunks, offset


def _voice_cues(audio: Audio) -> tuple[np.ndarray, np.ndarray]:
    """(hops,) opening and spread, every HOP seconds, from loudness, low-band share and formant centroid."""
    power, freqs = _spectrogram(audio)
    total = _band(power, freqs, VOICE_BAND)
    loudness = 10 * np.log10(total + 1e-12)
    peak = np.percentile(loudness, 98)
    level = np.clip((loudness - (peak - RANGE_DB)) / RANGE_DB, 0.0, 1.0) * (peak > SILENCE_DB)
    share = _band(power, freqs, LOW_BAND) / (total + 1e-12)
    voiced = np.clip((share - VOICED_SHARE[0]) / (VOICED_SHARE[1] - VOICED_SHARE[0]), 0.0, 1.0)
    formants = freqs[(freqs >= FORMANT_BAND[0]) & (freqs <= FORMANT_BAND[1])]
    centroid = _band(power, freqs, FORMANT_BAND, weights=formants) / (_band(power, freqs, FORMANT_BAND) + 1e-12)
    open_ = level * voiced
    return open_, np.interp(centroid, CENTROIDS, SPREADS) * open_


def _spectrogram(audio: Audio) -> tuple[np.ndarray, np.ndarray]:
    """(hops, bins) power of Hann-windowed frames every HOP seconds, and the bins' frequencies in Hz."""
    mono = audio.mono()
    window, hop = round(WINDOW * audio.rate), round(HOP * audio.rate)
    mono = np.pad(mono, (0, max(0, window - len(mono))))
    frames = np.lib.stride_tricks.sliding_window_view(mono, window)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(window), axis=1)) ** 2
    return power, np.fft.rfftfreq(window, 1 / audio.rate)


def _band(power: np.ndarray, freqs: np.ndarray, band: tuple[float, float],
          weights: np.ndarray | None = None) -> np.ndarray:
    """(hops,) the power between `band` Hz, each bin times `weights` if given."""
    inside = (freqs >= band[0]) & (freqs <= band[1])
    return power[:, inside] @ (weights if weights is not None else np.ones(inside.sum()))


def _rms(energy: np.ndarray, starts: np.ndarray, length: float, rate: int) -> np.ndarray:
    """RMS of the sound over [start, start + length) for each start, from its cumulative energy; 0 outside it."""
    last = len(energy) - 1
    begin = np.clip(np.round(starts * rate).astype(int), 0, last)
    end = np.clip(np.round((starts + length) * rate).astype(int), 0, last)
    return np.sqrt((energy[end] - energy[begin]) / max(1, round(length * rate)))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
