"""Verify page: anyone uploads a clip and reads, in plain words, whether Sitter made it and under what
consent; then the C2PA details, the watermark over time, the manifest recovered through the registry when
the file's own was stripped, and the whole report as JSON. Needs no login and no consent database.

The clip may be any video FFmpeg decodes (uploads.CLIPS: MP4, MOV, M4V, WebM, MKV, AVI, GIF); a WebM or MKV says
its format carries no manifest, and is traced by its watermark.
"""

import json

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from provenance import ManifestReport, Verdict, VerifyReport, verify
from studio.app.errors import reported
from studio.app.session import lookup, settings
from studio.app.uploads import CLIPS, save, uploader, workspace

BANNERS = {
    Verdict.LABELED: st.success,
    Verdict.LABELED_STRIPPED: st.warning,
    Verdict.WATERMARK_ONLY: st.warning,
    Verdict.TAMPERED: st.error,
    Verdict.UNLABELED: st.info,
}


def examine(upload: UploadedFile) -> VerifyReport:
    """Verify once per upload: the report is kept for the session, so the page's own reruns are instant."""
    reports = st.session_state.setdefault("reports", {})
    if upload.file_id not in reports:
        registry, ledger = lookup()
        with workspace() as folder, st.spinner("Reading the manifest and the watermark…"):
            clip = save([upload], CLIPS, folder)[0]
            reports[upload.file_id] = verify(clip, trust_anchors=settings().known_trust_anchors(),
                                             registry=registry, ledger=ledger)
    return reports[upload.file_id]


def show(report: VerifyReport) -> None:
    BANNERS[report.verdict](f"**{report.verdict.value}**: {report.summary}")
    file, video, c2pa = report.file, report.file.video, report.manifest
    st.caption(f"{video.container} ({video.codec}), {video.width}x{video.height}, {video.frames or '?'} frames at "
               f"{video.fps:g} fps, {file.bytes / 1e6:.1f} MB, sha256 {file.sha256[:16]}…")
    left, right = st.columns(2)
    with left:
        st.subheader("C2PA manifest")
        if c2pa.present:
            st.markdown(_manifest_text(c2pa))
        else:
            note = report.manifest_note
            st.markdown(f"{note[0].upper()}{note[1:]}.")
        recovered = report.registry.manifest
        if recovered:
            st.subheader("Recovered through the watermark")
            st.markdown(_manifest_text(recovered))
    with right:
        st.subheader("Invisible watermark")
        mark = report.watermark
        st.markdown(f"{'Found, id ' + report.binding.watermark_id if mark.found else 'Not found'}; "
                    f"confidence {mark.confidence:.2f}; {mark.frames_decoded} of {mark.frames_examined} sampled "
                    f"frames decode on their own.")
        if mark.per_frame_scores:
            st.line_chart(_scores_over_time(report), x="seconds", y="bit accuracy", height=220)
    st.download_button("Download the report (JSON)", json.dumps(report.to_dict(), indent=2),
                       file_name="sitter-verify-report.json", mime="application/json", key="report_json")
    with st.expander("The report as JSON"):
        st.json(report.to_dict())


def _manifest_text(c2pa: ManifestReport) -> str:
    rows = {
        "validation": f"{c2pa.validation_state}{'' if c2pa.trusted else ' (signer not in the trust list)'}",
        "signer": f"{c2pa.signer or '-'} ({c2pa.issuer or '-'})",
        "made by": f"{c2pa.engine or '-'}, {(c2pa.digital_source_type or '-').rsplit('/', 1)[-1]}",
        "source images": str(len(c2pa.ingredients)),
        "consent": (c2pa.consent.record_id if c2pa.consent else None) or "-",
        "watermark": c2pa.watermark_id or "-",
    }
    if c2pa.failures:
        rows["failures"] = ", ".join(c2pa.failures)
    return "\n".join(f"- **{name}**: {value}" for name, value in rows.items())


def _scores_over_time(report: VerifyReport) -> dict[str, list[float]]:
    """The sampled frames are spread evenly over the clip: place each score at its time."""
    scores, duration = report.watermark.per_frame_scores, report.file.video.duration or 0.0
    return {"seconds": [round((i + 0.5) * duration / len(scores), 2) for i in range(len(scores))],
            "bit accuracy": scores}


st.title("Verify")
st.caption("Check any clip: was it made with Sitter, is its label intact, and does its consent still hold?")
uploads = uploader(CLIPS, "A video clip", key="clip")
if uploads:
    with reported():
        show(examine(uploads[0]))
