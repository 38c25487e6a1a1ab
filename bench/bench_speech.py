"""Speech benchmark: lip sync measured, and the time to make 10 s of talking video with sound.

    .venv/bin/python bench/bench_speech.py

Lip sync: for each text, espeak-ng speaks it, the mouth follows its phonemes (engine/visemes.py), and the
mouth's opening is read back from the landmarks the motion gives the sample painting's face (the inner lips'
gap, what the warp engine draws). It is correlated, frame by frame, with the speech's energy envelope (RMS
over each frame), the sound shifted by every millisecond within +-200 ms; the best correlation and its lag
are reported (positive lag: the mouth trails the sound). Target: the lag within one frame (40 ms at 25 fps).
The same is done for the mouth a recorded voice gives (`--audio`, engine/audio.py), on the same sound.

Speed: a text of about 10 s spoken by the sample painting through the one pipeline (consent gate with
`speech`, espeak-ng, visemes, warp engine, visible label, watermark, H.264 + AAC, C2PA signing, registry,
ledger), 512x512 at 25 fps, on this machine with its threads as they come; then `verify`.
Writes the "## Speech" section of bench/RESULTS.md.
"""

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from results import machine, write_section

from consent import Artwork, Ledger, Rights
from engine import LipSync, lip_sync, load_landmarks, speak, speaking, speech_mouth, voice_mouth
from provenance import verify
from studio.pipeline import RenderRequest, render
from studio.settings import Settings

FPS, SIZE = 25.0, 512
SAMPLE = Path(__file__).resolve().parents[1] / "studio" / "samples" / "bouguereau_girl.jpg"
TEXTS = (  # (language, text); the first is the ~10 s one rendered whole
    ("en", "Welcome to the museum. I was painted by William Bouguereau more than a hundred years ago, and I have "
           "been waiting quietly on this wall ever since. Today, for the first time, I can speak to you."),
    ("en", "Our new product helps you save time every morning. Try it free for thirty days, and tell us what you "
           "think."),
    ("en", "Peter Piper picked a peck of pickled peppers. Where is the peck of pickled peppers Peter Piper picked?"),
    ("en-us", "The quick brown fox jumps over the lazy dog, while the sleepy cat watches from the warm windowsill."),
    ("fr", "Bonjour, je suis un portrait qui parle. Je suis heureuse de vous rencontrer au musée aujourd'hui."),
    ("de", "Guten Tag, ich bin ein sprechendes Bild. Willkommen im Museum, und viel Freude beim Zuhören."),
)


def main() -> None:
    face = load_landmarks(SAMPLE.with_suffix(".landmarks.json"))[0].astype(np.float64)
    rows = [_sync_row(language, text, face) for language, text in TEXTS]
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.from_env({"SITTER_HOME": home})
        with settings.open_studio() as studio:
            record_id = _speech_record(studio.ledger, Path(home))
            request = RenderRequest(sources=(SAMPLE,), landmarks=(SAMPLE.with_suffix(".landmarks.json"),),
                                    purpose="exhibit", operator="bench", out=Path(home) / "speech.mp4",
                                    record_id=record_id, say=TEXTS[0][1], fps=FPS, size=SIZE)
            render(replace(request, say="Warm up.", out=Path(home) / "warm.mp4"), studio)  # warm caches
            spoken, speech = _timed(lambda: speak(TEXTS[0][1]))
            frames = round(speech.audio.seconds * FPS)
            moved, _ = _timed(lambda: speaking(speech_mouth(speech.phonemes, fps=FPS, frames=frames)))
            whole, output = _timed(lambda: render(request, studio))
            checked, report = _timed(lambda: verify(output.path, trust_anchors=settings.known_trust_anchors(),
                                                    registry=studio.registry, ledger=studio.ledger))
    assert report.verdict == "labeled" and report.sound.declared.kind == "synthesized-speech", report.summary
    section = _report(rows, speech.audio.seconds, output.frames, spoken, moved, whole, checked)
    print(section)
    write_section(section)


