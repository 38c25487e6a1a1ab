"""The face every engine animates: found in a source image, and cut out as a square around the head.

Both engines (and the neural engine's training data) frame a face the same way, so that a face looks the
same to the warp, to the neural generator at render time and to it in training: a square of 2 x CROP_HALF
face units (see `FaceFrame`: ~ the outer eye corners' distance) around a point a little below the eyes.

The square's size follows from the landmarks, which `check_landmarks` keeps on or near their image (a face
spanning at most twice the image's longer side, inside the image give or take its own span), so its side is
at most ~13 times the image's longer side (~6 times for a real face's proportions: the square is ~3 times
the face's span). What `crop_square` allocates is bounded further: only the square itself, never the whole
image padded out to it, and a square over MAX_CUT px a side is cut from a shrunk copy of the image.
"""

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from engine.errors import BadImage, BadLandmarks
from engine.faces import Detector, choose_face, face_frame, load_image, load_landmarks

CROP_CENTER, CROP_HALF = (0.0, 0.2), 2.3  # face units: the head with room around it
MAX_CUT = 4096  # px: the largest square `crop_square` takes before resizing (48 MB of RGB); output sizes go to 4096

Source = Path | str | np.ndarray
GivenLandmarks = Path | str | np.ndarray | None  # a source's landmarks: a JSON file, a (68, 2) array, or None to detect
Square = tuple[int, int, int]  # x0, y0, side, in source image px


def paired(sources: Sequence[Source],
           landmarks: Sequence[GivenLandmarks] | None) -> list[tuple[Source, GivenLandmarks]]:
    """Each source image with its landmarks entry (None: detect); BadImage / BadLandmarks for bad counts."""
    if not sources:
        raise BadImage("no source image given")
    if landmarks is not None and len(landmarks) != len(sources):
        raise BadLandmarks(f"give one landmarks entry per source image ({len(sources)}), or None to detect")
    return list(zip(sources, [None] * len(sources) if landmarks is None else landmarks, strict=True))


def find_face(source: Source, given: GivenLandmarks, detector: Detector, *,
              min_eye_span: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A source image (RGB uint8), the (68, 2) landmarks of the face to animate in it, and notes for the user.

    Raises BadImage, BadLandmarks, NoFaceError, FaceTooSmall, WeightsMissing.
    """
    path = None if isinstance(source, np.ndarray) else source
    image = load_image(source)
    faces = detector.detect(image) if given is None else load_landmarks(given, (image.shape[1], image.shape[0]))
    face, notes = choose_face(faces, min_eye_span=min_eye_span, path=path)
    return image, face, notes


def square(face: np.ndarray) -> Square:
    """The square around a face's (68, 2) landmarks that every engine cuts, in image px."""
    frame = face_frame(face)
    center = frame.to_image(np.array(CROP_CENTER))
    side = round(2 * CROP_HALF * frame.scale)
    return round(center[0] - side / 2), round(center[1] - side / 2), side


def crop_square(image: np.ndarray, box: Square, size: int) -> tuple[np.ndarray, bool]:
    """The square `box` of `image` resized to size x size, and whether the image had to be extended (see
    `_extended`) to hold the square."""
    x0, y0, side = box
    height, width = image.shape[:2]
    padded = x0 < 0 or y0 < 0 or x0 + side > width or y0 + side > height
    if padded and side > MAX_CUT:  # a huge face at the edge of a huge image: shrink the image to fit first
        factor = MAX_CUT / side
        image = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                           interpolation=cv2.INTER_AREA)
        x0, y0, side = round(x0 * factor), round(y0 * factor), MAX_CUT
    region = _extended(image, x0, y0, side) if padded else image[y0:y0 + side, x0:x0 + side]
    crop = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)
    return crop, padded


