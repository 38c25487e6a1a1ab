"""The inside of a mouth, for the warp engine: what a mouth shows when it opens wider than in the source,
rather than stretched lips.

`inner_mouth` draws it once per identity, in the subject's colours and the image's look: a warm cavity that
darkens inward from the lips (never black), an arch of upper teeth hanging from the upper lip and partly
behind it, lower teeth that rise above the lower lip only as the jaw drops, a tongue at wide openings. The
teeth take the colour of the whites of the subject's eyes, the cavity that of the lips; the whole is blurred
as much as the source is around the mouth and carries the source's own grain (or brush texture), cut from
the chin, so it does not look pasted on. Where the source's mouth is already open (a smile with teeth), its
own inside is used instead: its upper part hangs from the upper lip, its lower part from the lower lip, and
the cavity opens between them.

A mouth's inside depends on how far it is open, not only on where in the mouth a pixel is, so the texture is
an atlas of slices, one per gap between the lips (geometric steps of GAP_STEP), each the mouth's inside for
that gap, mapped corner to corner across and lip to lip down. Per frame, `InnerMouth.sample` maps each output
pixel of the opening (`mouth_outline`) to its column's slice: the lips' edges always land on the slices' own
edges, so the cavity meets the lips in the lips' colour, with no hard edge, whatever shape the mouth takes.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from engine.faces import LEFT_EYE, LIPS, RIGHT_EYE, opening

# Sizes in mouth widths (inner corner to inner corner); the texture has one texel per px of the crop.
MARGIN = 0.06  # texture columns beyond each corner, for pixels of the outline's raster just outside it
GAP_FIRST, GAP_STEP, GAP_LAST = 0.01, 1.08, 0.9  # the slices' gaps between the lips: 0.01, 0.0108, ... 0.9
LIP_EDGE = 2.0  # texels: each lip's own colour reaches this far into the opening
RIM = 0.1  # the cavity lightens into the lower lip's colour over this depth from it (the upper lip's, 0.6 of it)
RIM_LIGHT = 0.85  # the lips' inner rims, where they curl into the mouth: this much of the lips' edge colour
DEEP, DEEP_FLOOR = 0.5, 0.12  # the cavity: this much of the lower lip's colour, at least this of the skin's light
DEEP_SATURATION = 1.5  # and this much more saturated: flesh in shadow is redder than in light
UPPER_TEETH = 0.13  # how far the middle upper teeth show below the upper lip
TEETH_EDGES = np.array([0.0, 0.09, 0.165, 0.235, 0.3, 0.36])  # tooth edges from the middle: incisors, canines...
LOWER_TEETH_FROM, LOWER_TEETH_RISE, LOWER_TEETH = 0.25, 0.4, 0.08  # gap they appear at, rise per gap, most
TONGUE_FROM, TONGUE_RISE, TONGUE = 0.25, 0.7, 0.2  # the tongue: gap it appears at, rise per gap, most height
PARTING_DARK = 0.5  # a row of the source's own inside this much darker than its brightest parts it
OWN_INSIDE_FROM = 2.0  # px: a source mouth open this much (mean inner-lip gap) lends the texture its own inside
EDGE_OFFSET = 0.06  # mouth widths: the lips' colour along the opening is read this far outside it, past the
# dark line between a shut mouth's lips
BRIGHT_TO_TEETH, TEETH_TINT = 1.25, 0.3  # where the eyes' whites can't say: teeth this much lighter than the
# picture's brighter half, with this share of the skin's tint
TEETH_GREY = 0.4  # teeth are the eyes' whites this much nearer grey: whites read warm in old paint and prints
SOBEL_BLUR = 0.9  # px: the blur the blur estimate reads on a perfectly sharp image (the Sobel kernel's own)
GRAIN_BAND = 2.5  # px: the grain is what a Gaussian of this sigma smooths away on the chin


@dataclass(frozen=True)
class Look:
    """What the inside of this subject's mouth is drawn with, read from the source around the mouth."""

    upper_lip: np.ndarray  # (3,) RGB float: the upper lip's median colour
    lower_lip: np.ndarray  # (3,) the lower lip's
    upper_edge: np.ndarray  # (columns, 3): the upper lip along its inner edge, corner to corner like the texture
    lower_edge: np.ndarray  # (columns, 3): the lower lip along its inner edge
    teeth: np.ndarray  # (3,) the whites of the eyes as lit in this image, a little greyer
    skin: float  # mean luminance of the skin around the mouth
    blur: float  # px: Gaussian sigma the source's edges around the mouth are blurred by
    grain: np.ndarray  # (H, W) float: luminance detail of the chin (grain, brush strokes), mean 0


