"""The invisible watermark on a real portrait: round trip, the attacks it must survive, quality,
and that it never reports a wrong id."""

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from copies import transcode

from provenance.errors import FrameTooSmall, UnreadableMedia
from provenance.video import read_frames, write_mp4
from provenance.watermark import (
    ALGORITHM,
    LOW_BAND_PSNR_DB,
    MIN_PSNR_DB,
    SHAPED_PSNR_DB,
    V1,
    V2,
    V3,
    Watermarker,
    WatermarkReading,
    format_watermark_id,
    new_watermark_id,
    read_watermark,
    watermark_frames,
)

DATA = Path(__file__).parent / "data"
WM_ID = 0x5177E4A1
FPS = 25


# helpers


def sway(image: np.ndarray, count: int) -> list[np.ndarray]:
    """A still portrait that sways and breathes a little: a stand-in for a rendered clip."""
    height, width = image.shape[:2]
    frames = []
    for i in range(count):
        phase = 2 * np.pi * i / count
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 2 * np.sin(phase), 1.03 + 0.02 * np.sin(2 * phase))
        matrix[:, 2] += (4 * np.sin(phase), 3 * np.cos(phase))
        frames.append(cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT))
    return frames


def psnr(marked: np.ndarray, original: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((marked.astype(np.float64) - original) ** 2)))


