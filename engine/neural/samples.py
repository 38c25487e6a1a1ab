"""Seeing meta-learning work: every `sample_every` steps, a grid of what E and G make of a few identities,
and a check that G still tells identities apart.

A grid has one row per sampled identity: a source frame | the real target | FF | FT, each at the model's
size S, so the image is (rows * S, 4 * S) px. FF paints the target's landmarks with psi = P·ê, ê the mean
embedding of K of the identity's frames; FT first fine-tunes copies of G and D on those K frames for
`sample_finetune_steps` steps, as a render that fine-tunes does (engine/neural/engine.py), then paints. The
frames are the same at every step (data.fixed_episode), so grids from different steps compare. They go to
OUT.samples/step_NNNNNN-held-out.png (or -training.png, see below), and to TensorBoard when it logs.

The sampled identities are held out of training (`holdout`: the last videos by name, which D has no column
for), so a grid shows whether few-shot learning works for people training never saw. When that would leave
fewer than MIN_TRAINING videos to train on, none are held out: the samples are the first training
identities, which only show whether training fits them, and the file names and the log say so.

Identity collapse, G painting one face whoever ê describes, hides in the grid's FF column: each output
follows its own target's landmarks, so outputs differ by pose even when G ignores ê. The check paints every
sampled identity's psi into the first one's landmark image instead, so that only identity is left to
differ, and compares how much those outputs differ with how much the identities' real frames do.
Early in a fresh run, before G has learned to tell people apart, it warns too (a 32 px model on the tests'
three cartoon people stays near 0.01 for its first 60 steps); the warning that matters comes after the
ratio had risen.
"""

import logging
import os
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from engine.neural.data import Clip, Episode, fixed_episode
from engine.neural.engine import finetune, start_finetuning
from engine.neural.losses import ContentLoss
from engine.neural.train import TrainConfig

logger = logging.getLogger(__name__)

MIN_TRAINING = 8  # videos left to train on before any is held out: fewer, and E learns no identity to test
SHOWN = 2  # identities sampled from the training videos when none are held out (two: the least to compare)
COLLAPSE = 0.1  # outputs for different identities that differ by less than this share of their real frames'
# differences have collapsed. Two frames of one real person (tests/data/talking_clip.mp4, 64 px crops) differ
# by 0.02 of what the five fixture portraits of different people differ by; a G that keeps people apart
# reproduces much of their difference (skin, hair, background). A tenth is well above the first and far
# below the second.


@dataclass(frozen=True, eq=False)
class SampleSet:
    """The identities the samples show and their frames, fixed for the whole run."""

    indices: tuple[int, ...]  # the videos' indices in the data folder, by name: how the log names identities
    held_out: bool  # kept out of training, or training identities (too few videos to hold any out)
    frames: Episode  # K sources and a target per identity, on the training device


def hold_out(clips: list[Clip], holdout: int) -> tuple[list[Clip], list[Clip]]:
    """(training clips, held-out clips): the last `holdout` videos are kept out of training when at least
    MIN_TRAINING remain, else none are. A resumed run splits its data the same way."""
    if holdout <= 0 or len(clips) - holdout < MIN_TRAINING:
        return clips, []
    return clips[:-holdout], clips[-holdout:]


def sample_set(training: list[Clip], held: list[Clip], k: int, device: torch.device) -> SampleSet:
    """The held-out identities, or without any, the first SHOWN training ones; K + 1 fixed frames each."""
    if held:
        indices, clips = range(len(training), len(training) + len(held)), held
    else:
        indices, clips = range(min(SHOWN, len(training))), training[:SHOWN]
    samples = SampleSet(tuple(indices), bool(held), fixed_episode(clips, k).to(device))
    kind = "held out of training" if held else "training identities (too few videos to hold any out)"
    logger.info("samples: identities %s, %s", ", ".join(map(str, samples.indices)), kind)
    return samples


