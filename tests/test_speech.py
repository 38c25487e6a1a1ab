"""Talking with sound: a text spoken (espeak-ng), a recorded voice, a driving video's own sound; the mouth in
time with it, the sound in the signed MP4, consent for `speech`, and clear errors."""

import hashlib
import json
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from servers import missing

import engine.speech
from engine import (
    Audio,
    BadSpeech,
    Phoneme,
    lip_sync,
    read_audio,
    speak,
    speaking,
    speech_mouth,
    voice_mouth,
)
from engine.pose import MEAN_FACE
from engine.speech import can_speak
from engine.visemes import CONSONANTS, VOWELS, viseme
from provenance import SoundReport, SoundSource, Verdict, verify
from provenance.manifest import TRAINED_ALGORITHMIC_MEDIA
from provenance.video import probe, write_mp4

DATA = Path(__file__).parent / "data"
PORTRAIT, LANDMARKS = DATA / "einstein_photo.jpg", DATA / "einstein_photo.landmarks.json"
TRACK = DATA / "driving_a_50.landmarks.json"  # 50 frames at 25 fps
TEXT = "Hello, I am the sitter. I speak only with consent."
FPS = 25


NO_ESPEAK = "espeak-ng is not installed (the Makefile installs it when run as root)"


@pytest.fixture
def espeak() -> None:
    if not can_speak():
        missing(NO_ESPEAK)


needs_espeak = pytest.mark.usefixtures("espeak")


@pytest.fixture
def record(consent_to):
    """Add a consent record for the portrait allowing `purposes`; return its id."""
    return lambda *purposes: consent_to(PORTRAIT, purposes=purposes)


@pytest.fixture(scope="module")
def speech():
    if not can_speak():
        missing(NO_ESPEAK)
    return speak(TEXT)


