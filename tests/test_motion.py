"""Motion: presets are reproducible and start neutral; a driver's motion is relative to its first frame,
blind to its size, position and roll, smoothed, and lands back on the driver when applied to the driver."""

from pathlib import Path

import numpy as np
import pytest

from engine import PRESETS, BadMotion, Motion, Track, from_track, load_landmarks, preset, read_track
from engine.faces import eye_span, face_frame
from engine.motion import DEADBAND

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name", PRESETS)
def test_presets_have_the_asked_length_and_start_neutral(name: str) -> None:
    motion = preset(name, seconds=2.0, fps=30.0)
    assert motion.frames == 60 and motion.fps == 30.0 and motion.seconds == 2.0
    assert np.allclose(motion.pose[0], [1, 0, 0, 0], atol=1e-6)
    assert np.abs(motion.expression[0]).max() < 1e-6
    assert np.abs(motion.turn[0]).max() < 1e-6
    moves = np.abs(motion.expression).max() + np.abs(motion.pose[:, 1:]).max() + np.abs(motion.turn).max()
    assert moves > 1e-3


@pytest.mark.parametrize("name", ["idle", "blink", "speak", "talk"])
def test_presets_are_reproducible_with_a_seed(name: str) -> None:
    first, again, other = preset(name, seed=7), preset(name, seed=7), preset(name, seed=8)
    assert np.array_equal(first.pose, again.pose) and np.array_equal(first.expression, again.expression)
    assert not all(np.array_equal(getattr(first, part), getattr(other, part)) for part in ("expression", "turn"))


def test_bad_preset_requests_are_refused() -> None:
    with pytest.raises(BadMotion, match="unknown motion preset 'dance'; choose one of idle, blink"):
        preset("dance")
    with pytest.raises(BadMotion, match="positive"):
        preset("idle", seconds=0)


def test_blink_closes_the_lids_onto_the_lower_lids_and_keeps_the_corners() -> None:
    face = _einstein()
    moved = preset("blink", seconds=2.0).landmarks(face)
    area = _area(moved[:, 36:42]) + _area(moved[:, 42:48])
    shut = int(area.argmin())
    assert area[shut] < 0.15 * area[0]  # open, then shut
    assert np.abs(moved[shut, [36, 39, 42, 45]] - face[[36, 39, 42, 45]]).max() < 1e-6  # corners stay
    assert np.abs(moved[shut, [40, 41, 46, 47]] - face[[40, 41, 46, 47]]).max() < 1.0  # lower lids barely move
    assert (moved[shut, [37, 38], 1] < moved[shut, [41, 40], 1]).all()  # upper lids stop above the lower


def test_speech_opens_the_mouth_on_a_rhythm() -> None:
    moved = preset("speak", seconds=4.0).landmarks(_einstein())
    opening = np.linalg.norm(moved[:, 66] - moved[:, 62], axis=1)
    rises = np.sum((opening[1:] > 3) & (opening[:-1] <= 3))
    assert opening.max() > 10 and 6 <= rises <= 24  # syllables, not one long yawn


def test_a_drivers_motion_applied_to_the_driver_gives_the_driver_back() -> None:
    track = read_track(DATA / "driving_a_50.landmarks.json")
    motion = from_track(track, min_cutoff=1e6, deadband=0)  # no smoothing: the transfer alone
    rebuilt = motion.landmarks(track.points[0].astype(np.float64))
    error = np.linalg.norm(rebuilt - track.points, axis=2).mean() / eye_span(track.points[0])
    assert error < 0.005


def test_a_drivers_motion_ignores_its_size_position_and_roll() -> None:
    track = read_track(DATA / "driving_a_50.landmarks.json")
    angle, scale, shift = 0.3, 0.6, np.array([40.0, -25.0])
    turn = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = Track(track.fps, (track.points @ turn.T + shift).astype(np.float32))
    original, seen_otherwise = from_track(track), from_track(moved)
    assert np.allclose(original.pose, seen_otherwise.pose, atol=1e-4)
    assert np.allclose(original.expression, seen_otherwise.expression, atol=1e-4)


def test_a_drivers_motion_is_relative_to_its_first_frame() -> None:
    motion = from_track(read_track(DATA / "driving_a_50.landmarks.json"))
    assert np.allclose(motion.pose[0], [1, 0, 0, 0]) and np.abs(motion.expression[0]).max() < 1e-9
    assert motion.frames == 50 and motion.fps == 25.0


def test_detector_jitter_is_smoothed_away() -> None:
    still = np.repeat(_einstein()[None], 60, axis=0)
    noisy = still + np.random.default_rng(0).normal(0, 1.0, still.shape)  # 1 px jitter on a still face
    raw = from_track(Track(25.0, noisy), min_cutoff=1e6)
    smoothed = from_track(Track(25.0, noisy))
    assert np.abs(smoothed.expression).mean() < 0.6 * np.abs(raw.expression).mean()


def test_a_slow_detector_drift_under_the_deadband_is_held_still() -> None:
    still = np.repeat(_einstein()[None], 100, axis=0)
    frame = face_frame(still[0])
    wander = np.random.default_rng(1).uniform(-1, 1, (68, 2)) * np.sin(np.linspace(0, np.pi, 100))[:, None, None]
    drifting = still + wander * (0.6 * DEADBAND / np.sqrt(2)) * frame.scale  # each point under the band
    motion = from_track(Track(25.0, drifting))
    assert np.allclose(motion.pose, [1, 0, 0, 0]) and np.abs(motion.expression).max() < 1e-9
    assert np.abs(from_track(Track(25.0, drifting), deadband=0).expression).max() > 0.5 * DEADBAND


