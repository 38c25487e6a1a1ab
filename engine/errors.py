"""Everything that can go wrong in engine/, one small class each.

Messages say what is wrong and what to do next, and never carry a file name: a file name can itself be
personal data ("jane-doe-passport.jpg"). The file concerned, when there is one, is on `path`, for the
caller (who chose it) to show if it wants to.
"""

from pathlib import Path

from sitter.errors import BadInput, CheckFailed, SitterError


class EngineError(SitterError):
    """Base class of every engine/ failure."""


class BadImage(EngineError, BadInput):
    """A source image can't be used: missing, empty, corrupt, not an image, or too large to decode safely."""


class BadLandmarks(EngineError, BadInput):
    """Landmarks given by file or array can't be used: not JSON (or too large or deeply nested to read), wrong
    convention, not 68 finite points, or not on or near their image (see engine.faces.check_landmarks)."""


class BadVideo(EngineError, BadInput):
    """A driving video or its landmark track can't be used: unreadable, no frames, no face in any frame, too
    many frames, or a frame rate no video has."""


class BadMotion(EngineError, BadInput):
    """A motion can't be made as asked: unknown preset, a length or frame rate that is not positive, or a
    driver whose frame rate is outside the 1 to 60 fps a render runs at."""


class NoFaceError(EngineError, BadInput):
    """No face was found in a source image."""


class FaceTooSmall(EngineError, BadInput):
    """The face in a source image is too small to animate sharply."""


class WeightsMissing(EngineError, BadInput):
    """face-alignment's weight files are not in the torch hub cache and could not be downloaded.

    `missing` lists the files to place, each a full path in the cache folder.
    """

    def __init__(self, message: str, missing: list[Path] = ()) -> None:
        super().__init__(message, missing[0].parent if missing else None)
        self.missing = list(missing)


class SpeechUnavailable(EngineError, BadInput):
    """Speech synthesis needs espeak-ng, and it is not installed here."""


class BadSpeech(EngineError, BadInput):
    """A text can't be spoken as asked: empty, too long, or an unknown language or voice."""


class BadAudio(EngineError, BadInput):
    """An audio file (or a video's sound track) can't be used: missing, empty, corrupt, not audio, or too long."""


class BadCheckpoint(EngineError, BadInput):
    """A neural engine checkpoint, or a perceptual network's weight file, can't be used: unreadable, not one,
    from an incompatible format, or made for another model or other training data than asked."""


class TrainingDiverged(EngineError, CheckFailed):
    """Training stopped because it went wrong: losses not finite, or the generator collapsed to flat colour."""