@pytest.fixture
def voice(speech, tmp_path: Path) -> Path:
    """A recorded voice: the synthesized speech saved as a 16-bit WAV file."""
    path = tmp_path / "voice.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(speech.audio.rate)
        out.writeframes((speech.audio.samples[0] * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture
def performance(tmp_path: Path) -> Path:
    """A 50-frame driving video with sound: silence, then a 440 Hz tone from exactly 1.0 s to 1.2 s."""
    rate = 16_000
    t = np.arange(2 * rate) / rate
    tone = np.where((t >= 1.0) & (t < 1.2), 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
    path = tmp_path / "performance.mp4"
    write_mp4([np.full((64, 64, 3), i * 5, np.uint8) for i in range(50)], path, fps=FPS, sound=Audio(tone[None], rate))
    return path


def args(out: Path, *extra: object) -> list[object]:
    return ["render", "--source", PORTRAIT, "--landmarks", LANDMARKS, "--purpose", "marketing", "--size", "256",
            "--out", out, *extra]


# speech, visemes and lip sync in the engine


@needs_espeak
def test_spoken_phonemes_tile_the_sound_in_order(speech) -> None:
    assert speech.audio.rate == 22_050 and speech.audio.samples.shape[0] == 1
    assert 2.0 < speech.audio.seconds < 6.0 and np.abs(speech.audio.samples).max() > 0.1
    starts = [p.start for p in speech.phonemes]
    assert starts == sorted(starts) and speech.phonemes[0].start < 0.1
    assert all(a.end == pytest.approx(b.start) for a, b in zip(speech.phonemes, speech.phonemes[1:], strict=False))
    assert speech.phonemes[-1].end == pytest.approx(speech.audio.seconds)
    assert {"h", "s", "p"} <= {p.symbol for p in speech.phonemes}  # "hello", "speak": IPA, as espeak-ng says it
    assert speech.synthesizer.startswith("espeak-ng ")


@needs_espeak
@pytest.mark.parametrize(("options", "message"), [
    ({"language": "xx-nowhere"}, "no language 'xx-nowhere'"),
    ({"voice": "robot-9000"}, "no voice 'robot-9000'"),
])
def test_an_unknown_language_or_voice_is_refused_by_name(options: dict, message: str) -> None:
    with pytest.raises(BadSpeech, match=message):
        speak("hello", **options)


def test_visemes_close_the_lips_for_m_and_drop_the_jaw_for_a() -> None:
    assert viseme("a\u026a") == [VOWELS["a"], VOWELS["\u026a"]]  # a diphthong goes through both vowels
    assert viseme("tʃ") == [CONSONANTS["ʃ"]] and viseme("") == [(0.0, 0.0, 0.0)]
    said = [Phoneme("", 0.0, 0.2), Phoneme("m", 0.2, 0.3), Phoneme("a", 0.3, 0.5), Phoneme("u", 0.5, 0.7),
            Phoneme("", 0.7, 1.0)]
    mouth = speech_mouth(said, fps=100, frames=100)
    assert mouth.press[25] > 0.9 and mouth.open[25] < 0.05  # "m": lips pressed shut
    assert mouth.open[40] > 0.9  # "a": the jaw dropped
    assert mouth.spread[60] < -0.8 < 0.1 < mouth.spread[40]  # "u" rounds the lips, "a" does not
    assert mouth.open[5] == mouth.open[95] == 0  # at rest before and after


@needs_espeak
def test_the_mouth_keeps_time_with_synthesized_speech(speech) -> None:
    frames = round(speech.audio.seconds * FPS)
    mouth = speech_mouth(speech.phonemes, fps=FPS, frames=frames)
    motion = speaking(mouth)
    face = MEAN_FACE[:, :2] * 12 + 256  # the mean face seen straight on, 12 px a cm
    lips = motion.landmarks(face)
    opening = lips[:, 66, 1] - lips[:, 62, 1]  # inner lips, as the warp engine will draw them
    assert np.corrcoef(opening, mouth.open)[0, 1] > 0.95
    sync = lip_sync(opening, speech.audio, FPS)
    assert sync.correlation > 0.5 and abs(sync.lag) < 1 / FPS


@needs_espeak
def test_a_recorded_voice_moves_the_mouth_in_time_and_silence_keeps_it_shut(speech) -> None:
    frames = round(speech.audio.seconds * FPS)
    mouth = voice_mouth(speech.audio, fps=FPS, frames=frames)
    sync = lip_sync(mouth.open, speech.audio, FPS)
    assert sync.correlation > 0.5 and abs(sync.lag) < 1 / FPS
    assert np.corrcoef(mouth.open, speech_mouth(speech.phonemes, fps=FPS, frames=frames).open)[0, 1] > 0.4
    silent = voice_mouth(Audio(np.zeros((1, 16_000), np.float32), 16_000), fps=FPS, frames=FPS)
    assert not silent.open.any() and not silent.spread.any()


# talking videos, end to end


@needs_espeak
def test_a_spoken_text_lasts_as_long_as_its_speech_and_is_labeled_with_its_hash(sitter, record,
                                                                                 tmp_path: Path) -> None:
    record("marketing", "speech")
    out = tmp_path / "spoken.mp4"
    result = sitter(*args(out, "--say", TEXT, "--voice", "f3", "--json"))
    assert result.exit_code == 0, result.output
    speech = speak(TEXT, voice="f3")  # espeak-ng's timing varies by a fraction of a millisecond a phoneme
    video, sound = _durations(out)
    assert sound == pytest.approx(speech.audio.seconds, abs=1 / FPS)
    assert abs(video - sound) <= 1 / FPS
    assert json.loads(result.stdout)["frames"] == round(sound * FPS)
    report = sitter("verify", out, "--json")
    data = json.loads(report.stdout)
    assert data["verdict"] == "labeled" and data["c2pa"]["trusted"]
    assert data["sound"]["present"]
    assert data["sound"]["declared"] == {"kind": "synthesized-speech",
                                         "sha256": hashlib.sha256(TEXT.encode()).hexdigest(),
                                         "digital_source_type": TRAINED_ALGORITHMIC_MEDIA,
                                         "software_agent": speech.synthesizer}
    assert TEXT.encode() not in out.read_bytes() and TEXT not in json.dumps(data)  # the text's hash only
    assert "synthesized speech" in sitter("verify", out).output


def test_a_silent_render_has_no_sound_track(sitter, record, tmp_path: Path) -> None:
    record("marketing")
    out = tmp_path / "silent.mp4"
    assert sitter(*args(out, "--motion", "idle", "--seconds", "1")).exit_code == 0
    assert not probe(out).has_audio
    report = verify(out)
    assert report.verdict is Verdict.LABELED and report.sound == SoundReport(present=False, declared=None)
    assert report.manifest.sound is None


@needs_espeak
def test_changing_the_sound_after_signing_reads_tampered(sitter, record, tmp_path: Path) -> None:
    record("marketing", "speech")
    out = tmp_path / "spoken.mp4"
    assert sitter(*args(out, "--say", "Every word is signed.")).exit_code == 0
    with av.open(str(out)) as container:
        packet = max((p for p in container.demux(container.streams.audio[0]) if p.size), key=lambda p: p.size)
        position, size = packet.pos, packet.size
    data = bytearray(out.read_bytes())
    data[position + size // 2] ^= 0xFF  # one byte of the AAC sound, nothing else
    out.write_bytes(bytes(data))
    report = verify(out)
    assert report.verdict is Verdict.TAMPERED
    assert "assertion.bmffHash.mismatch" in report.manifest.failures
    assert report.watermark.found  # the pictures are untouched: only the sound changed


@needs_espeak
def test_a_recorded_voice_is_the_sound_track_and_an_ingredient(sitter, record, voice: Path, tmp_path: Path,
                                                                speech) -> None:
    record("marketing", "speech")
    out = tmp_path / "dubbed.mp4"
    result = sitter(*args(out, "--audio", voice))
    assert result.exit_code == 0, result.output
    video, sound = _durations(out)
    assert sound == pytest.approx(speech.audio.seconds, abs=0.03) and abs(video - sound) <= 1 / FPS
    report = verify(out)
    assert report.verdict is Verdict.LABELED
    assert report.sound.declared == SoundSource(kind="recording", sha256=hashlib.sha256(voice.read_bytes()).hexdigest(),
                                                digital_source_type=None, software_agent=None)
    assert "voice.wav" not in report.manifest.store_json  # the file's name may be personal: its hash only


def test_a_driving_videos_sound_is_carried_through_in_sync(sitter, record, performance: Path, tmp_path: Path) -> None:
    record("marketing", "speech")
    out = tmp_path / "driven.mp4"
    result = sitter(*args(out, "--driver", performance, "--driver-landmarks", TRACK, "--seconds", "1.6"))
    assert result.exit_code == 0, result.output
    video, sound = _durations(out)
    assert video == pytest.approx(1.6) and sound == pytest.approx(1.6, abs=0.03)
    carried = read_audio(out, until=10)
    onset = np.argmax(np.abs(carried.mono()) > 0.1) / carried.rate
    assert onset == pytest.approx(1.0, abs=1 / FPS)  # the tone starts where it did, to within a frame
    declared = verify(out).sound.declared
    assert declared.kind == "driver-audio"
    assert declared.sha256 == hashlib.sha256(performance.read_bytes()).hexdigest()


def test_a_driver_swapped_mid_render_changes_neither_the_sound_nor_the_hash_the_manifest_names(
        sitter, record, performance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.pipeline

    record("marketing", "speech")
    used = performance.read_bytes()
    read_track = studio.pipeline.read_track

    def swapping(path):  # an attacker replaces the driving video once the render has looked at it
        write_mp4([np.zeros((64, 64, 3), np.uint8)] * 50, performance, fps=FPS)  # silent, another video
        return read_track(path)

    monkeypatch.setattr(studio.pipeline, "read_track", swapping)
    out = tmp_path / "driven.mp4"
    result = sitter(*args(out, "--driver", performance, "--driver-landmarks", TRACK, "--seconds", "1.6"))
    assert result.exit_code == 0, result.output
    assert performance.read_bytes() != used  # the swap happened
    assert verify(out).sound.declared.sha256 == hashlib.sha256(used).hexdigest()
    assert probe(out).has_audio


# consent for speech


@pytest.mark.parametrize("how", ["say", "audio", "driver-sound"])
def test_sound_needs_a_record_that_allows_speech(sitter, record, how: str, performance: Path, tmp_path: Path) -> None:
    record_id = record("marketing")
    out = tmp_path / "outputs" / "refused.mp4"
    extra = {"say": ["--say", TEXT], "audio": ["--audio", tmp_path / "any.wav"],
             "driver-sound": ["--driver", performance, "--driver-landmarks", TRACK]}[how]
    result = sitter(*args(out, *extra))
    assert result.exit_code == 3, result.output
    assert result.output.startswith(f"Error: consent record {record_id} does not allow purpose 'speech'")
    assert "without sound" in result.output and "Ada" not in result.output and TEXT not in result.output
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_a_driving_video_without_its_sound_needs_no_speech_consent(sitter, record, performance: Path,
                                                                    tmp_path: Path) -> None:
    record("marketing")
    out = tmp_path / "muted.mp4"
    result = sitter(*args(out, "--driver", performance, "--driver-landmarks", TRACK, "--no-audio"))
    assert result.exit_code == 0, result.output
    assert not probe(out).has_audio and verify(out).sound.declared is None


# errors that say what to do


def test_without_espeak_ng_the_error_is_one_sentence_on_how_to_get_it(sitter, record, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    record("marketing", "speech")
    monkeypatch.setattr(engine.speech, "LIBRARY", str(tmp_path / "libespeak-ng.so.1"))  # as on a machine without it
    out = tmp_path / "outputs" / "mute.mp4"
    result = sitter(*args(out, "--say", TEXT))
    assert result.exit_code == 2
    assert result.output == f"Error: {engine.speech.INSTALL}\n"
    assert "apt-get install espeak-ng" in result.output and result.output.count(". ") == 0
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (lambda p: ["--audio", p / "noise.wav"], "not a sound file Sitter can read"),
        (lambda p: ["--audio", p / "empty.mp3"], "audio file is empty"),
        (lambda p: ["--audio", p / "silent.mp4"], "has no sound track"),
        (lambda p: ["--audio", p / "missing.wav"], "audio file not found"),
        (lambda p: ["--say", "   "], "text to say is empty"),
        (lambda p: ["--say", "hello", "--audio", p / "silent.mp4"], "not both"),
        (lambda p: ["--say", "hello", "--motion", "nod"], "not both"),
        (lambda p: ["--voice", "f3"], "--voice and --language are for --say"),
    ],
    ids=["corrupt-audio", "empty-audio", "no-sound-track", "missing-audio", "empty-text", "say-and-audio",
         "say-and-motion", "voice-without-say"],
)
def test_bad_sound_input_exits_2_with_one_line(sitter, record, tmp_path: Path, extra, message: str) -> None:
    record("marketing", "speech")
    (tmp_path / "noise.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    (tmp_path / "empty.mp3").write_bytes(b"")
    write_mp4([np.zeros((64, 64, 3), np.uint8)] * 5, tmp_path / "silent.mp4", fps=FPS)
    out = tmp_path / "outputs" / "bad.mp4"
    result = sitter(*args(out, *extra(tmp_path)))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and message in lines[-1]
    assert len(lines) == 1 or lines[0].startswith("Usage: ")  # click repeats the usage for conflicting flags
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


# helpers


def _durations(path: Path) -> tuple[float, float]:
    """Seconds of the video track and of the sound track, as the MP4 declares them."""
    with av.open(str(path)) as container:
        video, sound = container.streams.video[0], container.streams.audio[0]
        return float(video.duration * video.time_base), float(sound.duration * sound.time_base)
