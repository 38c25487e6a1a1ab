"""Head pose from landmarks: the mean face fitted with solvePnP reads a turn's yaw, pitch and roll, with the signs
engine/pose.py defines, on faces projected from known angles and on the real fixtures' faces and tracks."""

from pathlib import Path

import numpy as np
import pytest

from engine import load_landmarks, read_track
from engine.pose import MEAN_FACE, angles, fit, relative_angles, rotation

DATA = Path(__file__).parent / "data"
PORTRAITS = ("einstein_photo", "astronaut", "sargent_woman_in_black", "bouguereau_girl_small",
             "terracotta_warrior_small")


def _projected(yaw: float, pitch: float, roll: float, distance: float = 60.0, focal: float = 1500.0) -> np.ndarray:
    """The mean face turned by these angles, seen by a camera `distance` cm away: its 68 landmarks in pixels."""
    camera = (rotation(yaw, pitch, roll) @ MEAN_FACE.T).T + np.array([0.0, 0.0, distance])
    return focal * camera[:, :2] / camera[:, 2:] + 256.0


@pytest.mark.parametrize("turn", [(20, 0, 0), (-20, 0, 0), (0, 15, 0), (0, -15, 0), (0, 0, 10), (25, -10, 5)])
def test_a_face_turned_by_known_angles_is_read_back_within_two_degrees(turn: tuple[int, int, int]) -> None:
    found = np.array(fit(_projected(*turn)).angles())
    straight = np.array(fit(_projected(0, 0, 0)).angles())  # the lens guess tilts a straight face a little
    assert np.abs(found - straight - turn).max() < 2.0


def test_the_signs_are_the_ones_the_docstring_gives() -> None:
    ahead, turned, nodded, rolled = (_projected(0, 0, 0), _projected(20, 0, 0), _projected(0, 15, 0),
                                     _projected(0, 0, 10))
    assert turned[30, 0] > ahead[30, 0] + 20  # +yaw: the nose tip moves toward the image's right
    assert nodded[8, 1] - nodded[30, 1] < ahead[8, 1] - ahead[30, 1]  # +pitch: the chin tips down, toward the camera
    eyes = rolled[45] - rolled[36]
    assert eyes[1] > 0  # +roll: clockwise in the image, so the image-right eye sits lower
    assert np.allclose(angles(rotation(12.0, -7.0, 3.0)), (12.0, -7.0, 3.0))


@pytest.mark.parametrize("name", PORTRAITS)
def test_the_mean_face_fits_every_fixture_face_closely(name: str) -> None:
    pose = fit(load_landmarks(DATA / f"{name}.landmarks.json")[0])
    assert pose.error < 0.05  # RMS, in face widths: a few pixels on these faces
    assert all(abs(angle) < 30 for angle in pose.angles())  # they all face the painter or the camera


def test_a_drivers_head_turns_are_read_relative_to_its_first_frame() -> None:
    track = read_track(DATA / "driving_a_50.landmarks.json")
    turns = relative_angles(track.points)
    assert turns.shape == (len(track.points), 3)
    assert np.allclose(turns[0], 0.0, atol=1e-6)
    eyes = track.points[:, 45] - track.points[:, 36]
    eye_line = np.degrees(np.arctan2(eyes[:, 1], eyes[:, 0]))
    assert np.abs(turns[:, 2] - (eye_line - eye_line[0])).max() < 3.0  # roll follows the line of the eyes
    assert np.ptp(turns[:, 1]) > 10  # this driver nods: more than 10 degrees of pitch


def test_points_that_are_not_a_face_fit_badly() -> None:
    scattered = np.random.default_rng(0).uniform(0, 512, (68, 2))
    assert fit(scattered).error > 0.1
