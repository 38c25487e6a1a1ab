"""The Streamlit studio, page by page, through Streamlit's AppTest: the same script runs a browser would."""

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from attacker import png_bomb
from copies import transcode
from servers import missing
from streamlit.testing.v1 import AppTest

import engine.speech
from consent import Ledger
from engine import can_speak as espeak_installed
from provenance import Verdict, verify
from provenance.video import probe, read_frames, write_mp4
from studio.app.uploads import IMAGES
from studio.settings import Settings

DATA = Path(__file__).parent / "data"
MAIN = Path(__file__).parents[1] / "studio" / "app" / "main.py"
PORTRAIT = ("portrait.jpg", (DATA / "einstein_photo.jpg").read_bytes(), "image/jpeg")
LANDMARKS = ("portrait.json", (DATA / "einstein_photo.landmarks.json").read_bytes(), "application/json")
FORM = ("consent-form.pdf", b"%PDF-1.4 signed release, stand-in", "application/pdf")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SITTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SITTER_DB_URL", "")
    monkeypatch.setenv("SITTER_OPERATOR", "desk-1")
    return Settings.from_env()


@pytest.fixture
def ledger(settings: Settings):
    with settings.open_ledger() as ledger:
        yield ledger


@pytest.fixture
def page(settings: Settings):
    """Open the studio on one of its pages, as a user following its link would."""

    def open_page(name: str, user: dict | None = None) -> AppTest:
        at = AppTest.from_file(str(MAIN), default_timeout=120)
        if user is not None:
            at.user = user
        at.run()
        if name != "create":
            at.switch_page(f"views/{name}.py").run()
        assert not at.exception, at.exception
        return at

    return open_page


@pytest.fixture
def consented(ledger: Ledger, tmp_path: Path):
    """A marketing record for the portrait, added straight to the ledger."""
    form = tmp_path / "release.pdf"
    form.write_bytes(FORM[1])

    def add(purposes: tuple[str, ...] = ("marketing",)) -> str:
        return ledger.grant(kind="person", name="Ada Example", grantor="Ada Example", purposes=purposes,
                            expires="2099-01-01", evidence=form, images=[DATA / "einstein_photo.jpg"],
                            operator="tester").record_id

    return add


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(str(e.value) for e in getattr(at, kind))


