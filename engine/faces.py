"""Faces: the 68 iBUG landmarks of a face, detected by face-alignment or imported from a JSON file.

Points are float32 arrays of shape (68, 2): pixel (x, y), origin top-left, in the iBUG order that
face-alignment, dlib and 300-W share (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, lips 48-67). Images
are RGB uint8 arrays (H, W, 3), decoded the way consent/ hashes them (EXIF orientation applied), so the
pixels animated are the pixels consented to.

`Detector` runs face-alignment 1.5 (S3FD face detector + 2D-FAN-4 landmarks, the network Zakharov et al.
used). It is built once and reused: loading two ~90 MB networks per image or frame would dominate a
render. Its weights live in the torch hub cache, where face-alignment itself looks for them; offline they
must already be there, and `WeightsMissing` says which file to put where. For paintings and sculptures,
where detection is poor, landmarks are imported instead, in the format of the shared fixtures:

    image: {"convention": "ibug68", "width": W, "height": H, "faces": [[[x, y] * 68], ...]}
    video: {"convention": "ibug68", "fps": 25.0, "width": W, "height": H, "frames": [[[x, y] * 68] or null, ...]}

(a video's "width" and "height" are optional). Landmarks decide how much memory a render takes (the face's
square is cut from them, see engine/crop.py), so every face that comes in by file or array, or nudged by
hand in the studio, passes `check_landmarks`: finite points, on or near its image. Files, frame counts and
frame rates are bounded too (the MAX_ constants below), so that a small file can't ask for gigabytes.
"""

import json
import logging
import math
import reprlib
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import av
import cv2
import numpy as np

from engine.errors import BadImage, BadLandmarks, BadVideo, FaceTooSmall, NoFaceError, WeightsMissing
from engine.media import open_media
from sitter.images import MAX_PIXELS, read_image

logger = logging.getLogger(__name__)

NUM_POINTS = 68
# Files are refused by size before parsing: parsed, JSON takes ~20 times its size in Python objects.
MAX_LANDMARKS_BYTES = 5_000_000  # an image's landmarks: ~1.2 KB a face; the studio's upload limit too
MAX_TRACK_BYTES = 16_000_000  # a driver's track: ~1.1 KB a frame, so ~14,000 frames
MAX_TRACK_FRAMES = 15_000  # 10 minutes at 25 fps, 4 at 60; a render follows at most MAX_SECONDS (studio/) of it
MAX_VIDEO_FPS = 1000.0  # a real video's frame rate is under this (slow-motion phones film at 960)
MAX_COORD = 1_000_000.0  # px: further from the origin than any image reaches (see MAX_PIXELS)
MAX_FACE_EXTENT = 2.0  # a face's landmarks span at most this many times its image's longer side
FACE_MARGIN = 1.0  # and lie inside the image give or take this many times their span (a face cut by the edge)
MIN_EYE_SPAN = 64.0  # px between the outer eye corners (36, 45); a smaller face is upscaled into a blur

# Landmark groups, as iBUG indices.
STABLE = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)  # nose and eye corners: they move with the head,
# hardly with expression, so they define the face's frame and its pose
RIGHT_EYE = (36, 37, 38, 39, 40, 41)  # the subject's right eye, image left; outline in drawing order
LEFT_EYE = (42, 43, 44, 45, 46, 47)
LIDS = ((37, 41), (38, 40), (43, 47), (44, 46))  # (upper, lower) eyelid points facing each other
LIPS = ((61, 67), (62, 66), (63, 65))  # (upper, lower) inner-lip points facing each other
OUTER_LIPS = ((50, 58), (51, 57), (52, 56))  # (upper, lower) outer-lip points above and below those
# How a face's landmarks are drawn: (first, last + 1, closed, RGB colour) per part, in iBUG indices; each
# part its own colour, so the parts, and the face's left from its right, can be told apart by colour alone
PARTS = (
    (0, 17, False, (255, 255, 255)),  # jaw
    (17, 22, False, (255, 128, 0)),  # right brow (image left)
    (22, 27, False, (255, 255, 0)),  # left brow
    (27, 31, False, (0, 160, 255)),  # nose bridge
    (31, 36, False, (0, 255, 255)),  # nose base
    (36, 42, True, (0, 255, 0)),  # right eye
    (42, 48, True, (128, 255, 128)),  # left eye
    (48, 60, True, (255, 0, 0)),  # outer lips
    (60, 68, True, (255, 0, 255)),  # inner lips
)
DRAW_BITS = 4  # fractional bits of the coordinates given to cv2.polylines: sub-pixel motion still shows


