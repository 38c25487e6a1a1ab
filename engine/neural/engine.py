"""The neural engine: a talking head from a few images of a person and a meta-learned checkpoint
(Zakharov et al. 2019, sec. 3.3), with the warp engine's interface: `prepare(sources, landmarks) ->
identity` once per person, then `render(identity, motion)` -> RGB uint8 frames.

`prepare` finds each source image's face and cuts it to the model's square (engine/crop.py: as the warp
engine and the training data do), draws its landmark image, and embeds them all with E: ê is the mean.
Then, few-shot adaptation, one of:
- FF, feed-forward (`finetune_steps` = 0): psi = P·ê, nothing trained;
- FT, fine-tuning (`finetune_steps` = N): copies of G and D train for N steps on the T source images, by the
  same `gan_step` as meta-learning, with psi' (starting at P·ê) in place of E and P, and w' (starting at
  w_0 + ê) in place of D's training-video column W_i + w_0. Better likeness, at N training steps' cost.

`render` turns the motion into target landmarks for the first source's face with `Motion.landmarks`, as
the warp engine does (the same relative transfer: the driver's change, scaled to this face), draws their
landmark images, and has G paint them, `batch` frames at a time, upscaled to the output size.

The networks come from a checkpoint or from its lean export (engine/neural/export.py: E and G only, so FF only),
loaded by `load_model` into a NeuralModel that many engines, and threads, share: nothing here changes it (E and the
painter run in eval mode without gradients; FT trains copies). A ModelCache (engine/neural/cache.py) keeps one per
file and device, so that a studio loads a model once, not once per render.
"""

import copy
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from engine.crop import GivenLandmarks, Source, crop_square, find_face, paired, square, to_crop_coordinates
from engine.errors import BadCheckpoint
from engine.faces import MIN_EYE_SPAN, Detector
from engine.motion import Motion
from engine.neural import checkpoint, export
from engine.neural.landmarks import landmark_images, to_tensor
from engine.neural.losses import PIXEL, ContentLoss
from engine.neural.model import Discriminator, Embedder, Generator, ModelConfig
from engine.neural.train import TrainConfig, adam, gan_step

logger = logging.getLogger(__name__)
FT_NEEDS_CHECKPOINT = ("fine-tuning trains a copy of the discriminator, which an export leaves out: fine-tune with the "
                       "checkpoint it was exported from, or render feed-forward (0 fine-tuning steps)")


@dataclass(frozen=True)
class NeuralConfig:
    """How the neural engine renders."""

    size: int = 512  # output frames are size x size px; G paints at the checkpoint's size, upscaled
    finetune_steps: int = 0  # 0: feed-forward (FF); N: fine-tune G and D on the source images for N steps (FT)
    batch: int = 8  # frames G paints at once
    device: str | None = None  # default: CUDA when available, else the CPU
    min_eye_span: float = MIN_EYE_SPAN  # px in a source; a smaller face comes out soft (see choose_face)
    vgg19_weights: Path | str | None = None  # perceptual weights for FT's content loss; neither: the pixel loss
    vggface_weights: Path | str | None = None


@dataclass(frozen=True, eq=False)
class NeuralModel:
    """The networks rendering needs, loaded once (`load_model`) and shared by every engine made on them."""

    path: Path  # the checkpoint or export, as given: errors about it name it
    device: torch.device
    model: ModelConfig
    trained_with: str  # the content loss that trained it
    embedder: Embedder  # eval mode
    generator: Generator  # eval mode; what FT copies
    painter: Generator  # a frozen copy of G: what FF paints with
    discriminator: Discriminator | None  # None from an export, which renders FF only
    training: TrainConfig | None  # meta-learning's settings, which FT reuses; None from an export


@dataclass(frozen=True, eq=False)
class NeuralIdentity:
    """Everything `render` needs about one person, computed once by `prepare`."""

    generator: Generator  # the meta-learned G, or its fine-tuned copy; frozen for painting (see `frozen`)
    psi: torch.Tensor  # (1, n_psi) AdaIN parameters: P·ê (FF) or the fine-tuned psi' (FT)
    embedding: torch.Tensor  # (1, N_e) ê, the mean embedding of the sources
    landmarks: np.ndarray  # (68, 2) the first source's face, px of the model's square
    size: int  # output px
    notes: tuple[str, ...]  # what the caller should tell the user


