"""Faces: images and landmark files are read or refused clearly; face-alignment's weights load from the torch
hub cache, or their absence says which file to put where, without trying the network for ever."""

import json
import urllib.error
from pathlib import Path

import av
import numpy as np
import pytest
from attacker import png_bomb

from engine import (
    BadImage,
    BadLandmarks,
    BadVideo,
    Detector,
    FaceTooSmall,
    NoFaceError,
    WarpEngine,
    WeightsMissing,
    load_image,
    load_landmarks,
    read_track,
    track_video,
)
from engine.faces import choose_face, face_frame, save_landmarks
from sitter.images import UnreadableImage

DATA = Path(__file__).parent / "data"


def test_an_image_is_read_as_rgb_uint8() -> None:
    image = load_image(DATA / "einstein_photo.jpg")
    assert image.shape == (500, 375, 3) and image.dtype == np.uint8


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"this is a text file, not a picture\n", "not an image"),
        (None, "corrupt or truncated"),
        ("huge", "too large"),
    ],
)
def test_bad_images_are_refused_with_a_reason_and_no_file_name(tmp_path: Path, content: bytes | str | None,
                                                              message: str) -> None:
    bad = tmp_path / "jane-doe.jpg"
    if content is None:
        bad.write_bytes((DATA / "einstein_photo.jpg").read_bytes()[:3000])
    elif content == "huge":
        bad = tmp_path / "jane-doe.png"
        bad.write_bytes(png_bomb(9000, 9000))  # a decompression bomb: refused before any pixel is decoded
    else:
        bad.write_bytes(content)
    with pytest.raises(UnreadableImage, match=message) as err:
        load_image(bad)
    assert err.value.path == bad
    assert "jane" not in str(err.value)


def test_a_missing_image_and_a_wrong_array_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage, match="not found"):
        load_image(tmp_path / "nowhere.jpg")
    with pytest.raises(BadImage, match="RGB uint8"):
        load_image(np.zeros((8, 8), np.float32))


def test_landmarks_are_read_from_the_fixture_format() -> None:
    faces = load_landmarks(DATA / "einstein_photo.landmarks.json", (375, 500))
    assert len(faces) == 1 and faces[0].shape == (68, 2) and faces[0].dtype == np.float32


def test_saved_landmarks_load_back_for_the_same_image_size_only(tmp_path: Path) -> None:
    face = load_landmarks(DATA / "einstein_photo.landmarks.json")[0] + np.float32(1.5)  # a nudged copy
    path = tmp_path / "nudged.json"
    save_landmarks(path, [face], (375, 500))
    np.testing.assert_allclose(load_landmarks(path, (375, 500))[0], face, atol=0.005)
    with pytest.raises(BadLandmarks, match="made for a 375x500 image"):
        load_landmarks(path, (500, 375))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: [1, 2], "JSON object"),
        (lambda d: {**d, "convention": "mediapipe478"}, "ibug68"),
        (lambda d: {k: v for k, v in d.items() if k != "faces"}, '"faces" list'),
        (lambda d: {**d, "faces": [d["faces"][0][:67]]}, "expected 68"),
        (lambda d: {**d, "faces": [[*d["faces"][0][:10], ["12", 5], *d["faces"][0][11:]]]}, "point 10"),
        (lambda d: {**d, "faces": [[*d["faces"][0][:3], [float("nan"), 5], *d["faces"][0][4:]]]}, "point 3"),
        (lambda d: {**d, "faces": [[*d["faces"][0][:3], [1, 2, 3], *d["faces"][0][4:]]]}, "point 3"),
        (lambda d: {**d, "width": 720}, "made for a 720x500 image"),
    ],
)
def test_bad_landmark_files_are_refused_clearly(tmp_path: Path, change, message: str) -> None:
    data = json.loads((DATA / "einstein_photo.landmarks.json").read_text())
    changed = change(data)
    bad = tmp_path / "jane-doe.landmarks.json"
    bad.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    with pytest.raises(BadLandmarks, match=message) as err:
        load_landmarks(bad, (375, 500))
    assert err.value.path == bad and "jane" not in str(err.value)


def test_the_largest_face_is_chosen_and_the_choice_is_said() -> None:
    face = load_landmarks(DATA / "einstein_photo.landmarks.json")[0]
    small = face * 0.5
    chosen, notes = choose_face([small, face])
    assert np.array_equal(chosen, face) and notes == ["2 faces in the image; animating the largest"]
    assert choose_face([face])[1] == []


def test_no_face_is_an_error_a_small_face_a_warning_a_tiny_one_an_error() -> None:
    face = load_landmarks(DATA / "einstein_photo.landmarks.json")[0]  # eyes' outer corners 77 px apart
    with pytest.raises(NoFaceError, match="no face"):
        choose_face([])
    chosen, notes = choose_face([face * 0.75])
    assert chosen is not None and "small (58 px between the outer eye corners, under 64)" in notes[0]
    with pytest.raises(FaceTooSmall, match="29 px between the outer eye corners, at least 32 needed"):
        choose_face([face * 0.375])
    assert choose_face([face * 0.375], min_eye_span=48)[1] != []


def test_the_face_frame_is_centred_level_and_sized() -> None:
    face = load_landmarks(DATA / "einstein_photo.landmarks.json")[0].astype(np.float64)
    frame = face_frame(face)
    normalized = frame.to_face(face)
    assert np.allclose(normalized[[27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45]].mean(axis=0), 0, atol=1e-9)
    assert abs(normalized[45, 1] - normalized[36, 1]) < 1e-9  # the eye line is level
    assert np.allclose(frame.to_image(normalized), face)


