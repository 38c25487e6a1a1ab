"""Meta-learning of the neural engine (Zakharov et al. 2019, sec. 3.2): E, G and D trained together on
episodes drawn from many talking-face videos, one person each (data format: engine/neural/data.py).

    sitter train --data DIR --out CKPT --steps 100000            # one process: the GPU if there is one
    sitter train --data DIR --out CKPT --steps 200000 --resume   # continue CKPT exactly where it stopped
    torchrun --standalone --nproc_per_node=8 -m studio.cli train --data DIR --out CKPT   # DDP, a GPU each

One straight run: setup (DDP from torchrun's environment: NCCL on GPUs, gloo on CPUs) -> data -> networks,
new or resumed -> optimizers -> DDP -> the loop. A step draws an episode (the same one for the same seed,
step and rank, so a resumed run draws what the uninterrupted run would have), then `meta_step`: E embeds
the K frames, G draws the target from its landmarks with psi = P·ê, and `gan_step` updates E and G, then D.
Fine-tuning at render time runs the same `gan_step` (engine/neural/engine.py). Rank 0 logs and, every
`save_every` steps and at the end, writes the checkpoint, and every `sample_every` steps draws samples of
identities held out of training and checks that G still tells identities apart (engine/neural/samples.py).

Guards against the failure modes of public re-implementations:
- autograd switched off globally (face-alignment once did): the loop runs under torch.enable_grad(), and
  gan_step refuses to run without grad mode;
- non-finite losses: an update whose gradient norm is not finite is skipped (the norm is of the all-reduced
  gradients, so every DDP rank skips alike), and `max_bad_steps` bad steps in a row raise TrainingDiverged;
- spikes: gradients are clipped to `grad_clip`;
- collapse to a flat colour: the generated frames' pixel std is watched, with the same patience;
- a discriminator with a sigmoid under the hinge loss: D's score is raw (engine/neural/model.py).
"""

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from itertools import chain
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.errors import BadCheckpoint, BadVideo, TrainingDiverged
from engine.neural import checkpoint
from engine.neural.data import Clip, Episode, Episodes, open_clips, prepared, summary
from engine.neural.losses import (
    ContentLoss,
    LossWeights,
    adversarial_g,
    embedding_match,
    feature_matching,
    hinge_d,
)
from engine.neural.model import Discriminator, Embedder, Generator, ModelConfig

logger = logging.getLogger(__name__)

COLLAPSED = 1e-3  # generated frames whose pixels vary less than this (std, in [0, 1]) are a flat colour


@dataclass(frozen=True)
class TrainConfig:
    """How meta-learning runs. Defaults are the paper's where it gives them."""

    # schedule and optimizer
    steps: int = 100_000  # total steps, counting those of a resumed checkpoint
    k: int = 8  # frames E embeds per episode
    batch: int = 1  # episodes per step, per process
    lr_eg: float = 5e-5  # Adam, E and G (and psi' when fine-tuning)
    lr_d: float = 2e-4  # Adam, D (and w' when fine-tuning)
    betas: tuple[float, float] = (0.5, 0.999)  # the paper does not say; GAN practice
    weights: LossWeights = field(default_factory=LossWeights)
    grad_clip: float = 10.0  # max gradient norm, per network group
    d_steps: int = 2  # D updates per G update: the paper follows SAGAN's two (in fine-tuning too)
    max_bad_steps: int = 20  # non-finite or collapsed steps in a row before giving up
    # I/O
    save_every: int = 1000
    log_every: int = 50
    sample_every: int = 1000  # steps between sample grids and identity-collapse checks (samples.py); 0: none
    holdout: int = 2  # identities kept out of training for the samples, when enough videos remain (samples.py)
    sample_finetune_steps: int = 10  # FT steps of each sampled identity: enough to see FT depart from FF, cheaply
    tensorboard: str | None = None  # a log folder for TensorBoard, when the tensorboard package is installed
    cache: str | None = None  # where a folder of videos is prepared (default: DATA/.sitter-cache)
    loader_workers: int = 2  # DataLoader processes drawing episodes from the shards; 0: this process
    vgg19_weights: str | None = None  # state dict files of the perceptual networks; neither: the pixel loss
    vggface_weights: str | None = None
    # system
    seed: int = 0
    device: str | None = None  # default: CUDA when available (under torchrun: this rank's GPU), else the CPU
    bf16: bool = True  # autocast to bfloat16 on CUDA; the CPU always runs float32

    @classmethod
    def from_dict(cls, values: dict, path: Path | str | None = None) -> "TrainConfig":
        """The TrainConfig a checkpoint stored (its `train` entry)."""
        known = {f.name for f in fields(cls)}
        if set(values) - known:
            raise BadCheckpoint(f"checkpoint's training settings include unknown ones: "
                                f"{', '.join(sorted(set(values) - known))}", path)
        return cls(**{**values, "weights": LossWeights(**values["weights"]), "betas": tuple(values["betas"])})


