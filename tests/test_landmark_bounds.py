"""Landmarks and driver tracks are bounded where they enter the engine, so that a small file can't make a render
take gigabytes: points finite and on or near their image, files, frame counts and frame rates capped. Anything
else is bad input, exit 2 and one line through the CLI: no traceback, no output file."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine import (
    BadLandmarks,
    BadMotion,
    BadVideo,
    Track,
    WarpConfig,
    WarpEngine,
    check_landmarks,
    from_track,
    load_landmarks,
    read_track,
)
from engine.crop import MAX_CUT, crop_square
from engine.faces import MAX_LANDMARKS_BYTES, MAX_TRACK_BYTES, MAX_TRACK_FRAMES
from provenance.video import write_mp4
from studio.settings import Settings

DATA = Path(__file__).parent / "data"
PORTRAIT, LANDMARKS = DATA / "einstein_photo.jpg", DATA / "einstein_photo.landmarks.json"  # a 375x500 image
SIZE = (375, 500)
TRACK = DATA / "driving_a_50.landmarks.json"  # 50 frames of a 512x512 video, at 25 fps
DEEP = "[" * 100_000 + "]" * 100_000


def face() -> np.ndarray:
    return np.array(json.loads(LANDMARKS.read_text())["faces"][0], np.float64)


def landmarks_file(folder: Path, points: object, **changes: object) -> Path:
    path = folder / "jane-doe.landmarks.json"
    path.write_text(json.dumps({**json.loads(LANDMARKS.read_text()), "faces": [points], **changes}))
    return path


def deep_file(folder: Path) -> Path:
    path = folder / "jane-doe.landmarks.json"
    path.write_text(DEEP)
    return path


def track_file(folder: Path, change) -> Path:
    path = folder / "jane-doe.track.json"
    changed = change(json.loads(TRACK.read_text()))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    return path


def with_point(points: np.ndarray | list, index: int, value: object) -> list:
    rows = np.asarray(points).tolist()
    rows[index] = value
    return rows


# through the CLI


@pytest.fixture
def consented(sitter, tmp_path: Path) -> None:
    evidence = tmp_path / "release.pdf"
    evidence.write_bytes(b"%PDF stand-in release")
    result = sitter("consent", "add", "--kind", "person", "--name", "Ada Example", "--grantor", "Ada Example",
                    "--purpose", "marketing", "--expires", "2099-01-01", "--evidence", evidence, "--image", PORTRAIT)
    assert result.exit_code == 0, result.output


def assert_refused(result, outputs: Path, message: str) -> None:
    """Exit 2, exactly one line on stderr saying `message`, no traceback, and nothing written."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not outputs.exists() or not any(outputs.iterdir())


def scaled(factor: float):
    return lambda folder: landmarks_file(folder, (face() * factor).tolist())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (scaled(20), "the face spans 2625 px, over 2 times this 375x500 image"),
        (scaled(35), "the face spans 4594 px"),
        (scaled(1000), "over 2 times this 375x500 image"),
        (lambda folder: landmarks_file(folder, with_point(face(), 3, [1e308, 5])), "point 3"),
        (lambda folder: landmarks_file(folder, with_point(face(), 3, [float("inf"), 5])), "point 3"),
        (deep_file, "nested too deeply"),
        (lambda folder: landmarks_file(folder, json.loads("[" * 200 + "]" * 200)), "expected 68"),
        (lambda folder: landmarks_file(folder, (face() + 1000).tolist()), "lies outside this 375x500 image"),
        (lambda folder: landmarks_file(folder, face().tolist(), padding=" " * MAX_LANDMARKS_BYTES), "too large"),
    ],
    ids=["x20", "x35", "x1000", "1e308", "inf", "deep-file", "deep-face", "off-image", "huge-file"],
)
def test_unbounded_landmarks_exit_2_with_one_line(sitter, consented, tmp_path: Path, make, message: str) -> None:
    outputs = tmp_path / "outputs"
    result = sitter("render", "--source", PORTRAIT, "--landmarks", make(tmp_path), "--purpose", "marketing",
                    "--seconds", "1", "--out", outputs / "bad.mp4")
    assert_refused(result, outputs, message)


def many_frames(data: dict) -> dict:
    return {**data, "frames": data["frames"] + [None] * MAX_TRACK_FRAMES}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: {**d, "fps": 1e9}, "frame rate, 1e+09 fps, is no video's"),
        (lambda d: {**d, "fps": 1e308}, "is no video's"),
        (lambda d: {**d, "fps": 120}, "a motion runs at 1 to 60 fps"),
        (lambda d: {**d, "frames": [(np.array(f) * 1000).tolist() for f in d["frames"]]}, "frame 0: the face spans"),
        (lambda d: {**d, "frames": [with_point(d["frames"][0], 8, [5, 1e308]), *d["frames"][1:]]}, "frame 0, point 8"),
        (lambda d: DEEP, "nested too deeply"),
        (many_frames, f"over {MAX_TRACK_FRAMES:,} frames"),
        (lambda d: {**d, "padding": " " * MAX_TRACK_BYTES}, "too large"),
    ],
    ids=["fps-1e9", "fps-1e308", "fps-120", "x1000", "1e308", "deep", "many-frames", "huge-file"],
)
def test_unbounded_driver_tracks_exit_2_with_one_line(sitter, consented, tmp_path: Path, change,
                                                      message: str) -> None:
    outputs = tmp_path / "outputs"
    result = sitter("render", "--source", PORTRAIT, "--landmarks", LANDMARKS, "--purpose", "marketing",
                    "--seconds", "1", "--out", outputs / "bad.mp4", "--driver", track_file(tmp_path, change))
    assert_refused(result, outputs, message)


