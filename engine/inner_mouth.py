"""The inside of a mouth, for the warp engine: what a mouth shows when it opens wider than in the source,
rather than stretched lips.

`mouth_texture` draws it once per identity, in the subject's colours: dark red, deeper towards the throat
and the corners, with an arch of upper teeth a little below the upper lip, so a slightly open mouth is dark
and only a wide one shows teeth. Per frame, `texture_affines` maps the output onto the texture: it hangs
from the upper lip and turns and scales with the mouth, so the teeth keep their shape however far the mouth
opens; `mouth_outline` is the opening the texture shows through.
"""

import cv2
import numpy as np

from engine.faces import LIPS, opening
from engine.geometry import SHIFT, fixed_point, similarities

TEXTURE_WIDTH = 1.2  # face units: the texture's width (a mouth is ~0.5 wide, so ~2 texels per px)
TEXTURE_HEIGHT = 0.9  # the texture's height, in its widths
TEXTURE_MOUTH = 0.8  # the mouth's width spans this much of the texture's
TEXTURE_LIP = 0.1  # the upper lip's middle sits this far down the texture
OWN_INSIDE_FROM = 2.0  # px: a source mouth open this much (mean inner-lip gap) lends the texture its own inside


def mouth_texture(crop: np.ndarray, landmarks: np.ndarray, scale: float) -> np.ndarray:
    """(height, width, 3) uint8: the inside of an open mouth, drawn once, in the texture frame of
    `texture_affines`, for the face of `landmarks` (px of `crop`) whose face unit is `scale` px. It is tinted
    by the lips' colour and the face's brightness so a sepia photograph or a dark painting stays itself. Where
    the source's own mouth is open, its own inside (teeth and all) is used, so the fill continues what the
    source shows."""
    width = round(TEXTURE_WIDTH * scale)
    height = round(TEXTURE_HEIGHT * width)
    outer = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(outer, [np.round(landmarks[48:60]).astype(np.int32)], 1)
    inner = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(inner, [np.round(landmarks[60:68]).astype(np.int32)], 1)
    lips = crop[(outer > 0) & (inner == 0)].astype(np.float64)
    lip = np.median(lips, axis=0) if len(lips) else crop.reshape(-1, 3).mean(axis=0)
    skin = crop[cv2.dilate(outer, np.ones((31, 31), np.uint8)) > 0]
    light = np.clip(skin.mean() / 150, 0.45, 1.0)
    mouth = TEXTURE_MOUTH * width  # texels per mouth width
    u = ((np.arange(width) - width / 2) / mouth)[None, :]  # mouth widths from the middle
    v = ((np.arange(height) - TEXTURE_LIP * height) / mouth)[:, None]  # mouth widths below the upper lip
    throat = 0.6 * lip + 0.4 * np.array([110.0, 40.0, 40.0])
    depth = (0.7 - 0.35 * _smooth(v, 0.0, 0.3) + 0.1 * _smooth(v, 0.35, 0.6)) * (1 - 1.4 * u**2).clip(0.3)
    inside = throat * (light * depth)[..., None]
    top, bottom = 0.045 + 0.35 * u**2, 0.17 - 0.1 * u**2  # the dental arch: side teeth recede and rise
    band = _smooth(v, top, top + 0.015) * (1 - _smooth(v, bottom - 0.03, bottom)) * (1 - _smooth(np.abs(u), 0.3, 0.4))
    seams = np.array([0.0, 0.09, 0.175, 0.25])[:, None, None]  # between incisors, laterals, canines
    gaps = 1 - 0.12 * np.exp(-(((np.abs(u) - seams) / 0.01) ** 2)).max(axis=0)
    tooth = (0.8 * np.array([235.0, 230.0, 215.0]) + 0.2 * lip) * light
    shade = (gaps * (1 - 2.0 * u**2) * (1 - 0.6 * _smooth(v, bottom - 0.08, bottom)))[..., None]
    texture = inside * (1 - band[..., None]) + tooth * shade * band[..., None]
    texture = cv2.GaussianBlur(np.clip(texture, 0, 255).astype(np.uint8), (3, 3), 0)
    if opening(landmarks, LIPS) < OWN_INSIDE_FROM:
        return texture
    into_texture = texture_affines(landmarks[None], (0, width, height))[0]
    own = cv2.warpAffine(crop, into_texture, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    outline = mouth_outline(landmarks) @ into_texture[:, :2].T + into_texture[:, 2]
    mask = np.zeros((height, width), np.float32)
    cv2.fillPoly(mask, [fixed_point(outline)], 1.0, cv2.LINE_AA, SHIFT)
    mask = cv2.GaussianBlur(mask, (5, 5), 0)[..., None]
    return (own * mask + texture * (1 - mask)).astype(np.uint8)


def texture_affines(landmarks: np.ndarray, texture: tuple[int, int, int]) -> np.ndarray:
    """(T, 2, 3): output px -> px of the texture at `texture` (top row, width, height) in the image sampled,
    for (T, 68, 2) landmarks. The texture hangs from the upper lip's middle (62), turns with the mouth corners
    (60, 64) and scales with the mouth's width, the same both ways: the teeth keep their shape however far the
    mouth opens."""
    top, width, height = texture
    left, right, upper = landmarks[:, 60], landmarks[:, 64], landmarks[:, 62]
    span = (right[:, 0] - left[:, 0]) + 1j * (right[:, 1] - left[:, 1])
    ratio = TEXTURE_MOUTH * width / span  # scale and turn: mouth axis -> texture rows
    origin = complex(width / 2, top + TEXTURE_LIP * height)
    return similarities(ratio, origin - ratio * (upper[:, 0] + 1j * upper[:, 1]))


def mouth_outline(landmarks: np.ndarray, samples: int = 4) -> np.ndarray:
    """(..., 8 * samples, 2) the mouth opening's outline: Catmull-Rom curves through the upper inner lip
    (60-64) and the lower (64-67, 60), so an open mouth is round rather than an octagon with a V at the
    bottom. The corners stay sharp: each lip is its own curve."""
    curves = []
    for chain in ((60, 61, 62, 63, 64), (64, 65, 66, 67, 60)):
        points = landmarks[..., list(chain), :]
        padded = np.concatenate([points[..., :1, :], points, points[..., -1:, :]], axis=-2)
        s = np.arange(samples)[:, None] / samples
        for k in range(1, len(chain)):
            p0, p1, p2, p3 = (padded[..., k + j - 1, None, :] for j in range(4))
            curves.append(0.5 * (2 * p1 + (p2 - p0) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s**2
                                 + (3 * p1 - p0 - 3 * p2 + p3) * s**3))
    return np.concatenate(curves, axis=-2)


# helpers


def _smooth(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 below `start`, 1 above `end`, smoothstep between."""
    u = np.clip((x - start) / (end - start), 0.0, 1.0)
    return u * u * (3 - 2 * u)