Progress = Callable[[int, int, dict[str, float]], None]  # (steps done, steps in all, the last step's losses)


def meta_learn(data: Path | str, out: Path | str, config: TrainConfig = TrainConfig(), model: ModelConfig | None = None,
          *, resume: bool = False, on_step: Progress | None = None) -> list[dict[str, float]]:
    """Meta-learn E, G and D on the videos in `data`, writing the checkpoint `out`; the losses of each step.

    `resume` continues the checkpoint at `out` up to `config.steps`, with its model (`model`, if given, must
    match it) on the same data. Raises BadVideo for unusable data, BadCheckpoint for a checkpoint that can't
    be resumed as asked, TrainingDiverged when the guards trip.
    """
    from engine.neural import samples  # here, not above: samples fine-tune as engine.py does, which imports this

    out = Path(out)
    if out.exists() and not resume:
        raise BadCheckpoint("a checkpoint is already at the output path: pass resume (--resume) to continue it, "
                            "or choose another path", out)
    rank, world, device = _setup(config)
    try:
        state = checkpoint.load(out) if resume else None
        model = _model(model, state, out)
        clips = _clips(data, model.size, config.cache, rank, world)
        training, held = samples.hold_out(clips, config.holdout)
        data_summary = _check_data(clips, training, config.k, state, out)
        content = ContentLoss(config.weights, config.vgg19_weights, config.vggface_weights).to(device)
        if state is not None and state["content"] != content.kind:
            raise BadCheckpoint(f"the checkpoint was trained with the {state['content']} content loss, this run "
                                f"would use {content.kind}: configure the same perceptual weights to resume it", out)
        torch.manual_seed(config.seed)  # the same initial weights in every process
        nets = Embedder(model), Generator(model), Discriminator(model, len(training))
        if state is not None:
            for net, key in zip(nets, ("embedder", "generator", "discriminator"), strict=True):
                checkpoint.load_weights(net, state[key], key, out)
        nets = tuple(net.to(device) for net in nets)
        optimizers = _optimizers(nets, config, state)
        start = 0 if state is None else int(state["step"])
        if state is not None:
            torch.set_rng_state(state["rng"]["torch"])
        if world > 1:
            nets = tuple(DistributedDataParallel(net) for net in nets)
        writer = _tensorboard(config.tensorboard) if rank == 0 else None
        shown = samples.sample_set(training, held, config.k, device) if rank == 0 and config.sample_every else None
        _log_sizes(nets, rank)
        bf16 = config.bf16 and device.type == "cuda"
        history, bad = [], 0
        with torch.enable_grad():  # whatever a library did to the global grad mode
            for step, batch in zip(range(start, config.steps), _loader(training, config, start, rank, device),
                                   strict=True):
                losses = meta_step(nets, optimizers, batch.to(device), content, config, bf16=bf16)
                history.append(losses)
                bad = _bad_steps(losses, bad, world, device)
                if bad >= config.max_bad_steps:
                    raise _diverged(losses, bad, step)
                if rank == 0:
                    _report(step, losses, config, writer, on_step)
                    if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
                        checkpoint.save(out, _state(nets, optimizers, step + 1, model, config, data_summary,
                                                    content.kind))
                    if shown is not None and (step + 1) % config.sample_every == 0:
                        samples.draw_samples(tuple(_bare(net) for net in nets), shown, content, config, step + 1,
                                             out.with_name(out.name + ".samples"), writer)
        if writer is not None:
            writer.close()
        return history
    finally:
        if world > 1:
            dist.destroy_process_group()