# helpers


def _sync_row(language: str, text: str, face: np.ndarray) -> tuple[str, float, LipSync, LipSync]:
    """Lip sync of the viseme mouth (read back from the face's landmarks) and of the recorded-voice mouth."""
    speech = speak(text, language=language)
    frames = round(speech.audio.seconds * FPS)
    lips = speaking(speech_mouth(speech.phonemes, fps=FPS, frames=frames)).landmarks(face)
    opening = lips[:, 66, 1] - lips[:, 62, 1]
    voiced = voice_mouth(speech.audio, fps=FPS, frames=frames).open
    return language, speech.audio.seconds, lip_sync(opening, speech.audio, FPS), lip_sync(voiced, speech.audio, FPS)


def _speech_record(ledger: Ledger, home: Path) -> str:
    """A rights record for the sample that allows exhibits with speech (the demo's allows exhibits only)."""
    evidence = home / "rights.txt"
    evidence.write_text("bench: the sample painting is in the public domain")
    record = ledger.grant(kind="artwork", name="sample", grantor="bench", purposes=["exhibit", "speech"],
                          expires=(datetime.now(UTC) + timedelta(days=1)).date(), evidence=evidence,
                          images=[SAMPLE], operator="bench",
                          artwork=Artwork(title="sample", creator="William-Adolphe Bouguereau",
                                          rights=Rights.PUBLIC_DOMAIN))
    return record.record_id


def _timed(work: Callable):
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def _report(rows: list, seconds: float, frames: int, spoken: float, moved: float, whole: float,
            checked: float) -> str:
    frame_ms = 1000 / FPS
    mean_text = np.mean([r[2].correlation for r in rows])
    mean_voice = np.mean([r[3].correlation for r in rows])
    worst_lag = max(abs(r[2].lag) for r in rows) * 1000
    worst_voice_lag = max(abs(r[3].lag) for r in rows) * 1000
    lines = [
        "## Speech",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, espeak-ng through libespeak-ng, all cores, by "
        f"`bench/bench_speech.py`, {FPS:.0f} fps.",
        "",
        "Lip sync: correlation of the mouth's opening (the inner lips' gap in the landmarks the motion gives the "
        "sample painting) with the speech's RMS energy per frame, at the best lag within +-200 ms "
        "(positive: the mouth trails the sound). *Text*: `--say`, the mouth from espeak-ng's phoneme timings "
        "(visemes); *voice*: `--audio`, the mouth from the same sound's loudness and spectrum.",
        "",
        "| language | seconds | text: correlation | text: lag | voice: correlation | voice: lag |",
        "|---|---|---|---|---|---|",
        *(f"| {lang} | {secs:.2f} | {text.correlation:.2f} | {1000 * text.lag:+.0f} ms | {voice.correlation:.2f} | "
          f"{1000 * voice.lag:+.0f} ms |" for lang, secs, text, voice in rows),
        "",
        "| measure | target | result |",
        "|---|---|---|",
        f"| lip sync, text: mean correlation; worst lag | lag within one frame ({frame_ms:.0f} ms) | "
        f"**{mean_text:.2f}**; **{worst_lag:.0f} ms** |",
        f"| lip sync, recorded voice: mean correlation; worst lag | lag within one frame ({frame_ms:.0f} ms) | "
        f"**{mean_voice:.2f}**; **{worst_voice_lag:.0f} ms** |",
        f"| espeak-ng: speak the {seconds:.1f} s text (sound + phoneme timings) | - | {spoken:.3f} s |",
        f"| visemes + motion for it ({frames} frames) | - | {moved:.3f} s |",
        f"| {seconds:.1f} s of talking video, {SIZE}x{SIZE}, through `studio.pipeline.render` (gate to published "
        f"file, sound included) | < {seconds:.0f} s | **{whole:.2f} s** ({seconds / whole:.1f}x real time) |",
        f"| `verify` of it | <= 3 s | **{checked:.2f} s** |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