def press(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return at.run()


def render_page(page, *, seconds: int = 1) -> AppTest:
    """The Create page with the portrait uploaded, its landmarks imported and a short, small render set up."""
    at = page("create")
    at.file_uploader(key="sources").set_value([PORTRAIT])
    at.run()
    at.file_uploader(key="landmarks_file").set_value(LANDMARKS)
    at.run()
    at.selectbox(key="size").set_value(256)
    at.slider(key="seconds").set_value(seconds)
    return at.run()


# Consent


def test_a_record_added_in_the_page_is_on_the_ledger_and_can_be_revoked(page, ledger: Ledger) -> None:
    at = page("consent")
    at.text_input(key="add_name").input("Ada Example")
    at.text_input(key="add_grantor").input("Ada Example")
    at.multiselect(key="add_purposes").select("marketing").select("speech")
    at.file_uploader(key="add_evidence").set_value(FORM)
    at.file_uploader(key="add_images").set_value([PORTRAIT])
    press(at, "Add record")
    assert not at.exception and not at.error, texts(at, "error")
    [record] = ledger.records()
    assert f"Recorded consent record {record.record_id}" in texts(at, "success")
    assert record.purposes == ("marketing", "speech") and record.personal["subject"] == "Ada Example"
    assert ledger.events()[-1].body["operator"] == "desk-1"
    assert len(ledger.source_images(record.record_id)) == 1

    at.selectbox(key="chosen").set_value(record.record_id)
    at.run()
    assert any(b.label == "Download the signed receipt" for b in at.get("download_button"))
    at.text_input(key="revoke_reason").input("withdrew by email")
    press(at, "Revoke")
    assert f"Revoked {record.record_id}" in texts(at, "success")
    assert ledger.get(record.record_id).revoked_at is not None


def test_a_record_without_evidence_is_refused_in_the_page(page, ledger: Ledger) -> None:
    at = page("consent")
    at.text_input(key="add_name").input("Ada Example")
    at.text_input(key="add_grantor").input("Ada Example")
    at.multiselect(key="add_purposes").select("marketing")
    at.file_uploader(key="add_images").set_value([PORTRAIT])
    press(at, "Add record")
    assert "Attach the evidence" in texts(at, "error")
    assert ledger.records() == []


def test_erasing_in_the_page_removes_the_names_and_the_kept_images(page, ledger: Ledger, consented) -> None:
    record_id = consented()
    at = page("consent")
    assert "Ada Example" in texts(at, "markdown")
    at.checkbox(key="erase_sure").check()
    at.run()
    press(at, "Erase personal data")
    assert f"Erased the personal data of {record_id}" in texts(at, "success")
    record = ledger.get(record_id)
    assert record.personal is None and ledger.source_images(record_id) == []


# Create


def test_a_forged_name_shows_as_unverified_and_the_record_offers_nothing(page, consented, settings: Settings) -> None:
    consented()
    with sqlite3.connect(settings.home / "sitter.db") as db:  # an attacker renames the subject in the database
        db.execute("UPDATE personal_data SET data = replace(data, 'Ada', 'Eve')")
    at = page("consent")
    assert not at.exception
    assert "ledger does not verify" in at.subheader[0].value and "Eve" not in texts(at, "markdown")
    assert "allows nothing and gets no receipt" in texts(at, "error")
    assert not any(b.label == "Download the signed receipt" for b in at.get("download_button"))
    at = page("create")
    at.file_uploader(key="sources").set_value([PORTRAIT])
    at.run()
    assert not any(b.label == "Render" for b in at.button)


def test_images_no_record_covers_cannot_be_rendered_and_the_page_says_why(page) -> None:
    at = page("create")
    at.file_uploader(key="sources").set_value([PORTRAIT])
    at.run()
    assert "No consent record covers these images together" in texts(at, "warning")
    assert not any(b.label == "Render" for b in at.button)


def test_a_render_asked_for_after_a_revocation_is_refused_with_the_reason(page, ledger: Ledger, consented,
                                                                          settings: Settings) -> None:
    record_id = consented()
    at = render_page(page)
    ledger.revoke(record_id, reason="withdrew", operator="tester")  # lands after the page was set up
    press(at, "Render")
    assert f"consent record {record_id} was revoked" in texts(at, "warning")
    assert not at.get("download_button") and not list(settings.outputs_dir.glob("*.mp4"))
    assert ledger.get(record_id).uses == 0


def test_a_render_in_the_page_comes_out_labeled_and_offered_for_download(page, ledger: Ledger, consented,
                                                                         settings: Settings) -> None:
    record_id = consented()
    at = render_page(page)
    assert ["Landmarks over the image"] in [i.captions for i in at.image]
    press(at, "Render")
    assert not at.error, texts(at, "error")
    [video] = settings.outputs_dir.glob("*.mp4")
    [download] = at.get("download_button")
    assert download.proto.label == "Download the video" and at.get("video")
    assert "Labeled and signed" in texts(at, "success")
    report = verify(video, trust_anchors=settings.known_trust_anchors())
    assert report.verdict is Verdict.LABELED and report.consent.record_id == record_id
    assert ledger.get(record_id).uses == 1 and ledger.events()[-1].body["operator"] == "desk-1"


def test_imported_landmarks_can_be_nudged_before_rendering(page, consented) -> None:
    consented()
    at = render_page(page)
    imported = at.dataframe[0].value
    at.slider(key="nudge_x").set_value(10)
    at.slider(key="nudge_scale").set_value(1.1)
    nudged = at.run().dataframe[0].value
    centre = imported["x"].mean()
    expected = ((imported["x"] - centre) * 1.1 + centre + 10).round(1)
    assert (nudged["x"] - expected).abs().max() <= 0.15 and nudged["x"][0] != imported["x"][0]


def test_a_records_kept_images_render_under_the_local_operator_name(page, ledger: Ledger, consented,
                                                                    settings: Settings) -> None:
    record_id = consented()
    at = page("create")
    at.sidebar.text_input(key="operator").input("Ines at desk 2")
    at.radio(key="source_mode").set_value("Use a record's images")
    at.run()
    at.selectbox(key="source_record").set_value(record_id)
    at.run()
    at.file_uploader(key="landmarks_file").set_value(LANDMARKS)
    at.selectbox(key="size").set_value(256)
    at.slider(key="seconds").set_value(1)
    press(at.run(), "Render")
    assert not at.error, texts(at, "error")
    assert len(list(settings.outputs_dir.glob("*.mp4"))) == 1
    use = ledger.events()[-1]
    assert (use.kind, use.record_id, use.body["operator"]) == ("use", record_id, "Ines at desk 2")


def test_a_text_spoken_in_the_page_needs_speech_consent_and_comes_out_with_sound(page, consented,
                                                                                 settings: Settings) -> None:
    if not espeak_installed():
        missing("espeak-ng is not installed (the Makefile installs it when run as root)")
    silent_only = consented()
    at = render_page(page)
    at.radio(key="motion_mode").set_value("Speak a text")
    at.run()
    at.text_area(key="say").input("Good morning, I am the sitter.")
    press(at.run(), "Render")
    assert f"Consent record {silent_only} does not allow purpose 'speech'" in texts(at, "error")
    assert not list(settings.outputs_dir.glob("*.mp4"))

    speaking = consented(purposes=("marketing", "speech"))
    at.run().selectbox(key="record").set_value(speaking)
    press(at.run(), "Render")
    assert not at.error, texts(at, "error")
    [video] = settings.outputs_dir.glob("*.mp4")
    assert probe(video).has_audio
    report = verify(video, trust_anchors=settings.known_trust_anchors())
    assert report.verdict is Verdict.LABELED and report.consent.record_id == speaking


def test_without_espeak_the_page_says_how_to_get_it_instead_of_offering_to_speak(page, consented,
                                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(engine.speech, "LIBRARY", str(tmp_path / "libespeak-ng.so.1"))  # as on a machine without it
    consented()
    at = render_page(page)
    at.radio(key="motion_mode").set_value("Speak a text")
    at.run()
    assert "apt-get install espeak-ng" in texts(at, "warning") and not at.text_area
    assert next(b for b in at.button if b.label == "Render").disabled


def test_an_upload_that_is_not_an_image_is_an_error_and_the_page_goes_on(page, consented) -> None:
    consented()
    at = page("create")
    at.file_uploader(key="sources").set_value([("portrait.jpg", b"this is not a JPEG", "image/jpeg")])
    at.run()
    assert not at.exception and "not an image" in texts(at, "error").lower()
    at.file_uploader(key="sources").set_value([PORTRAIT])
    at.run()
    assert not at.error and any(b.label == "Render" for b in at.button)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (("huge.png", b"\x89PNG" + bytes(26 * 2**20), "image/png"), "26 MB; the limit for image files is 25 MB"),
        (("empty.png", b"", "image/png"), "empty"),
    ],
)
def test_uploads_outside_the_limits_are_refused_in_the_page(page, upload: tuple, message: str) -> None:
    at = page("create")
    assert at.file_uploader(key="sources").allowed_type == [f".{t}" for t in IMAGES.types]
    at.file_uploader(key="sources").set_value([upload])
    at.run()
    assert not at.exception and message in texts(at, "error")


