"""Create page: source images -> the consent that covers them -> landmarks -> motion -> render -> preview and
download. The render is `studio.pipeline.render`, the CLI's: the gate, the watermark and the signed manifest
happen there, and the only file offered for download is the one it returned.
"""

import secrets
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import streamlit as st

from consent import Record, Status, covering
from engine import (
    PRESETS,
    can_speak,
    check_landmarks,
    choose_face,
    draw_landmarks,
    load_image,
    load_landmarks,
    save_landmarks,
)
from provenance import DisclosureStyle, Output
from studio.app.errors import CONSENT_PAGE, reported, sentence
from studio.app.session import ledger, operator, settings, studio
from studio.app.uploads import AUDIO, IMAGES, LANDMARKS, VIDEOS, save, uploader, workspace
from studio.pipeline import ENGINES, RenderRequest
from studio.workers import WorkerFailed

SIZES = (256, 384, 512, 768, 1024)
LANGUAGES = ("en", "en-us", "fr", "de", "es", "it", "pt", "nl")  # a few of espeak-ng's; the CLI takes any
VOICES = (None, "f1", "f2", "f3", "f4", "m1", "m2", "m3", "m4")
MAX_SPEECH_CHARS = 2000


def choose_sources(folder: Path) -> list[Path]:
    """Uploaded images, or the images kept with a consent record."""
    mode = st.radio("Source images", ["Upload images", "Use a record's images"], horizontal=True, key="source_mode")
    if mode == "Upload images":
        uploads = uploader(IMAGES, "Portrait or artwork images (the first is animated)", key="sources", multiple=True)
        return save(uploads, IMAGES, folder)
    now = datetime.now(UTC)
    usable = {r.record_id: r for r in ledger().records() if r.status(now) is Status.ACTIVE}
    if not usable:
        st.info("No active consent record yet.")
        return []
    chosen = st.selectbox("Record", list(usable), key="source_record",
                          format_func=lambda rid: f"{rid}: {usable[rid].subject_label()}")
    return ledger().source_images(chosen)


def choose_consent(sources: list[Path]) -> tuple[Record, str] | None:
    """The active record to render under and the purpose, or None after saying why there is none."""
    now = datetime.now(UTC)
    records = covering(ledger(), sources)
    active = {r.record_id: r for r in records if r.status(now) is Status.ACTIVE}
    if not active:
        reasons = "; ".join(str(r.refusal(r.purposes[0], now)) for r in records)
        st.warning((f"No consent record that covers these images can be used now: {reasons}." if reasons else
                    "No consent record covers these images together.") + " Nothing can be rendered.")
        st.page_link(CONSENT_PAGE, label="Add or renew a consent record", icon=":material/arrow_forward:")
        return None
    chosen = st.selectbox("Consent record", list(active), key="record",
                          format_func=lambda rid: f"{rid}: {active[rid].subject_label()} "
                                                  f"(valid until {active[rid].expires:%Y-%m-%d})")
    record = active[chosen]
    purpose = st.selectbox("Purpose", [p.value for p in record.purposes], key="purpose",
                           help="Only the purposes this record allows are offered.")
    return record, purpose


def choose_landmarks(source: Path, folder: Path) -> Path | None:
    """The 68 points of the animated face, detected or imported, then nudged; None leaves it to the render."""
    image = load_image(source)
    found = st.session_state.setdefault("landmarks", {})
    key = source.name
    detect, imported = st.columns([1, 3])
    if detect.button("Detect landmarks", key="detect"):
        with reported(), st.spinner("Finding the face…"):
            found[key] = choose_face(studio().engine.detector.detect(image), path=source)[0]
    with imported:
        files = uploader(LANDMARKS, "…or import them (JSON)", key="landmarks_file")
    if files:
        with reported():
            found[key] = choose_face(load_landmarks(save(files, LANDMARKS, folder)[0],
                                                    (image.shape[1], image.shape[0])), path=source)[0]
    if key not in found:
        st.image(image, width=360, caption="No landmarks yet: they will be detected when rendering.")
        return None
    # checked as an imported file's are (finite, on or near the image) before they are drawn or saved
    points = check_landmarks(nudge(found[key]), (image.shape[1], image.shape[0]), where="the nudged landmarks")
    st.image(overlay(image, points), width=360, caption="Landmarks over the image")
    path = folder / "landmarks.json"
    save_landmarks(path, [points], (image.shape[1], image.shape[0]))
    return path


def nudge(points: np.ndarray) -> np.ndarray:
    """Move, scale or edit the points by hand: paintings fool detectors, and a few pixels matter at the mouth."""
    with st.expander("Nudge the landmarks"):
        left, middle, right = st.columns(3)
        dx = left.slider("Move right (px)", -40, 40, 0, key="nudge_x")
        dy = middle.slider("Move down (px)", -40, 40, 0, key="nudge_y")
        scale = right.slider("Scale", 0.8, 1.2, 1.0, 0.01, key="nudge_scale")
        centre = points.mean(axis=0)
        moved = (points - centre) * scale + centre + np.array([dx, dy], np.float32)
        rows = [{"point": i, "x": round(float(x), 1), "y": round(float(y), 1)} for i, (x, y) in enumerate(moved)]
        table = st.data_editor(rows, key="nudge_points", height=200, num_rows="fixed", disabled=["point"],
                               hide_index=True)
        return np.array([[row["x"], row["y"]] for row in table], np.float32)