def to_crop_coordinates(points: np.ndarray, box: Square, size: int) -> np.ndarray:
    """Image px (..., 2) -> px of the square `box` cut at size x size (float64)."""
    x0, y0, side = box
    return (np.asarray(points, np.float64) - (x0, y0) + 0.5) * (size / side) - 0.5  # cv2.resize maps pixel centres


def mirrored_from(box: Square, shape: tuple[int, int], size: int) -> np.ndarray | None:
    """(size, size, 2) float32: for each px of the square `box` cut at size x size from an image of `shape`
    (height, width), the px of the same square that it shows, mirrored about the image's edge where the image
    had to be extended (`_extended`), itself elsewhere; None when the image holds the whole square. Where a
    mirror of the head lies, the warp engine must not leave it in the background for the head to uncover."""
    x0, y0, side = box
    height, width = shape
    if not (x0 < 0 or y0 < 0 or x0 + side > width or y0 + side > height):
        return None
    steps = (np.arange(size) + 0.5) * (side / size) - 0.5  # crop px -> offsets in image px, as cv2.resize maps
    columns = _reflected(x0 + steps, width) - x0
    rows = _reflected(y0 + steps, height) - y0
    back = size / side
    grid = np.meshgrid((columns + 0.5) * back - 0.5, (rows + 0.5) * back - 0.5)
    return np.stack(grid, axis=-1).astype(np.float32)


# helpers

FILL_SIZE, FILL_BLUR = 64, 2.0  # px: the fill is made at this size and blurred this much there, then scaled up
FILL_RAMP = 0.08  # of the square's side: how far past the image's edge the reflection has given way to the fill


def _extended(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The square (x0, y0, side) of an image it overhangs: the image's own pixels where it has them and,
    past its edge, the image mirrored about the edge, blending into a soft fill of the edge's colours with
    distance from it. A mirror keeps the edge's texture, which a copied edge row would smear into streaks;
    the fill (the mirror's coarse colours inpainted from the image's) keeps the mirrored face from reading
    as a second face a little further out."""
    height, width = image.shape[:2]
    rows, columns = np.arange(y0, y0 + side), np.arange(x0, x0 + side)
    mirrored = image[_reflected(rows, height)[:, None], _reflected(columns, width)]
    known = np.zeros((side, side), np.uint8)
    known[np.ix_((rows >= 0) & (rows < height), (columns >= 0) & (columns < width))] = 255
    coarse = cv2.resize(mirrored, (FILL_SIZE, FILL_SIZE), interpolation=cv2.INTER_AREA)
    unknown = cv2.resize(known, (FILL_SIZE, FILL_SIZE), interpolation=cv2.INTER_AREA) < 128
    coarse = cv2.inpaint(coarse, unknown.astype(np.uint8), 3, cv2.INPAINT_TELEA) if unknown.any() else coarse
    fill = cv2.resize(cv2.GaussianBlur(coarse, (0, 0), FILL_BLUR), (side, side), interpolation=cv2.INTER_LINEAR)
    past = np.hypot(*np.meshgrid(_past(columns, width), _past(rows, height))) / (FILL_RAMP * side)
    weight = np.clip(past, 0.0, 1.0, dtype=np.float32)
    weight *= weight * (3 - 2 * weight)  # smoothstep: the mirror's seam with the image stays invisible
    return cv2.blendLinear(mirrored, fill, 1 - weight, weight)


def _reflected(positions: np.ndarray, length: int) -> np.ndarray:
    """Positions along an axis of `length` pixels mirrored about its first and last pixel's centre, however far
    past: indices (..., 2, 1, 0, 1, 2, ...) for integers, and the same between pixel centres."""
    if length == 1:
        return np.zeros_like(positions)
    period = 2 * (length - 1)
    folded = np.mod(positions, period)
    return np.where(folded <= length - 1, folded, period - folded)


def _past(indices: np.ndarray, length: int) -> np.ndarray:
    """How far each index lies outside [0, length), 0 inside."""
    return np.maximum(np.maximum(-indices, indices - (length - 1)), 0).astype(np.float32)
