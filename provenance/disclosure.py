"""The visible label: a caption people can read, on top of the invisible one machines can.

By default a caption ("AI-generated video") across the bottom for the first two seconds, and a small
"AI" mark in a corner for the whole clip. Both are drawn once into small RGBA patches when the
Disclosure is built; per frame only those patches are alpha-blended into place (no text rendering
in the frame loop). The watermark goes on after the disclosure, so it covers the caption too.

Captions may be in any of the scripts museums label in: Latin, Greek and Cyrillic (Noto Sans), Arabic
(Noto Sans Arabic) and Hebrew (Noto Sans Hebrew), all three bundled in provenance/fonts/, and Chinese,
Japanese and Korean from the system's CJK font (Debian's fonts-noto-cjk, fonts-wqy-microhei or
fonts-droid-fallback, else what fontconfig's `fc-match` names). Each character is drawn in the first of
those fonts whose cmap has it, staying in the current font while it can. Text goes through FreeType with
Pillow's raqm layout (HarfBuzz shaping, FriBiDi ordering) where Pillow has it: it needs libfribidi0 at run
time. Without it, right-to-left captions are refused rather than drawn backwards. A caption wraps onto
at most MAX_LINES lines. `DisclosureStyle.check` refuses a label that can't be drawn, before any work.
"""

import shutil
import struct
import subprocess
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from math import ceil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from provenance.errors import BadCaption

RAQM = features.check("raqm")  # Pillow's wheels carry raqm and HarfBuzz, and load FriBiDi (libfribidi0) at run time
MAX_LINES = 3  # a caption longer than this at the frame's width is refused
BUNDLED = ("NotoSans-Regular.ttf", "NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf")  # in this order
# The system's CJK fonts at Debian's paths, best first: fonts-noto-cjk (a face per language), fonts-wqy-microhei,
# fonts-droid-fallback. Where none is there, fontconfig's `fc-match` names one.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
CJK_FACES = {"ja": "JP", "ko": "KR", "zh": "SC"}  # the face of a Noto CJK collection each language reads best in
# Joiners, direction marks and variation selectors: drawn as nothing, they are not control characters.
INVISIBLE = {"\u200c", "\u200d", "\u200e", "\u200f", "\u061c", *map(chr, range(0xFE00, 0xFE10))}
NO_BREAK_BEFORE = set(")]}!,.:;?%、。，．：；？！）］｝」』】〉》〕ー々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ・")  # noqa: RUF001
NO_BREAK_AFTER = set("([{（［｛「『【〈《〔")  # noqa: RUF001
# Paired brackets, opening: closing, as Unicode's BidiBrackets.txt pairs them (the common ones)
BRACKETS = dict(zip(*[iter("()[]{}⁅⁆⁽⁾₍₎⌈⌉⌊⌋〈〉❨❩❪❫❬❭❮❯❰❱❲❳❴❵⟅⟆⟦⟧⟨⟩⟪⟫⟬⟭⟮⟯⦃⦄⦅⦆〈〉《》「」『』【】〔〕〖〗〘〙〚〛"  # noqa: RUF001
                           "﹙﹚﹛﹜﹝﹞（）［］｛｝｟｠｢｣")] * 2, strict=True))  # noqa: RUF001


class Corner(StrEnum):
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"


@dataclass(frozen=True)
class DisclosureStyle:
    """What the visible label says and where. `caption_seconds=0` drops the caption, keeping the mark."""

    caption: str = "AI-generated video"
    caption_seconds: float = 2.0
    mark: str = "AI"
    corner: Corner = Corner.TOP_RIGHT

    def check(self, width: int, height: int) -> None:
        """Raise a BadCaption when this label can't be drawn on frames of this size; call it before any work."""
        if self.caption_seconds > 0:
            _caption_patch(self.caption, width, height)
        _mark_patch(self.mark, width, height)