def test_an_unbounded_track_of_a_driving_video_exits_2_with_one_line(sitter, consented, tmp_path: Path) -> None:
    video, outputs = tmp_path / "performance.mp4", tmp_path / "outputs"
    write_mp4([np.full((64, 64, 3), i * 5, np.uint8) for i in range(50)], video, fps=25)
    track = track_file(tmp_path, lambda d: {**d, "frames": [(np.array(f) * 1000).tolist() for f in d["frames"]]})
    result = sitter("render", "--source", PORTRAIT, "--landmarks", LANDMARKS, "--purpose", "marketing",
                    "--seconds", "1", "--out", outputs / "bad.mp4", "--driver", video, "--driver-landmarks", track)
    assert_refused(result, outputs, "frame 0: the face spans")


# the validation itself


def test_the_original_landmarks_pass_and_come_back_as_float32() -> None:
    points = check_landmarks(face(), SIZE)
    assert points.shape == (68, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points, load_landmarks(LANDMARKS, SIZE)[0])
    assert np.array_equal(check_landmarks(face().tolist(), SIZE), points)  # a list as an array


@pytest.mark.parametrize("factor", [20, 35, 1000])
def test_scaled_landmarks_are_refused(factor: float) -> None:
    with pytest.raises(BadLandmarks, match=r"the face spans \d+ px, over 2 times this 375x500 image"):
        check_landmarks(face() * factor, SIZE)


def test_a_face_cut_by_the_image_edge_passes_within_its_own_size_and_renders() -> None:
    points = face()
    extent = np.ptp(points, axis=0).max()
    at_left = points - np.array([points[:, 0].min() + 0.9 * extent, 0])  # 90% of a face width past the left edge
    at_bottom = points + np.array([0, SIZE[1] - points[:, 1].max() + 0.9 * extent])
    for shifted in (at_left, at_bottom):
        assert np.allclose(check_landmarks(shifted, SIZE), shifted, atol=1e-4)
    with pytest.raises(BadLandmarks, match="lies outside this 375x500 image"):
        check_landmarks(points - np.array([points[:, 0].min() + 1.1 * extent, 0]), SIZE)
    nearly_out = points - np.array([points[:, 0].min() + 0.25 * extent, 0])
    identity = WarpEngine(WarpConfig(size=128)).prepare([PORTRAIT], [nearly_out.astype(np.float32)])
    assert identity.image.shape[1] == 128 and any("edge was extended" in note for note in identity.notes)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e308, -2e6])
def test_points_not_finite_or_beyond_any_image_are_refused(value: float) -> None:
    for size in (SIZE, None):  # beyond any image, even with no image to hold them against
        with pytest.raises(BadLandmarks, match="point 5"):
            check_landmarks(with_point(face(), 5, [value, 100.0]), size)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "1e400", "1" * 5000])
def test_files_with_unusable_numbers_are_refused(tmp_path: Path, token: str) -> None:
    text = json.dumps({**json.loads(LANDMARKS.read_text()), "faces": [with_point(face(), 5, "?")]})
    path = tmp_path / "jane-doe.json"
    path.write_text(text.replace('"?"', f"[{token}, 100]"))
    with pytest.raises(BadLandmarks, match=r"point 5|number too long") as err:
        load_landmarks(path, SIZE)
    assert err.value.path == path and "jane" not in str(err.value)


def test_deeply_nested_json_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    with pytest.raises(BadLandmarks, match="nested too deeply"):
        load_landmarks(path, SIZE)
    with pytest.raises(BadLandmarks, match="nested too deeply"):
        read_track(path)


def test_messages_show_a_bad_value_cut_short(tmp_path: Path) -> None:
    path = landmarks_file(tmp_path, with_point(face(), 2, "x" * 1_000_000))
    with pytest.raises(BadLandmarks, match="point 2") as err:
        load_landmarks(path, SIZE)
    assert len(str(err.value)) < 200 and "\n" not in str(err.value)


@pytest.mark.parametrize("array", [np.zeros(()), np.zeros(136), np.zeros((1, 1, 68, 2))])
def test_a_landmark_array_of_the_wrong_rank_is_refused(array: np.ndarray) -> None:
    with pytest.raises(BadLandmarks, match=r"\(68, 2\) or \(F, 68, 2\)"):
        load_landmarks(array, SIZE)


def test_a_track_claiming_1e9_fps_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadVideo, match="1e\\+09 fps, is no video's"):
        read_track(track_file(tmp_path, lambda d: {**d, "fps": 1e9}))