@dataclass(frozen=True, eq=False)
class FineTuning:
    """What FT trains: copies of G and D, and psi' and w' (each (1, ...), shared by every source image)."""

    generator: Generator
    discriminator: Discriminator
    psi: nn.Parameter  # (1, n_psi), starts at P·ê
    w: nn.Parameter  # (1, N_e), starts at w_0 + ê


class NeuralEngine:
    """Few-shot neural talking heads: `prepare(sources, landmarks) -> NeuralIdentity`, `render(identity, motion)`.

    Example:

        engine = NeuralEngine("heads.pt", NeuralConfig(size=512, finetune_steps=40))
        identity = engine.prepare(["ada-1.jpg", "ada-2.jpg"], ["ada-1.landmarks.json", "ada-2.landmarks.json"])
        frames = list(engine.render(identity, preset("talk", seconds=4)))

    `weights` is a checkpoint or an export (a path: read here, BadCheckpoint if it can't be used), or a model
    loaded already (`load_model`, a ModelCache), which then renders on its own device. An export can't fine-tune
    (BadCheckpoint). Faces without landmarks are found by `detector`, shared with other engines as the warp
    engine's is.
    """

    def __init__(self, weights: Path | str | NeuralModel, config: NeuralConfig | None = None, *,
                 detector: Detector | None = None) -> None:
        self.config = config or NeuralConfig()
        self.detector = detector or Detector()
        loaded = weights if isinstance(weights, NeuralModel) else load_model(weights, self.config.device)
        assert self.config.device is None or torch.device(self.config.device) == loaded.device, \
            f"the model is loaded on {loaded.device}, the config asks for {self.config.device}"
        if self.config.finetune_steps and loaded.discriminator is None:
            raise BadCheckpoint(FT_NEEDS_CHECKPOINT, loaded.path)
        self.device, self.model, self.training, self.trained_with = (loaded.device, loaded.model, loaded.training,
                                                                     loaded.trained_with)
        self.embedder, self.generator, self.discriminator = loaded.embedder, loaded.generator, loaded.discriminator
        self.painter = loaded.painter

    def prepare(self, sources: Sequence[Source], landmarks: Sequence[GivenLandmarks] | None = None) -> NeuralIdentity:
        """Embed the faces of all source images and adapt to them (FF or FT, per `finetune_steps`).

        Raises BadImage, BadLandmarks, NoFaceError, FaceTooSmall, WeightsMissing.
        """
        size, crops, faces, notes = self.model.size, [], [], []
        for source, given in paired(sources, landmarks):
            image, face, found_notes = find_face(source, given, self.detector, min_eye_span=self.config.min_eye_span)
            box = square(face)
            crop, padded = crop_square(image, box, size)
            crops.append(crop)
            faces.append(to_crop_coordinates(face, box, size))
            notes += found_notes
            if padded:
                notes.append("a face is close to its image's edge; the edge was extended to frame it")
        x = to_tensor(np.stack(crops)).to(self.device)  # (T, 3, S, S)
        y = landmark_images(np.stack(faces), size).to(self.device)
        with torch.no_grad():
            embedding = self.embedder(x[None], y[None])  # (1, N_e)
        if self.config.finetune_steps:
            notes += self._content_note()
            tuning = start_finetuning(self.generator, self.discriminator, embedding)
            finetune(tuning, x, y, self.config.finetune_steps, self._content(), self.training)
            generator, psi = frozen(tuning.generator), tuning.psi.detach()
        else:
            generator, psi = self.painter, self.generator.project(embedding).detach()
        notes = tuple(dict.fromkeys(notes))  # once each, in order
        for line in notes:
            logger.warning(line)
        return NeuralIdentity(generator, psi, embedding, faces[0], self.config.size, notes)

    def render(self, identity: NeuralIdentity, motion: Motion) -> Iterator[np.ndarray]:
        """Yield `motion.frames` RGB uint8 frames (size, size, 3): the person's face moving as `motion` says."""
        targets = motion.landmarks(identity.landmarks)  # (T, 68, 2), px of the model's square
        size, batch = self.model.size, self.config.batch
        with torch.inference_mode():
            for start in range(0, motion.frames, batch):
                y = landmark_images(targets[start:start + batch], size).to(self.device)
                frames = identity.generator(y, identity.psi.expand(len(y), -1))
                pixels = frames.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
                for frame in pixels:
                    yield _resized(frame, identity.size)

    def _content(self) -> ContentLoss:
        return ContentLoss(self.training.weights, self.config.vgg19_weights,
                           self.config.vggface_weights).to(self.device)

    def _content_note(self) -> list[str]:
        if self.trained_with != PIXEL and not (self.config.vgg19_weights or self.config.vggface_weights):
            return [f"fine-tuning with the pixel content loss: the checkpoint was trained with {self.trained_with}, "
                    "whose weights are not configured here"]
        return []