STUDIO_CORPUS = [  # the bad-input corpus (tests/test_bad_inputs.py), as uploads: one sentence, the page goes on
    ("sources", ("cut.jpg", (DATA / "einstein_photo.jpg").read_bytes()[:3000], "image/jpeg"), "corrupt or truncated"),
    ("sources", ("bomb.png", png_bomb(30000, 30000), "image/png"), "too large"),
    ("landmarks_file", ("deep.json", b"[" * 100_000 + b"]" * 100_000, "application/json"), "nested too deeply"),
    ("landmarks_file", ("notes.json", b"{not json", "application/json"), "landmarks"),
]


@pytest.mark.parametrize(("key", "upload", "message"), STUDIO_CORPUS)
def test_the_bad_input_corpus_as_uploads_is_one_sentence_and_writes_nothing(page, consented, settings: Settings,
                                                                           key: str, upload: tuple,
                                                                           message: str) -> None:
    consented()
    at = page("create")
    if key != "sources":
        at.file_uploader(key="sources").set_value([PORTRAIT])
        at.run()
    at.file_uploader(key=key).set_value(upload if key != "sources" else [upload])
    at.run()
    assert not at.exception and len(at.error) == 1 and message in texts(at, "error").lower()
    assert "Traceback" not in texts(at, "error")
    assert not any(settings.outputs_dir.glob("*.mp4"))


# Verify


def test_verify_a_labeled_clip_shows_who_made_it_and_under_what_consent(page, consented, settings: Settings) -> None:
    record_id = consented()
    at = render_page(page)
    press(at, "Render")
    [video] = settings.outputs_dir.glob("*.mp4")
    at = page("verify")
    at.file_uploader(key="clip").set_value(("clip.mp4", video.read_bytes(), "video/mp4"))
    at.run()
    banner = texts(at, "success")
    assert "labeled" in banner and "made by AI with Sitter" in banner
    assert f"under consent record {record_id} (active)" in banner
    assert any(b.label == "Download the report (JSON)" for b in at.get("download_button"))