@pytest.mark.parametrize("fps", [0.5, 61.0, 120.0, 1e9])
def test_a_motion_runs_at_1_to_60_fps(fps: float) -> None:
    points = read_track(TRACK).points
    assert from_track(Track(60.0, points)).fps == 60.0 and from_track(Track(1.0, points)).fps == 1.0
    with pytest.raises(BadMotion, match="a motion runs at 1 to 60 fps"):
        from_track(Track(fps, points))


def test_a_driver_whose_first_face_is_a_point_is_refused() -> None:
    points = read_track(TRACK).points.copy()
    points[0] = 100.0
    with pytest.raises(BadMotion, match="under a pixel"):
        from_track(Track(25.0, points))


def test_track_points_are_held_against_the_frame_size_the_track_declares(tmp_path: Path) -> None:
    assert read_track(TRACK).points.shape == (50, 68, 2)  # declares 512x512, and its faces are in it
    shifted = track_file(tmp_path, lambda d: {**d, "frames": [(np.array(f) + 2000).tolist() for f in d["frames"]]})
    with pytest.raises(BadLandmarks, match="frame 0: the face lies outside this 512x512 image"):
        read_track(shifted)
    undeclared = track_file(tmp_path, lambda d: {k: v for k, v in d.items() if k not in ("width", "height")})
    assert read_track(undeclared).points.shape == (50, 68, 2)  # then only finite and within MAX_COORD
    with pytest.raises(BadLandmarks, match='"width" and "height" must be'):
        read_track(track_file(tmp_path, lambda d: {**d, "width": -3}))


def test_a_track_of_too_many_frames_is_refused_before_its_points_are_read(tmp_path: Path) -> None:
    nulls = track_file(tmp_path, lambda d: {**d, "frames": [None] * (MAX_TRACK_FRAMES + 1)})
    with pytest.raises(BadVideo, match=f"over {MAX_TRACK_FRAMES:,} frames"):
        read_track(nulls)


# the face square


def test_a_padded_square_keeps_the_image_where_it_has_pixels() -> None:
    image = np.random.default_rng(0).integers(0, 256, (120, 90, 3), np.uint8)
    for box in [(-30, -20, 100), (40, 60, 110), (-500, 10, 50), (200, 300, 64)]:
        x0, y0, side = box
        crop, padded = crop_square(image, box, side)  # at its own size: no resampling
        inside = (slice(max(0, -y0), max(0, min(side, 120 - y0))), slice(max(0, -x0), max(0, min(side, 90 - x0))))
        assert padded and crop.shape == (side, side, 3)
        assert np.array_equal(crop[inside], image[max(y0, 0):y0 + side, max(x0, 0):x0 + side])
    crop, padded = crop_square(image, (10, 20, 50), 64)
    assert not padded and np.array_equal(crop, cv2.resize(image[20:70, 10:60], (64, 64),
                                                          interpolation=cv2.INTER_CUBIC))


def test_a_huge_square_is_cut_from_a_shrunk_image_not_a_padded_one() -> None:
    image = np.full((500, 375, 3), 7, np.uint8)
    image[:, :100] = 200
    crop, padded = crop_square(image, (-6000, -6000, 3 * MAX_CUT), 64)  # made at MAX_CUT a side, not 3 times that
    assert padded and crop.shape == (64, 64, 3)
    assert crop.min() >= 7 and crop.max() <= 200  # the image's two colours, mixed in the fill; nothing else
    # padding the whole image out to this square would take (375 + 2 * 10^6)^2 px: 12 TB
    crop, padded = crop_square(image, (-1_000_000, -1_000_000, 2_000_000), 64)
    assert padded and crop.shape == (64, 64, 3)  # the image is under a pixel of it: its mean colour


# the studio's Create page


@pytest.fixture
def studio_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SITTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SITTER_DB_URL", "")
    monkeypatch.setenv("SITTER_OPERATOR", "desk-1")
    form = tmp_path / "release.pdf"
    form.write_bytes(b"%PDF-1.4 signed release, stand-in")
    with Settings.from_env().open_ledger() as ledger:
        ledger.grant(kind="person", name="Ada Example", grantor="Ada Example", purposes=("marketing",),
                     expires="2099-01-01", evidence=form, images=[PORTRAIT], operator="tester")
    at = AppTest.from_file(str(Path(__file__).parents[1] / "studio" / "app" / "main.py"), default_timeout=120)
    at.run()
    at.file_uploader(key="sources").set_value([("portrait.jpg", PORTRAIT.read_bytes(), "image/jpeg")])
    return at.run()


def test_the_create_page_refuses_scaled_landmarks_with_the_engines_sentence(studio_page: AppTest,
                                                                              tmp_path: Path) -> None:
    scaled_up = scaled(20)(tmp_path).read_bytes()
    studio_page.file_uploader(key="landmarks_file").set_value(("portrait.json", scaled_up, "application/json"))
    at = studio_page.run()
    assert not at.exception, at.exception
    errors = "\n".join(str(e.value) for e in at.error)
    assert "the face spans 2625 px, over 2 times this 375x500 image" in errors