def test_the_deadband_keeps_a_real_motion_all_but_whole() -> None:
    face = _einstein()
    opening = np.zeros((60, 68, 2))
    opening[:, [57, 66], 1] = 0.25 * np.sin(np.linspace(0, np.pi, 60))[:, None]  # the jaw drops a quarter unit
    shown = Motion(25.0, np.tile([1.0, 0, 0, 0], (60, 1)), opening).landmarks(face)
    kept, whole = (from_track(Track(25.0, shown), deadband=band).expression[30, [57, 66], 1] for band in (DEADBAND, 0))
    assert np.all(whole > 0.9 * 0.25) and np.all(kept > 0.98 * whole) and np.all(kept <= whole)


def test_frames_without_a_face_hold_the_last_face() -> None:
    track = read_track(DATA / "driving_a_50.landmarks.json")
    points = track.points.copy()
    points[[0, 20, 21]] = np.nan
    motion = from_track(Track(track.fps, points))
    assert np.isfinite(motion.pose).all() and np.isfinite(motion.expression).all()
    assert np.allclose(motion.expression[0], 0)


def test_pose_moves_the_whole_head_as_a_similarity() -> None:
    face = _einstein()
    pose = np.array([[1.05, 0.1, 0.1, -0.05]])
    moved = Motion(25.0, pose, np.zeros((1, 68, 2))).landmarks(face)[0]
    frame = face_frame(face)
    ratio = 1.05 * np.exp(0.1j)
    q = frame.to_face(face)
    rigid = frame.to_image(np.stack([(ratio * (q[:, 0] + 1j * q[:, 1]) + (0.1 - 0.05j)).real,
                                     (ratio * (q[:, 0] + 1j * q[:, 1]) + (0.1 - 0.05j)).imag], axis=1))
    assert np.allclose(moved[:61], rigid[:61], atol=1e-6)  # the shut mouth's inner lips are held 0.6 px apart


def test_nod_is_a_pitch_and_shake_a_yaw() -> None:
    nod, shake = preset("nod", seconds=2.0), preset("shake", seconds=2.0)
    assert np.degrees(nod.turn[:, 1]).max() > 6 and np.abs(nod.turn[:, 0]).max() == 0  # the chin dips
    assert np.degrees(np.abs(shake.turn[:, 0])).max() > 7 and np.abs(shake.turn[:, 1]).max() == 0
    assert np.abs(nod.expression).max() == np.abs(shake.expression).max() == 0  # the face itself does not deform
    idle = preset("idle", seconds=6.0)
    assert (np.degrees(np.abs(idle.turn)).max(axis=0) > 0.3).all()  # a sway in yaw and pitch, small
    assert (np.degrees(np.abs(idle.turn)).max(axis=0) < 3).all()


def test_a_yaw_swings_the_nose_toward_the_side_and_narrows_the_far_cheek() -> None:
    face = _einstein()
    still, turned = Motion(25.0, np.array([[1.0, 0, 0, 0]] * 2), np.zeros((2, 68, 2)),
                           turn=np.radians([[0.0, 0.0], [20.0, 0.0]])).landmarks(face)
    span = eye_span(face)
    assert (turned[30, 0] - still[30, 0]) / span > 0.15  # the nose tip swings toward the image's right
    assert turned[30, 0] - still[30, 0] > 3 * (turned[16, 0] - still[16, 0])  # far more than the ears
    assert _width(turned, 30, 16) / _width(still, 30, 16) < 0.8  # the far cheek, nose to ear, narrows
    assert _width(turned, 0, 30) / _width(still, 0, 30) > 1.2  # the near one widens


def test_a_drivers_head_turn_is_read_as_a_turn_not_an_expression() -> None:
    face = _einstein()
    yaw = np.radians(np.linspace(0, 15, 40))
    shown = Motion(25.0, np.tile([1.0, 0, 0, 0], (40, 1)), np.zeros((40, 68, 2)), turn=np.stack(
        [yaw, np.zeros(40)], axis=1)).landmarks(face)
    motion = from_track(Track(25.0, shown), min_cutoff=1e6, deadband=0)
    assert abs(np.degrees(motion.turn[-1, 0]) - 15) < 3 and abs(np.degrees(motion.turn[-1, 1])) < 3
    assert np.abs(motion.expression[-1]).max() < 0.03  # face units: the turn is not taken for a grimace
    rebuilt = motion.landmarks(face)
    assert np.linalg.norm(rebuilt - shown, axis=2).max() / eye_span(face) < 0.005


# helpers


def _einstein() -> np.ndarray:
    return load_landmarks(DATA / "einstein_photo.landmarks.json")[0].astype(np.float64)


def _width(shape: np.ndarray, left: int, right: int) -> float:
    """How far apart two landmarks are across the image, px."""
    return float(shape[right, 0] - shape[left, 0])


def _area(outline: np.ndarray) -> np.ndarray:
    """(T,) areas of (T, K, 2) polygons."""
    x, y = outline[..., 0], outline[..., 1]
    return np.abs((x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(axis=-1)) / 2
