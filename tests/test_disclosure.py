"""The visible label: a caption for the first seconds, a corner mark throughout, drawn where asked, in the
scripts museums label in, refused in one sentence before any work when it can't be drawn."""

from pathlib import Path

import numpy as np
import pytest
from servers import missing

from provenance import disclosure
from provenance.disclosure import Corner, Disclosure, DisclosureStyle
from provenance.errors import BadCaption
from provenance.video import read_frames
from sitter.errors import BadInput
from studio.pipeline import RenderRequest, render
from studio.settings import Settings

GREY = np.full((512, 512, 3), 128, np.uint8)
DATA = Path(__file__).parent / "data"
CAPTIONS = {  # the default caption as museums might put it, and two different words of the same length
    "french": ("Vidéo générée par IA", "éèê", "àùç"),
    "greek": ("Βίντεο που δημιουργήθηκε από ΤΝ", "αβγ", "δεζ"),  # noqa: RUF001 (Greek capitals)
    "russian": ("Видео, созданное ИИ", "абв", "где"),
    "chinese": ("由人工智能生成的视频", "视频生", "人工智"),
    "japanese": ("AI生成の動画です", "あいう", "カキク"),
    "korean": ("AI 생성 영상", "한국어", "영상물"),
    "arabic": ("فيديو مولّد بالذكاء الاصطناعي", "بتث", "جحخ"),
    "hebrew": ("סרטון שנוצר באמצעות בינה מלאכותית", "אבג", "דהו"),
}
RIGHT_TO_LEFT = ("arabic", "hebrew")
CJK = ("chinese", "japanese", "korean")


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows and columns where two frames differ."""
    diff = np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 0
    return diff


def captioned(text: str, size: int = 512) -> np.ndarray:
    """The first frame of a grey clip with this caption and no mark."""
    plain = np.full((size, size, 3), 128, np.uint8)
    return next(Disclosure(DisclosureStyle(caption=text, mark=""), size, size, 25).apply([plain]))


def ink(frame: np.ndarray) -> np.ndarray:
    """Where the caption's white letters are (its box is dark, the frame grey)."""
    return frame.min(axis=2) > 160


def widest_gap(mask: np.ndarray) -> tuple[int, float, float]:
    """The widest run of inkless columns between the first and the last inked one: (width, its centre, the ink's
    centre)."""
    xs = np.nonzero(mask.any(axis=0))[0]
    empty = np.setdiff1d(np.arange(xs[0], xs[-1] + 1), xs)
    runs = np.split(empty, np.nonzero(np.diff(empty) > 1)[0] + 1) if empty.size else []
    widest = max(runs, key=len, default=np.array([xs[0]]))
    return (len(widest) if empty.size else 0), float(widest.mean()), (xs[0] + xs[-1]) / 2


def needs(language: str) -> None:
    """Skip (fail in CI) where this machine lacks what a language needs: a CJK font, raqm for right-to-left."""
    if language in CJK and disclosure._cjk_face(disclosure._cjk_language(CAPTIONS[language][0])) is None:
        missing("no CJK font here (apt-get install fonts-noto-cjk)")
    if language in RIGHT_TO_LEFT and not disclosure.RAQM:
        missing("Pillow has no raqm layout here (apt-get install libfribidi0)")


def test_caption_for_two_seconds_then_only_the_mark() -> None:
    frames = list(Disclosure(DisclosureStyle(), 512, 512, fps=25).apply([GREY] * 60))
    bottom, top_right = slice(400, 512), (slice(0, 60), slice(440, 512))
    assert all(changed(f, GREY)[bottom].any() for f in frames[:50])
    assert not any(changed(f, GREY)[bottom].any() for f in frames[50:])
    assert all(changed(f, GREY)[top_right].any() for f in frames)