def draw_samples(nets: tuple[nn.Module, nn.Module, nn.Module], samples: SampleSet, content: ContentLoss,
                 config: TrainConfig, step: int, folder: Path, writer: object | None = None) -> float:
    """Write the samples grid after `step` steps into `folder` (and to TensorBoard's `writer`), check for
    identity collapse; the check's ratio (see `identity_spread`).

    `nets` are the bare E, G, D (not DDP-wrapped: only rank 0 samples). They paint in eval mode (in training
    mode spectral norm would advance its power iteration) and are put back in the mode they were in; FT
    trains copies. The training nets' weights and buffers are left as they were.
    """
    embedder, generator, discriminator = nets
    frames, modes = samples.frames, [net.training for net in nets]
    for net in nets:
        net.eval()
    try:
        with torch.no_grad():
            e = embedder(frames.source_x, frames.source_y)  # (N, N_e)
            psi = generator.project(e)  # (N, n_psi)
            ff = generator(frames.y, psi)  # (N, 3, S, S)
            posed = generator(frames.y[:1].expand_as(frames.y), psi)  # every identity in the first one's pose
        ft = torch.cat([_finetuned(generator, discriminator, e[i:i + 1], frames, i, content, config)
                        for i in range(len(e))])
    finally:
        for net, mode in zip(nets, modes, strict=True):
            net.train(mode)
    grid = _grid(frames.source_x[:, 0], frames.x, ff, ft)
    kind = "held-out" if samples.held_out else "training"
    _write_png(folder / f"step_{step:06d}-{kind}.png", grid)
    if writer is not None:
        writer.add_image(f"samples/{kind}", grid, step, dataformats="HWC")
    return check_identities(posed, frames.x, step) if len(e) > 1 else float("nan")


def identity_spread(outputs: torch.Tensor, reals: torch.Tensor) -> float:
    """Mean pairwise L1 between the outputs (N, 3, S, S) of different identities, over the same between their
    real frames: about 1 when G keeps identities as far apart as they are, 0 when it paints one face."""
    assert len(outputs) == len(reals) >= 2, f"needs two identities or more, got {len(outputs)} and {len(reals)}"
    return _mean_pairwise_l1(outputs) / max(_mean_pairwise_l1(reals), 1e-8)


def check_identities(outputs: torch.Tensor, reals: torch.Tensor, step: int) -> float:
    """`identity_spread`, with a warning in the log when it falls below COLLAPSE."""
    ratio = identity_spread(outputs, reals)
    if ratio < COLLAPSE:
        logger.warning("identity collapse at step %d: outputs for different identities differ by %.3g of what "
                       "their real frames do", step, ratio)
    return ratio


# helpers


def _finetuned(generator: nn.Module, discriminator: nn.Module, embedding: torch.Tensor, frames: Episode, i: int,
               content: ContentLoss, config: TrainConfig) -> torch.Tensor:
    """(1, 3, S, S) identity i's target painted by copies of G and D fine-tuned on its K source frames."""
    tuning = start_finetuning(generator, discriminator, embedding)
    finetune(tuning, frames.source_x[i], frames.source_y[i], config.sample_finetune_steps, content, config)
    with torch.no_grad():
        return tuning.generator.eval()(frames.y[i:i + 1], tuning.psi)


def _grid(*columns: torch.Tensor) -> np.ndarray:
    """(N * S, C * S, 3) float32 in [0, 1]: the C columns (N, 3, S, S) side by side, one identity a row."""
    images = np.stack([column.detach().float().clamp(0, 1).cpu().numpy() for column in columns], axis=1)
    n, c, _, s, _ = images.shape  # (N, C, 3, S, S)
    return np.ascontiguousarray(images.transpose(0, 3, 1, 4, 2).reshape(n * s, c * s, 3))


def _write_png(path: Path, image: np.ndarray) -> None:
    """The RGB image in [0, 1] as a PNG, atomically; a failed write is a warning: samples are not worth a run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    pixels = np.round(image * 255).astype(np.uint8)
    if cv2.imwrite(str(tmp), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)):
        os.replace(tmp, path)
    else:
        logger.warning("a training sample could not be written to the samples folder")


def _mean_pairwise_l1(images: torch.Tensor) -> float:
    flat = images.detach().float().flatten(1)  # (N, 3 * S * S)
    return float(np.mean([(flat[i] - flat[j]).abs().mean().item() for i, j in combinations(range(len(flat)), 2)]))
