"""The invisible watermark every Sitter frame carries, and the reader that finds it in any clip.

Why not invisible-watermark (the design card's library): measured on our portraits, its dwtDct
mark lives in a chroma channel that H.264's 4:2:0 subsampling destroys, dwtDctSvd costs ~220 ms a
512x512 frame and loses its bits to a 90% crop, and rivaGan costs 0.6-2 s a frame. This module is
a tiled spread-spectrum mark in luma (Cox et al. 1997, "Secure spread spectrum watermarking for
multimedia", for the carriers; Kutter 1998, "Watermarking resisting to translation, rotation and
scaling", for the self-synchronizing tiling), which survives H.264 and VP9, rescaling, cropping,
mirroring, brightness changes and dropped frames, and costs about a millisecond a frame to embed.

The algorithm (three versions, V1, V2 and V3; changing any constant below makes a new version):
1. Payload: the 32-bit id and a 32-bit check (BLAKE2b of the id, personalized per version),
   convolutionally encoded (K=7, rate 1/2, the NASA code) into 140 coded bits.
2. A 128x128 tile is written in its 2-D DFT: the bins of a band get fixed pseudo-random phases; a
   quarter of them are a pilot (sign +1), the rest are dealt to the coded bits (sign +-1, spread
   across the band). V1 and V2 use the 823 bins of a mid band (0.05-0.19 cycles/px, 4-5 bins a
   bit), V3 the 189 of a low one (0.031-0.094 cycles/px, 1 bin a bit), which a screen capture's
   blur leaves.
3. Embedding adds the tile, repeated over the frame and rounded to whole levels, to R, G and B
   alike: only luma moves (4:2:0 cannot touch it). V1 adds it at one strength (40.3 dB PSNR),
   which shows as a mottle on flat backgrounds. V2 shapes it by a visibility model, texture
   masking: the mark's strength follows the luma's local standard deviation, ~0.5 levels RMS on a
   plain wall or a sky, up to 3 where there is texture to hide it, and no frame's mark is
   stronger than 42 dB PSNR in all. V3 shapes it the same way (its texture gain 1.5, its cap
   41 dB) and takes out, on each carrier, what the picture itself puts there as the reader will
   measure it (informed embedding, re-measured every 8 frames: see `_compensation`).
4. Reading whitens the luma of up to 31 frames sampled across the clip, each the mean of the frames up
   to the next sample (weighing pixels, for V3, by blurred detail: see `_whiten`), and sums them: the
   mark is the same in every frame, so it adds up coherently (soft combining across frames). A scan
   over tile periods (0.2x-3x, no longer than the frame's short side) against the pilot, in the
   spectrum as it is and as mirrored, finds any rescale or left-right flip; the pilot's correlation
   peak in the folded tile finds any crop. A tilt of up to 4 degrees either way is found from the
   autocorrelation of the summed luma (a tiled mark peaks at the lattice's two side vectors, whatever
   the content): when the lattice is turned, the scan runs again on the luma turned back, and the fold
   polishes the angle to ~0.03 degrees. Each bit's bins, weighted by how much of the pilot survived in
   their band, are summed into soft bits and Viterbi-decoded.
5. The id is reported only if the decoded check matches that of a version the reader knows;
   otherwise the clip reads as unmarked. The reader tries each layout (band and blur) in turn, that of
   what renders write first (one pass for a render).

Renders write `ALGORITHM`, V3 (V1 until 2026-12-04: its clips still read, as do V2's, which no render wrote):
- V2 (far less visible than V1) lost the astronaut portrait under a 0.5x downscale: too few payload
  bits survive (bit accuracy 0.75), and the sky's 0.5 levels vanish under the encoder's dead zone.
- V3 (as little visible as V2) keeps every attack V1 keeps on the bench's 16 clips, mirror, tilt,
  aspect change, WebM, the screen capture (15 of 16; V1 4) and a fixed-palette GIF copy of a short
  256x256 render (36 of 36 ids), but, like V1, not a 0.25x downscale (7 to 10 of 16; the target 14).
  At 0.25x the CRF 23 re-encode of a 128 px frame, not the downscale, takes the mark (without it V2
  reads at bit accuracy 0.99), and what is left is mostly the picture's own content on the carriers,
  which the embedder cannot take out there: the channel keeps 4% of the mark and 44% of the host.
What was tried for each is in bench/bench_watermark.py's TRIED.

The reader reads every version; the band tells V3 from the others, the check's personalization V1
from V2, and `WatermarkReading.algorithm` says which wrote a clip.

False positives: for each of the 2 layouts the reader Viterbi-decodes at most `MAX_DECODES` (4)
candidate geometries per clip, plain or mirrored, upright or tilted (the peaks of both scans compete
for the 4), and accepts a decoded 64-bit word only if its 32-bit check matches its id under one of
that layout's versions (V3; V1 or V2). On content with no Sitter mark the decoded word does not
depend on the hash, which matches an arbitrary word with probability 2^-32 per version; so an
unmarked clip reads as marked with probability <= 4 * (1 + 2) * 2^-32 (~2.8e-9, one clip in 360
million). The same bound covers a marked
clip misread as another id: a decoding error gives a word whose check matches with probability
2^-32 per version, and the reader says "no watermark".

Invisible does not mean secure: the layout key is public (anyone can verify), so someone who
knows this module can estimate and subtract the mark. It labels; it does not resist a forger.
"""

import functools
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from provenance.errors import FrameTooSmall
from provenance.video import read_frames

