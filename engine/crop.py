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
    """The square `box` of `image` resized to size x size, and whether the image had to be extended (its
    edge replicated) to hold the square."""
    x0, y0, side = box
    height, width = image.shape[:2]
    padded = x0 < 0 or y0 < 0 or x0 + side > width or y0 + side > height
    if padded and side > MAX_CUT:  # a huge face at the edge of a huge image: shrink the image to fit first
        factor = MAX_CUT / side
        image = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                           interpolation=cv2.INTER_AREA)
        (height, width), x0, y0, side = image.shape[:2], round(x0 * factor), round(y0 * factor), MAX_CUT
    if padded:  # the square alone, each row and column past the image's edge a copy of the edge's
        rows = np.clip(np.arange(y0, y0 + side), 0, height - 1)
        columns = np.clip(np.arange(x0, x0 + side), 0, width - 1)
        region = image[rows[:, None], columns]
    else:
        region = image[y0:y0 + side, x0:x0 + side]
    crop = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)
    return crop, padded


def to_crop_coordinates(points: np.ndarray, box: Square, size: int) -> np.ndarray:
    """Image px (..., 2) -> px of the square `box` cut at size x size (float64)."""
    x0, y0, side = box
    return (np.asarray(points, np.float64) - (x0, y0) + 0.5) * (size / side) - 0.5  # cv2.resize maps pixel centres
