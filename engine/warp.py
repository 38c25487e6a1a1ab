"""The warp engine, Sitter's default: a landmark-driven piecewise-affine warp of one source image, on a CPU,
with no weights.

`prepare` does everything that depends only on the source (once per identity): find the face, crop a square
around it and resize it to the output size, split the square into two layers (engine/layers.py: the head with
a soft matte, and the background with the region behind the head filled in), lay a mesh over the head and build
the mouth-fill texture. The mesh is a relief: its vertices are the 68 landmarks, each standing out toward the
camera by the depth of the mean 3-D face fitted to them (engine/pose.py), forehead and hair points behind them,
a ring of anchors around the head, and the crop's corners and edge midpoints. It is a Delaunay triangulation,
computed with the mouth and eyes held open so that their insides are triangles of their own. The ring's
anchors above the chin move with the head; those below it and the corners hold still, so the neck bends
between the head and the shoulders.

`render` turns the mesh in 3-D and projects it (all frames' vertices at once, before the loop), then, per frame:
one affine per triangle, a triangle index image (one `cv2.fillConvexPoly` per triangle that faces the camera,
far ones first, so that a turned nose hides part of the far cheek), one dense backward map from that index
through per-triangle coefficient tables (`cv2.LUT`), one `cv2.remap` of the head layer with its matte, and one
blend of it over the background layer, which never moves. The head layer is kept at twice the output's
resolution (`SUPERSAMPLE`), upsampled once at prepare time and corrected so that, sampled where it rests, it
gives the source back: a bilinear tap between source pixels averages two neighbours and blurs a moving face
(the face's variance of the Laplacian fell to ~0.6 of the real frame's); between texels half as far apart it
blurs half as much, for the cost of one remap from a larger texture. The eyes and the mouth are drawn over the mesh with
maps of their own:
- an eye that closes keeps its eyeball where it was and lets the lids slide over it (the eye's inside maps
  with the eye corners only), rather than squashing the iris;
- then, on the frame, the iris moves inside its eye as the gaze says, and an eye nearly shut fills with the
  skin of its lid (engine/eyes.py);
- a mouth that opens wider than in the source shows the inside of a mouth (engine/inner_mouth.py: a cavity
  in the lips' colours, teeth, a tongue, in the source's blur and grain) rather than stretched lips; its
  texture sits below the face crop in the same source image, so it costs no second remap, and its pixels'
  map is computed directly (`InnerMouth.sample`), lip to lip in each column.

Measured on one core: see bench/bench_warp.py and the "Warp engine" section of bench/RESULTS.md.
"""

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.spatial import Delaunay

from engine.crop import crop_square, find_face, mirrored_from, paired, square, to_crop_coordinates
from engine.eyes import EyeLayers, eye_layers, look, shifts, shut_share
from engine.faces import (
    LEFT_EYE,
    LIDS,
    LIPS,
    MIN_EYE_SPAN,
    NUM_POINTS,
    OUTER_LIPS,
    RIGHT_EYE,
    Detector,
    FaceFrame,
    face_frame,
    opening,
)
from engine.geometry import SHIFT, fixed_point, similarities
from engine.inner_mouth import InnerMouth, inner_mouth, mouth_outline
from engine.layers import NECK, split
from engine.motion import PIVOT, Motion
from engine.pose import depth, rotation

logger = logging.getLogger(__name__)

# Mesh layout around the face, in face units of the source face (see FaceFrame: ~ eye corner to eye corner).
RING_CENTER, RING_RADII, RING_POINTS = (0.0, 0.2), (1.9, 2.1), 20  # anchors: above the chin they move with the head,
# below it they hold the shoulders still, so that the neck bends between them
ARC_CENTER, ARC_RADII, ARC_POINTS = (0.0, -0.2), (1.1, 1.25), 9  # hair, temple to temple over the top: follows the head
FOREHEAD_BROWS, FOREHEAD_RISE = (17, 19, 21, 22, 24, 26), 0.35  # forehead points: this far above these brow points
# How far the points off the face stand out toward the camera (face units; the eye corners are at 0, the nose tip
# at about 0.45): the forehead leans back from its brows, the hair over the top and the anchors lie further back.
FOREHEAD_BACK, HAIR_DEPTH, RING_DEPTH = 0.1, -0.45, PIVOT[2]
FIXED_DEPTH = -10.0  # the anchors that never move are behind everything
UNMIX_FLOOR = 0.05  # the head layer's colour is unmixed from the background where its matte is at least this
NECK_FADE = 0.7  # face units below the chin where the neck has faded out of the head layer
MIN_GAP = 0.5  # px: Delaunay needs distinct points, and a closed mouth's inner lips coincide
MOUTH_FILL_FROM = 1.0  # px: the mouth is filled once it opens this much wider than in the source
SUPERSAMPLE = 2  # the head layer's texels per output px, each way


