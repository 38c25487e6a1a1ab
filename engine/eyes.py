"""The eyes: where the iris sits in each eye, where a driver looks, and an iris moved inside its eye.

The 68 landmarks outline each eye's opening (36-41, 42-47) but say nothing of the iris, so it is found in
the pixels: the iris and pupil are the darkest roughly round blob inside the opening, and its centre is the
darkness-weighted centroid of the opening's dark pixels, refined within a disc around it. That holds on
photographs and paintings alike (the sclera and the skin around are lighter); an eye with no dark blob (a
sculpture's) gets its opening's centre and hardly moves, since there is nothing to move.

A gaze is the iris centre's offset from where it rests, in eye widths (corner to corner), along the eye
(x, towards the image's right) and across it (y, down): one 2-vector for both eyes, since eyes look together.
A driver's gaze is found the same way in each of its frames, relative to its first frame.

Rendering (`look`) works on a frame the warp has made, inside each eye's opening only, so the lids stay where
they are: the iris disc is taken from the source a gaze's shift away, over a plate of the eye with its iris
painted out (the sclera fills behind it), blended by a soft mask; and an eye that shuts fills with the skin
of its upper lid, so a blink never shows the eye through or leaves a gap.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from engine.errors import BadVideo
from engine.faces import LEFT_EYE, LIDS, RIGHT_EYE, opening
from engine.media import open_media

IRIS_RADIUS = 0.2  # of the eye's width: an iris is ~12 mm across in an opening ~30 mm wide
DARK_SHARE = 40  # percent: the darkest pixels of the opening that vote for the iris centre
IRIS_CONTRAST = 0.75  # an iris darker than this share of the rest of its opening is one (a sculpture's is not)
STILL_SHIFT = 0.05  # source px: an iris moved less than this is left where it is
GAZE_REACH = (0.14, 0.05)  # eye widths: how far the iris centre may move along and across the eye
SHUT_FROM, SHUT_AT = 0.45, 0.12  # share of its open height: an eye starts filling with lid here, is all lid here
LID_RIM, LASH_STRENGTH = 0.25, 0.5  # of the eye's open height; how dark the line where shut lids meet is
MIN_OPEN = 0.35  # a driver's eye opened under this share of its first frame's is blinking: its gaze is held


@dataclass(frozen=True)
class Iris:
    """An iris found in an eye: its centre (2,) and radius, px."""

    centre: np.ndarray
    radius: float


def locate_iris(image: np.ndarray, outline: np.ndarray) -> Iris:
    """The iris in the eye whose opening is `outline` (6, 2) px in `image` (RGB uint8): the darkness-weighted
    centroid of the opening's darkest DARK_SHARE percent, refined twice within 1.2 radii of itself."""
    radius = IRIS_RADIUS * float(np.linalg.norm(outline[3] - outline[0]))
    (x0, y0), (x1, y1) = _box(outline, image.shape, margin=1)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the eye is off the image
        return Iris(outline.mean(axis=0), radius)
    inside = _polygon(outline - (x0, y0), (y1 - y0, x1 - x0)) > 0.5
    gray = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    if inside.sum() < 4:
        return Iris(outline.mean(axis=0), radius)
    darkness = np.maximum(np.percentile(gray[inside], DARK_SHARE) - gray, 0.0) * inside
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    centre = outline.mean(axis=0)
    for near in (np.inf, 1.2 * radius, 1.2 * radius):
        weight = darkness * ((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 < near ** 2)
        if weight.sum() <= 1e-6:
            break
        centre = np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()
    return Iris(centre, radius)


def gaze(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(2,) where a face in `image` looks: its irises' mean offset from the eyes' centres, in eye widths
    along and across each eye."""
    offsets = []
    for outline in (landmarks[list(RIGHT_EYE)], landmarks[list(LEFT_EYE)]):
        along, width = _axis(outline)
        offset = locate_iris(image, outline).centre - (outline[0] + outline[3]) / 2
        offsets.append(np.array([offset @ along, offset @ (-along[1], along[0])]) / width)
    return np.mean(offsets, axis=0)


def track_gaze(frames: Iterable[np.ndarray], points: np.ndarray) -> np.ndarray:
    """(T, 2) a driver's gaze in each of its frames (RGB) with its landmarks `points` (T, 68, 2), relative to
    its first frame, held through blinks and frames without a face, and smoothed over 5 frames (the locator's
    jitter is a pixel; a saccade takes 2-3 frames, so it stays sharp), within GAZE_REACH."""
    found = np.zeros((len(points), 2))
    faces = np.isfinite(points).all(axis=(1, 2))
    rest_open = float(opening(points[np.argmax(faces)], LIDS))
    held = np.zeros(2)
    for t, (frame, face) in enumerate(zip(frames, points, strict=False)):
        if faces[t] and _in_frame(face[36:48], frame.shape) and opening(face, LIDS) >= MIN_OPEN * rest_open:
            held = gaze(frame, face)
        found[t:] = held  # a video shorter than its track holds its last gaze
    found -= found[0]
    smooth = cv2.blur(found.astype(np.float32)[:, None, :], (1, 5), borderType=cv2.BORDER_REPLICATE)[:, 0]
    return np.clip(smooth, -np.array(GAZE_REACH), GAZE_REACH).astype(np.float64)


def video_gaze(path: Path | str, points: np.ndarray) -> np.ndarray:
    """(T, 2) the gaze of the driving video at `path`, whose landmark track is `points` (T, 68, 2); see
    `track_gaze`. BadVideo if it can't be read."""
    def frames() -> Iterable[np.ndarray]:
        with open_media(path, track="video", error=BadVideo, what="driving video") as container:
            try:
                for count, frame in enumerate(container.decode(container.streams.video[0])):
                    if count == len(points):
                        return
                    yield frame.to_ndarray(format="rgb24")
            except av.error.FFmpegError as err:
                raise BadVideo(f"the driving video is corrupt or truncated ({err.strerror})", path) from None

    return track_gaze(frames(), points)


@dataclass(frozen=True, eq=False)
class EyeLayers:
    """One source eye, ready to look about and to shut: patches of the source over `box` (x0, y0, x1, y1)."""

    box: tuple[int, int, int, int]
    iris: Iris
    along: np.ndarray  # (2,) unit vector from the eye's first corner to its other (36 to 39, 42 to 45)
    width: float  # px, corner to corner
    reach: np.ndarray  # (2, 2) the iris centre's shift range, px along and across the eye: [[lo, hi], [lo, hi]]
    source: np.ndarray  # (h, w, 3) float32: the eye, with the iris's part under the lids filled in
    disc: np.ndarray  # (h, w) float32: how much of each pixel is iris (a disc with a soft edge)
    plate: np.ndarray  # (h, w, 3) float32: the eye with its iris painted out with the sclera's colours
    lid: np.ndarray  # (h, w, 3) float32: the skin of the upper lid, to cover the eye as it shuts
    lash: np.ndarray  # (3,) float32: the colour of the upper lid's edge, where the lashes are
    height: float  # px: how far the eye is open, lid to lid


def eye_layers(image: np.ndarray, outline: np.ndarray) -> EyeLayers:
    """The layers `look` draws one eye with, from the source crop `image` and the eye's `outline` (6, 2)."""
    iris = locate_iris(image, outline)
    along, width = _axis(outline)
    height = float(opening(outline[None], ((1, 5), (2, 4)))[0])
    low, high = _box(outline, image.shape, margin=np.ceil(np.array([1, 2]) * iris.radius).astype(int))
    box = (int(low[0]), int(low[1]), int(high[0]), int(high[1]))
    shape = (box[3] - box[1], box[2] - box[0])
    local = outline - box[:2]
    patch = image[box[1]:box[3], box[0]:box[2]]
    inside = _polygon(local, shape)
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    centre = iris.centre - box[:2]
    disc = np.clip((iris.radius + 0.75 - np.hypot(xs - centre[0], ys - centre[1])) / 1.5, 0.0, 1.0)
    reach = _reach(local, centre, iris.radius, along, width) * _shows_iris(patch, inside, disc, height / iris.radius)
    return EyeLayers(box, iris, along, width, reach,
                     _whole_iris(patch, inside, disc), disc.astype(np.float32), _painted_out(patch, inside, disc),
                     _lid(image, box, outline, height), _lash(image, outline), height)


def look(frame: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, layers: EyeLayers, outline: np.ndarray,
         shift: np.ndarray, shut: float) -> None:
    """In place: the eye whose opening in `frame` is `outline` (6, 2, output px), which the frame's map
    (map_x, map_y: output px -> source px) samples from the source, with its iris `shift` (2,) source px
    from where it rests and covered by its lid by `shut` (0 open, 1 shut).

    Shutting covers the opening and a rim around it (where a lid's edge has been stretched over the white
    of the eye) with lid skin, then draws the lashes' line where the lids meet."""
    moved = np.abs(shift).max() > STILL_SHIFT
    if not moved and shut <= 0:
        return
    rim = max(1, round(LID_RIM * layers.height)) if shut > 0 else 0
    (x0, y0), (x1, y1) = _box(outline, frame.shape, margin=1 + 2 * rim)
    if x1 <= x0 or y1 <= y0:
        return
    local = outline - (x0, y0)
    opened = _polygon(local, (y1 - y0, x1 - x0))[..., None]
    qx, qy = map_x[y0:y1, x0:x1] - layers.box[0], map_y[y0:y1, x0:x1] - layers.box[1]
    here = frame[y0:y1, x0:x1].astype(np.float32)
    out = here
    if moved:
        sx, sy = qx - np.float32(shift[0]), qy - np.float32(shift[1])
        disc = cv2.remap(layers.disc, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[..., None]
        plate = cv2.remap(layers.plate, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        iris = cv2.remap(layers.source, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out = opened * (disc * iris + (1 - disc) * plate) + (1 - opened) * here
    if shut > 0:
        grown = cv2.dilate(opened[..., 0], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rim + 1,) * 2))
        cover = shut * np.maximum(opened[..., 0], cv2.GaussianBlur(grown, (0, 0), rim / 2))[..., None]
        lid = cv2.remap(layers.lid, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out = (1 - cover) * out + cover * lid
        line = np.zeros(opened.shape[:2], np.float32)
        cv2.polylines(line, [np.round(_meeting(local) * 16).astype(np.int32)], False, 1.0, 1, cv2.LINE_AA, 4)
        lashes = shut * LASH_STRENGTH * np.clip(cv2.GaussianBlur(line, (0, 0), max(0.6, rim / 3)) * 2, 0, 1)[..., None]
        out = (1 - lashes) * out + lashes * layers.lash
    frame[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)


def shifts(layers: EyeLayers, gaze_offsets: np.ndarray) -> np.ndarray:
    """(T, 2) source px each frame moves the iris by: gaze (T, 2, eye widths) along and across the eye,
    held inside the opening."""
    across = np.array([-layers.along[1], layers.along[0]])
    along_px = np.clip(gaze_offsets[:, 0] * layers.width, *layers.reach[0])
    across_px = np.clip(gaze_offsets[:, 1] * layers.width, *layers.reach[1])
    return along_px[:, None] * layers.along + across_px[:, None] * across


def shut_share(openness: np.ndarray) -> np.ndarray:
    """(...,) how much of an eye its lid covers, from its opening as a share of its open height."""
    u = np.clip((SHUT_FROM - openness) / (SHUT_FROM - SHUT_AT), 0.0, 1.0)
    return u * u * (3 - 2 * u)


# helpers


def _axis(outline: np.ndarray) -> tuple[np.ndarray, float]:
    """The unit vector from an eye's first corner (0) to its other (3), and their distance."""
    span = outline[3] - outline[0]
    width = float(np.hypot(*span))
    return span / max(width, 1e-6), width


def _meeting(outline: np.ndarray) -> np.ndarray:
    """(12, 2) where shut lids meet: a smooth arc from corner to corner, the parabola (along the eye) that
    best fits the lower lid (a landmark's jitter would make the line of lashes zigzag)."""
    along, width = _axis(outline)
    across = np.array([-along[1], along[0]])
    lower = outline[[0, 5, 4, 3]] - outline[0]
    u, v = lower @ along, lower @ across
    bend = np.polyfit(u, v, 2) if np.ptp(u) > 1e-6 else np.zeros(3)
    us = np.linspace(0, width, 12)
    return outline[0] + us[:, None] * along + np.polyval(bend, us)[:, None] * across


def _in_frame(points: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether all points lie inside an image of `shape` (a track made for another video's frames may not)."""
    return bool((points >= 0).all() and (points[:, 0] < shape[1]).all() and (points[:, 1] < shape[0]).all())


def _box(points: np.ndarray, shape: tuple[int, ...], margin: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The integer box (x0, y0), (x1, y1) around points, grown by margin px (or (2,) px in x and y), within an
    image of `shape`."""
    low = np.maximum(np.floor(points.min(axis=0)).astype(int) - margin, 0)
    high = np.minimum(np.ceil(points.max(axis=0)).astype(int) + margin + 1, (shape[1], shape[0]))
    return low, high


def _polygon(outline: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) float32: 1 inside the polygon `outline` (px), 0 outside, drawn at a sixteenth of a pixel."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255


def _reach(outline: np.ndarray, centre: np.ndarray, radius: float, along: np.ndarray, width: float) -> np.ndarray:
    """[[lo, hi], [lo, hi]] px the iris centre may move along and across the eye: GAZE_REACH, and never
    nearer a corner than 0.8 radii or out of the middle 60% of the opening's height."""
    across = np.array([-along[1], along[0]])
    u, v = (outline - centre) @ along, (outline - centre) @ across
    lo_u, hi_u = max(u.min() + 0.8 * radius, -GAZE_REACH[0] * width), min(u.max() - 0.8 * radius, GAZE_REACH[0] * width)
    lo_v, hi_v = max(0.6 * v.min(), -GAZE_REACH[1] * width), min(0.6 * v.max(), GAZE_REACH[1] * width)
    return np.array([[min(lo_u, 0.0), max(hi_u, 0.0)], [min(lo_v, 0.0), max(hi_v, 0.0)]])


def _shows_iris(patch: np.ndarray, inside: np.ndarray, disc: np.ndarray, open_radii: float) -> bool:
    """Whether an eye shows an iris worth moving: open at least 0.8 iris radii, and its iris clearly darker
    (under IRIS_CONTRAST of) the rest of the opening. A sculpture's eye is neither, and stays as it is."""
    gray = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY).astype(np.float32)
    iris, rest = (inside > 0.5) & (disc > 0.5), (inside > 0.5) & (disc == 0)
    if open_radii < 0.8 or iris.sum() < 4 or rest.sum() < 4:
        return False
    return bool(gray[iris].mean() < IRIS_CONTRAST * np.median(gray[rest]))


def _whole_iris(patch: np.ndarray, inside: np.ndarray, disc: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32: the eye patch with the part of the iris disc that the lids hide filled in from the
    part they show, so that an iris moved down or up shows a whole disc under the lid's edge, not a sliver
    of sclera: outside the opening everything takes the iris's median colour, and the hidden part is
    inpainted from there and from the visible iris."""
    shown = (inside > 0.5) & (disc > 0.5)
    colour = np.median(patch[shown] if shown.any() else patch.reshape(-1, 3), axis=0).astype(np.uint8)
    seed = np.where((inside > 0.5)[..., None], patch, colour)
    hidden = ((disc > 0) & (inside < 1)).astype(np.uint8)
    return cv2.inpaint(seed, hidden, 3, cv2.INPAINT_TELEA).astype(np.float32)


def _painted_out(patch: np.ndarray, inside: np.ndarray, disc: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32: the eye patch with its iris disc (grown a little) painted out from the sclera
    around it: everything outside the opening first takes the sclera's colour (the lighter half of the
    opening away from the iris), so that the inpainting borrows no lid or lash."""
    near = cv2.dilate((disc > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    gray = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)
    sclera = (inside > 0.5) & ~near
    if sclera.sum() >= 4:
        sclera &= gray >= np.median(gray[sclera])
        colour = np.median(patch[sclera], axis=0)
    else:
        colour = np.median(patch[inside > 0.5] if (inside > 0.5).any() else patch.reshape(-1, 3), axis=0)
    seed = np.where((inside > 0.5)[..., None], patch, colour.astype(np.uint8))
    filled = cv2.inpaint(seed, (near & (inside > 0)).astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return filled.astype(np.float32)


def _lid(image: np.ndarray, box: tuple[int, int, int, int], outline: np.ndarray, height: float) -> np.ndarray:
    """(h, w, 3) float32: the upper lid's skin over the whole box: in each column, the median colour of a band
    of skin above the lid's edge (from 0.35 to 1.1 of the eye's height above it, clear of the lashes and
    below the crease), smoothed along the eye."""
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1)
    edge = np.interp(xs, outline[:4, 0], outline[:4, 1])  # the upper lid's edge, corner to corner, flat beyond
    rows = np.round(edge[None] - height * np.linspace(0.35, 1.1, 6)[:, None]).astype(int)
    band = image[np.clip(rows, 0, image.shape[0] - 1), xs[None]].astype(np.float32)  # (6, w, 3)
    colours = cv2.GaussianBlur(np.median(band, axis=0)[None], (0, 0), max(1.0, 0.3 * height))[0]
    return np.ascontiguousarray(np.broadcast_to(colours, (y1 - y0, x1 - x0, 3)))


def _lash(image: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """(3,) float32: the colour of the upper lid's edge: the darkest fifth of the pixels along it."""
    along = np.concatenate([np.linspace(outline[k], outline[k + 1], 8) for k in range(3)])
    xs = np.clip(np.round(along[:, 0]).astype(int), 0, image.shape[1] - 1)
    ys = np.clip(np.round(along[:, 1]).astype(int), 0, image.shape[0] - 1)
    pixels = image[ys, xs].astype(np.float32)
    gray = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    return pixels[gray <= np.percentile(gray, 20)].mean(axis=0)
