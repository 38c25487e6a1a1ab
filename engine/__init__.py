"""engine/: sources + motion -> frames. Faces (landmarks), motion (drivers and presets), the warp engine.

It renders RGB uint8 frames and knows nothing else: it imports neither consent/ nor provenance/.
"""

from engine.errors import (
    BadImage,
    BadLandmarks,
    BadMotion,
    BadVideo,
    EngineError,
    FaceTooSmall,
    NoFaceError,
    WeightsMissing,
)
from engine.faces import Detector, Track, load_image, load_landmarks, read_track, track_video
from engine.motion import PRESETS, Motion, from_track, preset
from engine.warp import Identity, WarpConfig, WarpEngine

__all__ = [
    "PRESETS",
    "BadImage",
    "BadLandmarks",
    "BadMotion",
    "BadVideo",
    "Detector",
    "EngineError",
    "FaceTooSmall",
    "Identity",
    "Motion",
    "NoFaceError",
    "Track",
    "WarpConfig",
    "WarpEngine",
    "WeightsMissing",
    "from_track",
    "load_image",
    "load_landmarks",
    "preset",
    "read_track",
    "track_video",
]
