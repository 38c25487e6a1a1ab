"""The inside of an open mouth (engine/inner_mouth.py), on a photograph and two paintings: no black hole with a
hard edge, but the subject's own colours shading in from the lips, upper teeth right under the upper lip, lower
teeth only once the jaw has dropped, the source's blur and grain, and a source's own teeth kept."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import Identity, Motion, WarpConfig, WarpEngine, load_landmarks
from engine.faces import LEFT_EYE, RIGHT_EYE, face_frame
from engine.inner_mouth import mouth_outline
from engine.warp import targets

DATA = Path(__file__).parent / "data"
PORTRAITS = ("einstein_photo", "bouguereau_girl_small", "sargent_woman_in_black")  # photo, paintings
SIZE = 512  # the mouth is ~60 px wide: bands a few px deep hold enough pixels to count
LOWER_LIP, JAW = (55, 56, 57, 58, 59, 65, 66, 67), (5, 6, 7, 8, 9, 10, 11)


@pytest.fixture(scope="module")
def engine() -> WarpEngine:
    return WarpEngine(WarpConfig(size=SIZE))


@pytest.fixture(scope="module")
def identities(engine: WarpEngine) -> dict[str, Identity]:
    return {name: engine.prepare([DATA / f"{name}.jpg"], [DATA / f"{name}.landmarks.json"])
            for name in (*PORTRAITS, "astronaut")}


def jaw_drop(drops: np.ndarray) -> Motion:
    """A motion whose only move is the jaw dropping by `drops` (face units), frame by frame: the lower lip
    and the chin go down with it."""
    expression = np.zeros((len(drops), 68, 2))
    expression[:, list(LOWER_LIP), 1] = drops[:, None]
    expression[:, list(JAW), 1] = 0.8 * drops[:, None]
    return Motion(fps=25.0, pose=np.tile([1.0, 0.0, 0.0, 0.0], (len(drops), 1)), expression=expression)


def opened(engine: WarpEngine, identity: Identity, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """The frame, and its landmarks, of the mouth opened to `gap` mouth widths between the middle lips."""
    width = np.linalg.norm(identity.landmarks[64] - identity.landmarks[60])
    drop = gap * width / face_frame(identity.landmarks).scale
    motion = jaw_drop(np.array([0.0, drop]))
    return list(engine.render(identity, motion))[-1], targets(identity, motion)[-1, :68]


@pytest.mark.parametrize("portrait", PORTRAITS)
def test_an_open_mouth_has_no_black_and_no_hard_edge(engine: WarpEngine, identities: dict, portrait: str) -> None:
    identity = identities[portrait]
    frame, landmarks = opened(engine, identity, 0.45)
    luminance = _luminance(frame)
    lips = _luminance(identity.image[:SIZE])[_lips(identity.landmarks)].mean()
    cavity = _away_from_lips(landmarks, 0.1)
    assert cavity.sum() > 200
    assert luminance[cavity].min() > 0.3 * lips  # a dark cavity in the lips' colours, not a black hole
    step = _steps_across_outline(luminance, landmarks)
    assert np.percentile(step, 90) < 0.35 * lips  # the lips shade into the inside, they do not drop into it


@pytest.mark.parametrize("portrait", PORTRAITS)
def test_upper_teeth_show_right_under_the_upper_lip(engine: WarpEngine, identities: dict, portrait: str) -> None:
    identity = identities[portrait]
    for gap in (0.15, 0.45):
        frame, landmarks = opened(engine, identity, gap)
        assert _teeth_share(frame, identity, _band(landmarks, upper=True)) > 0.6, gap


@pytest.mark.parametrize("portrait", PORTRAITS)
def test_lower_teeth_show_only_once_the_jaw_drops(engine: WarpEngine, identities: dict, portrait: str) -> None:
    identity = identities[portrait]
    frame, landmarks = opened(engine, identity, 0.25)  # past the upper teeth, short of the lower
    assert _teeth_share(frame, identity, _band(landmarks, upper=False)) < 0.1
    frame, landmarks = opened(engine, identity, 0.5)
    assert _teeth_share(frame, identity, _band(landmarks, upper=False)) > 0.25


def test_teeth_behind_dark_glasses_do_not_take_a_bright_walls_colour(engine: WarpEngine, tmp_path: Path) -> None:
    """Where the eyes' whites can't be read (here: painted darker than the skin, as behind tinted glasses), the
    teeth come from the face's own skin, not from the picture's brightest colours (here: a yellow wooden wall)."""
    image = cv2.imread(str(DATA / "einstein_photo.jpg"))
    landmarks = load_landmarks(DATA / "einstein_photo.landmarks.json")[0]
    for eye in (RIGHT_EYE, LEFT_EYE):
        cv2.fillPoly(image, [cv2.convexHull(np.round(landmarks[list(eye)]).astype(np.int32)).reshape(-1, 2)],
                     (40, 40, 40))
    face = cv2.convexHull(np.round(landmarks[:27]).astype(np.int32))
    wall = np.ones(image.shape[:2], np.uint8)
    cv2.fillPoly(wall, [face], 0)
    wall = cv2.erode(wall, np.ones((61, 61), np.uint8)) > 0  # beside and above the head
    wall[int(landmarks[8, 1]):] = False
    image[wall] = (120, 210, 255)  # BGR: a yellow wooden wall
    cv2.imwrite(str(tmp_path / "glasses.png"), image)
    identity = engine.prepare([tmp_path / "glasses.png"], [DATA / "einstein_photo.landmarks.json"])
    frame, landmarks = opened(engine, identity, 0.3)
    assert _teeth_share(frame, identity, _band(landmarks, upper=True)) > 0.6


def test_the_inside_takes_the_source_blur_and_grain(engine: WarpEngine) -> None:
    image = cv2.cvtColor(cv2.imread(str(DATA / "bouguereau_girl_small.jpg")), cv2.COLOR_BGR2RGB)
    noise = np.random.default_rng(0).normal(0.0, 12.0, image.shape)
    looks = {"as is": image, "blurred": cv2.GaussianBlur(image, (0, 0), 2.0),
             "grainy": np.clip(image + noise, 0, 255).astype(np.uint8)}
    sharpness, grain = {}, {}
    for name, source in looks.items():
        identity = engine.prepare([source], [DATA / "bouguereau_girl_small.landmarks.json"])
        frame, landmarks = opened(engine, identity, 0.45)
        luminance = _luminance(frame)
        slope = np.hypot(cv2.Sobel(luminance, cv2.CV_64F, 1, 0), cv2.Sobel(luminance, cv2.CV_64F, 0, 1))
        sharpness[name] = np.percentile(slope[_away_from_lips(landmarks, 0.02)], 95)  # the teeth's edges
        cavity = _away_from_lips(landmarks, 0.15)
        grain[name] = (luminance - cv2.GaussianBlur(luminance, (0, 0), 1.0))[cavity].std()
    assert sharpness["blurred"] < 0.7 * sharpness["as is"]  # as soft as the source
    assert grain["grainy"] > 1.3 * grain["as is"]  # and as grainy


def test_a_smile_keeps_its_own_teeth_under_the_upper_lip(engine: WarpEngine, identities: dict) -> None:
    identity = identities["astronaut"]
    source = identity.image[:SIZE]
    frame, landmarks = opened(engine, identity, 0.45)
    shift = np.round(landmarks[62] - identity.landmarks[62]).astype(int)
    teeth = _band(identity.landmarks, upper=True, depth=0.12)
    moved = np.roll(teeth, tuple(shift[::-1]), axis=(0, 1))
    assert np.abs(frame[moved].astype(int) - source[teeth]).mean() < 12  # the same teeth, hanging from the lip
    below = _band(landmarks, upper=True, depth=0.3) & ~_band(landmarks, upper=True, depth=0.2)
    assert _luminance(frame)[below].mean() < 0.5 * _luminance(source)[teeth].mean()  # the mouth opens below them


# helpers


def _luminance(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)


def _fill(points: np.ndarray) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask


def _lips(landmarks: np.ndarray) -> np.ndarray:
    return (_fill(landmarks[48:60]) > 0) & (_fill(landmarks[60:68]) == 0)


def _away_from_lips(landmarks: np.ndarray, depth: float) -> np.ndarray:
    """The mouth opening, at least `depth` mouth widths from either lip: its cavity (a moustache over the
    upper lip may rightly shade the opening's edge darker than anything)."""
    outline = mouth_outline(landmarks, samples=8)
    half = len(outline) // 2
    upper, lower = outline[:half + 1], outline[np.r_[0, len(outline) - 1:half - 1:-1]]
    reach = depth * (landmarks[64, 0] - landmarks[60, 0])
    ys, xs = np.mgrid[:SIZE, :SIZE]
    below = ys - np.interp(xs, upper[:, 0], upper[:, 1]) >= reach
    above = np.interp(xs, lower[:, 0], lower[:, 1]) - ys >= reach
    return below & above & (_fill(outline) > 0)


def _steps_across_outline(luminance: np.ndarray, landmarks: np.ndarray, reach: float = 1.5) -> np.ndarray:
    """How much darker it is `reach` px inside the opening's outline than `reach` px outside, at each outline
    point away from the corners: how hard the step from the lips down into the inside is."""
    outline = mouth_outline(landmarks, samples=8)
    centre = outline.mean(axis=0)
    tangent = np.roll(outline, -1, axis=0) - np.roll(outline, 1, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    normal *= np.sign(((outline - centre) * normal).sum(axis=1))[:, None]  # outward
    across = (outline[:, 0] - landmarks[60, 0]) / (landmarks[64, 0] - landmarks[60, 0])
    keep = (across > 0.2) & (across < 0.8)

    def sample(points: np.ndarray) -> np.ndarray:
        xy = points.astype(np.float32)[None]
        return cv2.remap(luminance.astype(np.float32), xy[..., 0], xy[..., 1], cv2.INTER_LINEAR)[0]

    return np.maximum(sample(outline + reach * normal) - sample(outline - reach * normal), 0)[keep]


def _band(landmarks: np.ndarray, *, upper: bool, depth: float = 0.07) -> np.ndarray:
    """The middle third of the mouth, from 1.5 px to `depth` mouth widths below the upper inner lip (or
    above the lower), inside the opening."""
    outline = mouth_outline(landmarks, samples=8)
    half = len(outline) // 2
    lip = outline[:half + 1] if upper else outline[np.r_[0, len(outline) - 1:half - 1:-1]]
    width = landmarks[64, 0] - landmarks[60, 0]
    ys, xs = np.mgrid[:SIZE, :SIZE]
    edge = np.interp(xs, lip[:, 0], lip[:, 1])
    away = (ys - edge) if upper else (edge - ys)
    middle = np.abs(xs - (landmarks[60, 0] + landmarks[64, 0]) / 2) < width / 6
    return middle & (away >= 1.5) & (away <= depth * width) & (_fill(mouth_outline(landmarks)) > 0)


def _teeth_share(frame: np.ndarray, identity: Identity, band: np.ndarray) -> float:
    """The share of `band`'s pixels that are teeth-coloured: lighter than the lips, and under 0.6 of their
    saturation."""
    source = identity.image[:SIZE]
    lips = _lips(identity.landmarks)
    saturation = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float64)
    lip_saturation = cv2.cvtColor(source, cv2.COLOR_RGB2HSV)[..., 1][lips].mean()
    lip_light = _luminance(source)[lips].mean()
    teeth = (_luminance(frame) > lip_light) & (saturation < 0.6 * lip_saturation)
    assert band.sum() >= 8
    return float(teeth[band].mean())
