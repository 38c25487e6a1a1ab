"""Visemes: the mouth shapes of phonemes, and the mouth that follows a timed phoneme sequence.

A viseme is what a phoneme looks like: how far the jaw drops, whether the lips spread or round, whether they
press shut. The tables below go by IPA symbol, the phonetic alphabet espeak-ng reports for every language,
so one table serves them all. Vowels follow the IPA vowel chart: the jaw drops with openness (close "i",
"u" barely open; open "a" fully), front unrounded vowels spread the lips, rounded ones round them.
Consonants go by where they are made: bilabials (p, b, m) press the lips shut, labiodentals (f, v) bring
the lower lip to the teeth, "w" rounds, postalveolars ("sh") push the lips forward, the rest leave the jaw
nearly shut and the lips relaxed. A pause rests the mouth.

Each phoneme holds its shape for its time; a diphthong ("aɪ") moves through its vowels in equal parts.
Then the curves are smoothed (engine/mouth.py), more for the jaw and the lips' width, which move slowly and
start shaping the next sound early (coarticulation), than for a lip closure, which must still shut the
mouth for a 60 ms "p".
"""

from collections.abc import Sequence

import numpy as np

from engine.mouth import STEP, Mouth, blur, steps
from engine.speech import Phoneme

OPEN_BLUR, SPREAD_BLUR, PRESS_BLUR = 0.030, 0.045, 0.010  # seconds

Shape = tuple[float, float, float]  # (open, spread, press), as in engine.mouth.Mouth

VOWELS: dict[str, Shape] = {
    # close
    "i": (0.25, 0.8, 0), "y": (0.25, -0.8, 0), "ɨ": (0.25, 0.3, 0), "ʉ": (0.25, -0.6, 0), "ɯ": (0.25, 0.5, 0),
    "u": (0.25, -1.0, 0), "ɪ": (0.3, 0.6, 0), "ʏ": (0.3, -0.6, 0), "ʊ": (0.3, -0.8, 0),
    # close-mid and mid
    "e": (0.45, 0.6, 0), "ø": (0.45, -0.6, 0), "ɘ": (0.45, 0.2, 0), "ɵ": (0.45, -0.4, 0), "ɤ": (0.45, 0.3, 0),
    "o": (0.45, -0.8, 0), "ə": (0.45, 0.0, 0), "ɚ": (0.45, -0.2, 0),
    # open-mid
    "ɛ": (0.65, 0.5, 0), "œ": (0.65, -0.5, 0), "ɜ": (0.6, 0.1, 0), "ɝ": (0.55, -0.2, 0), "ɞ": (0.6, -0.3, 0),
    "ʌ": (0.65, 0.1, 0), "ɔ": (0.65, -0.6, 0),
    # near-open and open
    "æ": (0.85, 0.5, 0), "ɐ": (0.75, 0.1, 0), "a": (1.0, 0.2, 0), "ɶ": (0.95, -0.3, 0), "ɑ": (1.0, 0.0, 0),
    "ɒ": (0.95, -0.4, 0),
}
CONSONANTS: dict[str, Shape] = {
    **dict.fromkeys("pbmɓʙɸβ", (0.0, 0.0, 1.0)),  # bilabial: lips pressed
    **dict.fromkeys("fvɱʋ", (0.05, 0.1, 0.6)),  # labiodental: lower lip to the upper teeth
    **dict.fromkeys("wʍɥ", (0.15, -1.0, 0.0)),  # labial-velar: rounded
    **dict.fromkeys("θð", (0.2, 0.1, 0.0)),  # dental: the tongue between the teeth
    **dict.fromkeys("ʃʒɕʑ", (0.15, -0.6, 0.0)),  # postalveolar: lips pushed forward
    **dict.fromkeys("tdnlszɾrɹɬɮɻɽʈɖɳɭ", (0.15, 0.2, 0.0)),  # alveolar, retroflex: teeth nearly together
    **dict.fromkeys("jʎɲçʝcɟ", (0.15, 0.6, 0.0)),  # palatal: spread
    **dict.fromkeys("kgɡŋxɣqɢɴχʁʀɰ", (0.3, 0.0, 0.0)),  # velar, uvular: the jaw a little open
    **dict.fromkeys("hɦʔħʕ", (0.35, 0.0, 0.0)),  # glottal: the mouth takes the neighbouring vowel's shape
}
REST: Shape = (0.0, 0.0, 0.0)  # a pause
OTHER: Shape = (0.2, 0.0, 0.0)  # a symbol neither table knows


def speech_mouth(phonemes: Sequence[Phoneme], *, fps: float, frames: int) -> Mouth:
    """The mouth that says `phonemes` (timed, in seconds from 0), `frames` frames at `fps`."""
    curves = np.zeros((3, steps(frames / fps)))  # open, spread, press; one sample every STEP seconds
    for phoneme in phonemes:
        for start, end, shape in _segments(phoneme):
            curves[:, round(start / STEP):round(end / STEP)] = np.array(shape)[:, None]
    open_, spread, press = (blur(curve, sigma) for curve, sigma in zip(curves, (OPEN_BLUR, SPREAD_BLUR, PRESS_BLUR),
                                                                          strict=True))
    return Mouth.average(open_ * (1 - press), spread, press, fps=fps, frames=frames)


def viseme(symbol: str) -> list[Shape]:
    """The shapes a phoneme's IPA symbol goes through: its vowels in order (a diphthong has two), else its
    last consonant a table knows (an affricate "tʃ" is released as "ʃ"), else REST for a pause or OTHER."""
    vowels = [VOWELS[c] for c in symbol if c in VOWELS]
    if vowels:
        return vowels
    consonants = [CONSONANTS[c] for c in symbol if c in CONSONANTS]
    return [consonants[-1]] if consonants else [OTHER if symbol else REST]


# helpers


def _segments(phoneme: Phoneme) -> list[tuple[float, float, Shape]]:
    """The phoneme's time cut in equal parts, one per shape it goes through."""
    shapes = viseme(phoneme.symbol)
    edges = np.linspace(phoneme.start, phoneme.end, len(shapes) + 1)
    return [(float(a), float(b), shape) for a, b, shape in zip(edges[:-1], edges[1:], shapes, strict=True)]