@dataclass(frozen=True)
class FaceFrame:
    """A face's own coordinate frame, so that motion can be measured and applied whatever the face's size,
    position and roll in its image.

    Origin: the centroid of the STABLE points. x: along the line from the outer corner of the right eye
    (36) to that of the left (45); y: 90 degrees clockwise from x, so down the face. Unit (`scale`, in
    px): the distance between those eye corners, or the nasion-to-chin distance / 1.3 when that is larger
    (a face turned aside has narrow-looking eyes but keeps its height).
    """

    origin: np.ndarray  # (2,) px
    angle: float  # radians, of the eye line against the image x axis
    scale: float  # px per face unit

    def to_face(self, points: np.ndarray) -> np.ndarray:
        """Image px (..., 2) -> face units (..., 2)."""
        return (points - self.origin) @ self._rotation() / self.scale

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Face units (..., 2) -> image px (..., 2)."""
        return self.origin + self.scale * points @ self._rotation().T

    def square_to_face(self, side: int) -> np.ndarray:
        """(side, side, 2) face units of every pixel of a side x side square (this frame's image): what a mask
        drawn in face units is tested against."""
        rows, columns = np.mgrid[:side, :side].astype(np.float64)
        return self.to_face(np.stack([columns, rows], axis=-1))

    def matrix(self) -> np.ndarray:
        """The 2x3 affine of `to_image`, for composing with other transforms."""
        return np.hstack([self.scale * self._rotation(), self.origin[:, None]])

    def _rotation(self) -> np.ndarray:
        c, s = math.cos(self.angle), math.sin(self.angle)
        return np.array([[c, -s], [s, c]])


def face_frame(points: np.ndarray) -> FaceFrame:
    """The FaceFrame of one face's (68, 2) landmarks."""
    eyes = points[45] - points[36]
    scale = max(float(np.hypot(*eyes)), float(np.hypot(*(points[8] - points[27]))) / 1.3)
    return FaceFrame(points[list(STABLE)].mean(axis=0).astype(np.float64), math.atan2(eyes[1], eyes[0]), scale)


def eye_span(points: np.ndarray) -> float:
    """Distance in px between the outer eye corners (36, 45): the usual inter-ocular normalizer."""
    return float(np.hypot(*(points[45] - points[36])))


def opening(landmarks: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """(...,) mean distance in px between facing points (upper, lower), such as LIDS or LIPS: how far an
    eye or the mouth is open."""
    upper, lower = [p[0] for p in pairs], [p[1] for p in pairs]
    return np.linalg.norm(landmarks[..., upper, :] - landmarks[..., lower, :], axis=-1).mean(axis=-1)


@dataclass(frozen=True, eq=False)
class Track:
    """One face's landmarks through a video: `points` is (T, 68, 2) float32 px, all NaN in frames without a face."""

    fps: float
    points: np.ndarray


def load_image(source: Path | str | np.ndarray) -> np.ndarray:
    """An RGB uint8 (H, W, 3) image from an array, or from a file under sitter.images' policy (UnreadableImage);
    BadImage for an array that is not one."""
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3:
            raise BadImage(f"an image array must be RGB uint8 (H, W, 3), got {source.dtype} {source.shape}")
        if source.shape[0] * source.shape[1] > MAX_PIXELS:
            raise BadImage(f"image too large: over {MAX_PIXELS:,} pixels")
        return source
    return read_image(source)


def load_landmarks(source: Path | str | np.ndarray, image_size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Every face's (68, 2) landmarks from an image JSON file, or from an array of one face (68, 2) or
    several (F, 68, 2).

    `image_size` (width, height), when given, must match the JSON's: landmarks made for another version
    of the image would put the mouth on the cheek. Each face passes `check_landmarks` against that size (a
    file without `image_size` against the size it declares; an array without it, for finite points only).
    """
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3):
            raise BadLandmarks(f"a landmark array must be (68, 2) or (F, 68, 2), got shape {source.shape}")
        faces = source[None] if source.ndim == 2 else source
        return [check_landmarks(face, image_size, where="landmark array") for face in faces]
    path = Path(source)
    data = _read_json(path, MAX_LANDMARKS_BYTES)
    if not isinstance(data.get("faces"), list):
        raise BadLandmarks('landmarks file has no "faces" list (is it a video track?)', path)
    made_for = _image_size(data, path)
    if image_size is not None:
        if made_for is None:
            raise BadLandmarks('landmarks file does not say the "width" and "height" of its image', path)
        if made_for != tuple(image_size):
            raise BadLandmarks(
                f"landmarks were made for a {made_for[0]}x{made_for[1]} image, this image is "
                f"{image_size[0]}x{image_size[1]}; make them again for this image", path)
    return [check_landmarks(face, made_for, where=f"face {i}", path=path) for i, face in enumerate(data["faces"])]


def check_landmarks(face: object, image_size: tuple[int, int] | None, *, where: str = "landmarks",
                    path: Path | None = None) -> np.ndarray:
    """One face's landmarks as a (68, 2) float32 array, checked; BadLandmarks saying what is wrong otherwise.

    Every way landmarks enter the engine comes through here: a JSON file, an array, points nudged by hand
    in the studio, each frame of a driver's track. `face` is a (68, 2) array or a list of 68 [x, y] pairs.
    - Each point is two finite numbers, within MAX_COORD px of the origin.
    - With `image_size` (width, height) known: the face's extent (the larger side of its landmarks' bounding
      box) is at most MAX_FACE_EXTENT times the image's longer side, and every point lies inside the image
      give or take FACE_MARGIN times that extent. A face cut by the image's edge passes; landmarks scaled up,
      or made for a much larger image, do not.
    So the square cut around a face (engine/crop.py) is at most a few times its image's size.
    """
    rows = face.tolist() if isinstance(face, np.ndarray) else face
    if not isinstance(rows, list) or len(rows) != NUM_POINTS:
        count = len(rows) if isinstance(rows, list) else type(rows).__name__
        raise BadLandmarks(f"{where}: expected {NUM_POINTS} [x, y] points in iBUG order, got {count}", path)
    for i, point in enumerate(rows):
        if not (isinstance(point, list) and len(point) == 2 and all(_number(v) for v in point)):
            raise BadLandmarks(f"{where}, point {i}: expected [x, y] with two finite numbers, got {_shown(point)}",
                               path)
        if max(abs(point[0]), abs(point[1])) > MAX_COORD:
            raise BadLandmarks(f"{where}, point {i}: {_shown(point)} is further out than any image reaches "
                               f"({MAX_COORD:,.0f} px); landmarks are pixels of their image", path)
    points = np.array(rows, np.float64)
    if image_size is not None:
        width, height = image_size
        low, high = points.min(axis=0), points.max(axis=0)
        extent = float((high - low).max())
        if extent > MAX_FACE_EXTENT * max(width, height):
            raise BadLandmarks(
                f"{where}: the face spans {extent:.0f} px, over {MAX_FACE_EXTENT:g} times this {width}x{height} "
                "image; the landmarks are scaled, or were made for a larger image", path)
        margin = FACE_MARGIN * extent
        if (low < -margin).any() or high[0] > width + margin or high[1] > height + margin:
            raise BadLandmarks(
                f"{where}: the face lies outside this {width}x{height} image, by more than its own size; the "
                "landmarks were made for another image", path)
    return points.astype(np.float32)


def draw_landmarks(canvas: np.ndarray, points: np.ndarray, thickness: int = 1) -> np.ndarray:
    """Draw one face's (68, 2) landmarks on `canvas` (RGB uint8, drawn on in place and returned) as polylines,
    one colour per part (PARTS): the neural engine's landmark images, and the studio's landmarks overlay."""
    fixed = np.round(points * (1 << DRAW_BITS)).astype(np.int32)
    for first, stop, closed, colour in PARTS:
        cv2.polylines(canvas, [fixed[first:stop]], closed, colour, thickness, cv2.LINE_AA, DRAW_BITS)
    return canvas


def save_landmarks(path: Path | str, faces: list[np.ndarray], image_size: tuple[int, int]) -> None:
    """Write faces' landmarks as the JSON `load_landmarks` reads (iBUG 68, pixels of a `image_size` image)."""
    width, height = image_size
    data = {"convention": "ibug68", "width": width, "height": height,
            "faces": [np.round(np.asarray(face, np.float64), 2).tolist() for face in faces]}
    Path(path).write_text(json.dumps(data))


def read_track(path: Path | str) -> Track:
    """A driving face's landmark track from a video JSON file (one entry per frame, null where no face)."""
    path = Path(path)
    data = _read_json(path, MAX_TRACK_BYTES)
    frames, fps = data.get("frames"), data.get("fps")
    if not isinstance(frames, list):
        raise BadLandmarks('landmarks file has no "frames" list (is it an image\'s landmarks?)', path)
    if not _number(fps) or fps <= 0:
        raise BadLandmarks(f'"fps" must be a positive number, got {_shown(fps)}', path)
    _check_timing(float(fps), len(frames), path)
    size = _image_size(data, path)  # the video's frame size, when the track says it
    missing = np.full((NUM_POINTS, 2), np.nan, np.float32)
    points = [missing if face is None else check_landmarks(face, size, where=f"frame {i}", path=path)
              for i, face in enumerate(frames)]
    return _track(float(fps), points, path)


def choose_face(faces: list[np.ndarray], *, min_eye_span: float = MIN_EYE_SPAN,
                path: Path | str | None = None) -> tuple[np.ndarray, list[str]]:
    """The largest face, and notes for the user (other faces, a small face).

    A face under `min_eye_span` is animated with a warning that it will come out soft; under half of
    it, upscaling would only make a blur, so FaceTooSmall. NoFaceError when there is no face.
    """
    if not faces:
        raise NoFaceError("no face found in the image; give its 68 landmarks as a JSON file instead", path)
    face = max(faces, key=_area)
    span = eye_span(face)
    if span < min_eye_span / 2:
        raise FaceTooSmall(
            f"face too small: {span:.0f} px between the outer eye corners, at least {min_eye_span / 2:.0f} needed "
            f"({min_eye_span:.0f} for a sharp result); use a larger image of the face", path)
    notes = [f"{len(faces)} faces in the image; animating the largest"] if len(faces) > 1 else []
    if span < min_eye_span:
        notes.append(f"the face is small ({span:.0f} px between the outer eye corners, under {min_eye_span:.0f}): "
                     "it will come out soft; a larger image of the face gives a sharper result")
    return face, notes


class Detector:
    """face-alignment's S3FD detector and 2D-FAN-4 landmark network, loaded once and reused for every image.

    Making one is free: the networks load on the first `detect` (or an explicit `load`), so an engine can
    hold a detector that a render with imported landmarks never loads. `device` defaults to CUDA when torch
    sees a GPU, else the CPU. The networks are used as they are, never compiled (`compile=False`):
    torch.compile would spend minutes on a CPU before the first image. Missing weights are looked for
    before face-alignment is asked to load them, so that an offline machine gets `WeightsMissing`, naming
    the files and the folder, instead of a download attempt; with `download`, they are fetched first.
    """

    def __init__(self, *, device: str | None = None, download: bool = True) -> None:
        self.device = device
        self.download = download
        self._net = None
        self._loading = threading.Lock()  # the studio shares one detector between its users' sessions

    def load(self) -> "Detector":
        """Load the networks now, if not yet loaded; WeightsMissing if their files are not to be had."""
        with self._loading:
            if self._net is None:
                self._net = self._open()
        return self

    def _open(self) -> object:
        import face_alignment  # ~1 s with numba and scikit-image: paid only when detection is needed
        import torch

        _ensure_weights(self.download)
        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        return face_alignment.FaceAlignment(
            face_alignment.LandmarksType.TWO_D, device=self.device, face_detector="sfd", compile=False)

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """Every face's (68, 2) landmarks in an RGB uint8 image, largest face first; [] when there is none."""
        image = load_image(image)
        self.load()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # face-alignment warns "No faces were detected"; [] says so
            found = self._net.get_landmarks_from_image(image)
        return sorted((np.asarray(face[:, :2], np.float32) for face in found or []), key=_area, reverse=True)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        """`detect` for several RGB uint8 images of one size at once: the face detector (S3FD) runs on them as
        one batch, on the GPU when there is one, which is where detection spends its time; the landmark
        network then runs per face, as face-alignment does."""
        import torch

        self.load()
        batch = torch.from_numpy(np.stack([np.ascontiguousarray(image) for image in images])).permute(0, 3, 1, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = self._net.get_landmarks_from_batch(batch)
        return [sorted(_faces(faces), key=_area, reverse=True) for faces in found or [[] for _ in images]]


def track_video(path: Path | str, detector: Detector) -> Track:
    """The largest face's landmarks in every frame of a driving video; BadVideo if it can't be read (found
    out before the detector is loaded)."""
    path = Path(path)
    missing = np.full((NUM_POINTS, 2), np.nan, np.float32)
    points = []
    with _open_video(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if fps <= 0:
            raise BadVideo("the driving video does not say its frame rate", path)
        _check_timing(fps, 0, path)
        try:
            for frame in container.decode(stream):
                _check_timing(fps, len(points) + 1, path)  # before detecting in a frame past the limit
                faces = detector.detect(frame.to_ndarray(format="rgb24"))
                points.append(faces[0] if faces else missing)
        except av.error.FFmpegError as err:
            raise BadVideo(f"the driving video is corrupt or truncated ({err.strerror})", path) from None
    if not points:
        raise BadVideo("the driving video has no frames", path)
    return _track(fps, points, path)


# helpers


def _faces(stacked: object) -> list[np.ndarray]:
    """face-alignment's landmarks of one image of a batch, (faces * 68, 2 or 3) or [], as (68, 2) arrays."""
    points = np.asarray(stacked, np.float32)
    return list(points.reshape(-1, NUM_POINTS, points.shape[-1])[..., :2]) if points.size else []


def _area(points: np.ndarray) -> float:
    width, height = points.max(axis=0) - points.min(axis=0)
    return float(width * height)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _shown(value: object) -> str:
    """A value for a message, cut short: a bad file may hold a megabyte-long string or a deep list there."""
    shown = reprlib.Repr()
    shown.maxlevel, shown.maxlist, shown.maxdict, shown.maxstring, shown.maxother = 2, 3, 3, 24, 24
    return shown.repr(value)


def _read_json(path: Path, limit: int) -> dict:
    if not path.is_file():
        raise BadLandmarks("landmarks file not found", path)
    if path.stat().st_size > limit:
        raise BadLandmarks(f"landmarks file too large: over {limit:,} bytes", path)
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadLandmarks(f"landmarks file is not valid JSON ({err})", path) from None
    except RecursionError:  # "[" * 100_000: json recurses once per level
        raise BadLandmarks("landmarks file is nested too deeply to hold landmarks", path) from None
    except ValueError:  # an integer of thousands of digits (Python's int conversion limit)
        raise BadLandmarks("landmarks file holds a number too long to read", path) from None
    if not isinstance(data, dict):
        raise BadLandmarks("landmarks file must hold a JSON object", path)
    if data.get("convention") != "ibug68":
        raise BadLandmarks(f'landmarks must say "convention": "ibug68", got {_shown(data.get("convention"))}', path)
    return data


def _image_size(data: dict, path: Path) -> tuple[int, int] | None:
    """The (width, height) a landmarks file says its image (or video frame) has; None when it says neither."""
    width, height = data.get("width"), data.get("height")
    if width is None and height is None:
        return None
    whole = all(_number(v) and v == int(v) and v > 0 for v in (width, height))
    if not whole or width * height > MAX_PIXELS:
        raise BadLandmarks(f'"width" and "height" must be an image\'s size in px, got {_shown(width)} and '
                           f"{_shown(height)}", path)
    return int(width), int(height)


def _check_timing(fps: float, frames: int, path: Path) -> None:
    """BadVideo unless a driver runs at a video's frame rate and for a bounded number of frames."""
    if fps > MAX_VIDEO_FPS:
        raise BadVideo(f"the driver's frame rate, {fps:g} fps, is no video's (at most {MAX_VIDEO_FPS:g})", path)
    if frames > MAX_TRACK_FRAMES:
        raise BadVideo(f"the driver has over {MAX_TRACK_FRAMES:,} frames; cut it to the part to follow", path)


def _track(fps: float, points: list[np.ndarray], path: Path) -> Track:
    if not points:
        raise BadVideo("the driving track has no frames", path)
    track = np.stack(points)
    if np.isnan(track).all():
        raise BadVideo("no face in any frame of the driving video", path)
    return Track(fps, track)


def _open_video(path: Path) -> "av.container.InputContainer":
    container = open_media(path, track="video", error=BadVideo, what="driving video")
    context = container.streams.video[0].codec_context
    if context.width * context.height > MAX_PIXELS:
        container.close()
        raise BadVideo(f"driving video frames too large: {context.width}x{context.height}", path)
    return container


def _weight_files() -> dict[Path, str]:
    """Where face-alignment looks for each of its weight files (the torch hub cache), and its download URL."""
    import torch.hub
    from face_alignment.api import models_urls
    from face_alignment.detection.sfd.sfd_detector import models_urls as detector_urls

    folder = Path(torch.hub.get_dir()) / "checkpoints"
    urls = (models_urls["2DFAN-4"], detector_urls["s3fd"])
    return {folder / Path(urlparse(url).path).name: url for url in urls}


def _ensure_weights(download: bool) -> None:
    """Raise WeightsMissing, naming each file and where it goes, unless every weight file is in place."""
    import torch.hub

    missing = {path: url for path, url in _weight_files().items() if not path.is_file()}
    for path, url in list(missing.items()) if download else ():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(path), progress=False)
            del missing[path]
        except OSError as err:  # URLError and HTTPError are OSErrors: no network, proxy, 404
            logger.warning("could not download face-alignment weights: %s", err)
    if missing:
        places = "; ".join(f"{path.name} (from {url}) at {path}" for path, url in missing.items())
        raise WeightsMissing(
            f"face-alignment weights missing and not downloadable: place {places}. The folder is torch's hub "
            "cache: set TORCH_HOME to use another one", list(missing))
