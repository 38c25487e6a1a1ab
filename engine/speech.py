"""Speech: a text spoken offline by espeak-ng, with the time of every phoneme it spoke.

espeak-ng is used through libespeak-ng, the library its `espeak-ng` program is built on (Debian's
`espeak-ng` package installs both), loaded with ctypes: the library reports each phoneme, in IPA, with the
sample it starts at, in the same pass that makes the sound, so the timings are exact by construction. The
program cannot give those timings: its `--pho` output exists only for MBROLA voices (not in Debian main),
and `-x`/`-X` print phonemes without times.

libespeak-ng keeps one global state per process (the voice, the callback), so it is initialized once
(`_espeak` is cached) and every synthesis holds that one instance's lock.

    speech = speak("Hello, I am the sitter.", language="en", voice="f3")
    speech.audio            # Audio, mono, 22050 Hz
    speech.phonemes[:2]     # (Phoneme(symbol='h', start=0.012, end=0.063), Phoneme(symbol='ə', ...), ...)
"""

import ctypes
import ctypes.util
import functools
import threading
from dataclasses import dataclass

import numpy as np

from engine.audio import Audio
from engine.errors import BadSpeech, SpeechUnavailable

LIBRARY: str | None = None  # libespeak-ng's file; None: wherever the system's loader finds it
INSTALL = ("speech needs espeak-ng, which is not installed here: install it with `apt-get install espeak-ng` "
           "(Debian, Ubuntu), `brew install espeak-ng` (macOS) or from https://github.com/espeak-ng/espeak-ng")
MAX_CHARACTERS = 4000  # about four minutes of speech; the render refuses anything over its own limit anyway

# libespeak-ng's API constants (speak_lib.h)
_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: the sound comes back through the callback, nothing is played
_PHONEME_EVENTS, _PHONEME_IPA, _DONT_EXIT = 0x0001, 0x0002, 0x8000  # espeakINITIALIZE_*
_UTF8, _CHARACTER = 1, 1  # espeakCHARS_UTF8, POS_CHARACTER
_LIST_TERMINATED, _PHONEME = 0, 7  # espeakEVENT_*
_NOT_FOUND = 2  # EE_NOT_FOUND


@dataclass(frozen=True)
class Phoneme:
    """One phoneme as spoken: its IPA symbol ("" for a pause) and when it starts and ends, in seconds."""

    symbol: str
    start: float
    end: float


@dataclass(frozen=True, eq=False)
class Speech:
    """A spoken text: its sound, its phonemes in order, and what spoke it ("espeak-ng 1.51")."""

    audio: Audio
    phonemes: tuple[Phoneme, ...]
    synthesizer: str


def speak(text: str, *, language: str = "en", voice: str | None = None) -> Speech:
    """Speak `text` in `language` (an espeak-ng language such as "en", "en-us", "fr"), in `voice` (an
    espeak-ng voice variant such as "f3", "m2", "whisper"; None: the language's own).

    Raises SpeechUnavailable when espeak-ng is not installed, BadSpeech for an empty or too long text or an
    unknown language or voice. The text never appears in a message: it may be personal data.
    """
    text = text.strip()
    if not text:
        raise BadSpeech("the text to say is empty")
    if len(text) > MAX_CHARACTERS:
        raise BadSpeech(f"the text to say has {len(text)} characters; at most {MAX_CHARACTERS} can be spoken")
    return _espeak(LIBRARY).speak(text, language, voice)


def can_speak() -> bool:
    """Whether espeak-ng can be loaded here (the studio offers speaking a text only then)."""
    try:
        _espeak(LIBRARY)
    except SpeechUnavailable:
        return False
    return True


# helpers


class _Event(ctypes.Structure):
    """espeak_EVENT (speak_lib.h)."""

    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


class _Voice(ctypes.Structure):
    """espeak_VOICE (speak_lib.h)."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Espeak:
    """libespeak-ng, initialized for synchronous synthesis with IPA phoneme events."""

    def __init__(self, library: str | None) -> None:
        try:
            self.lib = ctypes.CDLL(library or ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1")
        except OSError:
            raise SpeechUnavailable(INSTALL) from None
        self.lib.espeak_Info.restype = ctypes.c_char_p
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                          ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, None, _PHONEME_EVENTS | _PHONEME_IPA | _DONT_EXIT)
        if self.rate <= 0:
            raise SpeechUnavailable(f"espeak-ng is installed but its voice data could not be loaded; {INSTALL}")
        self.version = f"espeak-ng {self.lib.espeak_Info(None).decode()}"
        self.variants = frozenset(self._voices(b"variant"))
        self.lock = threading.Lock()
        self.callback = _Callback(self._receive)  # kept on self: the library holds only a raw pointer to it
        self.lib.espeak_SetSynthCallback(self.callback)
        self.chunks: list[np.ndarray] = []
        self.starts: list[tuple[int, str]] = []  # (sample, IPA symbol) of each phoneme, in order

    def speak(self, text: str, language: str, voice: str | None) -> Speech:
        with self.lock:
            self._set_voice(language, voice)
            self.chunks, self.starts = [], []
            encoded = text.encode()
            self.lib.espeak_Synth(encoded, len(encoded) + 1, 0, _CHARACTER, 0, _UTF8, None, None)
            sound = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
            starts = self.starts
        phonemes = tuple(Phoneme(symbol, start / self.rate, end / self.rate)
                         for (start, symbol), (end, _) in zip(starts, [*starts[1:], (len(sound), "")], strict=True)
                         if end > start)
        if not any(p.symbol for p in phonemes):
            raise BadSpeech("the text to say has nothing espeak-ng can pronounce")
        return Speech(Audio((sound / 32768.0).astype(np.float32)[None], self.rate), phonemes, self.version)

    def _set_voice(self, language: str, voice: str | None) -> None:
        if not language or "+" in language or self.lib.espeak_SetVoiceByName(language.encode()) == _NOT_FOUND:
            raise BadSpeech(f"espeak-ng has no language {language!r}: `espeak-ng --voices` lists them")
        if voice is not None:
            if voice not in self.variants:
                raise BadSpeech(f"espeak-ng has no voice {voice!r}: `espeak-ng --voices=variant` lists them")
            self.lib.espeak_SetVoiceByName(f"{language}+{voice}".encode())

    def _voices(self, languages: bytes) -> list[str]:
        """The file names of espeak-ng's voices for `languages` ("variant": the voice variants)."""
        spec = _Voice(languages=languages)
        found = self.lib.espeak_ListVoices(ctypes.byref(spec))
        names, i = [], 0
        while found[i]:
            names.append(found[i].contents.identifier.decode().rsplit("/", 1)[-1])
            i += 1
        return names

    def _receive(self, wav: "ctypes._Pointer", count: int, events: "ctypes._Pointer") -> int:
        """The synthesis callback: keep the sound and the phoneme events; 0 asks for more."""
        if count > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != _LIST_TERMINATED:
            if events[i].type == _PHONEME:
                self.starts.append((events[i].sample, events[i].id.string.decode(errors="replace")))
            i += 1
        return 0


@functools.cache
def _espeak(library: str | None) -> _Espeak:
    """The one libespeak-ng instance of this process."""
    return _Espeak(library)