@pytest.mark.parametrize("corner", list(Corner))
def test_the_mark_goes_to_the_chosen_corner(corner: Corner) -> None:
    frame = next(Disclosure(DisclosureStyle(caption="", corner=corner), 512, 512, 25).apply([GREY]))
    ys, xs = np.nonzero(changed(frame, GREY))
    assert (ys.mean() < 256) == corner.value.startswith("top")
    assert (xs.mean() < 256) == corner.value.endswith("left")


def test_no_visible_label_leaves_frames_untouched() -> None:
    style = DisclosureStyle(caption="", mark="")
    assert np.array_equal(next(Disclosure(style, 512, 512, 25).apply([GREY])), GREY)


@pytest.mark.parametrize("language", list(CAPTIONS))
def test_captions_render_in_each_script(language: str) -> None:
    needs(language)
    caption, _, _ = CAPTIONS[language]
    frame = captioned(caption)
    ys, xs = np.nonzero(changed(frame, GREY))
    assert ys.min() > 400 and 0 < xs.min() < xs.max() < 511  # a box low in the frame, inside it
    letters = ink(frame)[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert 0.05 < letters.mean() < 0.5  # white letters on the dark box, not a blank box nor a filled one


@pytest.mark.parametrize("language", list(CAPTIONS))
def test_each_script_draws_its_own_glyphs_not_boxes(language: str) -> None:
    """Two different words of the same length look different: missing glyphs would be the same boxes."""
    needs(language)
    _, one, other = CAPTIONS[language]
    assert not np.array_equal(ink(captioned(one)), ink(captioned(other)))
    assert ink(captioned(one)).any()


@pytest.mark.parametrize(("text", "rtl"), [("a bbbbbb", False), ("א בבבבבב", True), ("ب سسسسس", True)],
                         ids=["latin", "hebrew", "arabic"])
def test_right_to_left_text_starts_on_the_right(text: str, rtl: bool) -> None:
    """The one-letter first word ends up on the right, so the space after it is right of centre."""
    needs("hebrew")
    width, gap, centre = widest_gap(ink(captioned(text)))
    assert width >= 5 and (gap > centre) == rtl


def test_arabic_letters_are_joined() -> None:
    needs("arabic")
    assert widest_gap(ink(captioned("ببب")))[0] == 0  # one connected word
    assert widest_gap(ink(captioned("ب ب ب")))[0] >= 5


def test_a_mixed_line_follows_the_bidi_algorithm() -> None:
    """A Hebrew sentence ending in Latin, in two fonts: its full stop ends up at the far left, then "AI", then the
    Hebrew word (UAX #9, as FriBiDi orders it), each part drawn in its own direction."""
    needs("hebrew")
    text = "סרטון AI."
    runs, _ = disclosure._line(text, disclosure._faces_for(text, "caption"), 0, len(text), 1, 26)
    assert [(run.text, run.rtl) for run in runs] == [(".", True), ("AI", False), ("סרטון ", True)]
    assert [run.x for run in runs] == sorted(run.x for run in runs)


def test_without_raqm_right_to_left_is_refused_and_the_rest_still_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disclosure, "RAQM", False)
    with pytest.raises(BadCaption, match="libfribidi0"):
        DisclosureStyle(caption="סרטון").check(512, 512)
    frame = captioned("Vidéo générée par IA")
    assert changed(frame, GREY)[400:].any()


def test_a_long_caption_wraps_onto_at_most_three_lines() -> None:
    one = np.nonzero(changed(captioned("AI-generated video"), GREY).any(axis=1))[0]
    long = "This video was generated by a computer from a portrait of a person who agreed to it being made"
    wrapped = np.nonzero(changed(captioned(long), GREY).any(axis=1))[0]
    assert 2.2 * len(one) < len(wrapped) < 3.5 * len(one) and wrapped.max() < 512
    needs("chinese")
    long_chinese = "这是一段很长的说明文字，需要在画面中换行显示，以便观众能够完整地阅读。"  # noqa: RUF001
    chinese = np.nonzero(changed(captioned(long_chinese), GREY).any(axis=1))[0]
    assert len(chinese) > 2 * len(one)  # CJK breaks between characters, without spaces


