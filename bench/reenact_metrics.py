"""How far an output frame is from the real frame it stands for: L1, PSNR and SSIM on a region, and sharpness.

bench/bench_reenact.py compares each frame of a self-reenactment with the real video frame at the same time, on
the face and on the whole square, with these. Images are RGB uint8 arrays of one size; a region is a boolean
(height, width) mask, None for the whole image. SSIM and sharpness are measured on luma (BT.601, OpenCV's
RGB2GRAY), as SSIM usually is, so that chroma subsampling in the H.264 encode does not dominate them.
"""

import math
from dataclasses import astuple, dataclass

import cv2
import numpy as np

PEAK = 255.0  # uint8
SSIM_SIGMA, SSIM_WINDOW = 1.5, 11  # Wang et al. 2004: an 11x11 Gaussian window, sigma 1.5
SSIM_C1, SSIM_C2 = (0.01 * PEAK) ** 2, (0.03 * PEAK) ** 2  # their K1 = 0.01, K2 = 0.03


@dataclass(frozen=True)
class Scores:
    """One output frame against the real frame: on the face region, and on the whole square. `sharpness` is the
    output's face sharpness (see `sharpness`); the real frame's is measured apart, to make a ratio."""

    face_l1: float
    face_psnr: float
    face_ssim: float
    l1: float
    psnr: float
    ssim: float
    sharpness: float

    @classmethod
    def mean(cls, frames: list["Scores"]) -> "Scores":
        """Each measure's mean over frames."""
        return cls(*np.mean([astuple(scores) for scores in frames], axis=0).tolist())


def face_region(points: np.ndarray, size: int, margin: int) -> np.ndarray:
    """(size, size) bool: the convex hull of a face's landmarks (68, 2) in px, grown by `margin` px all round."""
    region = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(region, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return cv2.dilate(region, disc) > 0


def score(output: np.ndarray, real: np.ndarray, face: np.ndarray) -> Scores:
    """`output` against `real` on the `face` region and on the whole image."""
    difference = output.astype(np.float32) - real
    ssim_map = _ssim_map(_luma(output), _luma(real))
    return Scores(face_l1=_l1(difference, face), face_psnr=_psnr(difference, face),
                  face_ssim=float(ssim_map[face].mean()), l1=_l1(difference, None), psnr=_psnr(difference, None),
                  ssim=float(ssim_map.mean()), sharpness=sharpness(output, face))


def l1(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean absolute difference over the region's pixels and channels, in uint8 levels (0 to 255)."""
    return _l1(a.astype(np.float32) - b, region)


def psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio over the region, in dB; infinite for identical pixels."""
    return _psnr(a.astype(np.float32) - b, region)


def ssim(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    """Structural similarity of the lumas, its map averaged over the region: 1 for identical images."""
    ssim_map = _ssim_map(_luma(a), _luma(b))
    return float(ssim_map.mean() if region is None else ssim_map[region].mean())


def sharpness(image: np.ndarray, region: np.ndarray) -> float:
    """Variance of the luma's Laplacian over the region: fine detail. A blurred face scores lower, so that an
    engine cannot buy a lower L1 with blur (a blur is nearer to any frame than a sharp wrong one)."""
    return float(cv2.Laplacian(_luma(image), cv2.CV_32F)[region].var())


def removed(error: float, baseline: float) -> float:
    """The share of the baseline's error that is gone: 1 - error / baseline (1 none left, 0 no better, < 0 worse)."""
    return 1.0 - error / baseline


# helpers


def _luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _l1(difference: np.ndarray, region: np.ndarray | None) -> float:
    return float(np.abs(difference if region is None else difference[region]).mean())


def _psnr(difference: np.ndarray, region: np.ndarray | None) -> float:
    mse = float(np.square(difference if region is None else difference[region]).mean())
    return math.inf if mse == 0 else 10 * math.log10(PEAK ** 2 / mse)


def _ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two float32 lumas, local statistics in Gaussian windows (edges reflected)."""

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA)

    mean_x, mean_y = blur(x), blur(y)
    var_x = blur(x * x) - mean_x * mean_x
    var_y = blur(y * y) - mean_y * mean_y
    covariance = blur(x * y) - mean_x * mean_y
    return ((2 * mean_x * mean_y + SSIM_C1) * (2 * covariance + SSIM_C2)
            / ((mean_x * mean_x + mean_y * mean_y + SSIM_C1) * (var_x + var_y + SSIM_C2)))
