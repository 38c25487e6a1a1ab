"""The visible label: a caption for the first seconds, a corner mark throughout, drawn where asked."""

import numpy as np
import pytest

from provenance.disclosure import Corner, Disclosure, DisclosureStyle

GREY = np.full((512, 512, 3), 128, np.uint8)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows and columns where two frames differ."""
    diff = np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 0
    return diff


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


def test_text_the_font_cannot_draw_is_refused() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        Disclosure(DisclosureStyle(caption="Généré par IA"), 512, 512, 25)
    with pytest.raises(ValueError, match="wider than"):
        Disclosure(DisclosureStyle(caption="x" * 200), 512, 512, 25)