V1 = "org.sitter.wm.tiled-dft.v1"  # one strength over the whole frame
V2 = "org.sitter.wm.tiled-dft.v2"  # perceptually shaped, in V1's band (never what renders wrote)
V3 = "org.sitter.wm.tiled-dft.v3"  # perceptually shaped, in a lower band, informed embedding
ALGORITHM = V3  # what renders write: the name the C2PA soft-binding carries

ID_BITS = 32
CHECK_BITS = 32
MIN_SIDE = 256  # embedding needs two tiles' worth of frame in each direction to stay readable
MIN_PSNR_DB = 40.0

# the tile and its frequency layout
TILE = 128  # pixels; the pattern repeats with this period
BAND = (6.0, 24.0)  # V1, V2: radius in tile-DFT bins: 0.047-0.19 cycles/px, survives 0.5x and CRF 28
LOW_BAND = (4.0, 12.0)  # V3: 0.031-0.094 cycles/px, which a screen capture's blur and a 0.25x downscale leave
PILOT_SHARE = 0.25  # of the band's bins; the pilot locates the tile, the rest carry bits
BAND_RINGS = 6  # the reader weighs the band in this many rings, by what survived in each
LAYOUT_SEED = 0x51773  # public: anyone may verify a Sitter clip

# the convolutional code (K=7, rate 1/2, generators 133 and 171 octal)
CODE_MEMORY = 6
CODE_GENERATORS = (0o133, 0o171)
INFO_BITS = ID_BITS + CHECK_BITS
CODED_BITS = 2 * (INFO_BITS + CODE_MEMORY)

TARGET_PSNR_DB = 40.3  # v1's strength; rounding keeps every frame above MIN_PSNR_DB

# perceptual shaping (V2, V3): the mark's RMS at a pixel follows what the picture there can hide
SHAPED_PSNR_DB = 42.0  # V2: no frame's mark is stronger than this, whatever the picture (44 lost 0.5x + crop)
LOW_BAND_PSNR_DB = 41.0  # V3's cap: at 42 dB the astronaut portrait lost 0.5x + crop 90% (RESULTS.md)
ACTIVITY_WINDOW = 7  # pixels: the local standard deviation of luma is measured over this square
FLAT_DEVIATION = 0.5  # levels: texture masking starts above this local standard deviation (a gradient sky is below)
FLAT_STRENGTH = 0.5  # levels RMS where the picture is flat: a plain wall stays under 0.8 once delivered
TEXTURE_GAIN = 1.0  # V2: levels RMS added per level of local standard deviation above FLAT_DEVIATION
LOW_BAND_TEXTURE_GAIN = 1.5  # V3's: its fewer, lower carriers want more of the texture's room
COMPENSATE_EVERY = 8  # frames: V3 measures the picture's own interference with its carriers this often
# (every 16 left a swaying portrait's frames at 0.957 of their coded bits between measures, 8 at 0.993, 4 at 1.0;
# a measure costs ~2 ms at 512x512, so every 4 frames would add 0.5 ms a frame)
COMPENSATION_LIMIT = 2.0  # V3 takes out at most this many times a carrier's own amplitude of interference
LOW_BAND_SMOOTHING = 1.0  # V3: pixels (Gaussian sigma) of blur on what the reader weighs pixels by (`_whiten`)
MAX_STRENGTH = 3.0  # levels RMS where there is texture enough to hide it


@dataclass(frozen=True)
class _Version:
    """What a version of the algorithm fixes beyond the shared constants: its check's personalization, its
    carriers' band and, for a shaped mark, its texture gain and PSNR cap (None: V1's one strength)."""

    person: bytes
    band: tuple[float, float]
    shaping: tuple[float, float] | None
    compensated: bool = False  # whether the picture's own interference with the carriers is taken out
    smoothing: float = 0.0  # pixels of blur on the detail whose energy the reader weighs pixels by (0: none)


_VERSIONS = {  # newest first
    V3: _Version(b"sitter.wm.v3", LOW_BAND, (LOW_BAND_TEXTURE_GAIN, LOW_BAND_PSNR_DB), compensated=True,
                 smoothing=LOW_BAND_SMOOTHING),
    V2: _Version(b"sitter.wm.v2", BAND, (TEXTURE_GAIN, SHAPED_PSNR_DB)),
    V1: _Version(V1.encode()[:16], BAND, None),
}
ALGORITHMS = tuple(_VERSIONS)  # every version the reader reads


def _layout(version: _Version) -> tuple[tuple[float, float], float]:
    """What a reader needs to know of a version to find its carriers: its band and the blur on its weights."""
    return version.band, version.smoothing


_LAYOUTS = tuple((layout, tuple(name for name, version in _VERSIONS.items() if _layout(version) == layout))
                 for layout in dict.fromkeys([_layout(_VERSIONS[ALGORITHM]), *map(_layout, _VERSIONS.values())]))
# the reader tries the layouts in this order: that of what renders write first, so a render reads in one pass

# reading
MAX_SAMPLED_FRAMES = 32  # the sampler keeps 16-31 frames of a long clip, spread evenly across it
SCALE_RANGE = (0.2, 3.0)  # rescales the reader looks for (the tile's period over TILE)
SCAN_STEP = 0.003  # log-scale step of that scan; the pilot peak is ~1% wide at 512 px
MAX_DECODES = 4  # candidate geometries Viterbi-decoded per layout and clip (enters the false-positive bound)
MAX_TILT = 4.0  # degrees: the reader looks for a rotation this far either way
TILT_STEP = 0.25  # degrees: the coarse step of that search (the pilot's peak survives ~0.3 degrees off)
MIN_READ_SIDE = 64  # anything smaller cannot hold a period; it reads as unmarked


