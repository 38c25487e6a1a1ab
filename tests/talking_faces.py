"""Tiny talking-face training data for the neural engine's tests, drawn rather than filmed.

Each synthetic "person" is a cartoon face (skin, hair, eyes, brows, nose, lips, each in that person's
colours) whose 68 landmarks follow the `talk` preset (head drift, blinks, speech), written as an H.264 MP4
with its landmark track in the fixtures' JSON format: what engine/neural/data.py reads. A face is drawn from
its landmarks, so a generator can learn the mapping in a few dozen steps.
"""

import json
from pathlib import Path

import cv2
import numpy as np

from engine import load_landmarks, preset
from engine.faces import FaceFrame, face_frame
from provenance.video import write_mp4

DATA = Path(__file__).parent / "data"
SIDE = 64  # px of the synthetic videos' frames
PALETTES = (  # background, skin, hair, lips
    ((40, 70, 120), (230, 190, 160), (60, 40, 20), (200, 60, 70)),
    ((120, 140, 90), (160, 110, 80), (20, 20, 20), (150, 50, 60)),
    ((90, 60, 110), (250, 215, 190), (200, 150, 60), (220, 90, 110)),
)


def neutral_face() -> np.ndarray:
    """(68, 2) a real face's landmarks (the Einstein portrait's), moved into a SIDE x SIDE frame."""
    face = load_landmarks(DATA / "einstein_photo.landmarks.json")[0].astype(np.float64)
    return FaceFrame(np.array([SIDE / 2, SIDE / 2 - 2]), 0.0, 13.0).to_image(face_frame(face).to_face(face))


def draw(points: np.ndarray, palette: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """A SIDE x SIDE RGB cartoon of the face whose landmarks are `points` (68, 2)."""
    background, skin, hair, lips = palette
    image = np.full((SIDE, SIDE, 3), background, np.uint8)
    frame = face_frame(points)
    center, axes = frame.to_image(np.array([0.0, 0.1])), (round(0.95 * frame.scale), round(1.35 * frame.scale))
    angle = np.degrees(frame.angle)
    cv2.ellipse(image, _int(center), axes, angle, 180, 360, hair, -1)  # hair: the top half, a little larger
    cv2.ellipse(image, _int(center + np.array([0.0, 1.0])), (axes[0] - 1, axes[1] - 2), angle, 0, 360, skin, -1)
    for eye in (slice(36, 42), slice(42, 48)):
        cv2.fillPoly(image, [_int(points[eye])], (245, 245, 245))
        cv2.circle(image, _int(points[eye].mean(axis=0)), 1, (30, 30, 30), -1)
    for brow in (slice(17, 22), slice(22, 27)):
        cv2.polylines(image, [_int(points[brow])], False, hair, 1)
    cv2.polylines(image, [_int(points[27:31]), _int(points[31:36])], False, tuple(v // 2 for v in skin), 1)
    cv2.fillPoly(image, [_int(points[48:60])], lips)
    cv2.fillPoly(image, [_int(points[60:68])], (60, 20, 30))
    return image


def write_clips(folder: Path, count: int = 3, frames: int = 16) -> Path:
    """`count` synthetic people talking, `frames` frames each (10 fps), as VIDEO.mp4 + VIDEO.landmarks.json."""
    folder.mkdir(parents=True, exist_ok=True)
    neutral = neutral_face()
    for person in range(count):
        motion = preset("talk", seconds=frames / 10, fps=10, seed=person)
        track = motion.landmarks(neutral)
        write_mp4((draw(points, PALETTES[person % len(PALETTES)]) for points in track), folder / f"person_{person}.mp4",
                  fps=10, crf=12)
        (folder / f"person_{person}.landmarks.json").write_text(json.dumps(
            {"convention": "ibug68", "fps": 10.0, "frames": np.round(track, 2).tolist()}))
    return folder


def _int(points: np.ndarray) -> np.ndarray:
    return np.round(points).astype(np.int32)