@pytest.mark.parametrize(
    ("caption", "mark", "message"),
    [
        ("This video was generated by a computer from a portrait " * 4, "AI", "too long for a 512 px wide frame"),
        ("x" * 200, "AI", "in 3 lines"),
        ("AI-generated video", "Artificial intelligence made this", "on one line"),
        ("AI-generated\nvideo", "AI", "control character"),
        ("AI-generated\tvideo", "AI", "control character"),
        ("\u202eAI-generated video", "AI", "control character"),  # a bidi override
        ("AI-generated video", "A\x00I", "corner mark has a control character"),
        ("วิดีโอที่สร้างโดย AI", "AI", r"U\+0E27"),  # Thai: no font here has it
        ("AI-generated video \ue000", "AI", r"U\+E000"),  # a private-use character
    ],
    ids=["too-long", "one-long-word", "long-mark", "newline", "tab", "override", "mark-null", "thai", "private"],
)
def test_a_label_that_cannot_be_drawn_is_refused_in_one_sentence(caption: str, mark: str, message: str) -> None:
    style = DisclosureStyle(caption=caption, mark=mark)
    with pytest.raises(BadCaption, match=message) as refused:
        style.check(512, 512)
    assert isinstance(refused.value, BadInput) and refused.value.exit_code == 2
    assert "\n" not in str(refused.value) and caption not in str(refused.value)  # one sentence, no free text
    with pytest.raises(BadCaption):
        Disclosure(style, 512, 512, 25)


@pytest.mark.parametrize("size", [128, 256, 4096])
def test_the_default_label_fits_every_frame_size(size: int) -> None:
    DisclosureStyle().check(size, size)
    DisclosureStyle(caption=CAPTIONS["french"][0]).check(size, size)


def test_a_bad_caption_is_refused_before_the_consent_gate(home: Path, tmp_path: Path) -> None:
    """No record covers this source: a caption check after the gate would raise ConsentRefused instead."""
    request = RenderRequest(sources=(DATA / "einstein_photo.jpg",), purpose="marketing", operator="desk-1",
                            out=tmp_path / "out.mp4", disclosure=DisclosureStyle(caption="AI\nvideo"))
    with Settings.from_env({"SITTER_HOME": str(home)}).open_studio() as studio, pytest.raises(BadCaption):
        render(request, studio)


@pytest.fixture
def record(consent_to) -> str:
    """A marketing consent record for the Einstein photograph."""
    return consent_to(DATA / "einstein_photo.jpg")


def render_args(out: Path, label: str) -> list[object]:
    return ["render", "--source", DATA / "einstein_photo.jpg", "--landmarks", DATA / "einstein_photo.landmarks.json",
            "--purpose", "marketing", "--seconds", "1", "--motion", "idle", "--out", out, "--label", label]


def test_the_cli_renders_an_accented_caption(sitter, record: str, tmp_path: Path) -> None:
    out = tmp_path / "fr.mp4"
    result = sitter(*render_args(out, "Vidéo générée par IA"))
    assert result.exit_code == 0, result.output
    first = next(read_frames(out))
    assert first[400:490].min(axis=2).max() > 200  # white letters low in the frame


@pytest.mark.parametrize("label", ["วิดีโอที่สร้างโดย AI", "Generated by a computer " * 12],
                         ids=["uncovered", "too-long"])
def test_the_cli_refuses_a_caption_it_cannot_draw(sitter, record: str, home: Path, tmp_path: Path,
                                                  label: str) -> None:
    out = tmp_path / "outputs" / "bad.mp4"
    result = sitter(*render_args(out, label))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "caption" in lines[0]
    assert not out.exists()
    with Settings.from_env({"SITTER_HOME": str(home)}).open_ledger() as ledger:
        assert ledger.get(record).uses == 0
