"""The losses of Zakharov et al. 2019, sec. 3.2, and the perceptual networks the content loss needs.

- Content (L_CNT): L1 distances between activations of VGG19 (relu1_1, 2_1, 3_1, 4_1, 5_1: torchvision's
  `features` layers 1, 6, 11, 20, 29) and of VGGFace (a VGG16 trained on faces: layers 1, 6, 11, 18, 25) for
  the generated and the real frame, weighted 1.5e-1 and 2.5e-2: the weights of the paper's final version
  (arXiv v2; v1 had 1e-2 and 2e-3). They are sized for the original Caffe networks, which take 0-255 pixels
  with the mean subtracted and no division by a std; both networks get that input here. (Fed ImageNet-
  normalized 0-1 input, as torchvision's VGG19 expects, the VGG19 term is 255 x 0.226, about 58 times
  smaller, and feature matching swamps it.) Neither network's weights can be downloaded here, and
  torchvision is not a dependency: the layers are written out below, and their weights are read from a
  file when one is configured (`SITTER_VGG19_WEIGHTS`, `SITTER_VGGFACE_WEIGHTS`: a state dict holding the
  convolutions in order, checked by shape). Which file each must be, and so the channel order its first
  convolution reads, is fixed per network (`_Vgg.bgr`):
  - VGG19: Oxford VGG's Caffe VGG19 (Simonyan & Zisserman 2014, CC BY 4.0) as converted to PyTorch
    unchanged, e.g. jcjohnson/pytorch-vgg's `vgg19-d01eb7cb.pth`: its first convolution reads BGR.
    torchvision's `vgg19-dcbb9e9d.pth` loads too (same shapes) but was trained on other input: wrong here.
  - VGGFace: Oxford VGG's VGG-Face (Parkhi et al. 2015, non-commercial research use only) as converted
    through MatConvNet, e.g. Albanie's `vgg_face_dag.pth`: its first convolution reads RGB.
  `ContentLoss.kind` names the networks and this input ("vgg19-caffe", "vggface"), so that a checkpoint
  trained on VGG19's earlier 0-1 input ("vgg19") is not resumed under the new scale.
  Without either file the content loss is a pixel-space stand-in: L1 + (1 - multi-scale SSIM), weighted 10
  (~1 at the start, the size of the adversarial terms). It makes sharp-enough faces for tests and small
  runs; a checkpoint records which content loss trained it (`ContentLoss.kind`).
- Adversarial: hinge loss for D, max(0, 1 - r_real) + max(0, 1 + r_fake), on D's raw, unbounded score (no
  sigmoid: a sigmoid under a hinge saturates, and the hinge never sees a margin); -r_fake for G, plus
  feature matching (L1 between D's activations on the fake and on the real frame, weight 10).
- Embedding match (L_MCH): L1 between ê_i and W_i, weight 80, pulling E's embedding of a video and D's
  column for it together.
"""

import pickle
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import BadCheckpoint

PIXEL = "pixel-l1-msssim"  # ContentLoss.kind without perceptual weights


@dataclass(frozen=True)
class LossWeights:
    """The paper's loss weights, and the pixel stand-in's."""

    vgg19: float = 1.5e-1  # arXiv v2's; on Caffe-scale input (see above)
    vggface: float = 2.5e-2
    pixel: float = 10.0  # L1 + (1 - MS-SSIM) when no perceptual weights are given
    fm: float = 10.0
    match: float = 80.0


@dataclass(frozen=True)
class _Vgg:
    """A VGG's convolution widths ("M": 2x2 max-pooling) up to the last layer compared (VGG19 and VGG16
    have more after it), the layers whose activations are compared, and how it expects its input:
    normalized by a per-channel mean and std (of the R, G and B channels of an image in [0, 1]), then fed
    to a first convolution that reads BGR (`bgr`, as Caffe's) or RGB."""

    name: str
    kind: str  # its part of ContentLoss.kind: changes when its input does
    layers: tuple[int | str, ...]
    taps: tuple[int, ...]  # indices into torchvision-style `features`: conv, relu, ..., "M"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    bgr: bool


_CAFFE = (1 / 255,) * 3  # a std of 1/255: 0-255 pixels, the mean off, no division
VGG19 = _Vgg("vgg19", "vgg19-caffe",
             (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512),
             (1, 6, 11, 20, 29), (123.68 / 255, 116.779 / 255, 103.939 / 255), _CAFFE, bgr=True)  # ImageNet mean
VGGFACE = _Vgg("vggface", "vggface", (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512),
               (1, 6, 11, 18, 25), (129.186 / 255, 104.762 / 255, 93.594 / 255), _CAFFE, bgr=False)  # VGG-Face's


