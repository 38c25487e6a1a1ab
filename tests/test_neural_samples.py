"""Training samples (engine/neural/samples.py): the grids a run writes, held-out identities kept out of D,
the identity-collapse check on real faces, and samples that leave the training nets as they were."""

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine import BadCheckpoint, load_landmarks
from engine.crop import crop_square, square
from engine.neural import ModelConfig, TrainConfig, checkpoint
from engine.neural.data import load_clips
from engine.neural.landmarks import to_tensor
from engine.neural.losses import ContentLoss, LossWeights
from engine.neural.model import Discriminator, Embedder, Generator
from engine.neural.samples import check_identities, draw_samples, hold_out, identity_spread, sample_set
from engine.neural.train import meta_learn

DATA = Path(__file__).parent / "data"
TINY = ModelConfig(size=32, base=8, max_channels=32, g_downs=2, res_blocks=1)
QUICK = TrainConfig(steps=2, k=2, batch=2, lr_eg=5e-4, lr_d=2e-3, save_every=1000, sample_every=1,
                    sample_finetune_steps=2)
PORTRAITS = ("einstein_photo", "astronaut", "sargent_woman_in_black", "bouguereau_girl_small",
             "terracotta_warrior_small")

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_run_writes_a_grid_of_held_out_identities_every_n_steps(talking_data: Path, tmp_path: Path) -> None:
    """Ten videos, two held out: D gets eight columns, and each step's grid has the two held-out identities'
    rows of four 32 px images (source, real, FF, FT) that decode and are not flat."""
    folder = tmp_path / "ten"
    folder.mkdir()
    videos = sorted(talking_data.glob("person_*.mp4"))
    for i in range(10):
        video = videos[i % len(videos)]
        shutil.copy(video, folder / f"v{i:02d}.mp4")
        shutil.copy(video.with_name(video.stem + ".landmarks.json"), folder / f"v{i:02d}.landmarks.json")
    out = tmp_path / "heads.pt"
    meta_learn(folder, out, QUICK, TINY)
    state = checkpoint.load(out)
    assert state["data"]["videos"] == 8 and state["data"]["held_out"] == 2
    assert state["discriminator"]["W"].shape[0] == 8
    grids = sorted((tmp_path / "heads.pt.samples").iterdir())
    assert [p.name for p in grids] == ["step_000001-held-out.png", "step_000002-held-out.png"]
    for path in grids:
        grid = cv2.imread(str(path))
        assert grid.shape == (2 * 32, 4 * 32, 3) and grid.std() > 10, path.name
    with pytest.raises(BadCheckpoint, match="held 2 identities out of training, this run would hold 0"):
        meta_learn(folder, out, replace(QUICK, steps=3, holdout=0), resume=True)


def test_with_few_videos_the_samples_are_training_identities(sitter, talking_data: Path, tmp_path: Path) -> None:
    """Three videos are too few to hold two out: all three train, and `sitter train` samples the first two,
    naming them by index in the log and the file names by what they are."""
    out = tmp_path / "heads.pt"
    result = sitter("train", "--data", talking_data, "--out", out, "--k", "2", "--steps", "2", "--size", "32",
                    "--base-channels", "8", "--max-channels", "32", "--res-blocks", "1", "--g-downs", "2",
                    "--sample-every", "2", "--holdout", "2")
    assert result.exit_code == 0, result.output
    assert "samples: identities 0, 1, training identities (too few videos to hold any out)" in result.output
    data = checkpoint.load(out)["data"]
    assert data["videos"] == 3 and data["held_out"] == 0
    grids = list((tmp_path / "heads.pt.samples").iterdir())
    assert [p.name for p in grids] == ["step_000002-training.png"]
    assert cv2.imread(str(grids[0])).shape == (2 * 32, 4 * 32, 3)


def test_drawing_samples_leaves_the_training_nets_as_they_were(talking_data: Path, tmp_path: Path) -> None:
    """Weights and buffers (spectral norm's power-iteration vectors too) are unchanged and the nets are still
    in training mode; FT, which trained copies, painted something other than FF; TensorBoard gets the grid."""
    clips = load_clips(talking_data, 32)
    torch.manual_seed(0)
    nets = Embedder(TINY), Generator(TINY), Discriminator(TINY, len(clips))
    before = [{k: v.clone() for k, v in net.state_dict().items()} for net in nets]
    writer = _Writer()
    shown = sample_set(*hold_out(clips, 2), 2, torch.device("cpu"))
    ratio = draw_samples(nets, shown, ContentLoss(LossWeights()), QUICK, 5, tmp_path, writer)
    for net, saved in zip(nets, before, strict=True):
        assert net.training
        assert all(torch.equal(saved[k], v) for k, v in net.state_dict().items()), type(net).__name__
    grid = cv2.cvtColor(cv2.imread(str(tmp_path / "step_000005-training.png")), cv2.COLOR_BGR2RGB)
    ff, ft = grid[:, 64:96].astype(int), grid[:, 96:128].astype(int)
    assert np.abs(ff - ft).mean() > 1
    assert np.array_equal(grid[:32, 32:64], np.round(shown.frames.x[0].permute(1, 2, 0).numpy() * 255))
    [(tag, image, step)] = writer.images
    assert tag == "samples/training" and step == 5 and image.shape == (64, 128, 3) and 0 <= image.min() <= 1
    assert np.isfinite(ratio)


def test_a_run_with_samples_trains_exactly_as_one_without(talking_data: Path, tmp_path: Path) -> None:
    with_samples = meta_learn(talking_data, tmp_path / "with.pt", QUICK, TINY)
    without = meta_learn(talking_data, tmp_path / "without.pt", replace(QUICK, sample_every=0), TINY)
    assert with_samples == without and (tmp_path / "with.pt.samples").is_dir()
    assert not (tmp_path / "without.pt.samples").exists()


def test_identity_collapse_is_warned_of_and_distinct_faces_are_not(caplog: pytest.LogCaptureFixture) -> None:
    faces = _portraits()
    with caplog.at_level(logging.WARNING, logger="engine.neural.samples"):
        assert check_identities(faces, faces, 7) == pytest.approx(1.0)
        assert not caplog.records
        same = faces[:1].expand(2, -1, -1, -1)  # one face painted for two different people
        assert check_identities(same, faces[:2], 7) == 0.0
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == ("identity collapse at step 7: outputs for different identities differ by 0 of "
                                   "what their real frames do")


def test_the_spread_is_the_share_of_the_real_faces_differences() -> None:
    """Faces blended halfway towards their mean differ by half as much as the faces."""
    faces = _portraits()
    assert identity_spread(0.5 * faces + 0.5 * faces.mean(0), faces) == pytest.approx(0.5, rel=1e-5)


# helpers


def _portraits() -> torch.Tensor:
    """(5, 3, 64, 64) the face squares of five real portraits of different people."""
    crops = []
    for name in PORTRAITS:
        image = cv2.cvtColor(cv2.imread(str(DATA / f"{name}.jpg")), cv2.COLOR_BGR2RGB)
        crops.append(crop_square(image, square(load_landmarks(DATA / f"{name}.landmarks.json")[0]), 64)[0])
    return to_tensor(np.stack(crops))


class _Writer:
    """Stands in for TensorBoard's SummaryWriter (not installed here): what add_image was given."""

    def __init__(self) -> None:
        self.images = []

    def add_image(self, tag: str, image: np.ndarray, step: int, dataformats: str) -> None:
        assert dataformats == "HWC"
        self.images.append((tag, image, step))