@dataclass(frozen=True)
class WatermarkReading:
    """What `read_watermark` found in a clip. Absence is data: found=False, not an exception."""

    found: bool
    wm_id: int | None  # the 32-bit id when found
    confidence: float  # correlation of the clip's evidence, bit by bit, with the id's code: ~1 clean, 0 absent
    frames_examined: int  # frames sampled across the clip and analysed
    frames_decoded: int  # of those, frames that decode to the id on their own
    per_frame_scores: list[float] = field(default_factory=list)  # each frame's bit accuracy vs the id
    algorithm: str = ALGORITHM  # the version that wrote the mark found (ALGORITHM when none was)

    def to_dict(self) -> dict:
        return {"algorithm": self.algorithm, "found": self.found,
                "wm_id": None if self.wm_id is None else format_watermark_id(self.wm_id),
                "confidence": round(self.confidence, 4), "frames_examined": self.frames_examined,
                "frames_decoded": self.frames_decoded,
                "per_frame_scores": [round(score, 4) for score in self.per_frame_scores]}


def new_watermark_id() -> int:
    """A fresh random 32-bit id for one output (the registry refuses a clash; draw again then)."""
    return secrets.randbits(ID_BITS)


def format_watermark_id(wm_id: int) -> str:
    """The id as manifests and the registry carry it: 8 lowercase hex digits."""
    return f"{wm_id:08x}"