def meta_step(nets: tuple[nn.Module, nn.Module, nn.Module], optimizers: tuple[torch.optim.Optimizer, ...],
              batch: Episode, content: ContentLoss, config: TrainConfig, *, bf16: bool = False) -> dict[str, float]:
    """One meta-learning step on an episode: ê = E(sources), psi = P·ê, then `gan_step` with D's projection
    W_i + w_0 and the embedding match between ê_i and W_i."""
    embedder, generator, discriminator = nets
    g, d = _bare(generator), _bare(discriminator)
    with _autocast(batch.x.device, bf16):
        e = embedder(batch.source_x, batch.source_y).float()
    return gan_step(generator, discriminator, optimizers, batch.x, batch.y, g.project(e),
                    lambda: d.projection(batch.video), content, config.weights, config.grad_clip,
                    match=lambda: (e, d.W[batch.video]), d_steps=config.d_steps, bf16=bf16)


def gan_step(generator: nn.Module, discriminator: nn.Module, optimizers: tuple[torch.optim.Optimizer, ...],
             real: torch.Tensor, y: torch.Tensor, psi: torch.Tensor, projection: Callable[[], torch.Tensor],
             content: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], weights: LossWeights, grad_clip: float,
             *, d_steps: int, match: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None,
             bf16: bool = False) -> dict[str, float]:
    """One update of the generator side (G, and whatever made psi: E and P, or psi'), then `d_steps` of D on
    the same generated frames (the paper's two, after SAGAN: D kept ahead gives G useful gradients).

    real, y: (B, 3, S, S) target frames and their landmark images; psi: (B, n_psi) AdaIN parameters, in the
    autograd graph of what the first optimizer updates; projection(): (B, N_e) D's projection vectors;
    match(): (ê, W_i) when meta-learning. G minimizes content + adversarial + FM (+ match, moving ê); D
    minimizes the hinge loss (+ match, moving W_i). Returns the losses, D's mean scores, the generated frames'
    pixel std and whether each update was applied (a non-finite gradient skips it).
    """
    assert torch.is_grad_enabled(), ("gan_step needs autograd, and grad mode is off (a library may have switched "
                                     "it off globally): run it under torch.enable_grad()")
    g_optimizer, d_optimizer = optimizers
    with _autocast(real.device, bf16):
        fake = generator(y, psi)
        score, fake_features = discriminator(fake, y, projection())
        with torch.no_grad():
            _, real_features = discriminator(real, y, projection())
        content_loss = content(fake, real).float()
        fm = feature_matching(fake_features, real_features).float()
    adversarial = adversarial_g(score.float())
    matched = real.new_zeros(())
    if match:
        embedding, column = match()
        matched = embedding_match(embedding, column.detach())
    g_loss = content_loss + adversarial + weights.fm * fm + weights.match * matched
    g_applied = _update(g_optimizer, g_loss, grad_clip)

    d_applied = True
    for _ in range(d_steps):
        with _autocast(real.device, bf16):
            scores, _ = discriminator(torch.cat([real, fake.detach()]), torch.cat([y, y]), projection().repeat(2, 1))
        real_score, fake_score = scores.float().chunk(2)
        d_loss = hinge_d(real_score, fake_score)
        if match:
            embedding, column = match()  # W_i again: an update may have moved it (fine-tuning has no match)
            d_loss = d_loss + weights.match * embedding_match(embedding.detach(), column)
        d_applied = _update(d_optimizer, d_loss, grad_clip) and d_applied

    values = torch.stack([g_loss.detach(), content_loss.detach(), adversarial.detach(), fm.detach(), matched.detach(),
                          d_loss.detach(), real_score.mean().detach(), fake_score.mean().detach(),
                          fake.detach().float().std(dim=(1, 2, 3)).mean()]).tolist()  # one sync
    names = ("g", "content", "adversarial", "fm", "match", "d", "d_real", "d_fake", "fake_std")
    return {**dict(zip(names, values, strict=True)), "g_applied": float(g_applied), "d_applied": float(d_applied)}


