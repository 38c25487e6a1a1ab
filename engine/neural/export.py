"""A lean neural model for rendering: a checkpoint's E and G alone, in half precision, as one safetensors file.

`sitter export` writes it: no discriminator, no W_i, no optimizer state, no random state. At the paper's widths
that is about 105 MB, against 0.9-1.75 GB for the checkpoint it came from. It renders feed-forward (FF) only:
fine-tuning (FT) trains a copy of D, which is not in it.

The file is safetensors (an 8-byte header length, a JSON header, then raw tensors: reading it runs no code, as
weights_only does for checkpoints):

    tensors     embedder.KEY, generator.KEY: E's and G's state dicts (spectral norm's u and v included), in
                float16 (default) or bfloat16
    metadata    sitter "neural-export"; format FORMAT; library, the Sitter that wrote it; model, the ModelConfig as
                JSON; content, the content loss that trained it; step, its meta-learning steps; dtype

A file is told to be an export by its first bytes, not by its name (`is_export`). Everything that keeps one from
being used (unreadable, truncated, another format, tensors that do not fit its model settings) is a BadCheckpoint
with a one-line message. Loading gives float32 networks: half precision is for the disk, not the arithmetic.
"""

import json
import os
import struct
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine.errors import BadCheckpoint
from engine.neural import checkpoint
from engine.neural.model import Embedder, Generator, ModelConfig

FORMAT = 1
KIND = "neural-export"
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}
METADATA = ("sitter", "format", "library", "model", "content", "step", "dtype")


@dataclass(frozen=True, eq=False)
class Exported:
    """An export read back: its networks (float32, on the CPU, in training mode as checkpoint.networks gives them)
    and what it says about itself."""

    model: ModelConfig
    content: str  # the content loss that trained it, as a checkpoint records it
    step: int
    embedder: Embedder
    generator: Generator


def export_model(checkpoint_path: Path | str, out: Path | str, dtype: str = "float16", *,
                 overwrite: bool = False) -> int:
    """Write the export of the checkpoint at `checkpoint_path` to `out`, atomically; its size in bytes.

    Raises BadCheckpoint for a checkpoint that can't be used, a file already at `out` (unless `overwrite`), or a
    weight too large for float16 (bfloat16 has float32's range).
    """
    assert dtype in DTYPES, f"dtype is one of {sorted(DTYPES)}, got {dtype!r}"
    checkpoint_path, out = Path(checkpoint_path), Path(out)
    if out.exists() and not overwrite:
        raise BadCheckpoint("a file is already at the output path: choose another, or replace it (--overwrite)", out)
    if out.exists() and checkpoint_path.exists() and out.samefile(checkpoint_path):
        raise BadCheckpoint("the export would replace the checkpoint it is made from: choose another output path", out)
    state = checkpoint.load(checkpoint_path)
    config = checkpoint.model_config(state, checkpoint_path)
    tensors = {}
    for name, net in (("embedder", Embedder(config)), ("generator", Generator(config))):
        checkpoint.load_weights(net, state[name], name, checkpoint_path)  # a damaged checkpoint is refused here
        for key, tensor in net.state_dict().items():
            tensors[f"{name}.{key}"] = _cast(tensor, dtype, f"{name}.{key}", checkpoint_path)
    metadata = {"sitter": KIND, "format": str(FORMAT), "library": version("sitter"),
                "model": json.dumps(asdict(config)), "content": str(state["content"]), "step": str(int(state["step"])),
                "dtype": dtype}
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        save_file(tensors, tmp, metadata)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out.stat().st_size


def is_export(path: Path | str) -> bool:
    """Whether the file at `path` is laid out as safetensors (its header length, then "{"): an export, or a damaged
    one, rather than a checkpoint (a zip file, "PK..."). False for a file that can't be read."""
    try:
        with open(path, "rb") as file:
            head = file.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:] == b"{" and struct.unpack("<Q", head[:8])[0] > 1


def load(path: Path | str) -> Exported:
    """The export at `path`, checked to be one this Sitter reads and rebuilt as float32 networks on the CPU."""
    path = Path(path)
    try:
        with safe_open(path, framework="pt") as file:
            metadata = file.metadata() or {}
            _check_metadata(metadata, path)
            config = _model_config(metadata, path)
            weights = {"embedder": {}, "generator": {}}
            for key in file.keys():  # noqa: SIM118 (safe_open is not a mapping)
                name, _, rest = key.partition(".")
                weights.setdefault(name, {})[rest] = file.get_tensor(key)
    except (OSError, SafetensorError) as err:
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise BadCheckpoint(f"the neural export can't be read: it is truncated or damaged ({reason})", path) from None
    extra = sorted(set(weights) - {"embedder", "generator"})
    if extra:
        raise BadCheckpoint(f"the export holds networks a Sitter export has not ({', '.join(extra)}); it was edited "
                            "or made by another program", path)
    embedder, generator = Embedder(config), Generator(config)
    checkpoint.load_weights(embedder, weights["embedder"], "embedder", path, kind="export")
    checkpoint.load_weights(generator, weights["generator"], "generator", path, kind="export")
    return Exported(config, metadata["content"], int(metadata["step"]), embedder, generator)


# helpers


def _cast(tensor: torch.Tensor, dtype: str, key: str, path: Path) -> torch.Tensor:
    cast = tensor.detach().to(DTYPES[dtype]).contiguous()
    if tensor.is_floating_point() and torch.isfinite(tensor).all() and not torch.isfinite(cast).all():
        raise BadCheckpoint(f"the checkpoint's {key} has weights too large for {dtype}: export in bfloat16 "
                            "(--dtype bfloat16)", path)
    return cast


def _check_metadata(metadata: dict[str, str], path: Path) -> None:
    if metadata.get("sitter") != KIND:
        raise BadCheckpoint("not a Sitter neural export: a safetensors file, but not one `sitter export` wrote", path)
    if metadata.get("format") != str(FORMAT):
        raise BadCheckpoint(f"export format {metadata.get('format', '?')} (written by Sitter "
                            f"{metadata.get('library', '?')}); this Sitter ({version('sitter')}) reads format "
                            f"{FORMAT}: export the checkpoint again with this Sitter", path)
    missing = [key for key in METADATA if key not in metadata]
    if missing or not metadata["step"].isdigit():
        raise BadCheckpoint(f"the export's metadata is incomplete or damaged ({', '.join(missing) or 'step'})", path)


def _model_config(metadata: dict[str, str], path: Path) -> ModelConfig:
    try:
        model = json.loads(metadata["model"])
    except json.JSONDecodeError:
        model = None
    if not isinstance(model, dict):
        raise BadCheckpoint("the export's model settings are damaged: not a JSON object", path)
    return checkpoint.model_config({"model": model}, path)
