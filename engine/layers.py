"""Two layers of a portrait: the head, with a soft matte, and the background with the region behind the head filled.

A head that turns or travels must move over something: the warp engine today pins a ring of anchors around the
face so the background stays still, which caps how far the head may go and leaves a doubled hair edge when it
moves. With the source split once at prepare time, the head layer moves freely and the background shows behind it.

The split is OpenCV's grabCut (Rother et al. 2004), seeded from the landmarks in face units (see `FaceFrame`):

    sure head        the face inside its jaw and brows, and the crown above it (forehead, the hair on it)
    probably head    a wider ellipse over the face, forehead and hair (below the jaw's middle, only the jaw and a
                     margin round it), and the neck down from the chin
    probably not     the rest of the square: it is never head, whatever its colour (a wall the colour of skin)
    sure not         the square's edge, except where the neck leaves it at the bottom

It runs on a copy of at most CUT_SIZE px a side (prepare stays well under a second), and its hard mask becomes a
soft matte by a blur of FEATHER face units, grown first by GROW so that its soft edge lies outside the hair's
last strands rather than across them (a thin band of the background then travels with the head, next to the
same background), the face itself held at 1. The background is the square with the
dilated head region inpainted (OpenCV's Telea fill, at a quarter of the size, so it is smooth rather than smeared),
then given back the grain of what surrounds it, as strong in each place as beside it.

Example:

    layers = split(crop, landmarks)  # an RGB uint8 square and its 68 landmarks in that square's px
    frame = layers.matte[..., None] * moved_head + (1 - layers.matte[..., None]) * layers.background
"""

from dataclasses import dataclass

import cv2
import numpy as np

from engine.faces import FaceFrame, face_frame

CUT_SIZE = 192  # px: grabCut's working size
ITERATIONS = 4
FEATHER = 0.04  # face units: the matte's soft edge
GROW = 0.08  # face units: how far the hard mask is grown before it is softened
HEAD = ((0.0, -0.45), (1.15, 1.55))  # face units: the ellipse over face, forehead and hair (centre, semi-axes)
JAW_MARGIN = 0.1  # face units: below the jaw's middle, the head reaches this far past the jaw line (a beard)
CROWN = ((0.0, -0.4), (0.8, 1.1))  # face units: the ellipse that is surely head (forehead, the hair on it)
NECK = (0.45, 1.1, 2.6)  # face units: half its width, where it starts below the origin, where it ends
EDGE = 0.03  # of the square's side: the border band that is surely background
FILL_SCALE = 4  # the background is filled at 1/FILL_SCALE of the square's size
GRAIN_LEVELS = 8.0  # grain strengths are filled as uint8 at this many levels a grey level


@dataclass(frozen=True, eq=False)
class Layers:
    """A square split in two: `matte` (float32, 1 on the head) and `background` (RGB uint8, the head filled in)."""

    matte: np.ndarray
    background: np.ndarray


def split(image: np.ndarray, landmarks: np.ndarray, within: np.ndarray | None = None,
          mirrored: np.ndarray | None = None) -> Layers:
    """Split an RGB uint8 square whose face has these (68, 2) landmarks (px) into its head and background layers.

    `within` (float32 in [0, 1], the square's size) bounds the head: the matte is multiplied by it, and where it
    is 0 the background is the image itself (the warp engine keeps the head inside the part of its mesh that
    moves with it, and fades it out down the neck). `mirrored` (engine.crop.mirrored_from) says which px of
    the square an extended edge mirrors: a mirror of the head is filled in the background like the head, or
    the head would uncover its own reflection."""
    side = image.shape[0]
    seeds = _seeds(landmarks, side)
    if within is not None:
        seeds[within <= 0] = cv2.GC_BGD
    head = _grabcut(image, seeds) & (seeds != cv2.GC_PR_BGD)  # never past the prior: a wall the colour of skin
    matte = _feathered(head, seeds, landmarks)
    if within is not None:
        matte *= within
    echo = None if mirrored is None else cv2.remap(matte, mirrored[..., 0], mirrored[..., 1], cv2.INTER_LINEAR)
    return Layers(matte, _background(image, matte if echo is None else np.maximum(matte, echo)))


# helpers


