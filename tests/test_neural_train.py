"""Meta-learning the neural engine on tiny data, on the CPU: episodes, losses, overfitting, exact resumption,
checkpoints that refuse to be misused, and the guards against known failure modes."""

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import BadCheckpoint, TrainingDiverged, read_track
from engine.crop import crop_square, square, to_crop_coordinates
from engine.neural import ModelConfig, TrainConfig, checkpoint
from engine.neural.data import Clip, episode, load_clips
from engine.neural.landmarks import landmark_images, to_tensor
from engine.neural.losses import PIXEL, ContentLoss, LossWeights
from engine.neural.train import gan_step, meta_learn
from provenance.video import read_frames, write_mp4

DATA = Path(__file__).parent / "data"
TINY = ModelConfig(size=32, base=8, max_channels=32, g_downs=2, res_blocks=1)
QUICK = TrainConfig(steps=3, k=2, batch=2, lr_eg=5e-4, lr_d=2e-3, save_every=1000)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_an_episode_is_k_frames_and_a_target_from_one_video(talking_data: Path) -> None:
    clips = load_clips(talking_data, 32)
    assert len(clips) == 3 and clips[0].frames.shape == (16, 32, 32, 3) and clips[0].landmarks.shape == (16, 68, 2)
    batch = episode(clips, 4, 5, np.random.default_rng(1))
    assert batch.source_x.shape == batch.source_y.shape == (5, 4, 3, 32, 32)
    assert batch.x.shape == batch.y.shape == (5, 3, 32, 32) and batch.video.dtype == torch.int64
    for b, video in enumerate(batch.video.tolist()):
        frames = to_tensor(np.asarray(clips[video].frames))  # every frame of that video
        same = [int(torch.equal(frames[i], batch.x[b])) for i in range(len(frames))]
        assert sum(same) == 1 and not any(torch.equal(batch.x[b], s) for s in batch.source_x[b])


def test_the_target_is_any_frame_of_the_clip_not_the_latest() -> None:
    """Over 2,000 episodes of a 200-frame clip (K = 8) the target lands on nearly every frame, as often before
    some source as after all of them, with a mean index mid-clip: the sampled order is not sorted."""
    frames = np.broadcast_to(np.arange(200, dtype=np.uint8)[:, None, None, None], (200, 16, 16, 3))  # frame i is i
    clip = Clip(frames, np.zeros((200, 68, 2), np.float32))
    rng = np.random.default_rng(0)
    targets, after_all = [], 0
    for _ in range(2000):
        batch = episode([clip], 8, 1, rng)
        target, sources = round(float(batch.x[0, 0, 0, 0]) * 255), (batch.source_x[0, :, 0, 0, 0] * 255).round()
        assert target not in sources.tolist()
        targets.append(target)
        after_all += int(target > sources.max())
    assert len(set(targets)) > 190 and 80 < np.mean(targets) < 120
    assert after_all < 2000 / 9 * 1.3  # one in K + 1 by chance; sorted, it was every one


def test_meta_learning_lowers_the_losses_and_writes_its_checkpoint(trained: tuple[Path, list]) -> None:
    """Content, embedding match and D's loss fall; G's adversarial and feature-matching terms rise as D
    learns to tell, which is the game, not a failure."""
    path, history = trained
    first, last = history[:5], history[-5:]
    for name in ("content", "match", "d"):
        assert np.mean([h[name] for h in last]) < 0.8 * np.mean([h[name] for h in first]), name
    assert all(h["g_applied"] and h["d_applied"] for h in history)
    state = checkpoint.load(path)
    assert state["step"] == 30 and state["content"] == PIXEL and state["model"] == vars(TINY)
    assert state["data"]["videos"] == 3 and state["data"]["frames"] == [16, 16, 16] and state["library"]
    assert TrainConfig.from_dict(state["train"]).lr_eg == 5e-4


def test_overfitting_one_clip_reconstructs_its_held_out_frames(tmp_path: Path) -> None:
    """A 64x64 model trained on three frames in four of a real talking clip paints the fourth better than
    after its first step."""
    frames, track = list(read_frames(DATA / "talking_clip.mp4")), read_track(DATA / "talking_clip.landmarks.json")
    held = np.arange(len(frames)) % 4 == 0
    folder = tmp_path / "clip"
    folder.mkdir()
    write_mp4([f for f, h in zip(frames, held, strict=True) if not h], folder / "clip.mp4", fps=15, crf=12)
    (folder / "clip.landmarks.json").write_text(json.dumps(
        {"convention": "ibug68", "fps": 15.0, "frames": track.points[~held].tolist()}))
    box = square(np.median(track.points[~held], axis=0))  # the square the training data is cut to
    truth = to_tensor(np.stack([crop_square(f, box, 64)[0] for f, h in zip(frames, held, strict=True) if h]))
    y = landmark_images(to_crop_coordinates(track.points[held], box, 64), 64)
    config = TrainConfig(steps=1, k=4, batch=2, lr_eg=1e-3, lr_d=2e-3, save_every=1000)
    model = ModelConfig(size=64, base=8, max_channels=32, g_downs=2, res_blocks=1)
    out = tmp_path / "clip.pt"
    meta_learn(folder, out, config, model)
    before = _held_out_error(out, folder, y, truth)
    meta_learn(folder, out, replace(config, steps=30), resume=True)
    after = _held_out_error(out, folder, y, truth)
    assert after < 0.6 * before, (before, after)