@dataclass(frozen=True, eq=False)
class InnerMouth:
    """Where the inner-mouth atlas lies in the identity's image, and how an output pixel finds its texel."""

    top: int  # the atlas's first row in the image sampled
    width: int  # texels per mouth width
    gaps: np.ndarray  # (K,) each slice's gap between the lips, mouth widths
    starts: np.ndarray  # (K,) each slice's first row, from `top`
    heights: np.ndarray  # (K,) each slice's rows: its first is the upper lip, its last the lower

    def sample(self, outline: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The texels (x, y) (float32, px of the image sampled) that output pixels (x, y) inside the mouth
        opening `outline` (32, 2) (`mouth_outline`, same px as x, y) show. Across, a pixel maps by where it
        lies between the corners; down, by where it lies between the lips in its column, into the slice for
        that column's gap (the nearest). A column's gap falls between two slices': a pixel near the upper
        lip takes its distance from that lip, one near the lower from the lower, so the teeth hanging from
        either lie where they would in a slice made for that very gap, and neighbouring columns that take
        neighbouring slices agree."""
        across, down, upper, lower = _mouth_axes(outline, x, y)
        gap = np.maximum(lower - upper, 1e-6)
        level = np.clip(np.rint(np.log(gap / GAP_FIRST) / np.log(GAP_STEP)), 0, len(self.starts) - 1).astype(int)
        last = self.heights[level] - 1
        scale = last / self.gaps[level]  # rows per mouth width
        lower_weight = _smooth(np.clip((down - upper) / gap, 0.0, 1.0), 0.3, 0.9)
        depth = (down - upper) * scale * (1 - lower_weight) + (last - (lower - down) * scale) * lower_weight
        columns = np.clip((across + MARGIN) * self.width - 0.5, 0, (1 + 2 * MARGIN) * self.width - 1)
        rows = self.top + self.starts[level] + np.clip(depth, 0, last)
        return columns.astype(np.float32), rows.astype(np.float32)


def inner_mouth(crop: np.ndarray, landmarks: np.ndarray, top: int) -> tuple[InnerMouth, np.ndarray]:
    """The inner mouth of the face of `landmarks` (68, 2 px of `crop`): its layout, for an atlas placed at
    row `top` of the image sampled, and the atlas (rows, columns, 3) uint8."""
    outline = mouth_outline(landmarks)
    width = max(round(float(np.linalg.norm(outline[16] - outline[0]))), 8)
    gaps = GAP_FIRST * GAP_STEP ** np.arange(int(np.log(GAP_LAST / GAP_FIRST) / np.log(GAP_STEP)) + 1)
    heights = np.maximum(np.ceil(gaps * width).astype(int) + 1, 2)
    starts = np.concatenate([[0], np.cumsum(heights)[:-1]])
    look = _look(crop, landmarks, outline, width)
    own = _own_inside(crop, outline, width) if opening(landmarks, LIPS) >= OWN_INSIDE_FROM else None
    atlas = np.vstack([_slice(gap, int(rows), width, look, own) for gap, rows in zip(gaps, heights, strict=True)])
    return InnerMouth(top=top, width=width, gaps=gaps, starts=starts, heights=heights), atlas


def mouth_outline(landmarks: np.ndarray, samples: int = 4) -> np.ndarray:
    """(..., 8 * samples, 2) the mouth opening's outline: Catmull-Rom curves through the upper inner lip
    (60-64) and the lower (64-67, 60), so an open mouth is round rather than an octagon with a V at the
    bottom. The corners stay sharp: each lip is its own curve."""
    curves = []
    for chain in ((60, 61, 62, 63, 64), (64, 65, 66, 67, 60)):
        points = landmarks[..., list(chain), :]
        padded = np.concatenate([points[..., :1, :], points, points[..., -1:, :]], axis=-2)
        s = np.arange(samples)[:, None] / samples
        for k in range(1, len(chain)):
            p0, p1, p2, p3 = (padded[..., k + j - 1, None, :] for j in range(4))
            curves.append(0.5 * (2 * p1 + (p2 - p0) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s**2
                                 + (3 * p1 - p0 - 3 * p2 + p3) * s**3))
    return np.concatenate(curves, axis=-2)


# reading the source


def _look(crop: np.ndarray, landmarks: np.ndarray, outline: np.ndarray, width: int) -> Look:
    """The colours, blur and grain of the source around the mouth, whose opening's outline is `outline`
    and which is `width` texels wide in the texture."""
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    upper = _mask(crop, landmarks[[48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]])
    lower = _mask(crop, landmarks[[48, 60, 67, 66, 65, 64, 54, 55, 56, 57, 58, 59]])
    lips = _mask(crop, landmarks[48:60])
    around = cv2.dilate(lips, np.ones((31, 31), np.uint8)) & ~lips
    eyes = _mask(crop, landmarks[list(RIGHT_EYE)]) | _mask(crop, landmarks[list(LEFT_EYE)])
    skin = float(gray[around > 0].mean())
    return Look(
        upper_lip=_median(crop, upper),
        lower_lip=_median(crop, lower),
        upper_edge=_along_lip(crop, outline, width, -EDGE_OFFSET),
        lower_edge=_along_lip(crop, outline, width, EDGE_OFFSET),
        teeth=_whites(crop, gray, eyes, around, skin),
        skin=skin,
        blur=_blur(gray, cv2.boundingRect(cv2.dilate(lips, np.ones((25, 25), np.uint8)))),
        grain=_grain(gray, landmarks),
    )


def _along_lip(crop: np.ndarray, outline: np.ndarray, width: int, offset: float) -> np.ndarray:
    """(columns, 3) float: the source's colour `offset` mouth widths above the upper inner lip (negative)
    or below the lower (positive), at each texture column: what the warped lip shows next to the opening."""
    columns = int((1 + 2 * MARGIN) * width)
    across = (np.arange(columns) + 0.5) / width - MARGIN
    corner, axis = outline[0], outline[len(outline) // 2] - outline[0]
    length = float(np.hypot(*axis))
    normal = np.array([-axis[1], axis[0]]) / length
    _, _, upper, lower = _mouth_axes(outline, corner[0] + across * axis[0], corner[1] + across * axis[1])
    down = ((upper if offset < 0 else lower) + offset) * length
    points = (corner + across[:, None] * axis + down[:, None] * normal).astype(np.float32)
    colours = cv2.remap(crop, points[None, :, 0], points[None, :, 1], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)[0].astype(np.float64)
    return cv2.GaussianBlur(colours[None], (0, 0), 1.5)[0]


def _whites(crop: np.ndarray, gray: np.ndarray, eyes: np.ndarray, around: np.ndarray, skin: float) -> np.ndarray:
    """The whites of the eyes (their brightest fifth), or where they cannot be read (eyes too small, or
    darker than the skin around the lips, the mask `around`, whose mean luminance is `skin`: behind glasses,
    in shadow) a grey as light as the picture's brighter half, lightened, with a little of that skin's tint:
    the colour this image gives something white in the face. The brighter half gives the light only, not the
    colour: it is often the background (a wooden wall made the teeth yellow)."""
    seen = eyes > 0
    if seen.sum() >= 20:
        bright = seen & (gray >= np.percentile(gray[seen], 80))
        whites = crop[bright].astype(np.float64).mean(axis=0)
        if whites.mean() > skin:
            return whites + TEETH_GREY * (whites.mean() - whites)
    light = min(255.0, BRIGHT_TO_TEETH * float(gray[gray > np.percentile(gray, 50)].mean()))
    tint = crop[around > 0].astype(np.float64).mean(axis=0)
    return np.clip(light + TEETH_TINT * (tint - tint.mean()), 0, 255)


def _blur(gray: np.ndarray, box: tuple[int, int, int, int], probe: float = 1.5) -> float:
    """Px: the Gaussian sigma the strongest edges in `box` are blurred by. Blurring by `probe` lowers an
    edge's slope by sqrt(s^2 + probe^2) / s for an edge already blurred by s, so the median ratio over the
    strongest edges gives s (Zhuo and Sim's defocus estimate)."""
    x, y, w, h = box
    region = gray[y:y + h, x:x + w]

    def slope(image: np.ndarray) -> np.ndarray:
        return np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1))

    sharp, blurred = slope(region), slope(cv2.GaussianBlur(region, (0, 0), probe))
    edges = sharp >= max(np.percentile(sharp, 95), 1e-3)
    ratio = float(np.median(sharp[edges] / np.maximum(blurred[edges], 1e-6)))
    seen = probe / np.sqrt(max(ratio**2 - 1, 1e-3))
    return float(np.clip(np.sqrt(max(seen**2 - SOBEL_BLUR**2, 0.0)), 0.0, 4.0))