class Disclosure:
    """Draws the label onto frames of one size; build one per render. Raises a BadCaption as `check` does."""

    def __init__(self, style: DisclosureStyle, width: int, height: int, fps: float) -> None:
        self._caption = _caption_patch(style.caption, width, height) if style.caption_seconds > 0 else None
        self.caption_frames = round(style.caption_seconds * fps) if self._caption is not None else 0
        self._caption_at = self._place_caption(width, height)
        self._mark = _mark_patch(style.mark, width, height)
        self._mark_at = self._place_mark(style.corner, width, height)

    def apply(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield the frames with the caption on the first ones and the mark on all."""
        for index, frame in enumerate(frames):
            frame = frame.copy()
            if self._caption is not None and index < self.caption_frames:
                _blend(frame, self._caption, *self._caption_at)
            if self._mark is not None:
                _blend(frame, self._mark, *self._mark_at)
            yield frame

    def _place_caption(self, width: int, height: int) -> tuple[int, int]:
        if self._caption is None:
            return 0, 0
        h, w = self._caption.shape[:2]
        return max(0, height - h - height // 20), (width - w) // 2

    def _place_mark(self, corner: Corner, width: int, height: int) -> tuple[int, int]:
        if self._mark is None:
            return 0, 0
        h, w = self._mark.shape[:2]
        margin = max(4, height // 40)
        top = margin if corner in (Corner.TOP_LEFT, Corner.TOP_RIGHT) else height - h - margin
        left = margin if corner in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT) else width - w - margin
        return top, left


# helpers: the two patches


def _caption_patch(text: str, width: int, height: int) -> np.ndarray | None:
    """Across the bottom: up to MAX_LINES lines inside the frame's width less a margin on each side."""
    return _patch(text, "caption", size=max(8, round(height / 20)), pad=max(2, height // 60),
                  width=width - 2 * max(4, width // 20), lines=MAX_LINES, frame=(width, height))


def _mark_patch(text: str, width: int, height: int) -> np.ndarray | None:
    """In a corner: one small line, at most half the frame's width."""
    return _patch(text, "corner mark", size=max(6, round(height / 28)), pad=max(2, height // 120),
                  width=width // 2 - max(4, height // 40), lines=1, frame=(width, height))


def _patch(text: str, what: str, *, size: int, pad: int, width: int, lines: int,
           frame: tuple[int, int]) -> np.ndarray | None:
    """White text on a translucent dark box at most `width` px wide, as float32 RGBA in [0, 1]; None for no text.
    Text that doesn't fit in `lines` lines, or that no font here can draw, is a BadCaption naming `what`."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") and ch not in INVISIBLE:
            raise BadCaption(f"the {what} has a control character (U+{ord(ch):04X}): line breaks, tabs and other "
                             "invisible codes can't be drawn, so remove it")
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        return None
    faces = _faces_for(text, what)
    base = _paragraph_level(text)
    if not RAQM and any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text):
        raise BadCaption(f"the {what} is right-to-left text, which needs Pillow's raqm layout and FriBiDi "
                         "to be drawn in order: apt-get install libfribidi0")
    laid = _wrap(text, faces, base, size, width - 2 * pad, lines, what, frame[0])

    # Line boxes: at least the main font's ascender and descender, and the advance from the first letter to the
    # last, more where a line's ink reaches further (accents, Arabic tails).
    main = _font(_bundled(BUNDLED[0]), size)
    ascent, descent = -main.getbbox("Hd", anchor="ls")[1], main.getbbox("gy", anchor="ls")[3]
    extents = []  # (ascent, descent, left, right) of each line, from its pen origin
    for runs, line_width in laid:
        boxes = [(run.x, run.font.getbbox(run.text, anchor="ls", **_direction(run))) for run in runs]
        extents.append((max([ascent, *(-top for _, (_, top, _, _) in boxes)]),
                        max([descent, *(bottom for _, (_, _, _, bottom) in boxes)]),
                        min([0, *(x + left for x, (left, _, _, _) in boxes)]),
                        max([line_width, *(x + right for x, (_, _, right, _) in boxes)])))
    leading = round(size * 0.2)
    w = ceil(max(right - left for _, _, left, right in extents)) + 2 * pad
    h = sum(a + d for a, d, _, _ in extents) + leading * (len(laid) - 1) + 2 * pad
    if h > frame[1] - 2 * max(4, frame[1] // 20):
        raise BadCaption(f"the {what} is too long for a {frame[1]} px high frame: shorten it")

    canvas = Image.new("L", (w, h))
    draw = ImageDraw.Draw(canvas)
    y = pad
    for (runs, _), (a, d, left, right) in zip(laid, extents, strict=True):
        origin = (w - (right - left)) / 2 - left  # every line centred
        for run in runs:
            draw.text((origin + run.x, y + a), run.text, fill=255, font=run.font, anchor="ls", **_direction(run))
        y += a + d + leading
    ink = np.asarray(canvas, np.float32) / 255
    patch = np.zeros((h, w, 4), np.float32)
    patch[..., :3] = ink[..., None]
    patch[..., 3] = np.maximum(0.55, ink)
    return patch


def _blend(frame: np.ndarray, patch: np.ndarray, top: int, left: int) -> None:
    h, w = patch.shape[:2]
    region = frame[top:top + h, left:left + w].astype(np.float32)
    alpha = patch[..., 3:]
    frame[top:top + h, left:left + w] = (region * (1 - alpha) + patch[..., :3] * 255 * alpha + 0.5).astype(np.uint8)


# helpers: lines, wrapping and the order of right-to-left text


@dataclass(frozen=True)
class _Run:
    """Part of a line in one font and one direction, `x` px from the line's left edge."""

    text: str
    font: ImageFont.FreeTypeFont
    rtl: bool
    x: float


def _direction(run: _Run) -> dict[str, str]:
    """Pillow's `direction` argument for a run: only raqm takes one (without it every run is left-to-right)."""
    return {"direction": "rtl" if run.rtl else "ltr"} if RAQM else {}


def _wrap(text: str, faces: list["_Face"], base: int, size: int, width: int, most: int, what: str,
          frame_width: int) -> list[tuple[list[_Run], float]]:
    """Greedy line breaking at spaces and between CJK characters: each line as its runs and its width."""
    breaks = [i for i in range(1, len(text)) if _breakable(text[i - 1], text[i])] + [len(text)]
    lines, start = [], 0
    while start < len(text):
        fit = None
        for end in (b for b in breaks if b > start):
            line = _line(text, faces, start, end, base, size)
            if line[1] > width:
                break
            fit = end, line
        if fit is None or len(lines) == most:
            where = "on one line" if most == 1 else f"in {most} lines"
            raise BadCaption(f"the {what} is too long for a {frame_width} px wide frame {where}: shorten it")
        start, line = fit
        lines.append(line)
        while start < len(text) and text[start].isspace():
            start += 1
    return lines


def _breakable(before: str, after: str) -> bool:
    """May a line break between these two characters: after a space, or around a CJK ideograph or kana."""
    if after.isspace():
        return False
    if before.isspace():
        return True
    return (_is_cjk(before) or _is_cjk(after)) and after not in NO_BREAK_BEFORE and before not in NO_BREAK_AFTER


def _is_cjk(ch: str) -> bool:
    """Han ideographs, kana and CJK punctuation: written without spaces, so a line may break between any two."""
    cp = ord(ch)
    return 0x3000 <= cp <= 0x30FF or 0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0xFF00 <= cp <= 0xFFEF \
        or 0x20000 <= cp <= 0x3FFFF


def _line(text: str, faces: list["_Face"], start: int, end: int, base: int, size: int) -> tuple[list[_Run], float]:
    """text[start:end], spaces trimmed, as runs in display order (UAX #9 rule L2) and the line's width in px."""
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    levels = _levels(text[start:end], base)
    pieces = []  # [level, first, last + 1] of each stretch in one font and at one level, in logical order
    for i, level in enumerate(levels):
        if pieces and pieces[-1][0] == level and faces[start + pieces[-1][1]] == faces[start + i]:
            pieces[-1][2] = i + 1
        else:
            pieces.append([level, i, i + 1])
    for level in range(max(levels), 0, -1):  # reverse every stretch at this level or above, highest first
        i = 0
        while i < len(pieces):
            j = i
            while j < len(pieces) and pieces[j][0] >= level:
                j += 1
            pieces[i:j] = pieces[i:j][::-1]
            i = j + 1
    runs, x = [], 0.0
    for level, first, last in pieces:
        chars = text[start + first:start + last]
        if not RAQM:
            chars = "".join(ch for ch in chars if ch not in INVISIBLE)  # basic layout would draw them as boxes
        run = _Run(chars, _font(faces[start + first], size), rtl=level % 2 == 1, x=x)
        runs.append(run)
        x += run.font.getlength(run.text, **_direction(run))
    return runs, x


def _paragraph_level(text: str) -> int:
    """1 when the first strongly directional character is right-to-left (UAX #9 rules P2, P3), else 0."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("L", "R", "AL"):
            return 0 if kind == "L" else 1
    return 0


def _levels(text: str, base: int) -> list[int]:
    """Each character's embedding level by the Unicode bidi algorithm (UAX #9) for one paragraph without
    explicit embeddings (their codes are refused as control characters). Raqm orders the text inside a run;
    this orders the runs, which it can't do when a line mixes fonts."""
    resolved = iter(_resolve([ch for ch in text if unicodedata.bidirectional(ch) != "BN"], base))
    levels: list[int | None] = []
    for ch in text:  # X9: joiners take no part, and go with the character before them (or after, at the start)
        levels.append((levels[-1] if levels else None) if unicodedata.bidirectional(ch) == "BN" else next(resolved))
    first = next((level for level in levels if level is not None), base)
    return [first if level is None else level for level in levels]


def _resolve(chars: list[str], base: int) -> list[int]:
    """UAX #9 rules W1-W7, N0-N2 and I1-I2 on characters without explicit embeddings or joiners."""
    sos = "R" if base else "L"
    kinds: list[str] = []
    for ch in chars:  # W1: a combining mark takes the kind of what it is on
        kind = unicodedata.bidirectional(ch)
        kinds.append((kinds[-1] if kinds else sos) if kind == "NSM" else kind)
    if not base and not {"R", "AL", "AN"} & set(kinds):
        return [0] * len(kinds)  # left-to-right text: nothing to resolve
    strong = sos
    for i, kind in enumerate(kinds):  # W2: European digits after Arabic letters are Arabic numbers; W3: AL is R
        if kind in ("L", "R", "AL"):
            strong = kind
        if kind == "EN" and strong == "AL":
            kinds[i] = "AN"
        elif kind == "AL":
            kinds[i] = "R"
    for i in range(1, len(kinds) - 1):  # W4: one separator between two numbers of a kind joins them
        joins = ("ES", "CS") if kinds[i - 1] == "EN" else ("CS",) if kinds[i - 1] == "AN" else ()
        if kinds[i] in joins and kinds[i + 1] == kinds[i - 1]:
            kinds[i] = kinds[i - 1]
    for i, kind in enumerate(kinds):  # W5: terminators ($, %) next to European digits join them
        if kind == "EN":
            for step in (-1, 1):
                j = i + step
                while 0 <= j < len(kinds) and kinds[j] == "ET":
                    kinds[j], j = "EN", j + step
    kinds = ["ON" if kind in ("ES", "ET", "CS") else kind for kind in kinds]  # W6
    strong = sos
    for i, kind in enumerate(kinds):  # W7: European digits in left-to-right text are left-to-right
        if kind in ("L", "R"):
            strong = kind
        elif kind == "EN" and strong == "L":
            kinds[i] = "L"

    def direction(kind: str) -> str | None:  # as neutrals see it: numbers count as right-to-left
        return "L" if kind == "L" else "R" if kind in ("R", "EN", "AN") else None

    for opening, closing in _bracket_pairs(chars, kinds):  # N0: a bracket pair goes the way of what it holds
        inside = {direction(kind) for kind in kinds[opening + 1:closing]} - {None}
        if inside:
            before = next((d for d in map(direction, reversed(kinds[:opening])) if d), sos)
            kinds[opening] = kinds[closing] = sos if sos in inside else before
    i = 0
    while i < len(kinds):  # N1, N2: neutrals between two of one direction take it, the others the paragraph's
        if direction(kinds[i]):
            i += 1
            continue
        j = i
        while j < len(kinds) and not direction(kinds[j]):
            j += 1
        before = direction(kinds[i - 1]) if i else sos
        after = direction(kinds[j]) if j < len(kinds) else sos
        kinds[i:j] = [before if before == after else sos] * (j - i)
        i = j
    if base:  # I1, I2
        return [1 if kind == "R" else 2 for kind in kinds]
    return [{"L": 0, "R": 1}.get(kind, 2) for kind in kinds]


def _bracket_pairs(chars: list[str], kinds: list[str]) -> list[tuple[int, int]]:
    """Where the paired brackets are (UAX #9 BD16), by the position of the opening one."""
    pairs, stack = [], []
    for i, ch in enumerate(chars):
        if kinds[i] != "ON":
            continue
        if ch in BRACKETS:
            if len(stack) == 63:
                break
            stack.append((BRACKETS[ch], i))
        elif ch in BRACKETS.values():
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == ch:
                    pairs.append((stack[depth][1], i))
                    del stack[depth:]
                    break
    return sorted(pairs)


# helpers: fonts


@dataclass(frozen=True)
class _Face:
    """One font file, or one face of a collection (.ttc)."""

    path: str
    index: int = 0


def _faces_for(text: str, what: str) -> list[_Face]:
    """The face each character of `text` is drawn in: the current one while it has the character, else the
    first in the chain (the bundled fonts, then the CJK font for the text's language) that does."""
    chain = [_bundled(name) for name in BUNDLED]
    cjk = _cjk_face(_cjk_language(text))
    if cjk is not None:
        chain.append(cjk)
    faces: list[_Face] = []
    for ch in text:
        current = faces[-1] if faces else None
        if current is not None and (ch in INVISIBLE or ord(ch) in _coverage(current)):
            faces.append(current)
            continue
        face = next((face for face in chain if ch in INVISIBLE or ord(ch) in _coverage(face)), None)
        if face is None and cjk is None and (_is_cjk(ch) or 0xAC00 <= ord(ch) <= 0xD7AF or 0x1100 <= ord(ch) <= 0x11FF):
            raise BadCaption(f"the {what} has CJK text and no CJK font is installed: apt-get install fonts-noto-cjk")
        if face is None:
            name = unicodedata.name(ch, "unnamed")
            raise BadCaption(f"no font here can draw U+{ord(ch):04X} ({name}) in the {what}: captions can be "
                             "Latin, Greek, Cyrillic, Arabic, Hebrew, Chinese, Japanese or Korean text")
        faces.append(face)
    return faces


def _cjk_language(text: str) -> str:
    """Which CJK language a text is in, by its letters: kana are Japanese, hangul Korean, other Han Chinese."""
    if any(0x3040 <= ord(ch) <= 0x30FF for ch in text):
        return "ja"
    if any(0xAC00 <= ord(ch) <= 0xD7AF or 0x1100 <= ord(ch) <= 0x11FF for ch in text):
        return "ko"
    return "zh"


def _bundled(name: str) -> _Face:
    return _Face(str(files("provenance").joinpath("fonts", name)))


@cache
def _cjk_face(language: str) -> _Face | None:
    """The system's CJK font for a language: at a Debian path, else the one fontconfig picks; None if none."""
    for path in CJK_FONTS:
        if Path(path).is_file():
            return _Face(path, _face_named(path, f"CJK {CJK_FACES[language]}"))
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(["fc-match", "--format", "%{file}\n%{index}", f"sans-serif:lang={language}"],
                               capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, index = found.partition("\n")
    face = _Face(path, int(index or 0))
    probe = {"ja": "あ", "ko": "한", "zh": "中"}[language]
    return face if path and Path(path).is_file() and ord(probe) in _coverage(face) else None


def _face_named(path: str, part: str) -> int:
    """The first face of a collection whose family name contains `part` (Noto CJK's "CJK JP", ...), else 0."""
    index = 0
    while True:
        try:
            family = ImageFont.truetype(path, 10, index=index).getname()[0] or ""
        except OSError:
            return 0
        if part in family:
            return index
        index += 1


def _font(face: _Face, size: int) -> ImageFont.FreeTypeFont:
    return _truetype(face, size, ImageFont.Layout.RAQM if RAQM else ImageFont.Layout.BASIC)


@cache
def _truetype(face: _Face, size: int, layout: ImageFont.Layout) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(face.path, size, index=face.index, layout_engine=layout)


@cache
def _coverage(face: _Face) -> frozenset[int]:
    """The code points a face has a glyph for, from its cmap's Unicode subtable (format 12, else format 4)."""
    with open(face.path, "rb") as file:

        def read(offset: int, length: int) -> bytes:
            file.seek(offset)
            return file.read(length)

        start = struct.unpack(">I", read(12 + 4 * face.index, 4))[0] if read(0, 4) == b"ttcf" else 0
        (tables,) = struct.unpack(">H", read(start + 4, 2))
        directory = read(start + 12, 16 * tables)
        for i in range(tables):
            tag, _, offset, length = struct.unpack(">4sIII", directory[16 * i:16 * i + 16])
            if tag == b"cmap":
                cmap = read(offset, length)
                break
        else:
            return frozenset()
    subtables = {}
    for i in range(struct.unpack(">H", cmap[2:4])[0]):
        platform, encoding, offset = struct.unpack(">HHI", cmap[4 + 8 * i:12 + 8 * i])
        if platform == 0 or (platform, encoding) in ((3, 1), (3, 10)):
            subtables[struct.unpack(">H", cmap[offset:offset + 2])[0]] = offset
    points: set[int] = set()
    if 12 in subtables:
        at = subtables[12]
        for g in range(struct.unpack(">I", cmap[at + 12:at + 16])[0]):
            first, last, glyph = struct.unpack(">III", cmap[at + 16 + 12 * g:at + 28 + 12 * g])
            points.update(range(first + (glyph == 0), last + 1))
    elif 4 in subtables:
        at = subtables[4]
        segments = struct.unpack(">H", cmap[at + 6:at + 8])[0] // 2
        ends = struct.unpack(f">{segments}H", cmap[at + 14:at + 14 + 2 * segments])
        starts = struct.unpack(f">{segments}H", cmap[at + 16 + 2 * segments:at + 16 + 4 * segments])
        deltas = struct.unpack(f">{segments}H", cmap[at + 16 + 4 * segments:at + 16 + 6 * segments])
        range_at = at + 16 + 6 * segments
        for s in range(segments):
            (offset,) = struct.unpack(">H", cmap[range_at + 2 * s:range_at + 2 * s + 2])
            for cp in range(starts[s], min(ends[s], 0xFFFE) + 1):
                if offset == 0:
                    glyph = (cp + deltas[s]) & 0xFFFF
                else:
                    where = range_at + 2 * s + offset + 2 * (cp - starts[s])
                    glyph = struct.unpack(">H", cmap[where:where + 2])[0]
                    glyph = (glyph + deltas[s]) & 0xFFFF if glyph else 0
                if glyph:
                    points.add(cp)
    return frozenset(points)
