"""engine/: sources + motion -> frames. Faces (landmarks), motion (drivers, presets, speech), the warp engine.

It renders RGB uint8 frames and knows nothing else: it imports neither consent/ nor provenance/.
The neural engine lives in engine/neural/ and is imported from there (`from engine.neural import
NeuralEngine`): it needs torch, which importing engine/ alone does not load.
"""

from engine.audio import Audio, LipSync, has_sound, lip_sync, read_audio, voice_mouth
from engine.errors import (
    BadAudio,
    BadCheckpoint,
    BadImage,
    BadLandmarks,
    BadMotion,
    BadSpeech,
    BadVideo,
    EngineError,
    FaceTooSmall,
    NoFaceError,
    SpeechUnavailable,
    TrainingDiverged,
    WeightsMissing,
)
from engine.faces import (
    Detector,
    Track,
    check_landmarks,
    choose_face,
    draw_landmarks,
    load_image,
    load_landmarks,
    read_track,
    save_landmarks,
    track_video,
)
from engine.motion import PRESETS, Motion, from_track, preset, speaking
from engine.mouth import Mouth
from engine.speech import Phoneme, Speech, can_speak, speak
from engine.visemes import speech_mouth
from engine.warp import Identity, WarpConfig, WarpEngine

__all__ = [
    "PRESETS",
    "Audio",
    "BadAudio",
    "BadCheckpoint",
    "BadImage",
    "BadLandmarks",
    "BadMotion",
    "BadSpeech",
    "BadVideo",
    "Detector",
    "EngineError",
    "FaceTooSmall",
    "Identity",
    "LipSync",
    "Motion",
    "Mouth",
    "NoFaceError",
    "Phoneme",
    "Speech",
    "SpeechUnavailable",
    "Track",
    "TrainingDiverged",
    "WarpConfig",
    "WarpEngine",
    "WeightsMissing",
    "can_speak",
    "check_landmarks",
    "choose_face",
    "draw_landmarks",
    "from_track",
    "has_sound",
    "lip_sync",
    "load_image",
    "load_landmarks",
    "preset",
    "read_audio",
    "read_track",
    "save_landmarks",
    "speak",
    "speaking",
    "speech_mouth",
    "track_video",
    "voice_mouth",
]