def _seeds(landmarks: np.ndarray, side: int) -> np.ndarray:
    """grabCut's starting labels for the square, drawn from the face's own frame."""
    frame = face_frame(np.asarray(landmarks, np.float64))
    seeds = np.full((side, side), cv2.GC_PR_BGD, np.uint8)
    seeds[_head_prior(frame, landmarks, side)] = cv2.GC_PR_FGD
    half, top, bottom = NECK
    neck = frame.to_image(np.array([(-half, top), (half, top), (half, bottom), (-half, bottom)]))
    cv2.fillPoly(seeds, [np.round(neck).astype(np.int32)], cv2.GC_PR_FGD)
    band = max(1, round(EDGE * side))
    border = np.zeros((side, side), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    seeds[border & (seeds != cv2.GC_PR_FGD)] = cv2.GC_BGD
    crown = np.round(_ellipse(frame, CROWN)).astype(np.int32)
    for surely_head in (crown, _face_outline(landmarks)):  # one call each: overlaps of one call's polygons are holes
        cv2.fillPoly(seeds, [surely_head], cv2.GC_FGD)
    return seeds


def _head_prior(frame: FaceFrame, landmarks: np.ndarray, side: int) -> np.ndarray:
    """(side, side) bool: where the head may be: the HEAD ellipse down to the jaw's middle (landmarks 4 and 12),
    and below it only the jaw and JAW_MARGIN around it.

    Beside the lower jaw the ellipse is mostly background, and grabCut takes a background the colour of skin
    (a wooden wall) for head: that band then travelled with the head over the background it was cut from, a
    doubled edge beside the neck.
    """
    inside = np.zeros((side, side), np.uint8)
    cv2.fillPoly(inside, [np.round(_ellipse(frame, HEAD)).astype(np.int32)], 1)
    jaw = np.zeros((side, side), np.uint8)
    cv2.fillPoly(jaw, [cv2.convexHull(np.round(np.asarray(landmarks)[:17]).astype(np.int32))], 1)
    grow = max(1, round(JAW_MARGIN * frame.scale))
    jaw = cv2.dilate(jaw, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    below = frame.square_to_face(side)[..., 1] > frame.to_face(np.asarray(landmarks, np.float64))[[4, 12], 1].mean()
    return (inside > 0) & (~below | (jaw > 0))


def _ellipse(frame: FaceFrame, shape: tuple[tuple[float, float], tuple[float, float]]) -> np.ndarray:
    """An ellipse given in face units (centre, semi-axes) as a polygon in image px."""
    (cx, cy), (ax, ay) = shape
    turns = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    return frame.to_image(np.stack([cx + ax * np.cos(turns), cy + ay * np.sin(turns)], axis=1))


def _face_outline(landmarks: np.ndarray) -> np.ndarray:
    """The face inside its jaw and brows, as a convex polygon in int32 px."""
    return cv2.convexHull(np.round(np.asarray(landmarks)[:27]).astype(np.int32))


def _grabcut(image: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """grabCut's head mask (bool) at the square's size, computed on a copy of at most CUT_SIZE px."""
    side = image.shape[0]
    size = min(side, CUT_SIZE)
    small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    labels = cv2.resize(seeds, (size, size), interpolation=cv2.INTER_NEAREST)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # grabCut's colour models start from k-means: the same split every time
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, background, foreground, ITERATIONS,
                cv2.GC_INIT_WITH_MASK)
    head = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.uint8)
    return cv2.resize(head, (side, side), interpolation=cv2.INTER_LINEAR) > 0


def _feathered(head: np.ndarray, seeds: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The head mask as a soft matte: blurred at its edge, 1 on the face, 0 on the square's border band."""
    scale = face_frame(np.asarray(landmarks, np.float64)).scale
    sigma, grow = max(0.5, FEATHER * scale), max(1, round(GROW * scale))
    grown = cv2.dilate(head.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    matte = cv2.GaussianBlur(grown.astype(np.float32), (0, 0), sigma)
    matte[seeds == cv2.GC_FGD] = 1.0
    return np.clip(matte, 0.0, 1.0)


def _background(image: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """The square with the head taken out and the hole filled from what surrounds it, colour and grain alike."""
    side = image.shape[0]
    hole = cv2.dilate((matte > 0.02).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
    grey = image.astype(np.float32).mean(axis=2)
    fine = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    grain = np.sqrt(cv2.GaussianBlur(fine * fine, (0, 0), 3.0))  # how grainy each place is
    colour = _filled(image, hole).astype(np.float32)
    strength = _filled(np.clip(grain * GRAIN_LEVELS, 0, 255).astype(np.uint8), hole).astype(np.float32)
    noise = np.random.default_rng(0).standard_normal((side, side)).astype(np.float32)  # seeded: the same every time
    fill = colour + (noise * strength / GRAIN_LEVELS)[..., None]
    reach = np.clip(matte * 20.0, 0.0, 1.0)  # nothing outside the matte changes; its outer edge blends in
    weight = np.minimum(cv2.GaussianBlur(hole.astype(np.float32), (0, 0), 2.0), reach)[..., None]
    out = weight * fill + (1.0 - weight) * image.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _filled(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`image` (uint8, 1 or 3 channels) with `hole` inpainted at 1/FILL_SCALE of its size, smoothly, at full size."""
    side = image.shape[0]
    small_side = max(8, side // FILL_SCALE)
    small = cv2.resize(image, (small_side, small_side), interpolation=cv2.INTER_AREA)
    small_hole = cv2.dilate(cv2.resize(hole, (small_side, small_side), interpolation=cv2.INTER_NEAREST),
                            np.ones((3, 3), np.uint8))
    filled = cv2.GaussianBlur(cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA), (0, 0), 1.5)
    return cv2.resize(filled, (side, side), interpolation=cv2.INTER_CUBIC)
