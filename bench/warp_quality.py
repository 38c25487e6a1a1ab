"""How well the warp engine follows a motion, read from its dense maps: landmark error, flips, background change.

bench/bench_warp.py measures it on portraits driven by the driving fixtures and the presets, bench/bench_reenact.py
on each driving fixture driven by its own track.
"""

import numpy as np

from engine import Identity, Motion, WarpConfig, WarpEngine
from engine.faces import eye_span
from engine.warp import flips, frame_maps, head_layer, locate, targets


def warp_quality(identity: Identity, motion: Motion) -> tuple[float, float, int, int]:
    """(error vs driver, error vs targets, flips, background max |diff|) for one identity and motion.

    The errors are where each source landmark really lands in the output frame (the frame's dense map inverted by
    `engine.warp.locate`) against the driver's transferred landmarks (`Motion.landmarks`), and against the warp's
    own targets (the same after the engine's easing), mean over landmarks and frames, as a fraction of the
    inter-ocular distance (outer eye corners, 36-45). Flips: triangles turned over, all frames. Background: the
    largest pixel difference, all frames, between the rendered frame and the background layer (the source crop,
    but for an extended edge's mirror of the head, filled) where the head layer is neither at rest nor in that
    frame (its matte 0 in both): what the head uncovers is not counted, everything else should not have moved.
    """
    span = eye_span(identity.landmarks)
    driven = motion.landmarks(identity.landmarks)
    aimed = targets(identity, motion)[:, :68]
    rest = identity.matte[:identity.size] == 0
    behind = identity.background
    frames = WarpEngine(WarpConfig(size=identity.size)).render(identity, motion)
    to_driver, to_target, background = [], [], 0
    for t, (frame, (map_x, map_y)) in enumerate(zip(frames, frame_maps(identity, motion), strict=True)):
        landed = locate(map_x, map_y, identity.landmarks, aimed[t])
        to_driver.append(np.linalg.norm(landed - driven[t], axis=1).mean())
        to_target.append(np.linalg.norm(landed - aimed[t], axis=1).mean())
        matte = head_layer(identity, map_x, map_y)[..., 3]
        outside = rest & (matte == 0)
        background = max(background, int(np.abs(frame[outside].astype(int) - behind[outside]).max()))
    return (float(np.mean(to_driver)) / span, float(np.mean(to_target)) / span,
            int(flips(identity, motion).sum()), background)
