"""Motion: how a face moves over time, relative to its own neutral face, for any engine to apply to any face.

A `Motion` is, per frame, a head turn in 3-D (yaw and pitch, about the neck), a head pose in the image (a
similarity: scale, roll angle, translation), an expression (an offset for each of the 68 landmarks), all in
face units (see `FaceFrame`: origin between the eyes and the nose, x along the eye line, unit ~ the distance
between the outer eye corners), and a gaze (where the irises look, in eye widths: see engine/eyes.py). A face
is turned as a relief: each landmark stands out toward the camera by its depth (engine/pose.py fits the mean
3-D face to the landmarks for it), so that the nose swings further than the cheeks. Because everything is
relative to the neutral face and normalized for its size and roll, a motion recorded on one face applies to
another (the relative transfer of Zakharov et al. 2019, sec. 3.4 and of LivePortrait), and a motion made
with no face at all (a preset) applies to every face. `Motion.landmarks(neutral)` turns a motion into target
landmarks for a given face; the warp engine renders those, a neural engine would draw its landmark images
from them.

Three sources of motion:
- a driving face's landmark track (`from_track`): every frame is expressed in the face frame of the first
  (neutral) frame, smoothed against detector jitter with a One-Euro filter (Casiez et al. 2012) and against its
  slow drift with a deadband, then split
  into the turn (the mean 3-D face fitted to each frame with cv2.solvePnP, relative to the first frame's fit),
  the pose (a Procrustes fit of the frame's stable points, nose and eye corners, to the turned neutral
  frame's) and the expression (what neither explains); its gaze comes from the driving video's pixels
  (engine/eyes.py), so a landmark track alone leaves the eyes at rest;
- a preset (`preset`): head turns (nod is a pitch, shake a yaw, idle a slow sway of all three) and landmark
  offsets (blink, smile, speech), with glances now and then (idle, talk), seeded so that a render is
  reproducible;
- speech (`speaking`): a `Mouth` (from a text's phonemes or a recorded voice, see engine/mouth.py) shaping
  the mean face's lips and jaw, over the idle drift and blinks of a preset.
"""

import math
from dataclasses import dataclass

import numpy as np

from engine.errors import BadMotion
from engine.faces import LIPS, NUM_POINTS, STABLE, FaceFrame, Track, face_frame
from engine.mouth import Mouth
from engine.pose import angles, depth, fit, rotation

PRESETS = ("idle", "blink", "nod", "shake", "smile", "speak", "talk")  # talk = idle + blink + speak
MIN_FPS, MAX_FPS = 1.0, 60.0  # a driver's frame rate is its motion's, and a render's: the studio's --fps range
MIN_FACE_SCALE = 1.0  # px: a driver's neutral face must be at least this big to measure motion against
PIVOT = (0.0, 0.3, -0.9)  # face units (x, y, toward the camera): the head turns about the neck, behind the face
SPEAKER_SWAY = 2.5  # how much more a speaker's head moves than a sitter's (talk, speech)
MAX_TURN = 60 * math.pi / 180  # a turn further than this (a profile) is held there: the face would turn edge-on
DEADBAND = 0.025  # face units (~1 px on a 40 px face): a landmark's drift from the neutral face shrunk away