@dataclass(frozen=True)
class WarpConfig:
    """How the warp engine renders. Both defaults suit a talking head for the web."""

    size: int = 512  # output frames are size x size px; even, because H.264 in yuv420p needs even sizes
    min_eye_span: float = MIN_EYE_SPAN  # px in the source; lower it to accept a small face that will be blurry

    def __post_init__(self) -> None:
        if self.size % 2 or not 128 <= self.size <= 4096:
            raise ValueError(f"size must be even and between 128 and 4096, got {self.size}")


@dataclass(frozen=True, eq=False)
class Identity:
    """Everything `render` needs about one face, computed once by `prepare`. Coordinates are output px."""

    image: np.ndarray  # (size + atlas rows, size, 3) uint8: the face crop, then the inner mouth's atlas below it
    texture: np.ndarray  # (S x (size + atlas rows), S x size, 4) uint8, S = SUPERSAMPLE: what is warped: the
    # head layer, its matte as alpha; sample it with `head_layer`
    background: np.ndarray  # (size, size, 3) uint8: the background layer, the head filled in
    size: int
    rest: np.ndarray  # (P, 2) mesh vertices at rest: 68 landmarks, head points, then fixed anchors
    heights: np.ndarray  # (P,) how far each vertex stands out toward the camera, face units
    head: slice  # the vertices of `rest` that follow the head's pose
    triangles: np.ndarray  # (N, 3) vertex indices of the triangles that can move (a vertex not fixed)
    orientation: np.ndarray  # (N,) +1 or -1, each triangle's winding with the mouth open; a flip changes it
    ring: np.ndarray  # (R, 2) the anchor ring: the head layer's matte is 0 outside it, above the chin
    roi: tuple[int, int, int, int]  # x0, y0, x1, y1: the box that holds every moving triangle
    inner_mouth: InnerMouth  # where the inner mouth's atlas lies in `image`, and how the opening maps onto it
    eye_opening: np.ndarray  # (2,) mean lid gap of the right and left eye, px
    mouth_opening: float  # mean inner-lip gap, px
    eyes: tuple[EyeLayers, EyeLayers]  # the right and left eye's iris, sclera and lid, to look about and blink
    crop: tuple[int, int, int]  # x, y, side of the square taken from the source image, in source px
    notes: tuple[str, ...]  # what the caller should tell the user (several faces, padded image, ...)

    @property
    def matte(self) -> np.ndarray:
        """(size + atlas rows, size) uint8: the head layer's matte at the output's resolution (the texture
        repeats each of its values over S x S texels)."""
        return np.ascontiguousarray(self.texture[::SUPERSAMPLE, ::SUPERSAMPLE, 3])

    @property
    def landmarks(self) -> np.ndarray:
        """(68, 2) the source face's landmarks in the output frame."""
        return self.rest[:NUM_POINTS]


