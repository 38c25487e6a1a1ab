"""A neural engine checkpoint: one file that resumes meta-learning exactly, or renders.

A plain dict written by torch.save and read back with weights_only=True (loading runs no pickled code):

    format      FORMAT; a checkpoint of another format is refused, naming the Sitter that wrote it
    library     that Sitter's version
    model       the ModelConfig, as a dict: enough to rebuild the networks
    train       the TrainConfig, as a dict (fine-tuning reuses its learning rates and loss weights)
    data        the training data's summary (videos, frames per video, a fingerprint; no file names)
    content     which content loss trained it: "vgg19", "vgg19+vggface" or "pixel-l1-msssim"
    step        meta-learning steps done
    embedder, generator, discriminator, opt_eg, opt_d    state dicts
    rng         torch's random number generator states

Every way a file can fail to be one (unreadable, another format, weights that do not fit the config) is a
BadCheckpoint with a one-line message.
"""

import os
import pickle
import zipfile
from dataclasses import fields
from importlib.metadata import version
from pathlib import Path

import torch
from torch import nn

from engine.errors import BadCheckpoint
from engine.neural.model import Discriminator, Embedder, Generator, ModelConfig

FORMAT = 1
KEYS = ("format", "library", "model", "train", "data", "content", "step", "embedder", "generator", "discriminator",
        "opt_eg", "opt_d", "rng")


def save(path: Path, state: dict) -> None:
    """Write `state` (every key of KEYS but format and library, which are added) atomically: a run killed
    mid-write leaves the previous checkpoint in place."""
    state = {"format": FORMAT, "library": version("sitter"), **state}
    assert set(state) == set(KEYS), f"a checkpoint holds exactly {KEYS}, got {sorted(state)}"
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: Path | str) -> dict:
    """The checkpoint at `path`, checked to be one this Sitter reads. Tensors are memory-mapped: rendering
    reads the networks' weights and never the optimizers' state."""
    path = Path(path)
    if not path.is_file():
        raise BadCheckpoint("checkpoint not found", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise BadCheckpoint(f"not a Sitter neural checkpoint: it can't be read as one ({reason})", path) from None
    if not isinstance(state, dict) or "format" not in state:
        raise BadCheckpoint("not a Sitter neural checkpoint: a torch file, but not one Sitter wrote", path)
    if state["format"] != FORMAT:
        raise BadCheckpoint(f"checkpoint format {state['format']} (written by Sitter {state.get('library', '?')}); "
                            f"this Sitter ({version('sitter')}) reads format {FORMAT}: use the Sitter that wrote it, "
                            "or train again", path)
    missing = [key for key in KEYS if key not in state]
    if missing:
        raise BadCheckpoint(f"checkpoint is incomplete: no {', '.join(missing)}; it is damaged", path)
    return state


def model_config(state: dict, path: Path | str | None = None) -> ModelConfig:
    """The ModelConfig a checkpoint was trained with."""
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(state["model"]) - known)
    if unknown:
        raise BadCheckpoint(f"checkpoint's model has settings this Sitter does not know: {', '.join(unknown)}", path)
    try:
        return ModelConfig(**state["model"])
    except (TypeError, ValueError) as err:  # TypeError: a setting of the wrong type, a string for a number
        raise BadCheckpoint(f"checkpoint's model settings are invalid ({err})", path) from None


def networks(state: dict, path: Path | str | None = None) -> tuple[Embedder, Generator, Discriminator]:
    """E, G and D rebuilt from a checkpoint (on the CPU, in training mode)."""
    config = model_config(state, path)
    nets = Embedder(config), Generator(config), Discriminator(config, int(state["data"]["videos"]))
    for net, key in zip(nets, ("embedder", "generator", "discriminator"), strict=True):
        load_weights(net, state[key], key, path)
    return nets


def load_weights(net: nn.Module, weights: dict, name: str, path: Path | str | None = None, *,
                 kind: str = "checkpoint") -> None:
    """Load a state dict strictly; BadCheckpoint counting the tensors that do not fit and naming the first.
    `kind` is what the weights came from ("checkpoint", "export"), for the message."""
    expected = net.state_dict()
    misfits = [f"{key}: {tuple(weights[key].shape)} in the file, {tuple(tensor.shape)} in the model"
               if key in weights else f"{key}: missing" for key, tensor in expected.items()
               if key not in weights or weights[key].shape != tensor.shape]
    misfits += [f"{key}: unexpected" for key in weights if key not in expected]
    if misfits:
        raise BadCheckpoint(f"the {kind}'s {name} weights do not fit its model settings ({len(misfits)} "
                            f"tensors, first {misfits[0]}); it is damaged or was edited", path)
    net.load_state_dict(weights)