@dataclass(frozen=True, eq=False)
class Motion:
    """Per-frame head turn, pose and expression relative to a neutral face, in face units; `fps` frames a second.

    Frame t's face is the neutral face plus expression[t], turned by turn[t] about PIVOT, seen straight on, and
    moved by pose[t]:
    expression[t] = (68, 2): each landmark's offset from the neutral face, on the face as it faces the camera.
    turn[t] = (yaw, pitch) in radians, as engine/pose.py defines them: positive yaw swings the nose toward the
    image's right, positive pitch tips the chin down; None means no turn throughout.
    pose[t] = (scale, angle, tx, ty): the similarity q -> scale * R(angle) q + (tx, ty), about the face frame's
    origin, that takes the turned face to frame t. Angle (the head's roll) in radians, clockwise on screen;
    (1, 0, 0, 0) is no head motion.
    gaze[t] = (x, y): the irises' offset from where they rest, in eye widths along and across the eyes (both
    eyes look together); None means at rest throughout.
    Frame 0 of a motion is usually neutral (a driver's first frame is, by definition).
    """

    fps: float
    pose: np.ndarray  # (T, 4) float64
    expression: np.ndarray  # (T, 68, 2) float64
    gaze: np.ndarray | None = None  # (T, 2) float64, zeros once made
    turn: np.ndarray | None = None  # (T, 2) float64, zeros once made

    def __post_init__(self) -> None:
        frames = len(self.pose)
        assert self.fps > 0, f"fps must be positive, got {self.fps}"
        assert frames > 0 and self.pose.shape == (frames, 4), f"pose must be (T, 4), got {self.pose.shape}"
        assert self.expression.shape == (frames, NUM_POINTS, 2), \
            f"expression must be ({frames}, {NUM_POINTS}, 2), got {self.expression.shape}"
        for name in ("gaze", "turn"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros((frames, 2)))
            assert getattr(self, name).shape == (frames, 2), f"{name} must be ({frames}, 2)"

    @property
    def frames(self) -> int:
        return len(self.pose)

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def landmarks(self, neutral: np.ndarray, heights: np.ndarray | None = None) -> np.ndarray:
        """(T, 68, 2) target landmarks in image px: this motion applied to a face whose neutral landmarks
        are `neutral` (68, 2) and whose depths are `heights` (68,; fitted to `neutral` when not given, see
        engine.pose.depth), with the expression scaled to that face's size.

        Eyelids and lips may close but never cross, whatever the motion asks: an upper lid stops 0.6 px
        above the line of its lower lid, and the inner lips 0.6 px short of each other.
        """
        frame = face_frame(neutral)
        shape = frame.to_face(neutral.astype(np.float64)) + self.expression
        _stop_closing(shape, 0.6 / frame.scale)
        return frame.to_image(self._placed(shape, depth(neutral) if heights is None else heights))

    def carry(self, frame: FaceFrame, points: np.ndarray, heights: np.ndarray) -> np.ndarray:
        """(T, N, 2) image px: where points that move rigidly with the head (forehead, hair; (N, 2) px of the
        neutral image, standing `heights` (N,) face units out toward the camera) go in each frame, for the neutral
        face whose frame is `frame`."""
        return frame.to_image(self._placed(frame.to_face(np.asarray(points, np.float64)), heights))

    def _placed(self, shape: np.ndarray, heights: np.ndarray) -> np.ndarray:
        """Face-unit points ((N, 2) or (T, N, 2)) turned, seen and moved as frame t's pose says."""
        seen = _turned(shape, np.asarray(heights, np.float64), self.turn)
        scale, angle, tx, ty = self.pose.T
        ratio = (scale * np.exp(1j * angle))[:, None]
        moved = ratio * (seen[..., 0] + 1j * seen[..., 1]) + (tx + 1j * ty)[:, None]
        return np.stack([moved.real, moved.imag], axis=-1)


