"""Framing a face that its image cuts off: the square every engine cuts around the face is extended past the
image's edge by a mirror of the image that gives way to a soft fill, never by a smear of the edge's pixels."""

from pathlib import Path

import cv2
import numpy as np

from engine import WarpConfig, WarpEngine, load_image, load_landmarks
from engine.crop import crop_square, mirrored_from, square, to_crop_coordinates

DATA = Path(__file__).parent / "data"
SIZE = 256


def test_a_face_at_the_image_edge_shows_no_streaks() -> None:
    image, face = _face_at_left_edge()
    identity = WarpEngine(WarpConfig(size=SIZE)).prepare([image], [face])
    edge = int(np.floor(to_crop_coordinates(np.array([0.0, 0.0]), identity.crop, SIZE)[0]))  # crop px of x = 0
    assert edge > 20 and any("edge" in note for note in identity.notes)
    band = cv2.cvtColor(identity.image[:SIZE, :edge - 1], cv2.COLOR_RGB2GRAY).astype(float)
    # a copied edge column is the same along each row: zero variation in the direction the image was extended
    along = band.std(axis=1)
    assert np.median(along) > 3 and (along > 1).mean() > 0.9


def test_the_image_itself_is_cut_as_it_is_and_the_mirror_meets_it_without_a_seam() -> None:
    image, face = _face_at_left_edge()
    x0, y0, side = box = square(face)
    crop, padded = crop_square(image, box, side)  # at its own size: no resampling
    assert padded and x0 < 0 and y0 < 0  # the square overhangs the image's left and top edges
    assert np.array_equal(crop[-y0:, -x0:], image[:y0 + side, :x0 + side])
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(float)
    steps = np.abs(np.diff(gray[-y0:], axis=1)).mean(axis=0)  # the mean step from each column to the next
    assert steps[-x0 - 1] < 2 * np.median(steps[-x0 - 40:-x0 + 40])  # the edge is no sharper than its neighbours


def test_far_past_the_edge_the_fill_shows_no_mirrored_face() -> None:
    image, face = _face_at_left_edge()
    box = square(face)
    crop = cv2.cvtColor(crop_square(image, box, box[2])[0], cv2.COLOR_RGB2GRAY).astype(float)
    eyes = face[36:48] - box[:2]
    mirrored = eyes * (-1, 1) - (2 * box[0], 0)  # the eyes mirrored about the image's left edge (x = -box[0])
    assert mirrored[:, 0].max() < -box[0]  # past the edge, inside the square
    assert _spread(crop, mirrored) < 0.3 * _spread(crop, eyes)  # no eyes there, only a soft fill


def test_a_mirror_of_the_head_past_the_edge_is_filled_in_the_background() -> None:
    """The head moves over the background layer; had the background kept the extended edge's mirror of the head,
    the head would uncover its own reflection (a second crown of hair above a head that moves down)."""
    image, face = _face_at_top_edge()
    identity = WarpEngine(WarpConfig(size=SIZE)).prepare([image], [face])
    mirrored = mirrored_from(identity.crop, image.shape[:2], SIZE)
    grid = np.stack(np.meshgrid(np.arange(SIZE), np.arange(SIZE)), axis=-1)
    past = np.abs(mirrored - grid).max(axis=2) > 1  # px the extended edge shows, mirrored
    matte = identity.matte[:SIZE].astype(np.float32) / 255
    echo = cv2.remap(matte, mirrored[..., 0], mirrored[..., 1], cv2.INTER_LINEAR) > 0.5
    reflection = past & echo & (matte == 0)
    assert reflection.sum() > 200  # the mirror of the head lies outside the head layer
    change = np.abs(identity.background.astype(int) - identity.image[:SIZE]).mean(axis=2)
    assert change[reflection].mean() > 10  # filled, not kept
    far = past & (cv2.dilate(echo.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0) & (matte == 0)
    assert far.sum() > 200 and change[far].max() == 0  # the rest of the mirror is left as it was


# helpers


def _spread(gray: np.ndarray, points: np.ndarray) -> float:
    """The grey levels' standard deviation in the box around `points`, grown 4 px."""
    (x0, y0), (x1, y1) = np.floor(points.min(axis=0)).astype(int) - 4, np.ceil(points.max(axis=0)).astype(int) + 4
    return float(gray[max(y0, 0):y1, max(x0, 0):x1].std())


def _face_at_left_edge() -> tuple[np.ndarray, np.ndarray]:
    """A real photograph cut so that the face's left side (its jaw line) touches the image's left edge."""
    image = load_image(DATA / "astronaut.jpg")
    face = load_landmarks(DATA / "astronaut.landmarks.json")[0]
    left = int(face[:, 0].min()) - 2
    return np.ascontiguousarray(image[:, left:]), face - np.array([left, 0], np.float32)


def _face_at_top_edge() -> tuple[np.ndarray, np.ndarray]:
    """A real photograph cut so that the image's top edge runs through the hair above the brows."""
    image = load_image(DATA / "einstein_photo.jpg")
    face = load_landmarks(DATA / "einstein_photo.landmarks.json")[0]
    top = int(face[17:27, 1].min() - 0.6 * (face[:, 1].max() - face[17:27, 1].min()))
    return np.ascontiguousarray(image[max(top, 0):]), face - np.array([0, max(top, 0)], np.float32)