def test_verify_a_reencoded_clip_shows_the_manifest_recovered_through_its_watermark(page, consented, tmp_path: Path,
                                                                                   settings: Settings) -> None:
    record_id = consented()
    press(render_page(page), "Render")
    [video] = settings.outputs_dir.glob("*.mp4")
    copy = tmp_path / "reencoded.mp4"
    write_mp4(read_frames(video), copy, 25, crf=26)  # what a platform's transcoder does: the manifest is gone
    at = page("verify")
    at.file_uploader(key="clip").set_value(("copy.mp4", copy.read_bytes(), "video/mp4"))
    at.run()
    assert "labeled-stripped" in texts(at, "warning") and f"{record_id} (active)" in texts(at, "warning")
    assert "Recovered through the watermark" in [h.value for h in at.subheader]
    assert "None in the file" in texts(at, "markdown")


def test_verify_an_unlabeled_clip_says_so(page, tmp_path: Path) -> None:
    plain = tmp_path / "plain.mp4"
    write_mp4((_noise(i) for i in range(25)), plain, fps=25)
    at = page("verify")
    at.file_uploader(key="clip").set_value(("plain.mp4", plain.read_bytes(), "video/mp4"))
    at.run()
    assert "No Sitter label found" in texts(at, "info")


def test_verify_a_webm_says_its_format_carries_no_manifest(page, tmp_path: Path) -> None:
    plain = transcode((_noise(i) for i in range(8)), tmp_path / "plain.webm", "copy.webm")
    at = page("verify")
    at.file_uploader(key="clip").set_value(("plain.webm", plain.read_bytes(), "video/webm"))
    at.run()
    assert not at.exception and "No Sitter label found" in texts(at, "info")
    assert texts(at, "caption").count("WebM (vp9), 64x64") == 1
    assert "None: WebM files cannot carry a C2PA manifest." in texts(at, "markdown")


def test_a_corrupt_video_is_an_error_in_the_page_and_the_page_goes_on(page, tmp_path: Path) -> None:
    at = page("verify")
    at.file_uploader(key="clip").set_value(("broken.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(500), "video/mp4"))
    at.run()
    assert not at.exception and at.error
    plain = tmp_path / "plain.mp4"
    write_mp4((_noise(i) for i in range(25)), plain, fps=25)
    at.file_uploader(key="clip").set_value(("plain.mp4", plain.read_bytes(), "video/mp4"))
    at.run()
    assert not at.error and "No Sitter label found" in texts(at, "info")


# Audit


def test_the_audit_check_passes_on_an_intact_ledger_and_names_the_row_after_tampering(
    page, consented, settings: Settings
) -> None:
    consented()
    at = page("audit")
    timeline = at.dataframe[0].value
    assert timeline["event"].tolist() == ["grant"] and timeline["by"].tolist() == ["tester"]
    assert "Ada Example" not in timeline.to_string() + texts(at, "markdown")
    press(at, "Verify the ledger")
    assert "Ledger intact: 1 rows" in texts(at, "success")
    with sqlite3.connect(settings.home / "sitter.db") as db:
        db.execute("UPDATE ledger_events SET body = replace(body, 'marketing', 'exhibit')")
    press(at, "Verify the ledger")
    assert "row 1" in texts(at, "error")
    with sqlite3.connect(settings.home / "sitter.db") as db:
        db.execute("UPDATE ledger_events SET body = 'not json'")
    at.run()
    assert not at.exception and at.dataframe[0].value["detail"].tolist() == ["unreadable: changed outside Sitter"]


# who is acting


def test_a_signed_in_user_is_the_operator_of_what_they_do(page, ledger: Ledger) -> None:
    at = page("consent", user={"is_logged_in": True, "email": "curator@museum.example"})
    at.text_input(key="add_name").input("Ada Example")
    at.text_input(key="add_grantor").input("Ada Example")
    at.multiselect(key="add_purposes").select("exhibit")
    at.file_uploader(key="add_evidence").set_value(FORM)
    at.file_uploader(key="add_images").set_value([PORTRAIT])
    press(at, "Add record")
    assert ledger.events()[-1].body["operator"] == "curator@museum.example"


def test_when_login_is_configured_a_visitor_sees_only_verify(page) -> None:
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.user = {"is_logged_in": False}
    at.run()
    assert [t.value for t in at.title] == ["Verify"]
    assert any(b.label == "Log in" for b in at.sidebar.button)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/consent.py")


def _noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