def test_a_driving_track_is_read_with_missing_frames_as_nan(tmp_path: Path) -> None:
    track = read_track(DATA / "driving_a_50.landmarks.json")
    assert track.fps == 25.0 and track.points.shape == (50, 68, 2)
    data = json.loads((DATA / "driving_a_50.landmarks.json").read_text())
    data["frames"][3] = None
    gappy = tmp_path / "gappy.json"
    gappy.write_text(json.dumps(data))
    assert np.isnan(read_track(gappy).points[3]).all()


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda d: {**d, "frames": [None] * 5}, BadVideo, "no face in any frame"),
        (lambda d: {**d, "frames": []}, BadVideo, "no frames"),
        (lambda d: {**d, "fps": 0}, BadLandmarks, "fps"),
        (lambda d: {**d, "frames": [d["frames"][0][:5]]}, BadLandmarks, "frame 0: expected 68"),
        (lambda d: {k: v for k, v in d.items() if k != "frames"}, BadLandmarks, '"frames" list'),
    ],
)
def test_bad_driving_tracks_are_refused_clearly(tmp_path: Path, change, error: type, message: str) -> None:
    bad = tmp_path / "track.json"
    bad.write_text(json.dumps(change(json.loads((DATA / "driving_a_50.landmarks.json").read_text()))))
    with pytest.raises(error, match=message):
        read_track(bad)


def test_missing_weights_name_the_file_and_the_folder_without_a_download_hanging(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import face_alignment
    import torch.hub

    def offline(url: str, dst: str, *args, **kwargs) -> None:
        raise urllib.error.URLError("no network here")

    def never(*args, **kwargs) -> None:
        raise AssertionError("FaceAlignment must not be built without its weights")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    monkeypatch.setattr(face_alignment, "FaceAlignment", never)
    detector = Detector()  # free: nothing loads until the first image
    with pytest.raises(WeightsMissing) as err:
        detector.detect(np.zeros((64, 64, 3), np.uint8))
    folder = tmp_path / "empty" / "hub" / "checkpoints"
    message = str(err.value)
    for name in ("2DFAN4-11f355bf06.pth.tar", "s3fd-619a316812.pth"):
        assert f"{name} (from https://www.adrianbulat.com/downloads/python-fan/{name}) at {folder / name}" in message
    assert err.value.missing == [folder / "2DFAN4-11f355bf06.pth.tar", folder / "s3fd-619a316812.pth"]


def test_weights_load_from_the_torch_hub_cache(detector: Detector) -> None:
    # stand-in weights: the loading path is real, what they detect is not (they are made to find nothing)
    faces = detector.detect(np.full((96, 96, 3), 128, np.uint8))
    assert isinstance(faces, list) and detector.device in ("cpu", "cuda")


def test_the_engine_detects_with_the_detector_it_was_given(detector: Detector) -> None:
    with pytest.raises(NoFaceError):
        WarpEngine(detector=detector).prepare([np.full((128, 96, 3), 128, np.uint8)])


def test_a_driving_video_is_tracked_frame_by_frame(detector: Detector, tmp_path: Path) -> None:
    video = _video(tmp_path / "driver.mp4", frames=3)
    with pytest.raises(BadVideo, match="no face in any frame"):  # the stand-in weights see no face
        track_video(video, detector)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"not a video at all\n" * 10, "driving video is not a video"), (None, "driving video")],
)
def test_bad_driving_videos_are_refused_clearly(detector: Detector, tmp_path: Path, content: bytes | None,
                                               message: str) -> None:
    bad = tmp_path / "jane-doe.mp4"
    if content is None:
        bad.write_bytes(_video(tmp_path / "whole.mp4", frames=10).read_bytes()[:1500])
    else:
        bad.write_bytes(content)
    with pytest.raises(BadVideo, match=message) as err:
        track_video(bad, detector)
    assert err.value.path == bad and "jane" not in str(err.value)


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    """A Detector built the real way, from stand-in weight files in a temporary TORCH_HOME."""
    home = tmp_path_factory.mktemp("torch-home")
    _write_standin_weights(home / "hub" / "checkpoints")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(home))
        return Detector(device="cpu", download=False).load()


# helpers


def _write_standin_weights(folder: Path) -> None:
    """State dicts of the right structure for face-alignment's two networks, every weight zero except the
    detector's class biases, which say "background" everywhere. Each tensor is a broadcast of one number, so
    the files are small."""
    import torch
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    def zeros(net: torch.nn.Module) -> dict:
        return {key: torch.zeros((), dtype=value.dtype).expand(value.shape) for key, value in net.state_dict().items()}

    folder.mkdir(parents=True)
    torch.save(zeros(FAN(4)), folder / "2DFAN4-11f355bf06.pth.tar")
    detector = zeros(s3fd())
    for key in detector:
        if key.endswith("mbox_conf.bias"):  # (background..., face): first level has three background channels
            detector[key] = torch.tensor([10.0, 10.0, 10.0, -10.0] if key.startswith("conv3_3") else [10.0, -10.0])
    torch.save(detector, folder / "s3fd-619a316812.pth")


def _video(path: Path, frames: int) -> Path:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(frames):
            image = np.full((64, 64, 3), 40 * i % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