def resize(frames: list[np.ndarray], factor: float) -> list[np.ndarray]:
    height, width = frames[0].shape[:2]
    size = (int(width * factor) // 2 * 2, int(height * factor) // 2 * 2)
    return [cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in frames]


def center_crop(frames: list[np.ndarray], keep: float) -> list[np.ndarray]:
    height, width = frames[0].shape[:2]
    new_h, new_w = int(height * keep) // 2 * 2, int(width * keep) // 2 * 2
    top, left = (height - new_h) // 2, (width - new_w) // 2
    return [frame[top:top + new_h, left:left + new_w] for frame in frames]


def local_deviation(frame: np.ndarray) -> np.ndarray:
    """7x7 standard deviation of luma: under 1.5 levels a region is flat (the issue's measure)."""
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(luma, (7, 7))
    return np.sqrt(np.maximum(cv2.blur(luma * luma, (7, 7)) - mean * mean, 0))


def on_a_wall(image: np.ndarray) -> np.ndarray:
    """A portrait hanging on a plain, faintly shaded wall, 512x512: the background where a mark shows."""
    wall = np.float32([196, 186, 170]) + np.linspace(-6, 6, 512, dtype=np.float32)[:, None, None]
    frame = np.clip(wall + np.zeros((512, 512, 3), np.float32), 0, 255).astype(np.uint8)
    frame[120:380, 156:356] = cv2.resize(image, (200, 260), interpolation=cv2.INTER_AREA)
    return frame


def reencode(frames: list[np.ndarray], path: Path, crf: int = 23, fps: float = FPS) -> Path:
    write_mp4(frames, path, fps, crf=crf)
    return path


# fixtures


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """Four seconds (100 frames, 374x500) of the Einstein portrait in tests/data, swaying."""
    image = cv2.cvtColor(cv2.imread(str(DATA / "einstein_photo.jpg")), cv2.COLOR_BGR2RGB)
    return sway(image[:, :374], 4 * FPS)


@pytest.fixture(scope="module")
def marked(clip: list[np.ndarray]) -> list[np.ndarray]:
    return list(watermark_frames(clip, WM_ID))


@pytest.fixture(scope="module")
def delivered(marked: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """The marked clip as Sitter delivers it (H.264, CRF 18), decoded again."""
    path = reencode(marked, tmp_path_factory.mktemp("wm") / "output.mp4", crf=18)
    return list(read_frames(path))


def assert_reads(reading: WatermarkReading, wm_id: int = WM_ID) -> None:
    assert reading.found, reading
    assert reading.wm_id == wm_id, f"read {reading.wm_id:08x}, marked {wm_id:08x}"


# round trip and quality


def test_round_trip_on_a_portrait(marked: list[np.ndarray]) -> None:
    reading = read_watermark(marked)
    assert_reads(reading)
    assert reading.frames_examined >= 16
    assert reading.frames_decoded == reading.frames_examined  # every frame carries the whole id
    assert min(reading.per_frame_scores) > 0.99
    assert reading.confidence > 0.9


def test_every_frame_keeps_psnr_40_db(clip: list[np.ndarray], marked: list[np.ndarray]) -> None:
    assert min(psnr(m, c) for m, c in zip(marked, clip, strict=True)) >= MIN_PSNR_DB
    noise = np.random.default_rng(1).integers(0, 256, (300, 420, 3), dtype=np.uint8)
    assert psnr(Watermarker(WM_ID).embed(noise), noise) >= MIN_PSNR_DB
    for algorithm, cap in ((V2, SHAPED_PSNR_DB), (V3, LOW_BAND_PSNR_DB)):  # the shaped versions' own caps
        shaped = Watermarker(WM_ID, algorithm)
        assert min(psnr(shaped.embed(c), c) for c in clip) >= cap
        assert psnr(shaped.embed(noise), noise) >= cap  # texture everywhere: the cap holds


def test_a_flat_background_carries_almost_nothing(clip: list[np.ndarray]) -> None:
    """On a plain wall the mark stays under 0.8 levels RMS; the portrait's texture carries it. The first
    version put 2.45 levels everywhere, which showed as a mottle."""
    frame = on_a_wall(clip[0])
    flat = local_deviation(frame) < 1.5
    assert flat.mean() > 0.6
    for algorithm, flat_bound in ((V3, 0.8), (V2, 0.8), (V1, None)):
        mark = Watermarker(WM_ID, algorithm).embed(frame).astype(np.float32) - frame
        flat_rms, textured_rms = np.sqrt(np.mean(mark[flat] ** 2)), np.sqrt(np.mean(mark[~flat] ** 2))
        if flat_bound is None:
            assert flat_rms > 2.0  # the test can tell: the previous version fails it
        else:
            assert flat_rms < flat_bound and textured_rms > 3 * flat_rms


def test_marks_luma_only(clip: list[np.ndarray], marked: list[np.ndarray]) -> None:
    """The same change on R, G and B (where nothing clips): chroma subsampling cannot touch it."""
    delta = marked[0].astype(int) - clip[0]
    unclipped = (clip[0] > 20).all(axis=2) & (clip[0] < 235).all(axis=2)
    assert (delta[unclipped, 0] == delta[unclipped, 1]).all() and (delta[unclipped, 1] == delta[unclipped, 2]).all()
    assert np.abs(delta).max() > 0


def test_watermark_frames_is_lazy(clip: list[np.ndarray]) -> None:
    pulled = []

    def source() -> Iterator[np.ndarray]:
        for frame in clip:
            pulled.append(frame)
            yield frame

    out = watermark_frames(source(), WM_ID)
    next(out)
    assert len(pulled) == 1


# attacks


def test_reads_the_delivered_file(delivered: list[np.ndarray], tmp_path: Path) -> None:
    assert_reads(read_watermark(reencode(delivered, tmp_path / "output.mp4", crf=18)))


@pytest.mark.parametrize("crf", [23, 28])
def test_survives_h264_reencode(delivered: list[np.ndarray], tmp_path: Path, crf: int) -> None:
    assert_reads(read_watermark(reencode(delivered, tmp_path / "reencoded.mp4", crf=crf)))


@pytest.mark.parametrize("attack", ["downscale 0.5x", "crop 90%", "crop 90% rescaled", "downscale 0.5x, crop 90%"])
def test_survives_rescaling_and_cropping(delivered: list[np.ndarray], tmp_path: Path, attack: str) -> None:
    height, width = delivered[0].shape[:2]
    frames = {
        "downscale 0.5x": lambda: resize(delivered, 0.5),
        "crop 90%": lambda: center_crop(delivered, 0.9),
        "crop 90% rescaled": lambda: [cv2.resize(f, (width, height)) for f in center_crop(delivered, 0.9)],
        "downscale 0.5x, crop 90%": lambda: center_crop(resize(delivered, 0.5), 0.9),  # 168x224
    }[attack]()
    assert_reads(read_watermark(reencode(frames, tmp_path / "attacked.mp4")))


def test_survives_brightness_and_dropped_frames(delivered: list[np.ndarray], tmp_path: Path) -> None:
    brighter = [cv2.add(frame, np.full_like(frame, 20)) for frame in delivered]
    assert_reads(read_watermark(reencode(brighter, tmp_path / "bright.mp4")))
    fifteen_fps = [delivered[int(i * FPS / 15)] for i in range(len(delivered) * 15 // FPS)]
    assert_reads(read_watermark(reencode(fifteen_fps, tmp_path / "15fps.mp4", fps=15)))


def test_reads_a_mirrored_copy(delivered: list[np.ndarray], tmp_path: Path) -> None:
    """Flipped left to right, as social media shows a selfie."""
    mirrored = [np.ascontiguousarray(frame[:, ::-1]) for frame in delivered]
    assert_reads(read_watermark(reencode(mirrored, tmp_path / "mirrored.mp4")))


def test_a_clip_marked_by_any_version_reads(clip: list[np.ndarray], tmp_path: Path) -> None:
    """Renders wrote v1 until 2026-12-04 and write v3 now: a v1 clip, re-encoded since, still verifies, and the
    reader reads all three versions and says which."""
    assert ALGORITHM == V3 == "org.sitter.wm.tiled-dft.v3"
    marker = Watermarker(WM_ID, V1)
    old = list(read_frames(reencode([marker.embed(frame) for frame in clip], tmp_path / "v1.mp4", crf=18)))
    reading = read_watermark(reencode(old, tmp_path / "v1-reencoded.mp4", crf=28))
    assert_reads(reading)
    assert reading.algorithm == V1 == "org.sitter.wm.tiled-dft.v1"
    for algorithm in (V2, V3):
        shaped = Watermarker(WM_ID, algorithm)
        reading = read_watermark([shaped.embed(frame) for frame in clip[:20]])
        assert_reads(reading)
        assert reading.algorithm == algorithm != V1


def test_the_low_band_version_takes_the_pictures_own_interference_out(clip: list[np.ndarray]) -> None:
    """On a still portrait every coded bit of every v3 frame reads its sign: the embedder takes out what the
    picture itself puts on v3's carriers (one a bit). Left in, it flipped 3.6% of them on every frame."""
    still = [clip[0]] * 20
    marker = Watermarker(WM_ID, V3)
    reading = read_watermark([marker.embed(frame) for frame in still])
    assert_reads(reading)
    assert min(reading.per_frame_scores) == 1.0


def test_the_low_band_version_reads_a_screen_capture(clip: list[np.ndarray], tmp_path: Path) -> None:
    """Played on a screen and recorded (0.75x, a blur of sigma 1, noise of sigma 2, gamma 0.9, H.264 CRF 28):
    v3's carriers sit low enough for the blur to leave them; v2, the same shaping in v1's band, is lost (of the
    bench's 16 clips v1 reads 4 after it, v2 none)."""
    gamma = np.clip(255 * (np.arange(256) / 255) ** 0.9, 0, 255).astype(np.uint8)

    def captured(algorithm: str) -> Path:
        noise = np.random.default_rng(7)  # the same capture for each version
        marker = Watermarker(WM_ID, algorithm)
        sent = list(read_frames(reencode([marker.embed(frame) for frame in clip], tmp_path / "sent.mp4", crf=18)))
        shot = [cv2.LUT(np.clip(cv2.GaussianBlur(frame, (0, 0), 1.0) + noise.normal(0, 2, frame.shape), 0, 255)
                        .astype(np.uint8), gamma) for frame in resize(sent, 0.75)]
        return reencode(shot, tmp_path / "captured.mp4", crf=28)

    reading = read_watermark(captured(V3))
    assert_reads(reading)
    assert reading.algorithm == V3
    assert not read_watermark(captured(V2)).found


def test_the_low_band_version_reads_a_palette_gif_of_a_small_still_clip(tmp_path: Path) -> None:
    """The smallest render (256x256), still, copied to an animated GIF with FFmpeg's fixed 256-colour palette,
    whose dither puts fine noise of up to half a palette step on every pixel. It reads, and every frame on its
    own: the reader weighs the low band's pixels by their detail blurred by a pixel, not by the dither. Weighed
    by the dither, such a copy read once in six (three crops of this portrait, two ids)."""
    image = cv2.cvtColor(cv2.imread(str(DATA / "einstein_photo.jpg")), cv2.COLOR_BGR2RGB)
    still = np.ascontiguousarray(image[:256, 59:315])
    marker = Watermarker(WM_ID, V3)
    gif = transcode([marker.embed(still) for _ in range(10)], tmp_path / "copy.gif", "copy.gif")
    reading = read_watermark(gif)
    assert_reads(reading)
    assert reading.algorithm == V3 and min(reading.per_frame_scores) > 0.9


@pytest.mark.parametrize("angle", [3.0, -3.0])
def test_reads_a_tilted_copy(delivered: list[np.ndarray], tmp_path: Path, angle: float) -> None:
    """Turned by 3 degrees either way about the centre (a re-shot or a tilted edit), then re-encoded.
    Before the reader searched for a tilt, 1 degree was enough to lose the mark."""
    height, width = delivered[0].shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    tilted = [cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REFLECT) for frame in delivered]
    assert_reads(read_watermark(reencode(tilted, tmp_path / "tilted.mp4")))


@pytest.mark.parametrize("start", [0, 23, 50])
def test_any_two_second_cut_reads(delivered: list[np.ndarray], tmp_path: Path, start: int) -> None:
    cut = delivered[start:start + 2 * FPS]
    assert_reads(read_watermark(reencode(cut, tmp_path / "cut.mp4")))


def test_evidence_is_combined_across_frames(clip: list[np.ndarray], marked: list[np.ndarray]) -> None:
    """A clip that is marked only half the time (unmarked footage spliced in front) still reads."""
    reading = read_watermark(clip[:50] + marked[50:])
    assert_reads(reading)
    assert reading.frames_decoded < reading.frames_examined


# never a wrong id


def test_unmarked_frames_and_noise_read_as_unmarked(clip: list[np.ndarray], tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    frames = [
        *clip[::5],
        rng.integers(0, 256, (300, 300, 3), dtype=np.uint8),
        np.clip(rng.normal(128, 40, (256, 480, 3)), 0, 255).astype(np.uint8),
        cv2.GaussianBlur(rng.integers(0, 256, (400, 400, 3), dtype=np.uint8), (0, 0), 3),
        np.full((256, 256, 3), 128, np.uint8),
    ]
    for frame in frames:
        reading = read_watermark([frame])
        assert not reading.found and reading.wm_id is None, reading
    assert not read_watermark(clip).found
    assert not read_watermark(reencode(clip, tmp_path / "plain.mp4")).found
    assert not read_watermark([np.ascontiguousarray(frame[:, ::-1]) for frame in clip]).found  # the mirror pass


def test_a_mark_never_reads_as_another_id(clip: list[np.ndarray], tmp_path: Path) -> None:
    """Two marks on top of each other, or a mark attacked past recovery, read as one of the ids
    that are there or as unmarked, never as a third id."""
    other = WM_ID ^ 0x00FF00FF
    twice = list(watermark_frames(watermark_frames(clip[:50], WM_ID), other))
    assert read_watermark(twice).wm_id in (WM_ID, other, None)
    crushed = reencode(resize(list(watermark_frames(clip[:50], WM_ID)), 0.4), tmp_path / "crushed.mp4", crf=40)
    assert read_watermark(crushed).wm_id in (WM_ID, None)


def test_ids_from_other_renders_are_told_apart(clip: list[np.ndarray]) -> None:
    for wm_id in (0, 2**32 - 1, new_watermark_id()):
        assert_reads(read_watermark(watermark_frames(clip[:8], wm_id)), wm_id)


# the reference library


def test_survives_a_crop_that_defeats_invisible_watermark(clip: list[np.ndarray]) -> None:
    """invisible-watermark's dwtDctSvd (the design card's choice) loses its bits to a 90% crop of
    the same frame; ours reads the id from that one frame."""
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    bits = np.random.default_rng(3).integers(0, 2, 32).tolist()
    encoder = WatermarkEncoder()
    encoder.set_by_bits(bits)
    bgr = np.ascontiguousarray(clip[0][:, :, ::-1])
    theirs = center_crop([encoder.encode(bgr, "dwtDctSvd")], 0.9)[0]
    decoded = WatermarkDecoder("bits", 32).decode(np.ascontiguousarray(theirs), "dwtDctSvd")
    assert np.mean(np.array(decoded, int) == bits) < 0.8
    ours = center_crop([Watermarker(WM_ID).embed(clip[0])], 0.9)
    assert_reads(read_watermark(ours))


# the API's edges


def test_frames_under_256_are_refused() -> None:
    marker = Watermarker(WM_ID)
    with pytest.raises(FrameTooSmall):
        marker.embed(np.zeros((255, 400, 3), np.uint8))
    with pytest.raises(FrameTooSmall):
        marker.embed(np.zeros((400, 200, 3), np.uint8))
    assert marker.embed(np.zeros((256, 256, 3), np.uint8)).shape == (256, 256, 3)


def test_absence_is_data_and_bad_files_raise(tmp_path: Path) -> None:
    empty = read_watermark([])
    assert not empty.found and empty.frames_examined == 0
    tiny = read_watermark([np.zeros((40, 40, 3), np.uint8)])
    assert not tiny.found
    with pytest.raises(UnreadableMedia):
        read_watermark(tmp_path / "missing.mp4")
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(UnreadableMedia):
        read_watermark(str(tmp_path / "notes.mp4"))


def test_reading_to_dict(marked: list[np.ndarray]) -> None:
    reading = read_watermark(marked[:20])
    data = reading.to_dict()
    assert data["found"] is True and data["wm_id"] == format_watermark_id(WM_ID) == "5177e4a1"
    assert data["algorithm"] == ALGORITHM
    assert data["frames_examined"] == 20 == len(data["per_frame_scores"])
    unmarked = read_watermark([np.full((300, 300, 3), 90, np.uint8)]).to_dict()
    assert unmarked["found"] is False and unmarked["wm_id"] is None and unmarked["per_frame_scores"] == []


def test_ids() -> None:
    ids = {new_watermark_id() for _ in range(100)}
    assert len(ids) > 95 and all(0 <= i < 2**32 for i in ids)
    assert format_watermark_id(0xAB) == "000000ab"
    for bad in (-1, 2**32):
        with pytest.raises(ValueError):
            Watermarker(bad)
    with pytest.raises(ValueError, match="unknown watermark algorithm"):
        Watermarker(WM_ID, "org.sitter.wm.tiled-dft.v0")