def test_a_resumed_run_takes_the_same_next_step(talking_data: Path, tmp_path: Path) -> None:
    whole = meta_learn(talking_data, tmp_path / "whole.pt", QUICK, TINY)
    first = meta_learn(talking_data, tmp_path / "split.pt", replace(QUICK, steps=2), TINY)
    rest = meta_learn(talking_data, tmp_path / "split.pt", QUICK, resume=True)
    assert first == whole[:2] and rest == whole[2:]  # exactly: model, optimizers, data stream and RNG restored
    assert checkpoint.load(tmp_path / "split.pt")["step"] == 3


def test_mismatched_checkpoints_are_refused_in_one_line(talking_data: Path, trained: tuple[Path, list],
                                                        tmp_path: Path) -> None:
    path, _ = trained
    state = dict(torch.load(path, weights_only=True))
    cases = {
        "garbage": (lambda p: p.write_bytes(b"PK\x03\x04 not really"), "not a Sitter neural checkpoint"),
        "other torch file": (lambda p: torch.save({"weights": torch.zeros(2)}, p), "not one Sitter wrote"),
        "newer format": (lambda p: torch.save({**state, "format": 99, "library": "9.0"}, p),
                         "checkpoint format 99 (written by Sitter 9.0)"),
        "edited config": (lambda p: torch.save({**state, "model": {**state["model"], "base": 16}}, p),
                          "embedder weights do not fit its model settings"),
    }
    for name, (make, message) in cases.items():
        bad = tmp_path / f"{name}.pt"
        make(bad)
        with pytest.raises(BadCheckpoint, match=re.escape(message)) as caught:
            checkpoint.networks(checkpoint.load(bad))
        assert "\n" not in str(caught.value), name
    resumed = tmp_path / "resumed.pt"
    resumed.write_bytes(path.read_bytes())
    with pytest.raises(BadCheckpoint, match="the checkpoint's model has size=32, this run asks size=64"):
        meta_learn(talking_data, resumed, QUICK, replace(TINY, size=64), resume=True)
    other = tmp_path / "other"
    other.mkdir()
    for video in sorted(talking_data.glob("person_*"))[:4]:  # two of the three people
        (other / video.name).write_bytes(video.read_bytes())
    with pytest.raises(BadCheckpoint, match="trained on other videos"):
        meta_learn(other, resumed, QUICK, resume=True)
    with pytest.raises(BadCheckpoint, match="already at the output path"):
        meta_learn(talking_data, resumed, QUICK, TINY)


def test_training_runs_when_a_library_switched_autograd_off(talking_data: Path, tmp_path: Path) -> None:
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)  # what face-alignment once did, globally
    try:
        history = meta_learn(talking_data, tmp_path / "no-grad.pt", replace(QUICK, steps=2), TINY)
    finally:
        torch.set_grad_enabled(previous)
    assert all(h["g_applied"] and h["d_applied"] for h in history)


def test_d_is_updated_twice_per_g_update_by_default() -> None:
    from engine.neural.model import Discriminator, Generator

    torch.manual_seed(0)
    g, d = Generator(TINY), Discriminator(TINY, 1)
    x, y, psi = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.zeros(2, g.psi_size)
    for d_steps, expected in ((TrainConfig().d_steps, 2), (1, 1), (3, 3)):
        optimizers = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
        counts = [0, 0]
        for i, optimizer in enumerate(optimizers):
            optimizer.register_step_post_hook(lambda *_, i=i, c=counts: c.__setitem__(i, c[i] + 1))
        gan_step(g, d, optimizers, x, y, psi, lambda: d.projection(torch.tensor([0, 0])),
                 lambda fake, real: (fake - real).abs().mean(), LossWeights(), 10.0, d_steps=d_steps)
        assert counts == [1, expected], d_steps


def test_non_finite_losses_skip_the_update_then_stop_training(talking_data: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.neural.model import Discriminator, Generator

    torch.manual_seed(0)
    g, d = Generator(TINY), Discriminator(TINY, 1)
    before = [p.detach().clone() for p in g.parameters()]
    optimizers = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    psi = torch.zeros(2, g.psi_size)
    losses = gan_step(g, d, optimizers, x, y, psi, lambda: d.projection(torch.tensor([0, 0])),
                      lambda fake, real: fake.sum() * float("nan"), LossWeights(), 10.0, d_steps=1)
    assert losses["g_applied"] == 0.0 and losses["d_applied"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, g.parameters(), strict=True))

    class Poisoned(ContentLoss):
        def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
            return super().forward(fake, real) * float("nan")

    monkeypatch.setattr("engine.neural.train.ContentLoss", Poisoned)
    with pytest.raises(TrainingDiverged, match="at step 3: the gradients were not finite for 3 steps in a row"):
        meta_learn(talking_data, tmp_path / "nan.pt", replace(QUICK, steps=10, max_bad_steps=3), TINY)
    assert not (tmp_path / "nan.pt").exists()


# helpers


def _held_out_error(path: Path, folder: Path, y: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean absolute pixel error of G painting the held-out frames' landmarks `y` for the person embedded
    from eight of the training frames."""
    embedder, generator, _ = (net.eval() for net in checkpoint.networks(checkpoint.load(path)))
    clip = load_clips(folder, 64)[0]
    picks = np.linspace(0, len(clip.frames) - 1, 8).astype(int)
    with torch.no_grad():
        e = embedder(to_tensor(np.asarray(clip.frames[picks]))[None], landmark_images(clip.landmarks[picks], 64)[None])
        painted = generator(y, generator.project(e).expand(len(y), -1))
    return float((painted - truth).abs().mean())