class WarpEngine:
    """Landmark-driven piecewise-affine warp: `prepare(sources) -> Identity`, `render(identity, motion)`.

    Example:

        engine = WarpEngine(WarpConfig(size=512))
        identity = engine.prepare(["portrait.jpg"], ["portrait.landmarks.json"])
        frames = list(engine.render(identity, preset("talk", seconds=4)))

    Without landmarks, faces are detected by `detector` (face-alignment), which loads its networks on its
    first image and keeps them for every later one; pass one to share it between engines, and use it for
    driving videos too (`track_video(path, engine.detector)`).
    """

    def __init__(self, config: WarpConfig | None = None, *, detector: Detector | None = None) -> None:
        self.config = config or WarpConfig()
        self.detector = detector or Detector()

    def prepare(self, sources: Sequence[Path | str | np.ndarray],
                landmarks: Sequence[Path | str | np.ndarray | None] | None = None) -> Identity:
        """Find, crop and mesh the face of the first source image (the warp animates one image).

        `landmarks`, one entry per source, each a JSON file, a (68, 2) array or None, skip detection.
        Raises BadImage, BadLandmarks, NoFaceError, FaceTooSmall, WeightsMissing.
        """
        source, given = paired(sources, landmarks)[0]
        image, face, notes = find_face(source, given, self.detector, min_eye_span=self.config.min_eye_span)
        if len(sources) > 1:
            notes.append(f"the warp engine animates the first source image only; {len(sources) - 1} more not used")
        box = square(face)
        crop, padded = crop_square(image, box, self.config.size)
        points = to_crop_coordinates(face, box, self.config.size)
        if padded:
            notes.append("the face is close to the image's edge; the edge was extended to frame it")
        for line in notes:
            logger.warning(line)
        return _build_identity(crop, points, box, mirrored_from(box, image.shape[:2], self.config.size), tuple(notes))

    def render(self, identity: Identity, motion: Motion) -> Iterator[np.ndarray]:
        """Yield `motion.frames` RGB uint8 frames (size, size, 3): the identity's face moving as `motion` says."""
        plan = _plan(identity, motion)
        origin = np.array(identity.roi[:2])
        scratch = np.empty((2, identity.size, identity.size), np.float32)
        for t, (map_x, map_y) in enumerate(_maps(identity, plan)):
            frame = _composite(identity, head_layer(identity, map_x, map_y, scratch))
            for eye in range(2):
                outline = plan.eyes[t, eye] / (1 << SHIFT) + origin  # as the index image drew it
                look(frame, map_x, map_y, identity.eyes[eye], outline, plan.irises[t, eye], plan.shut[t, eye])
            yield frame


