"""The eyes: the iris is found in a real portrait's eyes, a gaze moves it inside the eye by about as much as
asked, presets glance now and then, and a driver's gaze is read from its frames."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import Motion, WarpConfig, WarpEngine, from_track, preset, read_track
from engine.eyes import GAZE_REACH, locate_iris, track_gaze, video_gaze
from engine.faces import LEFT_EYE, RIGHT_EYE

DATA = Path(__file__).parent / "data"
PORTRAITS = ("einstein_photo", "astronaut", "bouguereau_girl_small")  # photographs and a painting
SIZE = 512  # an eye ~60 px wide: a gaze of 0.1 eye widths is 6 px


@pytest.fixture(scope="module")
def engine() -> WarpEngine:
    return WarpEngine(WarpConfig(size=SIZE))


@pytest.mark.parametrize("portrait", PORTRAITS)
def test_a_gaze_offset_moves_the_iris_centre_and_it_stays_inside_the_eye(engine: WarpEngine, portrait: str) -> None:
    identity = engine.prepare([DATA / f"{portrait}.jpg"], [DATA / f"{portrait}.landmarks.json"])
    asked = np.array([[0.0, 0.0], [0.1, 0.0], [-0.1, 0.0], [0.06, 0.03], [0.6, 0.0]])  # the last, past the reach
    frames = list(engine.render(identity, _still(len(asked), asked)))
    for outline in (identity.landmarks[list(RIGHT_EYE)], identity.landmarks[list(LEFT_EYE)]):
        width = np.linalg.norm(outline[3] - outline[0])
        along = (outline[3] - outline[0]) / width
        rest = locate_iris(frames[0], outline)
        source = locate_iris(identity.image[:SIZE], outline).centre
        assert np.linalg.norm(rest.centre - source) < 0.05  # at rest, where the source has it (a 20th of a px)
        for gaze, frame in zip(asked[1:4], frames[1:4], strict=True):
            moved = locate_iris(frame, outline).centre - rest.centre
            assert moved @ along == pytest.approx(gaze[0] * width, abs=0.3 * abs(gaze[0]) * width + 0.5)
            assert moved @ (-along[1], along[0]) == pytest.approx(gaze[1] * width, abs=1.0)
        for frame in frames[1:]:
            centre = locate_iris(frame, outline).centre
            assert cv2.pointPolygonTest(outline.astype(np.float32), tuple(map(float, centre)), True) > 0.3 * rest.radius
        far = locate_iris(frames[4], outline).centre - rest.centre
        assert far @ along <= GAZE_REACH[0] * width + 1.0  # held at its reach


def test_a_shifted_iris_leaves_the_lids_and_the_rest_of_the_face_as_they_were(engine: WarpEngine) -> None:
    identity = engine.prepare([DATA / "astronaut.jpg"], [DATA / "astronaut.landmarks.json"])
    still, looking = engine.render(identity, _still(2, np.array([[0.0, 0.0], [0.1, 0.0]])))
    changed = np.abs(looking.astype(int) - still).max(axis=2) > 0
    eyes = np.zeros((SIZE, SIZE), np.uint8)
    for outline in (identity.landmarks[list(RIGHT_EYE)], identity.landmarks[list(LEFT_EYE)]):
        cv2.fillPoly(eyes, [np.round(outline * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    assert changed.sum() > 50 and not (changed & (cv2.dilate(eyes, np.ones((3, 3), np.uint8)) == 0)).any()


def test_presets_glance_now_and_then_and_are_seeded() -> None:
    idle = preset("idle", seconds=6.0, seed=3)
    assert np.ptp(idle.gaze, axis=0)[0] > 0.03  # not constant
    assert np.abs(idle.gaze[[0, -1]]).max() < 2e-3  # it starts and ends at rest
    assert (np.abs(idle.gaze).max(axis=1) < 1e-3).mean() > 0.3  # mostly at rest: glances, not a wander
    assert np.array_equal(preset("idle", seconds=6.0, seed=3).gaze, idle.gaze)
    assert not np.array_equal(preset("idle", seconds=6.0, seed=4).gaze, idle.gaze)
    assert np.ptp(preset("talk", seconds=6.0, seed=3).gaze) > 0.03
    assert np.array_equal(preset("idle", seconds=6.0, seed=3).pose, idle.pose)  # glances changed nothing else
    assert not preset("nod", seconds=6.0).gaze.any()


def test_a_drivers_gaze_is_read_from_its_frames_and_a_track_alone_rests(engine: WarpEngine) -> None:
    identity = engine.prepare([DATA / "einstein_photo.jpg"], [DATA / "einstein_photo.landmarks.json"])
    looks = np.repeat([[0.0, 0.0], [0.08, 0.0], [-0.08, 0.0], [0.0, 0.0]], 8, axis=0)  # each held 8 frames
    frames = list(engine.render(identity, _still(len(looks), looks)))  # a driver whose eyes we know
    read = track_gaze(frames, np.repeat(identity.landmarks[None], len(looks), axis=0))
    held = np.isin(np.arange(len(looks)) % 8, [2, 3, 4, 5])  # clear of the 5-frame smoothing
    assert np.abs(read[held, 0] - looks[held, 0]).max() < 0.025
    assert not from_track(read_track(DATA / "driving_a_50.landmarks.json")).gaze.any()


def test_a_real_talking_clip_has_a_gaze_that_starts_at_rest_and_moves() -> None:
    track = read_track(DATA / "talking_clip.landmarks.json")
    read = video_gaze(DATA / "talking_clip.mp4", track.points)
    assert read.shape == (len(track.points), 2) and np.isfinite(read).all()
    assert np.abs(read[0]).max() < 0.01  # relative to its first frame (smoothed)
    assert np.ptp(read[:, 0]) > 0.03  # the speaker's eyes move
    assert (np.abs(read) <= np.array(GAZE_REACH) + 1e-9).all()


# helpers


def _still(frames: int, gaze: np.ndarray) -> Motion:
    """A motion with the head and face at rest, looking where `gaze` says."""
    return Motion(25.0, np.tile([1.0, 0.0, 0.0, 0.0], (frames, 1)), np.zeros((frames, 68, 2)), gaze)