def _grain(gray: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The fine luminance detail of a patch of the chin, between the lower lip and the jaw's tip: what the
    image's grain or brush strokes add to smooth skin, to lay over the drawn mouth."""
    lip, chin = landmarks[57], landmarks[8]
    side = max(int(0.5 * np.linalg.norm(chin - lip)), 8)
    x, y = np.round((lip + chin) / 2 - side / 2).astype(int)
    x, y = np.clip(x, 0, gray.shape[1] - side), np.clip(y, 0, gray.shape[0] - side)
    patch = gray[y:y + side, x:x + side]
    return patch - cv2.GaussianBlur(patch, (0, 0), GRAIN_BAND)


def _own_inside(crop: np.ndarray, outline: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The source's own open mouth, resampled corner to corner across (MARGIN beyond each) and lip to lip
    down: (rows, columns, 3) float, and each column's gap between the lips (columns,), in mouth widths."""
    columns = int((1 + 2 * MARGIN) * width)
    across = (np.arange(columns) + 0.5) / width - MARGIN
    corner, axis = outline[0], outline[16] - outline[0]
    length = float(np.hypot(*axis))
    along, normal = axis / length, np.array([-axis[1], axis[0]]) / length
    _, _, upper, lower = _mouth_axes(outline, corner[0] + across * axis[0], corner[1] + across * axis[1])
    gap = np.maximum(lower - upper, 0.0)
    rows = max(int(np.ceil(gap.max() * width)) + 1, 2)
    down = upper[None, :] + np.linspace(0, 1, rows)[:, None] * gap[None, :]  # (rows, columns) mouth widths
    points = corner + length * (across[None, :, None] * along + down[..., None] * normal)
    own = cv2.remap(crop, points[..., 0].astype(np.float32), points[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return own.astype(np.float64), gap


# drawing one slice


def _slice(gap: float, rows: int, width: int, look: Look, own: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """(rows, columns, 3) uint8: the inside of a mouth open `gap` mouth widths, corner to corner across and
    upper lip (first row) to lower lip (last row) down. It is drawn with rows of lip beyond each lip, blurred
    like the source and given its grain, and those rows are cut off again, so the edges blend into the lips."""
    pad = int(np.ceil(3 * look.blur)) + 1
    columns = int((1 + 2 * MARGIN) * width)
    across = (np.arange(columns) + 0.5) / width - MARGIN - 0.5  # mouth widths from the middle
    below = (np.arange(-pad, rows + pad) / max(rows - 1, 1) * gap)[:, None]  # from the upper lip
    u, v = np.broadcast_arrays(across[None, :], below)
    d = gap - v
    texel = 1 / width
    inside = _drawn(u, v, d, gap, look, texel) if own is None else _with_own(u, v, d, gap, look, own, texel)
    inside = _lip_edges(inside, v, d, look, texel, upper=own is None)
    image = np.where((v < 0)[..., None], look.upper_edge, np.where((d < 0)[..., None], look.lower_edge, inside))
    if look.blur > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), look.blur)
    light = np.clip(image.mean(axis=-1, keepdims=True) / max(look.skin, 1.0), 0.0, 1.5)
    image = image + _grain_over(look.grain, v, u, width)[..., None] * np.sqrt(light)  # grain fades in the dark
    return np.clip(image[pad:pad + rows], 0, 255).astype(np.uint8)


def _drawn(u: np.ndarray, v: np.ndarray, d: np.ndarray, gap: float, look: Look, texel: float,
           upper_teeth: bool = True) -> np.ndarray:
    """(..., 3) float: the drawn inside at mouth widths u across from the middle, v below the upper lip and
    d above the lower, front to back: the upper teeth (unless `upper_teeth` is False), the lower teeth, the
    tongue, and the cavity behind.
    Edges are a `texel` (mouth widths) soft, so that every slice puts an edge at the same place between its
    rows and a pixel's neighbours, sampled from different slices, agree."""
    colour = _cavity(u, v, d, gap, look)
    tongue = np.clip((gap - TONGUE_FROM) * TONGUE_RISE, 0, TONGUE) * (1 - (u / 0.36) ** 2).clip(0)
    tongue_colour = look.lower_lip * (0.6 + 0.4 * _smooth(d, 0, tongue + 1e-6))[..., None]  # lit on top
    colour = _over(colour, tongue_colour, _edge(tongue - d, texel))
    rise = np.clip((gap - LOWER_TEETH_FROM) * LOWER_TEETH_RISE, 0, LOWER_TEETH)
    lower = rise * (1 - (u / 0.28) ** 2).clip(0) - 0.002 * _tooth_curve(u)
    colour = _over(colour, 0.8 * _teeth(u, d, look), _edge(lower - d, texel) * _edge(0.22 - np.abs(u), texel))
    if not upper_teeth:
        return colour
    upper = UPPER_TEETH - 0.55 * u**2 - 0.003 * _tooth_curve(u)  # side teeth recede and rise; round edges
    return _over(colour, _teeth(u, v, look), _edge(upper - v, texel) * _edge(TEETH_EDGES[-1] - np.abs(u), texel))


def _with_own(u: np.ndarray, v: np.ndarray, d: np.ndarray, gap: float, look: Look,
              own: tuple[np.ndarray, np.ndarray], texel: float) -> np.ndarray:
    """(..., 3) float: the source's own inside, opened to `gap`: its upper part (to where it parts) hangs
    from the upper lip, its lower part from the lower lip, the cavity between; where all of it hangs from
    the upper lip (a smile with only the upper teeth), the drawn lower teeth and tongue show below it."""
    image, own_gap = own
    rows = len(image)
    split = _parting(image)
    extra = np.maximum(gap - own_gap, 0.0)[None, :]  # how much wider than the source, per column
    depth = np.where(v <= split * own_gap, v, np.where(d <= (1 - split) * own_gap, own_gap - d, split * own_gap))
    source_row = np.clip(depth / np.maximum(own_gap, 1e-6) * (rows - 1), 0, rows - 1)
    above = np.floor(source_row).astype(int)
    below = np.minimum(above + 1, rows - 1)
    taken = _over(np.take_along_axis(image, above[..., None], axis=0),
                  np.take_along_axis(image, below[..., None], axis=0), source_row - above)
    seam = np.minimum(np.abs(v - split * own_gap), np.abs(d - (1 - split) * own_gap))
    between = (v > split * own_gap) & (d > (1 - split) * own_gap)
    alpha = np.where(between, 1 - _smooth(seam, 0, np.minimum(extra, LIP_EDGE * texel) + 1e-6), 1.0)
    if split == 1.0:
        behind = _drawn(u, v, d, gap, look, texel, upper_teeth=False)
    else:
        away = np.ones_like(v)  # no rim where the source's own inside meets the cavity
        behind = _cavity(u, away, away, gap, look)
    return _over(behind, taken, alpha)


def _lip_edges(colour: np.ndarray, v: np.ndarray, d: np.ndarray, look: Look, texel: float,
               upper: bool = True) -> np.ndarray:
    """The inside with each lip's colour along its edge carried LIP_EDGE texels into it, where the lip
    curls inward: the opening's outline, drawn pixel-sharp, then parts the lip from its own colour, not
    from teeth. `upper` False leaves the upper lip out (the source's own inside already starts from it)."""
    colour = _over(colour, look.lower_edge, 1 - _smooth(d, 0, LIP_EDGE * texel))
    return _over(colour, look.upper_edge, 1 - _smooth(v, 0, LIP_EDGE * texel)) if upper else colour


def _cavity(u: np.ndarray, v: np.ndarray, d: np.ndarray, gap: float, look: Look) -> np.ndarray:
    """(..., 3) float: the mouth's cavity, the lower lip's colour darkened: darkest under the upper jaw,
    lighter towards the floor of the mouth, darker towards the cheeks and, in a wide mouth, at the throat;
    lightening into each lip's colour over RIM from it. Never black."""
    down = v / max(gap, 1e-6)  # 0 at the upper lip, 1 at the lower
    throat = np.exp(-((u / 0.25) ** 2 + ((down - 0.45) / 0.3) ** 2)) * _smooth(gap, 0.3, 0.6)
    shade = (0.85 + 0.15 * _smooth(down, 0.35, 1.0)) * (1 - 0.2 * _smooth(np.abs(u), 0.2, 0.45)) * (1 - 0.15 * throat)
    lip = look.lower_lip.mean() + DEEP_SATURATION * (look.lower_lip - look.lower_lip.mean())  # shade is redder
    deep = np.maximum(DEEP * np.clip(lip, 0, 255), DEEP_FLOOR * look.skin) * (1 - 0.1 * _smooth(gap, 0.1, 0.5))
    deep = deep * shade[..., None]
    colour = _over(deep, RIM_LIGHT * look.lower_edge, 1 - _smooth(d, 0, RIM))
    return _over(colour, RIM_LIGHT * look.upper_edge, 1 - _smooth(v, 0, 0.6 * RIM))


def _teeth(u: np.ndarray, depth: np.ndarray, look: Look) -> np.ndarray:
    """(..., 3) float: teeth in the whites' colour, shaded into the mouth at the sides, in the lip's shadow
    near it, with a faint seam between neighbours."""
    seams = 1 - 0.15 * np.exp(-(((np.abs(u)[..., None] - TEETH_EDGES[1:-1]) / 0.008) ** 2)).max(axis=-1)
    shade = seams * (1 - 2.2 * u**2) * (0.7 + 0.3 * _smooth(depth, 0, 0.04))
    return 0.92 * look.teeth * shade[..., None]


def _tooth_curve(u: np.ndarray) -> np.ndarray:
    """0 at the middle of each tooth, 1 at its edges: how far its biting edge curves back."""
    edges = np.concatenate([-TEETH_EDGES[:0:-1], TEETH_EDGES])
    right = np.clip(np.searchsorted(edges, u), 1, len(edges) - 1)
    left_edge, right_edge = edges[right - 1], edges[right]
    return (2 * (u - left_edge) / (right_edge - left_edge) - 1) ** 2


def _parting(image: np.ndarray) -> float:
    """Where, from the upper lip (0) to the lower (1), the source's own inside parts into what hangs from
    each lip: its darkest row across the middle, away from the lips, if that is dark (the gap between
    the teeth); else 1, all of it with the upper lip (a smile that shows only the upper teeth)."""
    rows, columns = image.shape[:2]
    middle = image[:, columns // 3:2 * columns // 3].mean(axis=(1, 2))
    inner = slice(rows // 5, max(rows - rows // 5, rows // 5 + 1))
    darkest = int(np.argmin(middle[inner]) + inner.start)
    return darkest / max(rows - 1, 1) if middle[darkest] < PARTING_DARK * middle.max() else 1.0


def _grain_over(grain: np.ndarray, v: np.ndarray, u: np.ndarray, width: int) -> np.ndarray:
    """The grain laid over texels at v below the upper lip and u across, mirrored to tile: the same texel
    of the mouth gets the same grain in every slice, so it does not flicker as the mouth opens."""
    rows = np.round(v * width).astype(int)
    columns = np.round((u + 0.5 + MARGIN) * width).astype(int)
    return grain[_mirror(rows, len(grain)), _mirror(columns, grain.shape[1])]


# helpers


def _mouth_axes(outline: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """For points (x, y): how far across the mouth each lies (0 at the corner 60, 1 at 64), how far down
    from the corners' line, and where the upper and the lower lip are in its column, all in mouth widths."""
    corners = len(outline) // 2
    corner, axis = outline[0], outline[corners] - outline[0]
    length2 = float(axis @ axis)

    def axes(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = px - corner[0], py - corner[1]
        return (dx * axis[0] + dy * axis[1]) / length2, (dy * axis[0] - dx * axis[1]) / length2

    upper_across, upper_down = axes(*outline[:corners + 1].T)
    lower = outline[np.r_[0, len(outline) - 1:corners - 1:-1]]
    lower_across, lower_down = axes(*lower.T)
    across, down = axes(x, y)
    upper = np.interp(across, np.maximum.accumulate(upper_across), upper_down)
    return across, down, upper, np.interp(across, np.maximum.accumulate(lower_across), lower_down)


def _mask(crop: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask


def _median(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    pixels = crop[mask > 0].astype(np.float64)
    return np.median(pixels, axis=0) if len(pixels) else crop.reshape(-1, 3).mean(axis=0)


def _mirror(index: np.ndarray, length: int) -> np.ndarray:
    """Indices folded into 0..length-1 by mirroring, as a tile repeated back and forth."""
    period = np.mod(index, 2 * length)
    return np.where(period < length, period, 2 * length - 1 - period)


def _over(under: np.ndarray, over: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return under + (over - under) * alpha[..., None]


def _edge(distance: np.ndarray, texel: float) -> np.ndarray:
    """0 outside, 1 inside a shape whose signed distance (mouth widths, positive inside) is `distance`,
    with an edge a texel wide."""
    return _smooth(distance, -texel, texel)


def _smooth(x: np.ndarray, start: float, end: float | np.ndarray) -> np.ndarray:
    """0 below `start`, 1 above `end`, smoothstep between."""
    u = np.clip((x - start) / (end - start), 0.0, 1.0)
    return u * u * (3 - 2 * u)