def frame_maps(identity: Identity, motion: Motion) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per frame, the dense backward map (map_x, map_y), each (size, size) float32: output pixel (x, y)
    samples `identity.image` at (map_x[y, x], map_y[y, x]). What `render` remaps with, before it moves the
    irises and shuts the lids; the bench and tests inspect it. The same two arrays are refilled every frame:
    copy them to keep one."""
    return _maps(identity, _plan(identity, motion))


def head_layer(identity: Identity, map_x: np.ndarray, map_y: np.ndarray,
               scratch: np.ndarray | None = None) -> np.ndarray:
    """(size, size, 4) uint8: the head layer, colour and matte, where a frame's map (output px -> source px)
    takes it. The map is scaled onto the supersampled texture: source px u is texel S*u + (S-1)/2, since a
    source pixel's centre lies between its S texels. `scratch` (2, size, size) float32 is reused if given."""
    scaled = np.empty((2, *map_x.shape), np.float32) if scratch is None else scratch
    offset = np.float32((SUPERSAMPLE - 1) / 2)
    for out, axis in zip(scaled, (map_x, map_y), strict=True):
        np.multiply(axis, np.float32(SUPERSAMPLE), out=out)
        out += offset
    return cv2.remap(identity.texture, scaled[0], scaled[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _maps(identity: Identity, plan: "_Plan") -> Iterator[tuple[np.ndarray, np.ndarray]]:
    x0, y0, x1, y1 = identity.roi
    grid_x, grid_y = np.meshgrid(np.arange(identity.size, dtype=np.float32), np.arange(identity.size, dtype=np.float32))
    map_x, map_y = grid_x.copy(), grid_y.copy()  # identity outside the roi, for good
    xs, ys = grid_x[y0:y1, x0:x1], grid_y[y0:y1, x0:x1]
    out_x, out_y = map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1]
    index = np.zeros((y1 - y0, x1 - x0), np.uint8)
    eyes, mouth = len(identity.triangles) + 1, len(identity.triangles) + 3
    for t in range(len(plan.luts)):
        index.fill(0)
        corners, order = plan.corners[t], plan.order[t]
        for i in order[plan.painted[t, order]]:
            cv2.fillConvexPoly(index, corners[i], int(i) + 1, cv2.LINE_8, SHIFT)
        for eye in np.flatnonzero(plan.eye_window[t]):
            cv2.fillPoly(index, [plan.eyes[t, eye]], eyes + int(eye), cv2.LINE_8, SHIFT)
        if plan.mouth_fill[t]:
            cv2.fillPoly(index, [plan.mouth[t]], mouth, cv2.LINE_8, SHIFT)
        lut = plan.luts[t]
        np.multiply(cv2.LUT(index, lut[0]), xs, out=out_x)
        out_x += cv2.LUT(index, lut[1]) * ys
        out_x += cv2.LUT(index, lut[2])
        np.multiply(cv2.LUT(index, lut[3]), xs, out=out_y)
        out_y += cv2.LUT(index, lut[4]) * ys
        out_y += cv2.LUT(index, lut[5])
        if plan.mouth_fill[t]:
            _fill_mouth(identity.inner_mouth, plan.outlines[t], index, mouth, (xs, ys), (out_x, out_y), (x0, y0))
        yield map_x, map_y


def targets(identity: Identity, motion: Motion) -> np.ndarray:
    """(T, P, 2) where every mesh vertex goes in each frame, output px: the 68 landmarks first, then the head
    points, then the fixed anchors.

    This is `motion` as far as a warp of one image can follow it: a frame whose expression would turn a
    triangle over (a driver's face shaped unlike this one) has its expression scaled down just enough, smoothly
    over time, that the mesh does not fold. A triangle that the head's turn alone turns away from the camera
    (beside a nose seen from the side) is not a fold: it is hidden. Presets never need the easing.
    """
    facing = _facing(identity, _vertices(identity, replace(motion, expression=np.zeros_like(motion.expression))))
    scales = np.linspace(1.0, 0.0, 6)
    folds = np.stack([_folds(identity, _vertices(identity, replace(motion, expression=motion.expression * scale)),
                             facing) for scale in scales])  # (S, T)
    largest = np.where((folds == 0).any(axis=0), scales[np.argmax(folds == 0, axis=0)], 0.0)
    # a moving minimum then a moving mean of the same width stays at or below `largest` in every frame
    eased = uniform_filter1d(minimum_filter1d(largest, 7, mode="nearest"), 7, mode="nearest")
    return _vertices(identity, replace(motion, expression=motion.expression * eased[:, None, None]))


def flips(identity: Identity, motion: Motion) -> np.ndarray:
    """(T,) how many triangles each frame's expression turns over (a fold in the warp, where the image would
    mirror); 0 is right. Triangles squeezed under 1 px^2, like a shut mouth's inside, count as neither way, and
    so do those the head's turn alone turns away (they are hidden, not folded)."""
    still = _vertices(identity, replace(motion, expression=np.zeros_like(motion.expression)))
    return _folds(identity, targets(identity, motion), _facing(identity, still))


def locate(map_x: np.ndarray, map_y: np.ndarray, points: np.ndarray, near: np.ndarray, radius: int = 6) -> np.ndarray:
    """(K, 2) the output px where a frame's map samples each of `points` (K, 2, source px): the map inverted
    by a search within `radius` px of `near` (K, 2), refined to a fraction of a pixel with the map's local
    slope. How the bench and the tests check where the source's landmarks really land in a rendered frame."""
    size, width = map_x.shape[0], 2 * radius + 1
    centre = np.clip(np.round(near).astype(int), radius, size - radius - 2)
    steps = np.arange(-radius, radius + 1)
    ys, xs = centre[:, 1, None, None] + steps[None, :, None], centre[:, 0, None, None] + steps[None, None, :]
    miss = (map_x[ys, xs] - points[:, 0, None, None]) ** 2 + (map_y[ys, xs] - points[:, 1, None, None]) ** 2
    row, col = np.divmod(miss.reshape(len(points), -1).argmin(axis=1), width)
    x, y = centre[:, 0] - radius + col, centre[:, 1] - radius + row
    sampled = np.stack([map_x[y, x], map_y[y, x]], axis=1)
    slope = np.stack([np.stack([map_x[y, x + 1], map_y[y, x + 1]], 1) - sampled,
                      np.stack([map_x[y + 1, x], map_y[y + 1, x]], 1) - sampled], axis=2)  # (K, 2, 2)
    step = np.linalg.solve(slope + 1e-9 * np.eye(2), (points - sampled)[..., None])[..., 0]
    return np.stack([x, y], axis=1) + np.clip(step, -1.0, 1.0)


# helpers


@dataclass(frozen=True)
class _Plan:
    """Per-frame inputs of the rasterizer, computed for all frames at once before the frame loop."""

    luts: np.ndarray  # (T, 6, 256) float32: per index, the affine (a, b, c, d, e, f) of x' = ax+by+c, y' = dx+ey+f
    corners: np.ndarray  # (T, N, 3, 2) int32: triangle corners, roi px with SHIFT fractional bits
    painted: np.ndarray  # (T, N) bool: triangles big enough to draw, facing the camera
    order: np.ndarray  # (T, N) int: the triangles far to near, the order they are drawn in
    eyes: np.ndarray  # (T, 2, 6, 2) int32: eye outlines, like corners
    eye_window: np.ndarray  # (T, 2) bool: eye no wider open than at rest: its inside maps by its corners only
    irises: np.ndarray  # (T, 2, 2) each eye's iris shift, source px (zero: where it rests)
    shut: np.ndarray  # (T, 2) how much of each eye its lid covers (0: open)
    mouth: np.ndarray  # (T, 32, 2) int32: mouth opening outline, like corners
    outlines: np.ndarray  # (T, 32, 2) float: the mouth opening's outline, px
    mouth_fill: np.ndarray  # (T,) bool: mouth open wider than at rest: its inside shows the inner mouth


def _plan(identity: Identity, motion: Motion) -> _Plan:
    frames, count = motion.frames, len(identity.triangles)
    moved = targets(identity, motion)
    landmarks = moved[:, :NUM_POINTS]
    triangles = moved[:, identity.triangles]  # (T, N, 3, 2)
    luts = np.zeros((frames, 6, 256), np.float32)
    luts[:, 0], luts[:, 4] = 1.0, 1.0  # index 0 and unused ones: the identity map
    affines = _affines(triangles, identity.rest[identity.triangles])  # (T, N, 2, 3)
    luts[:, :, 1:count + 1] = affines.reshape(frames, count, 6).transpose(0, 2, 1)
    eye_window, openness = np.zeros((frames, 2), bool), np.zeros((frames, 2))
    for eye, outline in enumerate((RIGHT_EYE, LEFT_EYE)):
        corners = [outline[0], outline[3]]
        luts[:, :, count + 1 + eye] = _similarity(landmarks[:, corners], identity.landmarks[corners]).reshape(frames, 6)
        openness[:, eye] = opening(landmarks, LIDS[2 * eye:2 * eye + 2]) / identity.eye_opening[eye]
        eye_window[:, eye] = openness[:, eye] <= 1
    origin = np.array(identity.roi[:2])
    outlines = mouth_outline(landmarks)
    return _Plan(
        luts=luts,
        corners=fixed_point(triangles - origin),
        painted=(np.abs(_signed_area(triangles)) >= 0.5) & _facing(identity, moved),
        order=_far_to_near(identity, motion),
        eyes=fixed_point(landmarks[:, [RIGHT_EYE, LEFT_EYE]] - origin),
        eye_window=eye_window,
        irises=np.stack([shifts(layers, motion.gaze) for layers in identity.eyes], axis=1),
        shut=shut_share(openness),
        mouth=fixed_point(outlines - origin),
        outlines=outlines,
        mouth_fill=opening(landmarks, LIPS) > identity.mouth_opening + MOUTH_FILL_FROM,
    )


def _fill_mouth(mouth: InnerMouth, outline: np.ndarray, index: np.ndarray, value: int, grid: tuple[np.ndarray, ...],
                out: tuple[np.ndarray, ...], origin: tuple[int, int]) -> None:
    """Point the map `out` (roi) at the inner mouth's atlas where `index` is `value`: inside the mouth
    opening `outline` (px). Only the opening's bounding box is looked at; `grid` holds the roi's px
    coordinates and `origin` is its top-left corner."""
    x0, y0 = np.maximum(np.floor(outline.min(axis=0) - origin).astype(int), 0)
    x1, y1 = np.ceil(outline.max(axis=0) - origin).astype(int) + 1
    box = np.s_[y0:y1, x0:x1]
    seen = index[box] == value
    out[0][box][seen], out[1][box][seen] = mouth.sample(outline, grid[0][box][seen], grid[1][box][seen])


def _vertices(identity: Identity, motion: Motion) -> np.ndarray:
    """(T, P, 2) the mesh vertices placed by `motion` as it is."""
    heights = identity.heights
    landmarks = motion.landmarks(identity.landmarks, heights[:NUM_POINTS])
    head = motion.carry(face_frame(identity.landmarks), identity.rest[identity.head], heights[identity.head])
    anchors = identity.rest[identity.head.stop:]
    return np.concatenate([landmarks, head, np.broadcast_to(anchors, (motion.frames, *anchors.shape))], axis=1)


def _facing(identity: Identity, vertices: np.ndarray) -> np.ndarray:
    """(T, N) whether each triangle winds as it does at rest, facing the camera."""
    return np.sign(_signed_area(vertices[:, identity.triangles])) == identity.orientation


def _folds(identity: Identity, vertices: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """(T,) triangles turned over, among those not squeezed under 1 px^2 and facing the camera in `facing`."""
    area = _signed_area(vertices[:, identity.triangles])
    return ((np.sign(area) != identity.orientation) & facing & (np.abs(area) > 1.0)).sum(axis=1)


def _far_to_near(identity: Identity, motion: Motion) -> np.ndarray:
    """(T, N) the triangles in the order to draw them, by the depth of their centres once the head has turned."""
    frame = face_frame(identity.landmarks)
    rest = frame.to_face(identity.rest)
    toward = np.concatenate([identity.heights, np.full(len(rest) - len(identity.heights), FIXED_DEPTH)])
    points = np.concatenate([rest, -toward[:, None]], axis=1)[identity.triangles].mean(axis=1)  # (N, 3)
    pivot = np.array([PIVOT[0], PIVOT[1], -PIVOT[2]])
    turns = rotation(np.degrees(motion.turn[:, 0]), np.degrees(motion.turn[:, 1]), 0.0)  # (T, 3, 3)
    away = np.einsum("tj,nj->tn", turns[:, 2], points - pivot)  # (T, N) camera z about the pivot
    return np.argsort(-away, axis=1, kind="stable")


def _composite(identity: Identity, head: np.ndarray) -> np.ndarray:
    """The warped head layer (size, size, 4: colour and matte) over the background layer, as RGB uint8."""
    alpha = head[..., 3].astype(np.float32) * np.float32(1 / 255)
    return cv2.blendLinear(head[..., :3], identity.background, alpha, 1.0 - alpha)


def _signed_area(triangles: np.ndarray) -> np.ndarray:
    """(..., 3, 2) -> (...,) signed areas; positive for clockwise on screen (y down)."""
    e1, e2 = triangles[..., 1, :] - triangles[..., 0, :], triangles[..., 2, :] - triangles[..., 0, :]
    return (e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]) / 2


def _affines(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """(..., 2, 3) affines taking each dst triangle (..., 3, 2) onto its src triangle: the backward map.
    A degenerate dst triangle gets a finite, meaningless affine; it is never drawn."""
    e1, e2 = dst[..., 1, :] - dst[..., 0, :], dst[..., 2, :] - dst[..., 0, :]
    det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    det = np.where(np.abs(det) < 1e-9, 1e-9, det)
    inverse = np.stack([np.stack([e2[..., 1], -e2[..., 0]], -1), np.stack([-e1[..., 1], e1[..., 0]], -1)], -2)
    inverse /= det[..., None, None]
    edges = np.stack([src[..., 1, :] - src[..., 0, :], src[..., 2, :] - src[..., 0, :]], axis=-1)  # columns
    linear = edges @ inverse
    shift = src[..., 0, :] - (linear @ dst[..., 0, :, None])[..., 0]
    return np.concatenate([linear, shift[..., None]], axis=-1)


def _similarity(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """(T, 2, 3) similarities taking the two points dst (T, 2, 2) onto src (2, 2)."""
    a, b = dst[:, 0, 0] + 1j * dst[:, 0, 1], dst[:, 1, 0] + 1j * dst[:, 1, 1]
    a0, b0 = complex(*src[0]), complex(*src[1])
    ratio = (b0 - a0) / (b - a)
    return similarities(ratio, a0 - ratio * a)


def _build_identity(crop: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int],
                    mirrored: np.ndarray | None, notes: tuple[str, ...]) -> Identity:
    """Split the cropped face into its layers, mesh it and build its inner mouth. `mirrored`: where the
    crop's extended edges mirror it (engine.crop.mirrored_from), or None."""
    size = crop.shape[0]
    frame = face_frame(landmarks)
    landmarks = _parted(landmarks, frame)
    faces = depth(landmarks)
    circle = _ellipse(RING_CENTER, RING_RADII, np.arange(RING_POINTS) * 360 / RING_POINTS)
    above = circle[:, 1] < frame.to_face(landmarks)[8, 1]  # anchors above the chin move with the head
    head = np.vstack([
        frame.to_image(frame.to_face(landmarks[list(FOREHEAD_BROWS)]) - np.array([0.0, FOREHEAD_RISE])),
        frame.to_image(_ellipse(ARC_CENTER, ARC_RADII, np.linspace(15, 165, ARC_POINTS))),
        frame.to_image(circle[above]),
    ])
    heights = np.concatenate([faces, faces[list(FOREHEAD_BROWS)] - FOREHEAD_BACK, np.full(ARC_POINTS, HAIR_DEPTH),
                              np.full(int(above.sum()), RING_DEPTH)])
    edge = size - 1
    corners = np.array([(0, 0), (edge / 2, 0), (edge, 0), (edge, edge / 2), (edge, edge), (edge / 2, edge),
                        (0, edge), (0, edge / 2)])
    rest = _apart(np.vstack([landmarks, head, frame.to_image(circle[~above]), corners]))
    landmarks, moving = rest[:NUM_POINTS], NUM_POINTS + len(head)
    topology = rest.copy()
    topology[:NUM_POINTS] = _opened(landmarks, frame)
    simplices = Delaunay(topology).simplices
    triangles = simplices[(simplices < moving).any(axis=1)].astype(np.int32)
    assert len(triangles) + 3 < 256, f"{len(triangles)} moving triangles: the index image is uint8"
    vertices = rest[np.unique(triangles)]
    x0, y0 = np.maximum(np.floor(vertices.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(vertices.max(axis=0)).astype(int) + 2, size)
    ring = frame.to_image(circle)
    layers = split(crop, landmarks, _within(ring, frame, landmarks, size), mirrored)
    gap = np.repeat(crop[-1:], 2, axis=0)  # keeps bilinear taps at the crop's bottom edge off the atlas
    mouth, atlas = inner_mouth(crop, landmarks, top=size + len(gap))
    strip = np.zeros((len(atlas), size, 3), np.uint8)
    strip[:, :atlas.shape[1]] = atlas
    image = np.ascontiguousarray(np.vstack([crop, gap, strip]))
    texture, background = _layered(image, layers.matte, layers.background)
    return Identity(
        image=image,
        texture=_supersampled(texture),
        background=background,
        size=size,
        rest=rest,
        heights=heights,
        head=slice(NUM_POINTS, moving),
        triangles=triangles,
        orientation=np.sign(_signed_area(topology[triangles])),
        ring=ring,
        roi=(int(x0), int(y0), int(x1), int(y1)),
        inner_mouth=mouth,
        eye_opening=np.array([opening(landmarks, LIDS[:2]), opening(landmarks, LIDS[2:])]),
        mouth_opening=float(opening(landmarks, LIPS)),
        eyes=(eye_layers(crop, landmarks[list(RIGHT_EYE)]), eye_layers(crop, landmarks[list(LEFT_EYE)])),
        crop=box,
        notes=notes,
    )


def _within(ring: np.ndarray, frame: FaceFrame, landmarks: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float32 in [0, 1]: how much of each pixel may be head: all of it inside the anchor ring down
    to the chin, then fading out below it, except down the neck, which fades out NECK_FADE face units further
    down. The fixed anchors below the chin hold collar, shoulders and clothes still in the background, and the
    neck bends into them."""
    inside = np.zeros((size, size), np.uint8)
    cv2.fillPoly(inside, [np.round(ring).astype(np.int32)], 1)
    x, y = np.moveaxis(frame.square_to_face(size), -1, 0)
    chin = frame.to_face(landmarks)[8, 1]
    sides = 1 - _smoothstep(y, chin - 0.2, chin + 0.3)
    neck = (1 - _smoothstep(np.abs(x), NECK[0], NECK[0] + 0.2)) * (1 - _smoothstep(y, chin + 0.2, chin + NECK_FADE))
    allowed = np.maximum(sides, neck) * inside
    return cv2.GaussianBlur(allowed.astype(np.float32), (0, 0), 1.0)


def _smoothstep(x: np.ndarray, start: float, end: float) -> np.ndarray:
    u = np.clip((x - start) / (end - start), 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _layered(image: np.ndarray, matte: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The head layer as the warp samples it, and the background it is laid over, such that at rest the one
    over the other gives the image back (to a grey level).

    The head's colour is the image unmixed from the background behind the matte's soft edge; where unmixing
    would need a colour out of range (the filled background is only a guess), the background takes what is left,
    so that a soft edge the split got wrong stays where it was rather than showing as a halo. The head layer
    holds its matte as alpha (quantized as the blend uses it); the rows below the crop (the inner mouth's atlas)
    are all head."""
    size = matte.shape[0]
    alpha = np.ones(image.shape[:2], np.float32)
    alpha[:size] = np.rint(matte * 255) / 255
    alpha[size:size + 2] = alpha[size - 1]
    behind = image.astype(np.float32)
    behind[:size] = background
    behind[size:size + 2] = behind[size - 1]
    a = alpha[..., None]
    unmixed = np.where(a > 0, (image - (1 - a) * behind) / np.maximum(a, UNMIX_FLOOR), image)
    head = np.clip(np.rint(unmixed), 0, 255)
    clipped = (np.abs(unmixed - head) > 1)[:size].any(axis=2, keepdims=True)
    rest = (image[:size] - a[:size] * head[:size]) / np.maximum(1 - a[:size], 1e-6)
    behind = np.where(clipped & (a[:size] < 1), np.clip(np.rint(rest), 0, 255), background)
    behind = np.where(a[:size] > 0, behind, background).astype(np.uint8)  # no head: the image, or a mirror's fill
    texture = np.dstack([head.astype(np.uint8), np.rint(alpha * 255).astype(np.uint8)])
    return np.ascontiguousarray(texture), behind


def _supersampled(texture: np.ndarray) -> np.ndarray:
    """The head layer at SUPERSAMPLE times its resolution. Its colour is Lanczos-upsampled for its detail,
    then corrected so that each source pixel's S x S texels average back to it (one step of back-projection),
    which is what a map at rest samples: at rest the face is the source itself, not a resampled copy. Its
    matte is repeated texel for texel: a soft edge needs no detail, and a pixel the matte leaves out stays out."""
    s = SUPERSAMPLE
    height, width = texture.shape[:2]
    colour = np.ascontiguousarray(texture[..., :3])
    up = cv2.resize(colour, (width * s, height * s), interpolation=cv2.INTER_LANCZOS4)
    residual = colour.astype(np.int16) - cv2.resize(up, (width, height), interpolation=cv2.INTER_AREA)
    residual = cv2.resize(residual, (width * s, height * s), interpolation=cv2.INTER_NEAREST)
    up = cv2.add(up, residual, dtype=cv2.CV_8U)  # saturating, in uint8: a 1024 px head layer is ~30 MB of texels
    matte = np.repeat(np.repeat(texture[..., 3:], s, axis=0), s, axis=1)
    return np.ascontiguousarray(np.dstack([up, matte]))


def _ellipse(center: tuple[float, float], radii: tuple[float, float], degrees: np.ndarray) -> np.ndarray:
    """Points on an ellipse in face units, at angles counter-clockwise on screen from the face's right."""
    angles = np.radians(degrees)
    return np.stack([center[0] + radii[0] * np.cos(angles), center[1] - radii[1] * np.sin(angles)], axis=1)


def _parted(landmarks: np.ndarray, frame: FaceFrame) -> np.ndarray:
    """The landmarks with facing lid and inner-lip points at least MIN_GAP px apart, upper above lower, so
    that no two mesh vertices coincide (a shut mouth's inner lips do) and every triangle has a winding."""
    face = frame.to_face(landmarks)
    gap = MIN_GAP / frame.scale
    for upper, lower in (*LIDS, *LIPS):
        middle = (face[upper, 1] + face[lower, 1]) / 2
        if face[lower, 1] - face[upper, 1] < gap:
            face[upper, 1], face[lower, 1] = middle - gap / 2, middle + gap / 2
    return frame.to_image(face)


def _apart(points: np.ndarray) -> np.ndarray:
    """The points with any that sit within MIN_GAP px of an earlier one moved off it (hand-made landmarks
    may stack points); Delaunay would drop a duplicate, and that landmark would stop moving."""
    points = points.copy()
    close = np.linalg.norm(points[:, None] - points[None], axis=-1) < MIN_GAP
    for i, j in zip(*np.nonzero(np.triu(close, k=1)), strict=True):
        away = points[j] - points[i]
        norm = float(np.hypot(*away))
        points[j] = points[i] + (away / norm if norm > 1e-6 else np.array([0.0, 1.0])) * MIN_GAP
    return points


def _opened(landmarks: np.ndarray, frame: FaceFrame) -> np.ndarray:
    """The landmarks with the mouth and eyes opened (for triangulating only): each inner lip moves 40% of
    the way to its outer lip, each upper lid up to a 0.08 face-unit gap, so that the inside of the mouth and
    of each eye are triangles of their own, in the same winding as a more open mouth or eye would have."""
    face = frame.to_face(landmarks)
    for (upper, lower), (outer_upper, outer_lower) in zip(LIPS, OUTER_LIPS, strict=True):
        face[upper, 1] -= 0.4 * max(face[upper, 1] - face[outer_upper, 1], 0.0)
        face[lower, 1] += 0.4 * max(face[outer_lower, 1] - face[lower, 1], 0.0)
    for upper, lower in LIDS:
        face[upper, 1] = min(face[upper, 1], face[lower, 1] - 0.08)
    return frame.to_image(face)