class Watermarker:
    """Marks frames with one id. Build one per render: the code and the tile are made here, once.

    `algorithm` is ALGORITHM (what renders write), or another of ALGORITHMS: the tests and the bench
    mark with the others to measure them against it. A V3 marker measures, every COMPENSATE_EVERY frames, what
    the picture itself puts on the carriers and takes it out (`_compensation`), so a marker marks one clip.

    Example:
        marker = Watermarker(new_watermark_id())
        marked = [marker.embed(frame) for frame in frames]
    """

    def __init__(self, wm_id: int, algorithm: str = ALGORITHM):
        if not 0 <= wm_id < 2**ID_BITS:
            raise ValueError(f"a watermark id is a {ID_BITS}-bit unsigned int, got {wm_id!r}")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown watermark algorithm {algorithm!r}: this module writes {ALGORITHMS}")
        self.wm_id, self.algorithm = wm_id, algorithm
        self._version = _VERSIONS[algorithm]
        self._scheme = scheme = _scheme(*_layout(self._version))
        signs = np.where(scheme.owner < 0, 1.0, 1.0 - 2.0 * _codeword(wm_id, algorithm)[scheme.owner])
        spectrum = np.zeros((TILE, TILE // 2 + 1), complex)
        spectrum[scheme.rows, scheme.kx] = signs * np.exp(1j * scheme.phase)
        tile = np.fft.irfft2(spectrum, s=(TILE, TILE))
        self._tile = tile / tile.std()  # (TILE, TILE), unit RMS
        self._pattern = np.zeros((0, 0), np.float32)  # the tile (compensated, for V3) over the whole frame
        self._frames, self._gain = 0, None

    def embed(self, frame: np.ndarray) -> np.ndarray:
        """Return a marked copy of an RGB uint8 frame (H, W, 3); FrameTooSmall under 256x256."""
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3, \
            f"frames are RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}"
        height, width = frame.shape[:2]
        if height < MIN_SIDE or width < MIN_SIDE:
            raise FrameTooSmall(f"a {width}x{height} frame cannot carry the watermark: "
                                f"render at least {MIN_SIDE}x{MIN_SIDE}")
        if self._pattern.shape != (height, width):  # once per render: the size does not change
            self._pattern = _tiled(self._tile, height, width)
            self._uniform = _uniform_levels(self._pattern)
        if self._version.shaping is None:
            levels = self._uniform
        else:
            gain, cap_db = self._version.shaping
            strength = _strength(frame, gain)
            if self._version.compensated and self._frames % COMPENSATE_EVERY == 0:
                luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
                host = _carriers(luma, self._scheme)
                if self._gain is None:
                    self._gain = _carrier_gain(luma, host, strength, self._pattern, self._tile, self._scheme)
                change = _compensation(host, self._gain, self._tile, self._scheme)
                self._pattern = _tiled(self._tile + change, height, width)
            levels = _shaped_levels(strength, self._pattern, cap_db)
        self._frames += 1
        return cv2.add(frame, cv2.merge([levels] * 3), dtype=cv2.CV_8U)  # saturates at 0 and 255


def watermark_frames(frames: Iterable[np.ndarray], wm_id: int) -> Iterator[np.ndarray]:
    """Mark every frame with `wm_id`, lazily, so a long render streams through."""
    marker = Watermarker(wm_id)
    for frame in frames:
        yield marker.embed(frame)


def read_watermark(source: Iterable[np.ndarray] | str | os.PathLike) -> WatermarkReading:
    """Find the Sitter watermark in a clip (a video file or RGB frames) and decode its id.

    Looks at up to 31 frames spread evenly over the clip, whatever its length, and copes with
    re-encoding, rescaling, cropping, mirroring, a tilt of a few degrees, brightness changes and
    dropped frames. Raises only when the input cannot be read (UnreadableMedia for a bad file,
    ValueError for frames of mixed sizes); an unmarked clip returns found=False.
    """
    frames = read_frames(source) if isinstance(source, str | os.PathLike) else source
    lumas, means = _sample_lumas(frames)
    if not lumas or min(lumas[0].shape) < MIN_READ_SIDE:
        return WatermarkReading(False, None, 0.0, len(lumas), 0)
    for layout, versions in _LAYOUTS:
        scheme = _scheme(*layout)
        total = np.sum([_whiten(mean, scheme.smoothing) for mean in means], axis=0)  # the mark adds up, motion not
        for geometry in _candidate_geometries(total, scheme):
            folded = _fold(total, geometry)
            decoded = _decode(_soft_bits(folded, geometry, scheme), scheme, versions)
            if decoded is not None:
                return _reading(*decoded, folded, lumas, geometry, scheme)
    return WatermarkReading(False, None, 0.0, len(lumas), 0)


# helpers: the scheme


@dataclass(frozen=True)
class _Scheme:
    """A carrier layout (one per band and blur, see _LAYOUTS) and the code's trellis, built once per process.

    The tile's carriers: DFT bin (rows[i], kx[i]) of a (TILE, TILE) tile, whose signed vertical
    frequency is fy[i], has phase[i] and carries coded bit owner[i], or the pilot where owner[i]
    is -1. The code's trellis: for each of the 64 encoder states, its two predecessor states and
    the +-1 symbol pair on each branch.
    """

    rows: np.ndarray
    fy: np.ndarray
    kx: np.ndarray
    phase: np.ndarray
    owner: np.ndarray
    band: np.ndarray  # which of BAND_RINGS rings of the band (by radius) the bin lies in
    smoothing: float  # the blur of `_whiten`'s weights, for the reader and an informed embedder alike
    predecessors: np.ndarray  # (64, 2)
    symbols: np.ndarray  # (64, 2, 2)

    @classmethod
    def build(cls, band: tuple[float, float], smoothing: float) -> "_Scheme":
        fy = np.fft.fftfreq(TILE, 1 / TILE).astype(int)[:, None]
        kx = np.arange(TILE // 2 + 1)[None, :]
        radius = np.hypot(fy, kx)
        # kx >= 1 keeps one bin of each conjugate pair, so every bin is an independent carrier
        rows, cols = np.nonzero((radius >= band[0]) & (radius <= band[1]) & (kx >= 1))
        rng = np.random.default_rng(LAYOUT_SEED)
        order = rng.permutation(len(rows))  # spreads each bit over the whole band
        rows, cols = rows[order], cols[order]
        pilots = int(len(rows) * PILOT_SHARE)
        owner = np.concatenate([np.full(pilots, -1), np.arange(len(rows) - pilots) % CODED_BITS])
        states = np.arange(2**CODE_MEMORY)
        predecessors = np.stack([((states << 1) | j) % 2**CODE_MEMORY for j in (0, 1)], axis=1)
        registers = (states >> (CODE_MEMORY - 1) << CODE_MEMORY)[:, None] | predecessors
        symbols = np.array([[[1 - 2 * _parity(int(register) & generator)
                              for generator in CODE_GENERATORS] for register in pair]
                            for pair in registers], float)
        rings = ((radius[rows, cols] - band[0]) / (band[1] - band[0]) * BAND_RINGS).astype(int)
        return cls(rows, fy[rows, 0], cols, rng.uniform(0, 2 * np.pi, len(rows)), owner,
                   np.minimum(rings, BAND_RINGS - 1), smoothing, predecessors, symbols)


@functools.cache
def _scheme(band: tuple[float, float], smoothing: float) -> _Scheme:
    """The layout of `band`'s carriers, weighed through `smoothing` (every Watermarker and reading of it shares it)."""
    return _Scheme.build(band, smoothing)


# helpers: payload and code


def _check(wm_id: int, algorithm: str) -> int:
    """The 32-bit check: a hash (BLAKE2b personalized per version), so a wrong word passes with
    probability 2^-32 whatever its errors look like (a CRC promises that only for short bursts),
    and the word says which version wrote it."""
    digest = hashlib.blake2b(wm_id.to_bytes(ID_BITS // 8, "big"), digest_size=CHECK_BITS // 8,
                             person=_VERSIONS[algorithm].person).digest()
    return int.from_bytes(digest, "big")


def _parity(value: int) -> int:
    return bin(value).count("1") & 1


def _codeword(wm_id: int, algorithm: str) -> np.ndarray:
    """The 140 coded bits (0/1) of an id: the code over id, check and a zero tail."""
    word = (wm_id << CHECK_BITS) | _check(wm_id, algorithm)
    info = [(word >> (INFO_BITS - 1 - i)) & 1 for i in range(INFO_BITS)] + [0] * CODE_MEMORY
    state, coded = 0, []
    for bit in info:
        register = (bit << CODE_MEMORY) | state
        coded += [_parity(register & generator) for generator in CODE_GENERATORS]
        state = register >> 1
    return np.array(coded)


def _viterbi(soft: np.ndarray, scheme: _Scheme) -> int:
    """The most likely 64-bit info word for soft coded bits (positive means 0)."""
    metric = np.full(2**CODE_MEMORY, -np.inf)
    metric[0] = 0.0  # the encoder starts in state 0
    states = np.arange(2**CODE_MEMORY)
    choices = []
    for pair in soft.reshape(-1, 2):
        candidates = metric[scheme.predecessors] + scheme.symbols @ pair  # (64, 2)
        choice = np.argmax(candidates, axis=1)
        metric = candidates[states, choice]
        choices.append(choice)
    state, word = 0, 0  # the zero tail brings the encoder back to state 0
    for step, choice in enumerate(reversed(choices)):
        if step >= CODE_MEMORY:
            word |= (state >> (CODE_MEMORY - 1)) << (step - CODE_MEMORY)
        state = int(scheme.predecessors[state, choice[state]])
    return word


def _decode(soft: np.ndarray, scheme: _Scheme, versions: tuple[str, ...]) -> tuple[int, str] | None:
    """The id and the version that wrote it if the Viterbi-decoded word's check matches one of `versions`
    (those of the scheme's layout), else None."""
    word = _viterbi(soft, scheme)
    wm_id = word >> CHECK_BITS
    check = word & (2**CHECK_BITS - 1)
    return next(((wm_id, algorithm) for algorithm in versions if check == _check(wm_id, algorithm)), None)


# helpers: embedding


def _uniform_levels(pattern: np.ndarray) -> np.ndarray:
    """v1: the tile at one strength over the whole frame, scaled to TARGET_PSNR_DB and rounded to whole
    levels (int16), to be added to R, G and B alike (so it moves luma only and chroma subsampling cannot
    touch it).

    Rounding here, not per frame, makes the promise exact: a frame's error is this pattern, less
    wherever 0 or 255 clips it, so its PSNR is at least what is asserted below.
    """
    allowed = 255.0**2 / 10 ** (TARGET_PSNR_DB / 10)
    levels = np.rint(pattern * np.sqrt((allowed - 1 / 12) / np.mean(pattern**2)))  # rounding adds ~1/12
    assert 10 * np.log10(255.0**2 / np.mean(levels**2)) >= MIN_PSNR_DB, "mark too strong for the promise"
    return levels.astype(np.int16)


def _strength(frame: np.ndarray, gain: float) -> np.ndarray:
    """The shaped versions' visibility model: how many levels RMS of mark each pixel of this frame hides
    (float32, H x W), given a version's texture `gain`.

    Texture masking: noise added to a textured patch is hidden by it in proportion to its local
    contrast, so the strength grows with the luma's standard deviation over ACTIVITY_WINDOW, from
    FLAT_STRENGTH on a plain wall or a sky to MAX_STRENGTH wherever there is texture enough. The
    deviation is measured at half resolution (it is smooth at that window) and scaled back up:
    ~0.4 ms at 512x512.
    """
    height, width = frame.shape[:2]
    luma = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (width // 2, height // 2),
                      interpolation=cv2.INTER_AREA)
    window = (ACTIVITY_WINDOW // 2 + 1, ACTIVITY_WINDOW // 2 + 1)
    mean = cv2.boxFilter(luma, cv2.CV_32F, window)
    deviation = cv2.sqrt(np.maximum(cv2.sqrBoxFilter(luma, cv2.CV_32F, window) - mean * mean, 0.0))
    strength = np.clip(FLAT_STRENGTH + gain * (deviation - FLAT_DEVIATION), FLAT_STRENGTH, MAX_STRENGTH)
    return cv2.resize(strength, (width, height), interpolation=cv2.INTER_LINEAR)


def _shaped_levels(strength: np.ndarray, pattern: np.ndarray, cap_db: float) -> np.ndarray:
    """V2, V3: the tiled pattern shaped by a frame's `_strength`, rounded to whole levels (int16, H x W), no
    stronger in all than `cap_db` of PSNR allows (a frame that is texture everywhere gets a weaker mark, never a
    visible one)."""
    marked = cv2.multiply(strength, pattern)
    allowed = 255.0**2 / 10 ** (cap_db / 10)
    levels = np.rint(marked)
    power = cv2.norm(levels, cv2.NORM_L2SQR) / levels.size
    if power > allowed:
        levels = np.rint(marked * np.sqrt(allowed / power) * 0.97)  # rounding can add a little back
    return levels.astype(np.int16)


def _tiled(tile: np.ndarray, height: int, width: int) -> np.ndarray:
    """The tile repeated over a frame of this size, from its top left corner (float32)."""
    return np.tile(tile, (height // TILE + 1, width // TILE + 1))[:height, :width].astype(np.float32)


def _compensation(host: np.ndarray, gain: np.ndarray, tile: np.ndarray, scheme: _Scheme) -> np.ndarray:
    """V3's informed embedding: the change to the tile (TILE x TILE) that takes out, on each carrier, what a
    frame's own picture puts there as the reader measures it (`host`, from `_carriers`), so that a carrier reads
    its sign whatever the picture (Malvar and Florencio 2003, "Improved spread spectrum").

    A picture's content at the carriers' frequencies is noise to the reader, and in V3's low band it is loud: on a
    still 256x256 portrait it took single frames' bit accuracy to 0.87-0.93, and lost a GIF copy of one clip in
    three. `gain` (from `_carrier_gain`) says how much of a change in the tile the reader sees on each carrier.
    The change costs some of the mark's power under its PSNR cap; each carrier's is at most COMPENSATION_LIMIT
    times its own amplitude.
    """
    limit = COMPENSATION_LIMIT * np.abs(_carriers_of_tile(tile, scheme))
    spectrum = np.zeros((TILE, TILE // 2 + 1), complex)
    spectrum[scheme.rows, scheme.kx] = np.clip(-host / gain, -limit, limit) * np.exp(1j * scheme.phase)
    return np.fft.irfft2(spectrum, s=(TILE, TILE))


def _carrier_gain(luma: np.ndarray, host: np.ndarray, strength: np.ndarray, pattern: np.ndarray, tile: np.ndarray,
                  scheme: _Scheme) -> np.ndarray:
    """How much of a unit on each carrier of the tile the reader sees once the tile is tiled over a frame (its
    `luma`, and `host`, what its picture alone puts on the carriers) as `pattern`, shaped by its `strength` and
    whitened with the picture: measured, once per marker (a clip's shaping and texture change little), as the
    mark's own carriers read over theirs in the tile."""
    ratio = (_carriers(luma + strength * pattern, scheme) - host) / _carriers_of_tile(tile, scheme)
    return np.maximum(ratio, 0.25 * np.median(ratio))  # a carrier the picture drowns keeps a typical gain


def _carriers(plane: np.ndarray, scheme: _Scheme) -> np.ndarray:
    """Each carrier's in-phase value in a frame-sized plane, whitened and folded as the reader folds it at rest."""
    folded = _fold(_whiten(plane, scheme.smoothing), _Geometry(TILE, TILE, 0.0, 0.0, 0.0))
    return _carriers_of_tile(folded, scheme)


def _carriers_of_tile(tile: np.ndarray, scheme: _Scheme) -> np.ndarray:
    """Each carrier's in-phase value in a (TILE, TILE) tile: for the mark's own tile, its +-amplitude."""
    return (np.fft.rfft2(tile)[scheme.rows, scheme.kx] * np.exp(-1j * scheme.phase)).real


# helpers: reading


def _sample_lumas(frames: Iterable[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Luma of frames spaced evenly over a clip of unknown length, at most MAX_SAMPLED_FRAMES, and
    beside each the mean luma of every frame from it up to the next one kept (float32).

    Keeps every stride-th frame; when the buffer fills, drops every other kept frame and doubles
    the stride, so it ends with 16-31 frames spread over the whole clip (all of a short one). The
    means let every frame of the clip add its evidence (the mark is the same in each, moving
    content averages out) for the price of one addition a frame.
    """
    kept: list[np.ndarray] = []
    sums: list[np.ndarray] = []
    stride = 1
    for index, frame in enumerate(frames):
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if kept and luma.shape != kept[0].shape:
            raise ValueError(f"frames of one clip share one size: {kept[0].shape} then {luma.shape}")
        if index % stride:
            sums[-1] += luma
            continue
        kept.append(luma)
        sums.append(luma.astype(np.float32))
        if len(kept) == MAX_SAMPLED_FRAMES:
            kept, sums, stride = kept[::2], [a + b for a, b in zip(sums[::2], sums[1::2], strict=True)], stride * 2
    return kept, [total / stride for total in sums]


def _whiten(luma: np.ndarray, smoothing: float) -> np.ndarray:
    """High-pass luma divided by its local energy: flattens the picture, keeps the mark.

    Dividing by local energy weights each pixel by how far it can be trusted: flat areas carry
    the mark almost free of picture, edges and hair mostly carry picture. A low band's reader measures
    that energy on the detail blurred by `smoothing` pixels: the fine noise of a palette's dither (a GIF's,
    up to half a palette step on every pixel) would otherwise set the weights of every flat area, and on a
    GIF copy of a 256x256 V3 render the carriers read at 0.90 instead of 0.97. The detail itself stays
    sharp: a downscaled copy carries the band at up to 4x its frequency, which a blur takes (blurring it
    lost the astronaut at 0.5x + crop 90% and half the 0.25x copies that read).
    """
    values = luma.astype(np.float32)
    detail = values - cv2.GaussianBlur(values, (0, 0), 3.0)
    guide = cv2.GaussianBlur(detail, (0, 0), smoothing) if smoothing else detail
    height, width = detail.shape
    power = cv2.resize(guide * guide, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    energy = cv2.resize(cv2.GaussianBlur(power, (0, 0), 3.0), (width, height), interpolation=cv2.INTER_LINEAR)
    return detail / (energy + 4.0)


@dataclass(frozen=True)
class _Geometry:
    """Where the tile sits in a (possibly rescaled, cropped and mirrored) frame: its period in x and y
    in frame pixels, and the pilot's offset in tile pixels in the frame as read (flipped back when
    mirrored)."""

    period_x: float
    period_y: float
    offset_x: float
    offset_y: float
    score: float  # the pilot's correlation peak, in standard deviations over all offsets
    mirrored: bool = False  # the clip was flipped left to right (social media's selfie mirror)
    angle: float = 0.0  # degrees the frame (flipped back when mirrored) is turned by before it is folded


def _candidate_geometries(total: np.ndarray, scheme: _Scheme) -> list[_Geometry]:
    """The MAX_DECODES likeliest tile geometries for a layout, best first, mirrored or not, upright or tilted.

    The period scan (`_scan`) runs on the frame as read and, when `_tilt` finds the tile's lattice
    turned, once more on the frame turned back; the MAX_DECODES best peaks of both are polished.
    """
    spectrum = _padded_spectrum(total)
    peaks = _scan(spectrum, total.shape, 0.0, scheme)
    tilt = _tilt(spectrum, total.shape)
    if tilt:
        peaks += _scan(_padded_spectrum(_turn(total, tilt)), total.shape, tilt, scheme)
    peaks = sorted(peaks, key=lambda peak: -peak[0])[:MAX_DECODES]
    refined = [_refine(total, period, mirrored, angle, scheme) for _, period, mirrored, angle in peaks]
    return sorted(refined, key=lambda geometry: -geometry.score)


def _padded_spectrum(plane: np.ndarray) -> np.ndarray:
    """The plane's real 2-D DFT, zero-padded to twice its size: what the period scan and the tilt search read."""
    height, width = plane.shape
    return np.fft.rfft2(plane, s=(2 * height, 2 * width))


def _scan(spectrum: np.ndarray, shape: tuple[int, int], angle: float,
          scheme: _Scheme) -> list[tuple[float, float, bool, float]]:
    """The local peaks (score, period, mirrored, angle to fold at) of the pilot over every tile period
    in SCALE_RANGE, on a plane of `shape` already turned upright by `angle` degrees, from its
    `_padded_spectrum`.

    Each scan step reads the pilot's bins straight off one zero-padded spectrum of the plane (folding
    at a period samples the spectrum at its harmonics), so ~800 periods cost ~0.1 s. A mirrored
    frame's spectrum is the same one read at the opposite vertical frequency and conjugated (a flip
    left to right, up to a shift, which the pilot's peak absorbs), so the scan looks for both at once.
    Flipping back a mirrored frame turns its tilt the other way, hence the angle's sign.
    """
    height, width = shape
    pilot = scheme.owner < 0
    fy, kx = scheme.fy[pilot], scheme.kx[pilot]
    periods = TILE * np.exp(np.arange(np.log(SCALE_RANGE[0]), np.log(SCALE_RANGE[1]), SCAN_STEP))
    periods = periods[periods <= min(height, width)]  # a period the frame does not hold once is noise
    scores = np.zeros((2, len(periods)))  # (plain, mirrored)
    for i, period in enumerate(periods):
        cols = np.rint(kx * (2 * width / period)).astype(int)
        rows = np.rint(fy * (2 * height / period)).astype(int)
        seen = cols < spectrum.shape[1]  # harmonics past the frame's Nyquist are not there
        cols = np.minimum(cols, spectrum.shape[1] - 1)
        plain = np.where(seen, spectrum[rows % (2 * height), cols], 0)
        mirrored = np.where(seen, np.conj(spectrum[-rows % (2 * height), cols]), 0)
        scores[0, i], scores[1, i] = _pilot_peak(plain, scheme)[0], _pilot_peak(mirrored, scheme)[0]
    return [(scores[flip, i], periods[i], bool(flip), -angle if flip else angle)
            for flip in (0, 1) for i in range(1, len(periods) - 1)
            if scores[flip, i - 1] <= scores[flip, i] >= scores[flip, i + 1]]


def _tilt(spectrum: np.ndarray, shape: tuple[int, int]) -> float:
    """The tile lattice's rotation in degrees (a multiple of TILT_STEP within MAX_TILT; 0 when upright
    or not found), from the plane's autocorrelation.

    A tiled mark makes the autocorrelation peak at the lattice's two side vectors, (P cos a, P sin a)
    and (-P sin a, P cos a), whatever the content, the crop or a mirror (a mirrored square lattice is
    a square lattice). The search reads both over every angle and period at once: one more FFT and
    ~30k look-ups, ~20 ms at 512x512. Content makes the short lags loud, so only periods of at least
    half a tile are looked for (a downscale past 0.5x and a tilt together are not). `spectrum` is the
    plane's `_padded_spectrum`, and `shape` its size.
    """
    height, width = shape
    correlation = np.fft.irfft2(np.abs(spectrum) ** 2, s=(2 * height, 2 * width))
    periods = TILE * np.exp(np.arange(np.log(0.5), np.log(SCALE_RANGE[1]), SCAN_STEP))
    periods = periods[2 * periods <= min(height, width)]
    if not len(periods):
        return 0.0
    angles = np.arange(-MAX_TILT, MAX_TILT + TILT_STEP / 2, TILT_STEP)
    cos, sin = np.cos(np.deg2rad(angles))[:, None], np.sin(np.deg2rad(angles))[:, None]

    def at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return correlation[np.rint(y).astype(int) % (2 * height), np.rint(x).astype(int) % (2 * width)]

    scores = at(periods * cos, periods * sin) + at(-periods * sin, periods * cos)
    return float(angles[np.unravel_index(np.argmax(scores), scores.shape)[0]])


def _turn(plane: np.ndarray, angle: float) -> np.ndarray:
    """The plane turned by `angle` degrees about its centre (cv2's sense), corners left at zero."""
    height, width = plane.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(plane, matrix, (width, height), flags=cv2.INTER_LINEAR)


def _refine(total: np.ndarray, period: float, mirrored: bool, angle: float, scheme: _Scheme) -> _Geometry:
    """Polish a scanned period, per axis, and a tilt by the pilot's peak on the folded frame (the
    fold needs the period to ~0.1% and the angle to ~0.1 degree), and locate the tile."""
    best = _locate(total, period, period, mirrored, angle, scheme)
    for step in (0.002, 0.001, 0.0005):
        for factor_x, factor_y in ((1 + step, 1), (1 - step, 1), (1, 1 + step), (1, 1 - step)):
            trial = _locate(total, best.period_x * factor_x, best.period_y * factor_y, mirrored, best.angle, scheme)
            if trial.score > best.score:
                best = trial
        if angle:
            for turn in (TILT_STEP * step / 0.004, -TILT_STEP * step / 0.004):
                trial = _locate(total, best.period_x, best.period_y, mirrored, best.angle + turn, scheme)
                if trial.score > best.score:
                    best = trial
    return best


def _locate(total: np.ndarray, period_x: float, period_y: float, mirrored: bool, angle: float,
            scheme: _Scheme) -> _Geometry:
    """Fold at the given period and angle and find the pilot in the folded tile."""
    folded = _fold(total, _Geometry(period_x, period_y, 0.0, 0.0, 0.0, mirrored, angle))
    pilot = scheme.owner < 0
    values = np.fft.rfft2(folded)[scheme.rows[pilot], scheme.kx[pilot]]
    score, offset_x, offset_y = _pilot_peak(values, scheme)
    return _Geometry(period_x, period_y, offset_x, offset_y, score, mirrored, angle)


def _pilot_peak(values: np.ndarray, scheme: _Scheme) -> tuple[float, float, float]:
    """Circular cross-correlation of a tile (given by its pilot bins) with the pilot: the peak's
    height in standard deviations, and its position (x, y) refined to a fraction of a pixel."""
    pilot = scheme.owner < 0
    spectrum = np.zeros((TILE, TILE // 2 + 1), complex)
    spectrum[scheme.rows[pilot], scheme.kx[pilot]] = values * np.exp(-1j * scheme.phase[pilot])
    correlation = np.fft.irfft2(spectrum, s=(TILE, TILE))
    spread = correlation.std()
    if spread == 0:
        return 0.0, 0.0, 0.0
    row, col = np.unravel_index(np.argmax(correlation), correlation.shape)
    peak = correlation[row, col]
    offset_y = row + _vertex(correlation[row - 1, col], peak, correlation[(row + 1) % TILE, col])
    offset_x = col + _vertex(correlation[row, col - 1], peak, correlation[row, (col + 1) % TILE])
    return float((peak - correlation.mean()) / spread), offset_x, offset_y


def _vertex(left: float, middle: float, right: float) -> float:
    """Offset (-0.5..0.5) of the top of the parabola through three equally spaced samples."""
    curvature = left - 2 * middle + right
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


def _fold(plane: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """Resample a frame-sized plane (flipped back when mirrored) to the tile's scale and average all
    its tiles into one (TILE, TILE) tile; partial tiles at the edges count for what they cover."""
    scale_x, scale_y = TILE / geometry.period_x, TILE / geometry.period_y
    if geometry.mirrored:
        plane = np.ascontiguousarray(plane[:, ::-1])
    height, width = plane.shape
    out_w, out_h = int(width * scale_x), int(height * scale_y)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), geometry.angle, 1.0) * [[scale_x], [scale_y]]
    resampled = cv2.warpAffine(plane, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    rows, cols = -(-out_h // TILE), -(-out_w // TILE)
    padded = np.zeros((rows * TILE, cols * TILE), np.float32)
    padded[:out_h, :out_w] = resampled
    counts = np.zeros_like(padded)
    counts[:out_h, :out_w] = 1.0
    tiles = padded.reshape(rows, TILE, cols, TILE).sum(axis=(0, 2))
    return tiles / np.maximum(counts.reshape(rows, TILE, cols, TILE).sum(axis=(0, 2)), 1.0)


def _soft_bits(folded: np.ndarray, geometry: _Geometry, scheme: _Scheme, weighed: bool = True) -> np.ndarray:
    """Each coded bit's evidence: its bins, shifted back by the pilot's offset, projected on
    their phases, weighted by their band's signal-to-noise ratio and summed. Positive means 0,
    as `_viterbi` expects.

    The weights are maximum-ratio combining: the pilot's bins measure how much mark survives in
    each band (downscaling and compression eat the high ones), the quadrature parts how much
    noise there is, so a band the attack wiped out stops adding noise to every bit. Unweighed,
    every bin counts alike: the clip's raw agreement with a code, which `WatermarkReading.confidence`
    reports (with one bin a bit, as in V3, the weights alone spread a clean clip's soft bits enough to
    take their correlation with the code from 0.95 to 0.88).
    """
    values = np.fft.rfft2(folded)[scheme.rows, scheme.kx]
    shift = 2j * np.pi * (scheme.fy * geometry.offset_y + scheme.kx * geometry.offset_x) / TILE
    aligned = values * np.exp(shift - 1j * scheme.phase)
    pilot = scheme.owner < 0
    signal = np.bincount(scheme.band[pilot], aligned.real[pilot]) / np.bincount(scheme.band[pilot])
    noise = np.bincount(scheme.band, aligned.imag**2) / np.bincount(scheme.band)
    weights = np.maximum(signal, 0.0) / (noise + 1e-12) if weighed else np.ones(BAND_RINGS)
    carries = ~pilot
    evidence = aligned.real[carries] * weights[scheme.band[carries]]
    return np.bincount(scheme.owner[carries], weights=evidence, minlength=CODED_BITS)


def _reading(wm_id: int, algorithm: str, folded: np.ndarray, lumas: list[np.ndarray], geometry: _Geometry,
             scheme: _Scheme) -> WatermarkReading:
    """The reading for a found id: how strongly the whole clip (folded) and each of its sampled frames agree
    with it."""
    signs = 1.0 - 2.0 * _codeword(wm_id, algorithm)  # +1 for a 0 bit
    evidence = _soft_bits(folded, geometry, scheme, weighed=False)
    confidence = float(evidence @ signs / (np.linalg.norm(evidence) * np.sqrt(CODED_BITS)))
    scores, decoded = [], 0
    for luma in lumas:
        frame_soft = _soft_bits(_fold(_whiten(luma, scheme.smoothing), geometry), geometry, scheme)
        scores.append(float(np.mean(np.sign(frame_soft) == signs)))
        decoded += _decode(frame_soft, scheme, (algorithm,)) == (wm_id, algorithm)
    return WatermarkReading(True, wm_id, confidence, len(lumas), decoded, scores, algorithm)