def from_track(track: Track, *, gaze: np.ndarray | None = None, min_cutoff: float = 1.0,
               beta: float = 5.0, deadband: float = DEADBAND) -> Motion:
    """The motion of a driving face, relative to its first frame with a face, looking where `gaze` (T, 2)
    says: what engine.eyes.video_gaze reads from the driving video's frames. A landmark track has no pixels
    to find the irises in, so without `gaze` the eyes stay at rest.

    BadMotion unless the track runs at MIN_FPS to MAX_FPS (the frame rates a render is made at) and its
    first face is at least MIN_FACE_SCALE across (every frame is measured in its units).
    Frames without a face hold the nearest earlier one (the neutral one before any). `min_cutoff` (Hz)
    and `beta` are the One-Euro filter's: a still face is smoothed below `min_cutoff`, and the cutoff
    rises with speed (in face units a second, times `beta`) so that fast speech keeps its peaks. On the
    shared driving fixtures the defaults halve the jitter of a still face and keep ~93% of the mouth's
    widest openings (a plain 1.5 Hz low-pass would keep 75%). `deadband` (face units) is how far a landmark
    must drift from the neutral face before it moves at all (see _deadbanded); 0 keeps every drift.
    """
    if not MIN_FPS <= track.fps <= MAX_FPS:
        raise BadMotion(f"the driver runs at {track.fps:g} fps; a motion runs at {MIN_FPS:g} to {MAX_FPS:g} fps, "
                        "so re-encode the driving video at a rate in that range")
    points = _fill_gaps(track.points.astype(np.float64))
    frame = face_frame(points[0])
    if not frame.scale >= MIN_FACE_SCALE:
        raise BadMotion("the driver's first face is under a pixel across: its motion can't be measured")
    shapes = frame.to_face(points)
    # the whole track is at hand, so it is filtered forwards then backwards: no lag, and the neutral
    # first frame is smoothed as much as the rest (its noise would otherwise be in every frame's expression)
    shapes = _one_euro(_one_euro(shapes, track.fps, min_cutoff, beta)[::-1], track.fps, min_cutoff, beta)[::-1]
    shapes = _deadbanded(shapes, deadband)
    heights = depth(shapes[0])
    turn = _turns(shapes)
    pose, undone = _decompose(shapes, _turned(shapes[0], heights, turn))
    expression = _unturned(undone, heights, turn) - shapes[0]
    return Motion(track.fps, pose, expression, None if gaze is None else np.asarray(gaze, np.float64)[:len(pose)],
                  turn)


def preset(name: str, *, seconds: float = 4.0, fps: float = 25.0, seed: int = 0) -> Motion:
    """A synthetic motion: idle (breathing, drift, glances), blink, nod, shake, smile, speak (mouth opening on
    a syllable rhythm), or talk (idle with a livelier head + blink + speak). The same `seed` gives the same motion."""
    if name not in PRESETS:
        raise BadMotion(f"unknown motion preset {name!r}; choose one of {', '.join(PRESETS)}")
    if not (seconds > 0 and fps > 0):
        raise BadMotion(f"a motion needs a positive length and frame rate, got {seconds} s at {fps} fps")
    t = np.arange(max(1, round(seconds * fps))) / fps
    rng = np.random.default_rng(seed)
    parts = ("speaker", "blink", "speak") if name == "talk" else (name,)
    gaze = _glances(t, seed) if {"idle", "speaker"} & set(parts) else None
    return _compose([_PARTS[part](t, rng) for part in parts], fps, gaze)


def speaking(mouth: Mouth, *, seed: int = 0) -> Motion:
    """A face saying something: `mouth` (from a text's phonemes or a recorded voice) over the idle drift and
    blinks of `talk`, so that the face stays alive around the mouth. As long as the mouth, at its frame rate."""
    t = np.arange(mouth.frames) / mouth.fps
    rng = np.random.default_rng(seed)
    return _compose([_speaker(t, rng), _blink(t, rng), _mouth(t, mouth)], mouth.fps, _glances(t, seed))


# helpers

_DEG = math.pi / 180


def _stop_closing(shape: np.ndarray, gap: float) -> None:
    """In place, in face units (y down): upper lids stay above the line of their lower lid (corner to
    corner), inner lips do not cross."""
    for upper, lower in ((37, 38), (36, 41, 40, 39)), ((43, 44), (42, 47, 46, 45)):
        lid = shape[:, lower]
        for point in upper:
            floor = _polyline(lid[..., 0], lid[..., 1], shape[:, point, 0])
            shape[:, point, 1] = np.minimum(shape[:, point, 1], floor - gap)
    for upper, lower in LIPS:
        middle = (shape[:, upper, 1] + shape[:, lower, 1]) / 2
        crossed = shape[:, lower, 1] - shape[:, upper, 1] < gap
        shape[:, upper, 1] = np.where(crossed, middle - gap / 2, shape[:, upper, 1])
        shape[:, lower, 1] = np.where(crossed, middle + gap / 2, shape[:, lower, 1])


