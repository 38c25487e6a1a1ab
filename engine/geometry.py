"""Plane geometry the mesh warp (engine/warp.py) draws with: polygons at a fraction of a pixel for cv2's
fillers, and similarity transforms written with complex numbers (a point x + iy turned and scaled by one
complex ratio, then shifted)."""

import numpy as np

SHIFT = 4  # fractional bits of the vertex coordinates given to cv2's polygon fillers


def fixed_point(points: np.ndarray) -> np.ndarray:
    """Px (..., 2) -> int32 with SHIFT fractional bits, as cv2's polygon fillers take sub-pixel vertices."""
    return np.ascontiguousarray(np.round(points * (1 << SHIFT)), dtype=np.int32)


def similarities(ratio: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """(T, 2, 3) the affines of z -> ratio * z + shift (T complex each): a turn and a uniform scale, then a
    shift, in the layout cv2 and the warp's coefficient tables take."""
    return np.stack([np.stack([ratio.real, -ratio.imag, shift.real], -1),
                     np.stack([ratio.imag, ratio.real, shift.imag], -1)], axis=1)
