"""The self-reenactment bench's measures (bench/reenact_metrics.py), on a real portrait and on exact cases."""

import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import load_image, load_landmarks

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))  # bench/ holds scripts, not a package
from reenact_metrics import (
    SSIM_C1,
    Scores,
    face_region,
    l1,
    psnr,
    removed,
    score,
    sharpness,
    ssim,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    """A real photograph, cut square (375 x 375 px)."""
    return np.ascontiguousarray(load_image(DATA / "einstein_photo.jpg")[:375, :375])


@pytest.fixture(scope="module")
def face(portrait: np.ndarray) -> np.ndarray:
    """The portrait's face region."""
    landmarks = load_landmarks(DATA / "einstein_photo.landmarks.json", (375, 500))[0]
    return face_region(landmarks, 375, margin=4)


def test_an_image_against_itself_scores_perfectly(portrait: np.ndarray, face: np.ndarray) -> None:
    assert l1(portrait, portrait, face) == 0
    assert psnr(portrait, portrait) == math.inf
    assert ssim(portrait, portrait) == pytest.approx(1.0, abs=1e-6)
    assert ssim(portrait, portrait, face) == pytest.approx(1.0, abs=1e-6)


def test_a_shifted_image_scores_worse_the_further_it_is_shifted(portrait: np.ndarray, face: np.ndarray) -> None:
    def shifted(px: int) -> np.ndarray:
        return cv2.warpAffine(portrait, np.float32([[1, 0, px], [0, 1, 0]]), (375, 375), borderMode=cv2.BORDER_REFLECT)

    near, far = shifted(1), shifted(4)
    assert 0 < l1(near, portrait, face) < l1(far, portrait, face)
    assert psnr(near, portrait, face) > psnr(far, portrait, face) > 0
    assert 1 > ssim(near, portrait, face) > ssim(far, portrait, face)


def test_ssim_of_two_flat_images_is_the_luminance_term_alone() -> None:
    """Wang et al.'s formula with no contrast or structure: (2 m1 m2 + C1) / (m1^2 + m2^2 + C1)."""
    dark, light = np.full((64, 64, 3), 100, np.uint8), np.full((64, 64, 3), 120, np.uint8)
    expected = (2 * 100 * 120 + SSIM_C1) / (100**2 + 120**2 + SSIM_C1)
    assert ssim(dark, light) == pytest.approx(expected, rel=1e-4)
    assert psnr(dark, light) == pytest.approx(10 * math.log10(255**2 / 20**2))
    assert l1(dark, light) == 20


def test_the_face_region_covers_the_landmark_hull_and_grows_with_its_margin(face: np.ndarray) -> None:
    landmarks = load_landmarks(DATA / "einstein_photo.landmarks.json", (375, 500))[0]
    inside = np.round(landmarks).astype(int)
    assert face[inside[:, 1], inside[:, 0]].all()
    assert not face[0, 0] and not face[-1, -1]
    tight, wide = face_region(landmarks, 375, 0), face_region(landmarks, 375, 12)
    assert tight.sum() < face.sum() < wide.sum()
    assert not (tight & ~face).any()


def test_blur_lowers_face_sharpness(portrait: np.ndarray, face: np.ndarray) -> None:
    blurred = cv2.GaussianBlur(portrait, (0, 0), 1.5)
    assert sharpness(blurred, face) < 0.5 * sharpness(portrait, face)
    assert sharpness(np.full_like(portrait, 90), face) == 0


def test_the_share_removed_is_zero_for_the_baseline_itself_and_negative_when_worse(portrait: np.ndarray,
                                                                                  face: np.ndarray) -> None:
    still = cv2.GaussianBlur(portrait, (0, 0), 1.0)
    worse = np.roll(portrait, 3, axis=1)
    baseline = l1(still, portrait, face)
    assert removed(l1(still, portrait, face), baseline) == 0
    assert removed(l1(portrait, portrait, face), baseline) == 1
    assert removed(l1(worse, portrait, face), baseline) < 0


def test_score_measures_the_face_and_the_whole_image(portrait: np.ndarray, face: np.ndarray) -> None:
    output = np.roll(portrait, 2, axis=0)
    scores = score(output, portrait, face)
    assert scores.face_l1 == pytest.approx(l1(output, portrait, face))
    assert scores.l1 == pytest.approx(l1(output, portrait))
    assert scores.face_ssim == pytest.approx(ssim(output, portrait, face))
    assert scores.ssim == pytest.approx(ssim(output, portrait))
    assert scores.psnr == pytest.approx(psnr(output, portrait))
    assert scores.sharpness == pytest.approx(sharpness(output, face))
    assert Scores.mean([scores, score(portrait, portrait, face)]).face_l1 == pytest.approx(scores.face_l1 / 2)