class Perceptual(nn.Module):
    """A frozen VGG up to its last compared layer, its weights read from `path`; `forward` gives the
    activations at its taps."""

    def __init__(self, spec: _Vgg, path: Path | str) -> None:
        super().__init__()
        self.spec = spec
        layers, channels = [], 3
        for width in spec.layers:
            if width == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
                channels = width
        self.features = nn.Sequential(*layers[:max(spec.taps) + 1])
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))
        _load_convolutions(self.features, Path(path), spec.name)
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, taps = (x - self.mean) / self.std, []
        if self.spec.bgr:
            h = h.flip(1)
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in self.spec.taps:
                taps.append(h)
        return taps


class ContentLoss(nn.Module):
    """L_CNT between a generated and a real frame (B, 3, S, S) in [0, 1]: VGG19 and/or VGGFace when their
    weight files are given, else the pixel stand-in. `kind` says which, for the checkpoint."""

    def __init__(self, weights: LossWeights, vgg19: Path | str | None = None,
                 vggface: Path | str | None = None) -> None:
        super().__init__()
        given = [(spec, path, factor) for spec, path, factor in
                 ((VGG19, vgg19, weights.vgg19), (VGGFACE, vggface, weights.vggface)) if path]
        self.networks = nn.ModuleList([Perceptual(spec, path) for spec, path, _ in given])
        self.factors = [factor for _, _, factor in given]
        self.pixel = weights.pixel
        self.kind = "+".join(spec.kind for spec, _, _ in given) or PIXEL

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if not self.networks:
            return self.pixel * (F.l1_loss(fake, real) + 1 - ms_ssim(fake, real))
        total = fake.new_zeros(())
        for network, factor in zip(self.networks, self.factors, strict=True):
            with torch.no_grad():
                targets = network(real)
            total = total + factor * sum(F.l1_loss(a, b) for a, b in zip(network(fake), targets, strict=True))
        return total


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's hinge loss on its raw scores (B,) for real and generated frames."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def adversarial_g(fake: torch.Tensor) -> torch.Tensor:
    """G's adversarial loss: D's raw score on the generated frames, negated."""
    return -fake.mean()


def feature_matching(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Sum over D's blocks of the L1 distance between its activations on generated and on real frames."""
    return sum(F.l1_loss(a, b) for a, b in zip(fake, real, strict=True))


def embedding_match(embedding: torch.Tensor, column: torch.Tensor) -> torch.Tensor:
    """L_MCH: L1 between E's embeddings ê_i (B, N_e) and D's columns W_i for the same videos."""
    return F.l1_loss(embedding, column)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int = 5) -> torch.Tensor:
    """Multi-scale SSIM of images in [0, 1]: the mean of SSIM over a pyramid of 2x reductions (up to `scales`,
    while the image holds two windows). Wang et al. 2003 take a weighted product instead, which goes NaN
    when an early, noisy generator makes a contrast term negative; the mean has the same optimum."""
    values = []
    for _ in range(scales):
        values.append(_ssim(x, y))
        if min(x.shape[-2:]) < 4 * _WINDOW:
            break
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return torch.stack(values).mean()


# helpers

_WINDOW, _SIGMA = 7, 1.5  # SSIM's Gaussian window: 7 px (not 11) so that a 16 px image still has a scale


def _ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) over a Gaussian window, valid positions only, data range 1."""
    c1, c2 = 0.01**2, 0.03**2
    g = torch.exp(-((torch.arange(_WINDOW, device=x.device, dtype=x.dtype) - _WINDOW // 2) ** 2) / (2 * _SIGMA**2))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(x.shape[1], 1, _WINDOW, _WINDOW)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=x.shape[1])

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return ssim.mean()


def _load_convolutions(features: nn.Sequential, path: Path, name: str) -> None:
    """Fill `features`' convolutions from a state dict file: its 4-D tensors in order, each with the 1-D
    tensor after it as bias (torchvision's `features.N.weight/bias`, or another port's `conv1_1.weight`)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise BadCheckpoint(f"the {name} weights file can't be read as a torch state dict ({err})", path) from None
    state = state.get("state_dict", state) if isinstance(state, dict) else {}
    tensors = [t for t in state.values() if isinstance(t, torch.Tensor)]
    pairs = [(w, b) for w, b in pairwise(tensors) if w.dim() == 4 and b.dim() == 1]
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    for index, conv in enumerate(convs):
        if index >= len(pairs) or pairs[index][0].shape != conv.weight.shape:
            found = tuple(pairs[index][0].shape) if index < len(pairs) else "nothing"
            raise BadCheckpoint(f"the {name} weights file does not hold {name}'s convolutions: convolution "
                                f"{index + 1} should be {tuple(conv.weight.shape)}, the file has {found}", path)
        with torch.no_grad():
            conv.weight.copy_(pairs[index][0])
            conv.bias.copy_(pairs[index][1])