# helpers


def _setup(config: TrainConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device). Under torchrun (WORLD_SIZE > 1) joins the process group: NCCL with a GPU
    per process (LOCAL_RANK's), gloo on CPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() and config.device != "cpu"
    if world == 1:
        return 0, 1, torch.device(config.device or ("cuda" if cuda else "cpu"))
    local = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank(), world, device


def _clips(data: Path | str, size: int, cache: str | None, rank: int, world: int) -> list[Clip]:
    """The training videos. A folder of videos is prepared by rank 0 alone; the other ranks wait for it
    (and for its error, if it fails) at a broadcast, then all read the same shards."""
    error = None
    if rank == 0:
        try:
            prepared(data, size, cache)
        except BadVideo as err:
            error = err
    if world > 1:
        message = [str(error) if error else None]
        dist.broadcast_object_list(message, src=0)
        error = error or (BadVideo(message[0]) if message[0] else None)
    if error is not None:
        raise error
    return open_clips(*prepared(data, size, cache, build=False))


def _loader(clips: list[Clip], config: TrainConfig, start: int, rank: int,
            device: torch.device) -> torch.utils.data.DataLoader:
    """Episodes for steps [start, config.steps), drawn (JPEGs decoded, landmarks drawn) in DataLoader
    workers while the device trains."""
    workers = config.loader_workers
    return torch.utils.data.DataLoader(
        Episodes(clips, config.k, config.batch, range(start, config.steps), config.seed, rank), batch_size=None,
        num_workers=workers, prefetch_factor=4 if workers else None, pin_memory=device.type == "cuda")


def _model(model: ModelConfig | None, state: dict | None, path: Path) -> ModelConfig:
    """The model to train: the checkpoint's when resuming (a different `model` is refused), else `model`."""
    if state is None:
        return model or ModelConfig()
    saved = checkpoint.model_config(state, path)
    if model is not None and model != saved:
        name = next(f.name for f in fields(ModelConfig) if getattr(model, f.name) != getattr(saved, f.name))
        raise BadCheckpoint(f"the checkpoint's model has {name}={getattr(saved, name)}, this run asks "
                            f"{name}={getattr(model, name)}: resume without model settings, or train a new one", path)
    return saved


def _check_data(clips: list[Clip], training: list[Clip], k: int, state: dict | None, path: Path) -> dict:
    """The summary of the `training` videos (D's columns) and how many more were held out, after checking
    every video has K + 1 frames and a resumed run has its own data, split as before."""
    short = [len(c.frames) for c in clips if len(c.frames) < k + 1]
    if short:
        raise BadVideo(f"{len(short)} training video(s) have fewer than K + 1 = {k + 1} frames with a face "
                       f"({min(short)}); lower K or drop them")
    data = {**summary(training), "held_out": len(clips) - len(training)}
    if state is not None and state["data"].get("held_out", 0) != data["held_out"]:
        raise BadCheckpoint(f"the checkpoint held {state['data'].get('held_out', 0)} identities out of training, "
                            f"this run would hold {data['held_out']} (D has one column per training video): "
                            "resume with the same --holdout", path)
    if state is not None and state["data"]["fingerprint"] != data["fingerprint"]:
        raise BadCheckpoint(f"the checkpoint was trained on other videos ({state['data']['videos']} videos, "
                            f"fingerprint {state['data']['fingerprint']}; --data has {data['videos']}, "
                            f"{data['fingerprint']}): D has one column per training video, so resume on the same "
                            "data", path)
    return data


def adam(params: Iterable[torch.Tensor], lr: float, config: TrainConfig) -> torch.optim.Adam:
    """Adam as every update here uses it: the config's betas, fused (one kernel over all parameters; on a CPU
    too, where it steps ~6x faster than the per-tensor loop)."""
    return torch.optim.Adam(params, lr=lr, betas=config.betas, fused=True)


def _optimizers(nets: tuple[nn.Module, ...], config: TrainConfig, state: dict | None) -> tuple[torch.optim.Adam, ...]:
    """Adam for E and G together, and for D; resumed from the checkpoint, at this run's learning rates."""
    embedder, generator, discriminator = nets
    eg = adam(chain(embedder.parameters(), generator.parameters()), config.lr_eg, config)
    d = adam(discriminator.parameters(), config.lr_d, config)
    if state is not None:
        for optimizer, key, lr in ((eg, "opt_eg", config.lr_eg), (d, "opt_d", config.lr_d)):
            optimizer.load_state_dict(state[key])
            for group in optimizer.param_groups:
                group["lr"] = lr  # a resumed run may lower the learning rate
    return eg, d


def _update(optimizer: torch.optim.Optimizer, loss: torch.Tensor, grad_clip: float) -> bool:
    """Backpropagate `loss` into the optimizer's parameters (only theirs: stale gradients elsewhere are
    cleared by their own optimizer), clip, and step unless the gradient is not finite."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    if not torch.isfinite(norm):
        optimizer.zero_grad(set_to_none=True)
        return False
    optimizer.step()
    return True


def _bad_steps(losses: dict[str, float], bad: int, world: int, device: torch.device) -> int:
    """Steps in a row that went wrong (an update skipped, or flat output), counting this one; under DDP the
    most of any process, so that all of them stop together."""
    bad = 0 if _what_went_wrong(losses) is None else bad + 1
    if world > 1:
        most = torch.tensor(bad, device=device)
        dist.all_reduce(most, op=dist.ReduceOp.MAX)
        bad = int(most)
    return bad


def _diverged(losses: dict[str, float], bad: int, step: int) -> TrainingDiverged:
    why = _what_went_wrong(losses) or "another process's steps went wrong"
    return TrainingDiverged(f"training diverged at step {step + 1}: {why} for {bad} steps in a row; resume the last "
                            "checkpoint with lower learning rates")


def _what_went_wrong(losses: dict[str, float]) -> str | None:
    if not (losses["g_applied"] and losses["d_applied"]):
        return "the gradients were not finite"
    if losses["fake_std"] < COLLAPSED:
        return "the generator collapsed to a flat colour"
    return None


def _state(nets: tuple[nn.Module, ...], optimizers: tuple[torch.optim.Optimizer, ...], step: int,
           model: ModelConfig, config: TrainConfig, data: dict, content: str) -> dict:
    embedder, generator, discriminator = (_bare(net) for net in nets)
    return {"model": asdict(model), "train": asdict(config), "data": data, "content": content, "step": step,
            "embedder": embedder.state_dict(), "generator": generator.state_dict(),
            "discriminator": discriminator.state_dict(), "opt_eg": optimizers[0].state_dict(),
            "opt_d": optimizers[1].state_dict(), "rng": {"torch": torch.get_rng_state()}}


def _report(step: int, losses: dict[str, float], config: TrainConfig, writer: object | None,
            on_step: Progress | None) -> None:
    if on_step is not None:
        on_step(step + 1, config.steps, losses)
    if (step + 1) % config.log_every == 0:
        logger.info("step %d: %s", step + 1, " ".join(f"{k} {v:.4g}" for k, v in losses.items()))
        if writer is not None:
            for name, value in losses.items():
                writer.add_scalar(f"train/{name}", value, step + 1)


def _tensorboard(folder: str | None) -> object | None:
    """A TensorBoard writer when a folder is asked for and the tensorboard package is installed."""
    if folder is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional: needs the tensorboard package
    except ImportError:
        logger.warning("TensorBoard logging asked for, but the tensorboard package is not installed")
        return None
    return SummaryWriter(folder)


def _log_sizes(nets: tuple[nn.Module, ...], rank: int) -> None:
    if rank == 0:
        counts = {name: sum(p.numel() for p in net.parameters()) for name, net in zip("EGD", nets, strict=True)}
        logger.info("parameters: %s", ", ".join(f"{name} {count / 1e6:.2f}M" for name, count in counts.items()))


def _bare(net: nn.Module) -> nn.Module:
    """The network inside a DDP wrapper (for its methods and attributes: project, projection, W)."""
    return net.module if isinstance(net, DistributedDataParallel) else net


def _autocast(device: torch.device, bf16: bool) -> torch.autocast:
    """bfloat16 autocast on GPUs when asked; a no-op on the CPU (float32 there: bf16 on CPUs is slow)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
