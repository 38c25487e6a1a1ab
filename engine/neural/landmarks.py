"""Landmark images: what the neural generator is conditioned on (Zakharov et al. 2019, sec. 3.1).

The 68 iBUG points of a face are drawn as polylines on a black canvas, each part of the face in its own
colour (engine.faces.draw_landmarks: jaw, each brow, nose bridge, nose base, each eye, outer and inner
lips), so that the generator can tell the parts apart, and the left of the face from its right, by colour
alone. Points are in the px of the model's square face crop (see engine/crop.py).
"""

import numpy as np
import torch

from engine.faces import NUM_POINTS, draw_landmarks


def rasterize(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) uint8 RGB: one face's (68, 2) landmarks (px of a size x size crop) drawn as coloured
    polylines, about 1 px wide per 128 px of size. All black when any point is missing (NaN)."""
    assert points.shape == (NUM_POINTS, 2), f"expected ({NUM_POINTS}, 2) landmarks, got {points.shape}"
    canvas = np.zeros((size, size, 3), np.uint8)
    if np.isnan(points).any():
        return canvas
    return draw_landmarks(canvas, points, thickness=max(1, round(size / 128)))


def landmark_images(points: np.ndarray, size: int) -> torch.Tensor:
    """(N, 3, size, size) float32 in [0, 1]: `rasterize` for each of N faces' landmarks (N, 68, 2)."""
    images = np.stack([rasterize(face, size) for face in points.reshape(-1, NUM_POINTS, 2)])
    return to_tensor(images)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 in [0, 1], the layout and range the networks use."""
    return torch.from_numpy(np.require(images, requirements=["C", "W"])).permute(0, 3, 1, 2).float().div_(255)