def load_model(path: Path | str, device: str | torch.device | None = None) -> NeuralModel:
    """The checkpoint or export at `path`, told apart by its content, as float32 networks in eval mode on `device`
    (default: CUDA when available, else the CPU). Raises BadCheckpoint.

    An export's half-precision weights are widened to float32: it then renders as its checkpoint does, to within
    rounding."""
    path = Path(path)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if export.is_export(path):
        saved = export.load(path)
        config, trained_with, training = saved.model, saved.content, None
        nets = saved.embedder, saved.generator, None
    else:
        state = checkpoint.load(path)
        config, trained_with = checkpoint.model_config(state, path), state["content"]
        training = TrainConfig.from_dict(state["train"], path)
        nets = checkpoint.networks(state, path)
    embedder, generator, discriminator = (None if net is None else net.to(device).eval() for net in nets)
    return NeuralModel(path, device, config, trained_with, embedder, generator, frozen(generator), discriminator,
                       training)


def frozen(generator: Generator) -> Generator:
    """A copy of G for painting frames: eval mode, no gradients, spectral norm folded into the weights (W /
    sigma computed once, not per frame: a quarter of a CPU forward pass)."""
    painter = Generator(generator.config)  # not a deepcopy: that would share, and break, G's parametrization classes
    painter.load_state_dict(generator.state_dict())
    painter.eval().requires_grad_(False)
    for module in painter.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return painter.to(generator.P.device)


def start_finetuning(generator: Generator, discriminator: Discriminator, embedding: torch.Tensor) -> FineTuning:
    """FT's starting point: copies of G and D, psi' = P·ê and w' = w_0 + ê, exactly (sec. 3.3)."""
    generator, discriminator = copy.deepcopy(generator).train(), copy.deepcopy(discriminator).train()
    with torch.no_grad():
        psi = nn.Parameter(generator.project(embedding))
        w = nn.Parameter(discriminator.w0 + embedding)
    return FineTuning(generator, discriminator, psi, w)


def finetune(tuning: FineTuning, x: torch.Tensor, y: torch.Tensor, steps: int, content: ContentLoss,
             config: TrainConfig) -> list[dict[str, float]]:
    """Train `tuning` for `steps` steps on the source frames x and their landmark images y (T, 3, S, S), with
    meta-learning's learning rates, loss weights and D steps per G step (no embedding match: there is no W_i).
    The losses."""
    g, d = tuning.generator, tuning.discriminator
    optimizers = (adam([*g.parameters(), tuning.psi], config.lr_eg, config),
                  adam([*d.parameters(), tuning.w], config.lr_d, config))
    count, bf16 = len(x), config.bf16 and x.device.type == "cuda"
    with torch.enable_grad():  # whatever a library did to the global grad mode
        return [gan_step(g, d, optimizers, x, y, tuning.psi.expand(count, -1), lambda: tuning.w.expand(count, -1),
                         content, config.weights, config.grad_clip, d_steps=config.d_steps, bf16=bf16)
                for _ in range(steps)]


# helpers


def _resized(frame: np.ndarray, size: int) -> np.ndarray:
    if frame.shape[0] == size:
        return np.ascontiguousarray(frame)
    interpolation = cv2.INTER_CUBIC if size > frame.shape[0] else cv2.INTER_AREA
    return cv2.resize(frame, (size, size), interpolation=interpolation)
