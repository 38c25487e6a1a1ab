"""The head's pose in 3D, read from its 68 landmarks: a rigid mean face fitted with cv2.solvePnP.

A driver's 2D landmarks mix two things: how the head turns (yaw, pitch, roll) and what the face does (expression).
Fitting one rigid face, the mean face (MediaPipe's canonical model, engine/data/), to the points that move with the
skull separates them: the fit's rotation is the head's; what it leaves unexplained is expression.

Axes are OpenCV's camera axes (x to the image's right, y down, z away from the camera), angles in degrees:

    yaw     positive turns the face toward the image's right: its nose tip moves right
    pitch   positive tips the chin down (the way down of a nod)
    roll    positive turns the face clockwise in the image

A landmark track carries no image size, so the camera is a portrait lens centred on the face: its focal length is
FOCAL_FACES times the face's width, as for a face that fills a third of the frame of a 50 mm lens.

Example:

    pose = fit(landmarks)                  # (68, 2) pixels -> Pose
    yaw, pitch, roll = pose.angles()
    turns = relative_angles(track.points)  # (frames, 3): each frame's head turn since the first
    heights = depth(landmarks)             # (68,) each point's depth toward the camera, face units
"""

import json
from dataclasses import dataclass
from importlib.resources import files

import cv2
import numpy as np

from engine.faces import NUM_POINTS, STABLE, face_frame

RIGID = (0, 1, 15, 16, *STABLE)  # the jaw beside the ears, the nose and the eye corners: they move with the skull
FOCAL_FACES = 4.0


def _mean_face() -> np.ndarray:
    """The 68 mean-face points in cm, turned from the model's axes (y up, z toward the camera) into OpenCV's."""
    data = json.loads((files("engine") / "data" / "mean_face_68.json").read_text())
    points = np.asarray(data["points"], np.float64)
    assert points.shape == (NUM_POINTS, 3), points.shape
    return points * (1.0, -1.0, -1.0)


MEAN_FACE = _mean_face()


@dataclass(frozen=True)
class Pose:
    """Where the mean face sits to look like a face's landmarks: camera = rotation @ face + translation (cm)."""

    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)
    error: float  # the fit's RMS reprojection error, in face widths: large when the points are not a face

    def angles(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees, as the module docstring defines them."""
        return angles(self.rotation)


def fit(points: np.ndarray) -> Pose:
    """The mean face's pose that best explains a face's 68 landmarks (pixels), from its rigid points."""
    image = np.asarray(points, np.float64)[list(RIGID)]
    model = MEAN_FACE[list(RIGID)]
    camera = _camera(image)
    ok, rvec, tvec = cv2.solvePnP(model, image, camera, None, flags=cv2.SOLVEPNP_EPNP)
    if ok:
        ok, rvec, tvec = cv2.solvePnP(model, image, camera, None, rvec, tvec, useExtrinsicGuess=True,
                                      flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return Pose(np.eye(3), np.array([0.0, 0.0, 1.0]), float("inf"))
    projected, _ = cv2.projectPoints(model, rvec, tvec, camera, None)
    error = float(np.sqrt(((projected[:, 0] - image) ** 2).sum(1).mean()) / _width(image))
    return Pose(cv2.Rodrigues(rvec)[0], tvec.ravel(), error)


def relative_angles(track: np.ndarray) -> np.ndarray:
    """(frames, 3) yaw, pitch and roll of each frame's head relative to the first frame's, in degrees: what a
    driver's head does, whatever way it faced the camera when it started."""
    poses = [fit(points) for points in np.asarray(track, np.float64)]
    first = poses[0].rotation
    return np.array([angles(pose.rotation @ first.T) for pose in poses])


def rotation(yaw: float | np.ndarray, pitch: float | np.ndarray, roll: float | np.ndarray) -> np.ndarray:
    """The rotation (3, 3) that turns a face by these angles (degrees): roll after yaw after pitch. Given arrays
    of angles, one rotation per entry: (..., 3, 3)."""
    a, b, c = np.radians(np.broadcast_arrays(np.asarray(pitch, np.float64), -np.asarray(yaw, np.float64),
                                             np.asarray(roll, np.float64)))
    one, zero = np.ones_like(a), np.zeros_like(a)
    rx = _matrix(one, zero, zero, zero, np.cos(a), -np.sin(a), zero, np.sin(a), np.cos(a))
    ry = _matrix(np.cos(b), zero, np.sin(b), zero, one, zero, -np.sin(b), zero, np.cos(b))
    rz = _matrix(np.cos(c), -np.sin(c), zero, np.sin(c), np.cos(c), zero, zero, zero, one)
    return rz @ ry @ rx


def depth(points: np.ndarray) -> np.ndarray:
    """(68,) how far each of a face's landmarks (68, 2) stands out toward the camera from its outer eye corners,
    in the face's own units (see `FaceFrame`): the fitted mean face, turned as the face is turned, seen from the
    camera. What a 2-D face lacks to be turned in 3-D."""
    points = np.asarray(points, np.float64)
    pose = fit(points)
    turn = pose.rotation if np.isfinite(pose.error) else np.eye(3)
    toward = -(MEAN_FACE @ turn.T)[:, 2]
    toward -= toward[[36, 45]].mean()
    focal = FOCAL_FACES * _width(points[list(RIGID)])
    distance = float(pose.translation[2]) if np.isfinite(pose.error) and pose.translation[2] > 0 else focal / 30
    return toward * focal / distance / face_frame(points).scale


def angles(matrix: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation made as `rotation` makes it."""
    r = np.asarray(matrix, np.float64)
    b = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    a = np.arctan2(r[2, 1], r[2, 2])
    c = np.arctan2(r[1, 0], r[0, 0])
    pitch, minus_yaw, roll = np.degrees([a, b, c])
    return float(-minus_yaw), float(pitch), float(roll)


# helpers


def _matrix(*entries: np.ndarray) -> np.ndarray:
    """(..., 3, 3) from nine arrays of entries, row by row."""
    return np.stack(entries, axis=-1).reshape(*entries[0].shape, 3, 3)


def _width(points: np.ndarray) -> float:
    return float(np.ptp(points[:, 0])) or 1.0


def _camera(points: np.ndarray) -> np.ndarray:
    """A pinhole camera looking at the face's centre, its focal length FOCAL_FACES face widths."""
    focal = FOCAL_FACES * _width(points)
    cx, cy = points.mean(axis=0)
    return np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])
