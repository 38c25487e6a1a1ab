"""A portrait split into its head (a soft matte) and its background (the head filled in), on photos, a painting
and a sculpture: the matte holds the face and leaves the corners, the fill removes the face and touches nothing
far from the head."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import load_image, load_landmarks
from engine.crop import crop_square, square, to_crop_coordinates
from engine.faces import face_frame
from engine.layers import split

DATA = Path(__file__).parent / "data"
SIZE = 256
FIXTURES = ("einstein_photo.jpg", "astronaut.jpg", "sargent_woman_in_black.jpg", "terracotta_warrior_small.jpg")


@pytest.fixture(scope="module", params=FIXTURES)
def portrait(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray]:
    """A fixture cut as the engines cut it: the square around its face, and the face's landmarks in it."""
    name = request.param
    face = load_landmarks(DATA / f"{name.rsplit('.', 1)[0]}.landmarks.json")[0]
    box = square(face)
    crop, _ = crop_square(load_image(DATA / name), box, SIZE)
    return crop, to_crop_coordinates(face, box, SIZE)


def test_the_matte_holds_the_face_and_leaves_the_corners(portrait: tuple[np.ndarray, np.ndarray]) -> None:
    crop, points = portrait
    matte = split(crop, points).matte
    assert matte.shape == crop.shape[:2] and matte.dtype == np.float32
    assert matte[_inside(points[:27])].min() == 1.0  # the face, inside its jaw and brows
    for x, y in np.round(points[[30, 37, 44, 51]]).astype(int):  # nose tip, both eyes, upper lip
        assert matte[y, x] == 1.0
    corner = SIZE // 10
    assert matte[:corner, :corner].max() < 0.05 and matte[:corner, -corner:].max() < 0.05


def test_the_background_has_no_face_left_where_the_face_was(portrait: tuple[np.ndarray, np.ndarray]) -> None:
    crop, points = portrait
    background = split(crop, points).background
    face = _inside(points[:27])
    assert _detail(background)[face].mean() < 0.35 * _detail(crop)[face].mean()  # eyes, nose, mouth are gone


def test_the_background_far_from_the_head_is_the_picture_untouched(portrait: tuple[np.ndarray, np.ndarray]) -> None:
    crop, points = portrait
    layers = split(crop, points)
    far = cv2.dilate((layers.matte > 0).astype(np.uint8), np.ones((25, 25), np.uint8)) == 0
    assert far.mean() > 0.2
    assert np.array_equal(layers.background[far], crop[far])


def test_the_split_is_the_same_every_time(portrait: tuple[np.ndarray, np.ndarray]) -> None:
    crop, points = portrait
    first, again = split(crop, points), split(crop, points)
    assert np.array_equal(first.matte, again.matte) and np.array_equal(first.background, again.background)


def test_a_wall_the_colour_of_skin_beside_the_lower_jaw_stays_behind(portrait: tuple[np.ndarray, np.ndarray]) -> None:
    """Below the jaw's middle the head is the jaw and a margin round it, however much like skin the wall beside
    it is: a skin-coloured band 0.3 face units wide beside the lower jaw is mostly background from 0.22 out
    (over 0.6 of the matte there was head before the head's prior stopped at the jaw)."""
    crop, points = portrait
    frame = face_frame(points.astype(np.float64))
    face = _hull(points[:27])
    below = frame.square_to_face(SIZE)[..., 1] > frame.to_face(points)[[4, 12], 1].mean()
    band, inner = (_grown(face, reach * frame.scale) for reach in (0.3, 0.22))
    painted = crop.copy()
    painted[below & band & (face == 0)] = np.median(crop[face > 0], axis=0)
    matte = split(painted, points).matte
    assert matte[below & band & ~inner].mean() < 0.55


# helpers


def _hull(points: np.ndarray) -> np.ndarray:
    """(SIZE, SIZE) uint8: 1 inside the convex hull of `points`."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillPoly(mask, [cv2.convexHull(np.round(points).astype(np.int32))], 1)
    return mask


def _inside(points: np.ndarray) -> np.ndarray:
    """Pixels inside the convex hull of `points`, shrunk by 3 px (its edge is the matte's to blur)."""
    return cv2.erode(_hull(points), np.ones((7, 7), np.uint8)) > 0


def _grown(mask: np.ndarray, reach: float) -> np.ndarray:
    """`mask` grown by `reach` px, as bool."""
    size = 2 * round(reach) + 1
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0


def _detail(image: np.ndarray) -> np.ndarray:
    """How much fine structure each pixel has: the gradient magnitude of the grey image, after a slight blur."""
    grey = cv2.GaussianBlur(image.astype(np.float32).mean(axis=2), (0, 0), 1.0)
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
