"""engine/: sources + motion -> frames. Faces (landmarks), motion (drivers, presets, speech), the warp engine.

It renders RGB uint8 frames and knows nothing else: it imports neither consent/ nor provenance/.
The neural engine lives in engine/neural/ and is imported from there (`from engine.neural import
NeuralEngine`): it needs torch, which importing engine/ alone does not load. Each name here is imported when first
used (sitter.lazy): `engine.PRESETS` does not load the face detector, OpenCV or SciPy.
"""

from sitter.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "engine.audio": ("Audio", "LipSync", "has_sound", "lip_sync", "read_audio", "voice_mouth"),
    "engine.crop": ("crop_square", "square", "to_crop_coordinates"),
    "engine.errors": ("BadAudio", "BadCheckpoint", "BadImage", "BadLandmarks", "BadMotion", "BadSpeech", "BadVideo",
                      "EngineError", "FaceTooSmall", "NoFaceError", "SpeechUnavailable", "TrainingDiverged",
                      "WeightsMissing"),
    "engine.eyes": ("video_gaze",),
    "engine.faces": ("Detector", "Track", "check_landmarks", "choose_face", "draw_landmarks", "load_image",
                     "load_landmarks", "read_track", "save_landmarks", "track_video"),
    "engine.motion": ("PRESETS", "Motion", "from_track", "preset", "speaking"),
    "engine.mouth": ("Mouth",),
    "engine.speech": ("Phoneme", "Speech", "can_speak", "speak"),
    "engine.visemes": ("speech_mouth",),
    "engine.warp": ("Identity", "WarpConfig", "WarpEngine"),
})