def _polyline(xs: np.ndarray, ys: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(T,) the height at x (T,) of the polylines through (xs, ys) (T, K) in increasing x; flat beyond the ends."""
    y = np.where(x <= xs[:, 0], ys[:, 0], ys[:, -1])
    for k in range(xs.shape[1] - 1):
        start, end = xs[:, k], xs[:, k + 1]
        along = (x - start) / np.where(end > start, end - start, 1.0)
        inside = (x >= start) & (x <= end)
        y = np.where(inside, ys[:, k] + along * (ys[:, k + 1] - ys[:, k]), y)
    return y


def _compose(parts: list[tuple[np.ndarray, np.ndarray]], fps: float, gaze: np.ndarray | None) -> Motion:
    """The motion whose expression is the sum of the parts' offsets (T, 68, 2) and whose head turns by the sum of
    their head angles (T, 3: yaw, pitch, roll, radians), the roll too about PIVOT, looking where `gaze` says."""
    angles = sum(part_angles for part_angles, _ in parts)
    offsets = sum(part_offsets for _, part_offsets in parts)
    roll = angles[:, 2]
    pivot = complex(*PIVOT[:2])
    shift = pivot - np.exp(1j * roll) * pivot  # turning about the pivot is turning about the origin, then this
    pose = np.stack([np.ones_like(roll), roll, shift.real, shift.imag], axis=1)
    return Motion(fps, pose, offsets, gaze, angles[:, :2])


def _turns(shapes: np.ndarray) -> np.ndarray:
    """(T, 2) yaw and pitch (radians) of each face-unit shape's head relative to the first's: the mean 3-D face
    fitted to each (engine.pose.fit), held within MAX_TURN."""
    rotations = np.array([fit(shape).rotation for shape in shapes])
    relative = [angles(r @ rotations[0].T)[:2] for r in rotations]
    return np.clip(np.radians(relative), -MAX_TURN, MAX_TURN)


def _turned(shape: np.ndarray, heights: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """(T, N, 2) face-unit points ((N, 2) or (T, N, 2)) standing `heights` (N,) out toward the camera, turned by
    `turn` (T, 2: yaw, pitch, radians) about PIVOT and seen straight on (orthographically)."""
    linear, offset = _view(heights, turn)
    return np.einsum("tij,tnj->tni", linear, np.broadcast_to(shape, (len(turn), *np.shape(shape)[-2:]))) + offset


def _unturned(seen: np.ndarray, heights: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """The face-unit points (T, N, 2) that `_turned` turns into `seen`, their heights kept."""
    linear, offset = _view(heights, turn)
    return np.einsum("tij,tnj->tni", np.linalg.inv(linear), seen - offset)


def _view(heights: np.ndarray, turn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How a turn moves points in the image: seen = linear (T, 2, 2) @ point + offset (T, N, 2), for points that
    stand `heights` (N,) out toward the camera. The image's axes are OpenCV's: depth toward the camera is -z."""
    r = rotation(np.degrees(turn[:, 0]), np.degrees(turn[:, 1]), 0.0)  # (T, 3, 3)
    pivot = np.array([PIVOT[0], PIVOT[1], -PIVOT[2]])
    z = -np.asarray(heights, np.float64) - pivot[2]  # (N,) about the pivot
    offset = (pivot[:2] - r[:, :2, :2] @ pivot[:2])[:, None, :] + r[:, None, :2, 2] * z[None, :, None]
    return r[:, :2, :2], offset


def _decompose(shapes: np.ndarray, turned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split (T, 68, 2) face-unit shapes into the pose (T, 4) that takes each frame's turned neutral face
    `turned` (T, 68, 2) to it, and the shapes with their pose undone.

    The pose is the least-squares similarity (Umeyama 1991; in 2-D a complex ratio) from the turned neutral
    face's stable points to the frame's.
    """
    stable = list(STABLE)
    z = shapes[..., 0] + 1j * shapes[..., 1]  # (T, 68)
    z0 = turned[..., 0] + 1j * turned[..., 1]  # (T, 68)
    src = z0[:, stable] - z0[:, stable].mean(axis=1, keepdims=True)
    dst = z[:, stable] - z[:, stable].mean(axis=1, keepdims=True)
    ratio = (dst * np.conj(src)).sum(axis=1) / (np.abs(src) ** 2).sum(axis=1)  # scale * e^(i angle), (T,)
    shift = z[:, stable].mean(axis=1) - ratio * z0[:, stable].mean(axis=1)
    undone = (z - shift[:, None]) / ratio[:, None]
    pose = np.stack([np.abs(ratio), np.angle(ratio), shift.real, shift.imag], axis=1)
    return pose, np.stack([undone.real, undone.imag], axis=-1)


def _deadbanded(shapes: np.ndarray, band: float) -> np.ndarray:
    """(T, 68, 2) face units: each landmark's drift d from the first frame shrunk by a garrote, d (1 - band²/|d|²)
    where |d| > band and nothing below it.

    A detector's error is mostly slow (a bias that wanders with lighting and the face's small turns), which no
    low-pass removes: on a face that barely moves, the outline of the jaw and cheeks then wanders by a pixel or
    two against the background, and rendering that wander is worse than holding still (the shared clip_03 lost
    8% to the still frame). The garrote takes such drift out and leaves a real motion all but whole: a 0.25
    face-unit move loses 1%.
    """
    drift = shapes - shapes[:1]
    size = np.maximum(np.sum(drift * drift, axis=-1, keepdims=True), 1e-12)
    return shapes[:1] + drift * np.maximum(0.0, 1.0 - band ** 2 / size)


def _fill_gaps(points: np.ndarray) -> np.ndarray:
    """Frames without a face (NaN) take the nearest earlier face, or the first face for leading gaps."""
    found = ~np.isnan(points).any(axis=(1, 2))
    source = np.maximum.accumulate(np.where(found, np.arange(len(points)), -1))
    return points[np.where(source < 0, np.argmax(found), source)]


def _one_euro(x: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float = 1.0) -> np.ndarray:
    """One-Euro filter (Casiez et al. 2012) along axis 0: little lag when moving, little jitter when still."""

    def alpha(cutoff: np.ndarray | float) -> np.ndarray | float:
        return 1.0 / (1.0 + fps / (2 * math.pi * cutoff))

    out = np.empty_like(x)
    out[0] = x[0]
    speed = np.zeros_like(x[0])
    for i in range(1, len(x)):
        speed = speed + alpha(d_cutoff) * ((x[i] - out[i - 1]) * fps - speed)
        out[i] = out[i - 1] + alpha(min_cutoff + beta * np.abs(speed)) * (x[i] - out[i - 1])
    return out


def _ease(t: np.ndarray, start: float, length: float) -> np.ndarray:
    """0 before `start`, 1 after `start + length`, smoothstep between."""
    u = np.clip((t - start) / length, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _fade(t: np.ndarray) -> np.ndarray:
    """1 except in the first and last 0.3 s, so a preset starts (and ends) on the neutral face."""
    end = t[-1] + (t[1] - t[0] if len(t) > 1 else 0.0)
    return _ease(t, 0.0, 0.3) * (1 - _ease(t, end - 0.3, 0.3))


def _drift(t: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Slow, smooth random wandering: three sines of random frequency (0.1-0.5 Hz) and phase."""
    frequencies, phases = rng.uniform(0.1, 0.5, 3), rng.uniform(0, 2 * math.pi, 3)
    return amplitude / 3 * np.sin(2 * math.pi * frequencies * t[:, None] + phases).sum(axis=1)


def _offsets(t: np.ndarray, amount: np.ndarray, moves: dict[int, tuple[float, float]]) -> np.ndarray:
    """(T, 68, 2) offsets: landmark i moves by `moves[i]` (face units) times `amount` (T,)."""
    offsets = np.zeros((len(t), NUM_POINTS, 2))
    for index, move in moves.items():
        offsets[:, index] = amount[:, None] * move
    return offsets


def _idle(t: np.ndarray, rng: np.random.Generator, sway: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Breathing (a slow rise and fall, ~4 s a breath) and a faint sway of the head in 3-D: yaw, pitch and roll
    (up to about 2, 1.5 and 1 degrees, times `sway`)."""
    angles = sway * np.stack([_drift(t, rng, 2.0 * _DEG), _drift(t, rng, 1.5 * _DEG), _drift(t, rng, 1.0 * _DEG)],
                             axis=1)
    breath = 0.012 * np.sin(2 * math.pi * t / rng.uniform(3.5, 4.5) + rng.uniform(0, 2 * math.pi))
    offsets = np.zeros((len(t), NUM_POINTS, 2))
    offsets[..., 1] = breath[:, None]
    return angles * _fade(t)[:, None], offsets * _fade(t)[:, None, None]


def _speaker(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The idle of someone talking: the same breathing, and a head that moves more as it speaks, turning up to
    about 5 degrees either way and nodding a few."""
    return _idle(t, rng, sway=SPEAKER_SWAY)


def _glances(t: np.ndarray, seed: int) -> np.ndarray:
    """(T, 2) gaze: now and then (every 1.5-4 s) the eyes jump in 50 ms to a point up to 0.1 eye widths aside
    (0.035 up or down), fix there for 0.4-1.2 s, sometimes jump on to a second point, then come back to rest.
    Its own random stream (from `seed`), so adding glances left every other part of a preset as it was."""
    rng = np.random.default_rng((seed, 1))
    gaze = np.zeros((len(t), 2))
    start = rng.uniform(0.8, 2.0)
    while start < t[-1]:
        held, fixations = 0.0, 1 + int(rng.uniform() < 0.3)
        for _ in range(fixations):
            target, hold = rng.uniform(-1, 1, 2) * (0.1, 0.035), rng.uniform(0.4, 1.2)
            gaze += (_ease(t, start + held, 0.05) * (1 - _ease(t, start + held + hold, 0.05)))[:, None] * target
            held += hold
        start += held + rng.uniform(1.5, 4.0)
    return gaze * _fade(t)[:, None]


def _blink(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Blinks every 2-4.5 s, the first within the first second: lids shut in 70 ms and reopen in 150 ms."""
    closed = np.zeros(len(t))
    start = rng.uniform(0.4, 0.9)
    while start < t[-1]:
        shut = _ease(t, start, 0.07) * (1 - _ease(t, start + 0.1, 0.15))
        closed = np.maximum(closed, shut)
        start += rng.uniform(2.0, 4.5)
    # upper lids travel further than any eye is open: the lower lids stop them (see _stop_closing)
    moves = {37: (0, 0.2), 38: (0, 0.2), 43: (0, 0.2), 44: (0, 0.2), 40: (0, -0.01), 41: (0, -0.01),
             46: (0, -0.01), 47: (0, -0.01), 19: (0, 0.015), 24: (0, 0.015)}
    return np.zeros((len(t), 3)), _offsets(t, closed, moves)


def _nod(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Nodding yes: the head dips 7 degrees (chin down) and comes back, once a second."""
    pitch = 7 * _DEG * (1 - np.cos(2 * math.pi * t)) / 2 * _fade(t)
    return np.stack([np.zeros_like(t), pitch, np.zeros_like(t)], axis=1), np.zeros((len(t), NUM_POINTS, 2))


def _shake(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shaking no: the head turns 8 degrees either way, 1.2 times a second."""
    yaw = 8 * _DEG * np.sin(2 * math.pi * 1.2 * t) * _fade(t)
    return np.stack([yaw, np.zeros_like(t), np.zeros_like(t)], axis=1), np.zeros((len(t), NUM_POINTS, 2))


def _smile(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A smile that grows over 0.6 s, holds, and fades before the end: corners out and up, lips parted a
    little (showing the upper teeth), lower lids and cheeks raised."""
    end = t[-1]
    amount = _ease(t, 0.2, 0.6) * (1 - _ease(t, end - 0.8, 0.6)) if end > 1.6 else _ease(t, 0.0, max(end, 1e-3))
    moves = {48: (-0.09, -0.07), 54: (0.09, -0.07), 60: (-0.08, -0.06), 64: (0.08, -0.06),
             49: (-0.05, -0.04), 53: (0.05, -0.04), 50: (-0.02, -0.02), 52: (0.02, -0.02), 51: (0, -0.015),
             59: (-0.06, -0.03), 55: (0.06, -0.03), 58: (-0.03, 0.0), 56: (0.03, 0.0), 57: (0, 0.01),
             61: (-0.03, -0.025), 62: (0, -0.02), 63: (0.03, -0.025), 67: (-0.03, 0.03), 66: (0, 0.04),
             65: (0.03, 0.03), 40: (0, -0.015), 41: (0, -0.015), 46: (0, -0.015), 47: (0, -0.015),
             3: (-0.01, -0.02), 13: (0.01, -0.02), 31: (-0.01, -0.01), 35: (0.01, -0.01)}
    return np.zeros((len(t), 3)), _offsets(t, amount, moves)


def _speak(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Speech-like mouth motion: phrases of 4-8 syllables (each 140-280 ms, opening the jaw by a random
    amount, up to 0.2 face units) separated by 0.25-0.6 s pauses; the mouth narrows a little as it opens."""
    jaw = np.zeros(len(t))
    start = rng.uniform(0.1, 0.3)
    while start < t[-1]:
        for _ in range(rng.integers(4, 9)):
            length, depth = rng.uniform(0.14, 0.28), rng.uniform(0.3, 1.0)
            inside = (t >= start) & (t < start + length)
            jaw[inside] = np.maximum(jaw[inside], depth * np.sin(math.pi * (t[inside] - start) / length) ** 2)
            start += length
        start += rng.uniform(0.25, 0.6)
    return np.zeros((len(t), 3)), _offsets(t, jaw, _JAW)


def _mouth(t: np.ndarray, mouth: Mouth) -> tuple[np.ndarray, np.ndarray]:
    """A speaking mouth's shape: the jaw dropped by `open`, the lips spread or rounded, pressed shut."""
    offsets = _offsets(t, mouth.open, _JAW) + _offsets(t, mouth.spread, _SPREAD) + _offsets(t, mouth.press, _PRESS)
    return np.zeros((len(t), 3)), offsets


# Landmark moves (face units) at full strength of a mouth part.
# The jaw dropping: the lower lip and the chin go down, the corners a little inwards.
_JAW = {65: (0, 0.19), 66: (0, 0.2), 67: (0, 0.19), 55: (0, 0.16), 56: (0, 0.175), 57: (0, 0.18),
        58: (0, 0.175), 59: (0, 0.16), 61: (0, -0.015), 62: (0, -0.02), 63: (0, -0.015),
        48: (0.02, 0.06), 54: (-0.02, 0.06), 60: (0.025, 0.065), 64: (-0.025, 0.065),
        4: (0, 0.04), 5: (0, 0.08), 6: (0, 0.12), 7: (0, 0.15), 8: (0, 0.16), 9: (0, 0.15), 10: (0, 0.12),
        11: (0, 0.08), 12: (0, 0.04)}
# The lips spread ("ee"): corners out, lips thinner. Negated, rounded ("oo"): corners in, lips taller.
_SPREAD = {48: (-0.06, -0.01), 54: (0.06, -0.01), 60: (-0.05, 0), 64: (0.05, 0), 49: (-0.03, 0.005),
           53: (0.03, 0.005), 59: (-0.03, -0.005), 55: (0.03, -0.005), 50: (-0.01, 0.01), 52: (0.01, 0.01),
           51: (0, 0.012), 56: (0.01, -0.01), 58: (-0.01, -0.01), 57: (0, -0.012), 61: (-0.02, 0), 63: (0.02, 0),
           65: (0.02, 0), 67: (-0.02, 0)}
# The lips pressed together ("p", "b", "m"): the inner lips meet (they stop at each other, see _stop_closing).
_PRESS = {61: (0, 0.03), 62: (0, 0.035), 63: (0, 0.03), 65: (0, -0.03), 66: (0, -0.035), 67: (0, -0.03),
          51: (0, 0.01), 57: (0, -0.01)}


_PARTS = {"idle": _idle, "speaker": _speaker, "blink": _blink, "nod": _nod, "shake": _shake, "smile": _smile,
          "speak": _speak}
