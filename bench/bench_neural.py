"""Neural engine benchmark: meta-learning step time and inference speed, at the paper's widths.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_neural.py                 # CPU, one core: 64 and 256 px
    .venv/bin/python bench/bench_neural.py --device cuda --sizes 256 --k 8 --batch 8 --infer-batch 64
    .venv/bin/python bench/bench_neural.py --device cuda --sizes 256 --compile   # G under torch.compile
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_neural.py --sizes 256 --perceptual  # the paper's full loss

The networks are built at the paper's widths (E ~15M, G ~38M, D ~20M parameters) with random weights and
fed random episodes: speed does not depend on what was learned, and the bench needs no data or checkpoint.
Per model size:
- meta-learning: one step (E on B x K frames, G, D; E+G update, then the D updates; the pixel content loss,
  VGG19 with --vgg19-weights, or with --perceptual VGG19 and VGGFace with random weights of their real
  layers, the paper's loss at its true cost), in seconds, and training throughput in frames/s (B * (K + 1)
  a step); bf16 autocast on CUDA, as `sitter train` runs;
- the floating-point operations of one step and of one painted frame (torch's FlopCounterMode, matrix
  multiplications and convolutions, forward and backward): what a GPU's speed turns into GPU-hours;
- inference: G painting frames from landmark images (what `NeuralEngine.render` runs per frame, spectral
  norm folded into the weights as there) at batch 1
  in ms a frame, and `--infer-batch` frames at once in frames/s; with --compile, G under torch.compile;
- on CUDA, the peak GPU memory of each.
Writes the "## Neural engine (DEVICE)" section of bench/RESULTS.md, so CPU and GPU results stand side by
side. Targets (GPU, 256 px, issue #8): batch 1 faster than LivePortrait's 12.8 ms a frame (RTX 4090),
and >= 300 frames/s batched.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
from results import machine, write_section
from torch.utils.flop_counter import FlopCounterMode

from engine.neural.data import Episode
from engine.neural.engine import frozen
from engine.neural.losses import VGG19, VGGFACE, ContentLoss
from engine.neural.model import Discriminator, Embedder, Generator, ModelConfig
from engine.neural.train import TrainConfig, adam, meta_step

VIDEOS = 9  # D's columns, as for the shared talking clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--k", type=int, default=8, help="frames E embeds per episode")
    parser.add_argument("--batch", type=int, default=1, help="episodes per training step")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps, after two warm-ups")
    parser.add_argument("--infer-batch", type=int, default=8, help="frames G paints at once, batched")
    parser.add_argument("--frames", type=int, default=8, help="frames timed at batch 1, after two warm-ups")
    parser.add_argument("--compile", action="store_true", help="run G under torch.compile for inference")
    parser.add_argument("--vgg19-weights", help="VGG19 state dict: time the perceptual content loss")
    parser.add_argument("--perceptual", action="store_true",
                        help="VGG19 and VGGFace with random weights of their real layers: the paper's loss")
    args = parser.parse_args()
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as scratch:
        weights = _standin_perceptual(Path(scratch)) if args.perceptual else (args.vgg19_weights, None)
        rows = [(size, *_training(size, device, args, weights), *_inference(size, device, args))
                for size in args.sizes]
    section = _report(rows, device, args)
    print(section)
    write_section(section)


# helpers


def _standin_perceptual(folder: Path) -> tuple[str, str]:
    """State dict files of VGG19 and VGGFace with random weights: their real layers, so their real cost."""
    paths = []
    for spec in (VGG19, VGGFACE):
        state, channels = {}, 3
        for index, width in enumerate(w for w in spec.layers if w != "M"):
            state[f"conv{index}.weight"] = torch.randn(width, channels, 3, 3) * (2 / (9 * channels)) ** 0.5
            state[f"conv{index}.bias"] = torch.zeros(width)
            channels = width
        paths.append(str(folder / f"{spec.name}.pth"))
        torch.save(state, paths[-1])
    return paths[0], paths[1]


def _training(size: int, device: torch.device, args: argparse.Namespace,
              weights: tuple[str | None, str | None]) -> tuple[float, float, float, float | None]:
    """(seconds a step, frames/s, GFLOP a step, peak GiB) of meta-learning at `size`."""
    torch.manual_seed(0)
    model = ModelConfig(size=size)
    config = TrainConfig(k=args.k, batch=args.batch, vgg19_weights=weights[0], vggface_weights=weights[1])
    nets = tuple(net.to(device) for net in (Embedder(model), Generator(model), Discriminator(model, VIDEOS)))
    optimizers = (adam([*nets[0].parameters(), *nets[1].parameters()], config.lr_eg, config),
                  adam(nets[2].parameters(), config.lr_d, config))
    content = ContentLoss(config.weights, config.vgg19_weights, config.vggface_weights).to(device)
    B, K = args.batch, args.k
    batch = Episode(torch.rand(B, K, 3, size, size), torch.rand(B, K, 3, size, size), torch.rand(B, 3, size, size),
                    torch.rand(B, 3, size, size), torch.randint(0, VIDEOS, (B,))).to(device)
    bf16 = config.bf16 and device.type == "cuda"

    def step() -> None:
        meta_step(nets, optimizers, batch, content, config, bf16=bf16)

    seconds = _timed(step, args.steps, device)
    return seconds, B * (K + 1) / seconds, _gflop(step), _peak(device)


def _inference(size: int, device: torch.device, args: argparse.Namespace) -> tuple[float, float, float, float | None]:
    """(ms a frame at batch 1, frames/s batched, GFLOP a frame, peak GiB) of G painting landmark images."""
    torch.manual_seed(0)
    generator = frozen(Generator(ModelConfig(size=size)).to(device))  # as NeuralEngine paints: spectral norm folded
    paint = torch.compile(generator) if args.compile else generator
    psi = generator.project(torch.rand(1, generator.config.embedding, device=device))
    one, many = torch.rand(1, 3, size, size, device=device), torch.rand(args.infer_batch, 3, size, size, device=device)
    with torch.inference_mode():
        single = _timed(lambda: paint(one, psi), args.frames, device)
        batched = _timed(lambda: paint(many, psi.expand(len(many), -1)), max(1, args.frames // 2), device)
        flops = _gflop(lambda: generator(one, psi))
    return 1000 * single, args.infer_batch / batched, flops, _peak(device)


def _gflop(work: Callable[[], object]) -> float:
    """Billions of floating-point operations (a multiply-add is two) that one call of `work` runs."""
    with FlopCounterMode(display=False) as counter:
        work()
    return counter.get_total_flops() / 1e9


def _timed(work: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median seconds of `work`, after two warm-up calls (allocations, oneDNN's and cuDNN's kernel choices and
    compilation settle over the first calls, not always the first alone)."""
    for _ in range(2):
        work()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        _sync(device)  # CUDA runs asynchronously: time the work, not its launch
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def _report(rows: list[tuple], device: torch.device, args: argparse.Namespace) -> str:
    threads = torch.get_num_threads()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {threads} torch thread(s)"
    memory = device.type == "cuda"
    content = ("VGG19 + VGGFace (stand-in weights of their real layers)" if args.perceptual
               else "VGG19" if args.vgg19_weights else "pixel (L1 + MS-SSIM)")
    lines = [
        f"## Neural engine ({'GPU' if memory else 'CPU'})",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, {name}, torch {torch.__version__}, by "
        f"`bench/bench_neural.py`: paper widths (E ~15M, G ~38M, D ~20M parameters), random weights. Training: "
        f"K = {args.k}, B = {args.batch}, {content} content loss{', bf16 autocast' if memory else ', float32'}. "
        f"Inference: G alone, batch 1 and batch {args.infer_batch}{', torch.compile' if args.compile else ''}.",
        "",
        "| size | training step | training frames/s | GFLOP a step | inference, batch 1 | inference, batched "
        "| GFLOP a frame |" + (" peak memory (train / infer) |" if memory else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if memory else ""),
    ]
    for size, step, throughput, step_flop, train_peak, single, batched, frame_flop, infer_peak in rows:
        lines.append(f"| {size}x{size} | {step:.2f} s | {throughput:.1f} | {step_flop:,.0f} | {single:.1f} ms/frame | "
                     f"{batched:.1f} frames/s | {frame_flop:,.1f} |"
                     + (f" {train_peak:.1f} / {infer_peak:.1f} GiB |" if memory else ""))
    if not memory:
        lines += ["", "Still open, for a session with a GPU (none lent so far): inference at 256 px, batch 1 and "
                  "batched, eager and torch.compile, bf16 (targets < 12.8 ms a frame and >= 300 frames/s: "
                  "`bench/bench_neural.py --device cuda`); training episodes/s and peak memory (`--perceptual "
                  "--batch 8`), which turn the FLOP above into the README recipe's GPU-hours; a 5-minute "
                  "meta-learning run on the fixture clips with its sample strip; one torchrun run through DDP "
                  "with NCCL; face-alignment's frames/s in `sitter prepare-data`."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