def overlay(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    return draw_landmarks(image.copy(), points, thickness=max(1, round(max(image.shape[:2]) / 300)))


def choose_motion(folder: Path) -> dict | None:
    """RenderRequest fields for the motion (a preset, a driving video, a text to speak or a recording to
    lip-sync), or None while something it needs is missing."""
    modes = {"Preset": _preset, "Driving video": _driver, "Speak a text": _speech, "Lip-sync a recording": _recording}
    mode = st.radio("Motion", list(modes), horizontal=True, key="motion_mode")
    if mode in ("Speak a text", "Lip-sync a recording"):
        st.caption("A video that speaks needs a consent record that also allows the purpose speech.")
    return modes[mode](folder)


def _preset(folder: Path) -> dict:
    left, right = st.columns(2)
    return {"motion": left.selectbox("Preset", PRESETS, index=PRESETS.index("talk"), key="preset"),
            "seconds": float(right.slider("Length (seconds)", 1, 30, 6, key="seconds"))}


def _driver(folder: Path) -> dict | None:
    driver = save(uploader(VIDEOS, "Driving video", key="driver"), VIDEOS, folder)
    track = save(uploader(LANDMARKS, "Its landmark track (JSON, optional)", key="driver_track"), LANDMARKS, folder)
    seconds = float(st.slider("At most (seconds)", 1, 120, 30, key="driver_seconds"))
    sound = st.checkbox("Keep the driving video's sound", value=True, key="driver_sound")
    if not driver:
        st.info("Upload a driving video, or choose another motion.")
        return None
    return {"driver": driver[0], "driver_landmarks": track[0] if track else None, "seconds": seconds,
            "driver_sound": sound}


def _speech(folder: Path) -> dict | None:
    if not can_speak():
        st.warning("Speaking a text needs espeak-ng on the studio's server, which does not have it: install it "
                   "there (apt-get install espeak-ng), or lip-sync a recording instead.")
        return None
    text = st.text_area("Text to speak", key="say", max_chars=MAX_SPEECH_CHARS,
                        help="Spoken offline by espeak-ng; the video lasts as long as the speech.").strip()
    left, right = st.columns(2)
    language = left.selectbox("Language", LANGUAGES, key="language")
    voice = right.selectbox("Voice", VOICES, key="voice", format_func=lambda v: v or "the language's own")
    return {"say": text, "language": language, "voice": voice} if text else None


def _recording(folder: Path) -> dict | None:
    audio = save(uploader(AUDIO, "A recorded voice", key="audio"), AUDIO, folder)
    return {"audio": audio[0]} if audio else None


def choose_look() -> dict:
    """RenderRequest fields for the engine, size and the visible label."""
    left, middle, right = st.columns(3)
    fields = {"engine": left.selectbox("Engine", ENGINES, key="engine"),
              "size": middle.selectbox("Size (pixels)", SIZES, index=SIZES.index(512), key="size"),
              "fps": float(right.selectbox("Frames a second", (25, 30, 24), key="fps"))}
    if fields["engine"] == "neural":
        left, right = st.columns([3, 1])
        checkpoint = left.text_input("Checkpoint (a file on the studio's server, from `sitter train`)",
                                     key="checkpoint").strip()
        fields["checkpoint"] = Path(checkpoint).expanduser() if checkpoint else None
        fields["finetune_steps"] = int(right.number_input("Fine-tuning steps", 0, 2000, 0, step=50, key="finetune",
                                                          help="0: feed-forward, no fine-tuning on the sources."))
    shown = st.checkbox("Show the visible AI label", value=True, key="label_shown",
                        help="The invisible watermark and the signed manifest are always there.")
    caption = st.text_input("Label text", value=DisclosureStyle.caption, key="label_text", disabled=not shown)
    fields["disclosure"] = DisclosureStyle(caption) if shown else None
    return fields


def render_video(request: RenderRequest) -> None:
    """Render on the configured runner (this process, or the Ray render workers), the bar following the frames."""
    bar = st.progress(0.0, text="Checking consent…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Rendering frame {done} of {total}")

    try:
        with reported(), settings().open_runner(studio()) as runner:
            st.session_state["output"] = runner.submit(request).wait(progress)
            bar.progress(1.0, text="Done: labeled and signed.")
    except WorkerFailed as err:  # the render's own errors are reported(); this one is the worker's
        st.error(sentence(err))


def show_output(output: Output) -> None:
    st.success(f"Labeled and signed: watermark {output.watermark_id}, C2PA manifest {output.manifest_bytes} bytes, "
               f"output {output.output_id}.")
    st.video(str(output.path))
    st.download_button("Download the video", output.path.read_bytes(), file_name=output.path.name,
                       mime="video/mp4", type="primary", key="download")


def _out_path() -> Path:
    folder = settings().outputs_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.mp4"


st.title("Create")
st.caption("Animate consented portraits. Every video is watermarked and carries a signed C2PA manifest.")
with reported(), workspace() as folder:
    sources = choose_sources(folder)
    consent = choose_consent(sources) if sources else None
    if consent is not None:
        record, purpose = consent
        landmarks = choose_landmarks(sources[0], folder)
        motion = choose_motion(folder)
        look = choose_look()
        if st.button("Render", type="primary", disabled=motion is None, key="render"):
            render_video(RenderRequest(
                sources=tuple(sources), purpose=purpose, operator=operator(), out=_out_path(),
                record_id=record.record_id, landmarks=None if landmarks is None else
                (landmarks, *[None] * (len(sources) - 1)), **motion, **look))
output = st.session_state.get("output")
if output is not None and output.path.is_file():
    show_output(output)
