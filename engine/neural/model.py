"""The three networks of Zakharov et al. 2019, "Few-Shot Adversarial Learning of Realistic Neural Talking
Head Models" (arXiv 1905.08233), all in this file: the embedder E, the generator G and the discriminator D.

- Blocks are BigGAN's (Brock et al. 2019): residual blocks that halve, keep or double the resolution, with
  self-attention (SAGAN, Zhang et al. 2019) and spectral norm (Miyato et al. 2018) on every convolution of
  all three networks, as the paper has it.
- E(x, y) -> ê: a person's frames and their landmark images, down to 4x4 without normalization, then
  global max-pooling; averaged over the K frames.
- G(y, psi): a landmark image down with instance norm, through constant-resolution blocks and back up with
  adaptive instance norm (AdaIN, Huang & Belongie 2017) whose scales and shifts are psi = P·ê, the person's
  embedding projected by a learned matrix P. In meta-learning psi comes from E; fine-tuning starts psi' there
  and learns it (engine/neural/engine.py).
- D(x, y, w): E's trunk plus a residual block at 4x4, then the projection r = V^T w + b (Miyato & Koyama
  2018), w = W_i + w_0 with one column W_i per training video. r is unbounded: it feeds a hinge loss, and a
  sigmoid there would saturate (outputs of large flat blocks in public re-implementations).

Bottom-up: the config, the blocks, then E, G and D. Shapes: B batch, K frames of a person, S the image side,
C channels, N_e the embedding size.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class ModelConfig:
    """Every architectural knob. The defaults are the paper's: 256 px, 64 to 512 channels, N_e = 512; tests
    use tiny widths and sizes (e.g. base=8, max_channels=32, size=32)."""

    size: int = 256  # images and landmark images are size x size; a power of two, at least 16
    base: int = 64  # channels of the first block, doubled with each halving of the resolution...
    max_channels: int = 512  # ...up to this; the trunk's last width is N_e, the embedding's size
    g_downs: int = 4  # G halves the resolution this many times (256 -> 16) before its constant blocks
    res_blocks: int = 5  # G's constant-resolution AdaIN blocks; 5 puts G at the paper's ~38M parameters

    def __post_init__(self) -> None:
        if self.size < 16 or self.size & (self.size - 1):
            raise ValueError(f"model size must be a power of two, at least 16; got {self.size}")
        if not 1 <= self.g_downs <= self.trunk_blocks:
            raise ValueError(f"g_downs must be between 1 and {self.trunk_blocks} at {self.size} px, got {self.g_downs}")
        if not (1 <= self.base <= self.max_channels and self.res_blocks >= 0):
            raise ValueError(f"channels must be 1 <= base <= max_channels and res_blocks >= 0, got {self}")

    @property
    def trunk_blocks(self) -> int:
        """E's and D's downsampling blocks: from size down to 4x4."""
        return int(math.log2(self.size // 4))

    @property
    def embedding(self) -> int:
        """N_e: the width of the trunk's last block, and the size of ê, psi's source and each W_i."""
        return self.channels(self.trunk_blocks - 1)

    def channels(self, level: int) -> int:
        """Channels after `level` + 1 halvings of the resolution."""
        return min(self.base * 2**level, self.max_channels)


# blocks


def conv(channels_in: int, channels_out: int, kernel: int = 3) -> nn.Module:
    """A same-size convolution with spectral norm, as every convolution here is."""
    return spectral_norm(nn.Conv2d(channels_in, channels_out, kernel, padding=kernel // 2))


class AdaIN(nn.Module):
    """Instance norm whose per-channel scale and shift are a slice of psi (the generator assigns each AdaIN
    its `start`). The scale is 1 + psi, so that psi = 0 is plain instance norm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.start = 0  # set by the Generator, which lays every AdaIN's parameters out along psi

    @property
    def params(self) -> int:
        return 2 * self.channels

    def forward(self, x: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        scale, shift = psi[:, self.start:self.start + self.params, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
        return F.instance_norm(x) * (1 + scale) + shift


class ResBlock(nn.Module):
    """BigGAN's residual block: (norm, ReLU, conv) twice, with a 1x1 convolution on the shortcut when the
    width changes; `resample` "down" average-pools both paths at the end, "up" doubles both at the start.
    `norm` is None (E, D), "instance" (G going down) or "adain" (G's constant and upsampling blocks)."""

    def __init__(self, channels_in: int, channels_out: int, *, resample: str | None = None,
                 norm: str | None = None) -> None:
        super().__init__()
        assert resample in (None, "down", "up") and norm in (None, "instance", "adain"), (resample, norm)
        self.resample, self.adaptive = resample, norm == "adain"
        self.norm1, self.norm2 = _norm(norm, channels_in), _norm(norm, channels_out)
        self.conv1, self.conv2 = conv(channels_in, channels_out), conv(channels_out, channels_out)
        self.skip = conv(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor, psi: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self._normed(self.norm1, x, psi))
        if self.resample == "up":
            h, x = F.interpolate(h, scale_factor=2.0), F.interpolate(x, scale_factor=2.0)
        h = self.conv2(F.relu(self._normed(self.norm2, self.conv1(h), psi)))
        out = h + self.skip(x)
        return F.avg_pool2d(out, 2) if self.resample == "down" else out

    def _normed(self, norm: nn.Module, x: torch.Tensor, psi: torch.Tensor | None) -> torch.Tensor:
        return norm(x, psi) if self.adaptive else norm(x)


def _norm(kind: str | None, channels: int) -> nn.Module:
    if kind == "adain":
        return AdaIN(channels)
    return nn.InstanceNorm2d(channels, affine=True) if kind == "instance" else nn.Identity()


class SelfAttention(nn.Module):
    """SAGAN self-attention over all positions, added to its input through a gain that starts at 0: the
    network starts local and learns how much global context to use. Takes (and ignores) psi, as every
    block in G's list does."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner, values = max(1, channels // 8), max(1, channels // 2)
        self.query, self.key = conv(channels, inner, 1), conv(channels, inner, 1)
        self.value, self.out = conv(channels, values, 1), conv(values, channels, 1)
        self.gain = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, psi: torch.Tensor | None = None) -> torch.Tensor:
        B, _, H, W = x.shape
        q, k, v = (f(x).flatten(2).transpose(1, 2)[:, None] for f in (self.query, self.key, self.value))  # B 1 HW c
        attended = F.scaled_dot_product_attention(q, k, v)[:, 0].transpose(1, 2).reshape(B, -1, H, W)
        return x + self.gain * self.out(attended)


def trunk(config: ModelConfig) -> list[nn.Module]:
    """E's and D's shared design (not shared weights): an image and its landmark image (6 channels) down to
    4x4 by residual blocks without normalization, with self-attention at size/8 (32x32 at 256 px)."""
    blocks, channels, resolution = [], 6, config.size
    for level in range(config.trunk_blocks):
        blocks.append(ResBlock(channels, config.channels(level), resample="down"))
        channels, resolution = config.channels(level), resolution // 2
        if resolution == config.size // 8:
            blocks.append(SelfAttention(channels))
    return blocks


def pooled(h: torch.Tensor) -> torch.Tensor:
    """(B, C, 4, 4) -> (B, C): ReLU, then global max-pooling."""
    return F.relu(h).amax(dim=(2, 3))


# the networks


class Embedder(nn.Module):
    """E(x, y): K frames of one person and their landmark images -> the person's embedding ê (B, N_e)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.blocks = nn.Sequential(*trunk(config))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        B, K = x.shape[:2]  # x, y: (B, K, 3, S, S)
        e = pooled(self.blocks(torch.cat([x, y], dim=2).flatten(0, 1)))  # (B * K, N_e)
        return e.view(B, K, -1).mean(dim=1)


class Generator(nn.Module):
    """G(y, psi): a landmark image (B, 3, S, S) and AdaIN parameters psi (B, n_psi) -> an RGB image in [0, 1].

    Down with instance norm to size / 2^g_downs (self-attention at size/8), `res_blocks` constant blocks,
    then back up (self-attention at size/4), the constant and upsampling blocks normalized by AdaIN.
    `project(ê)` = P·ê gives psi from an embedding.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        down, channels, resolution = [], 3, config.size
        for level in range(config.g_downs):
            down.append(ResBlock(channels, config.channels(level), resample="down", norm="instance"))
            channels, resolution = config.channels(level), resolution // 2
            if resolution == config.size // 8:
                down.append(SelfAttention(channels))
        body = [ResBlock(channels, channels, norm="adain") for _ in range(config.res_blocks)]
        up = []
        for level in reversed(range(config.g_downs)):
            out = config.channels(level - 1) if level else config.base
            up.append(ResBlock(channels, out, resample="up", norm="adain"))
            channels, resolution = out, resolution * 2
            if resolution == config.size // 4:
                up.append(SelfAttention(channels))
        self.blocks = nn.ModuleList(down + body + up)
        self.out_norm, self.out = nn.InstanceNorm2d(channels, affine=True), conv(channels, 3)
        start = 0  # lay every AdaIN's scales and shifts out along psi, in block order
        for adain in (m for m in self.modules() if isinstance(m, AdaIN)):
            adain.start, start = start, start + adain.params
        self.psi_size = start
        # P starts small: psi ~ 0 is plain instance norm, and meta-learning grows the person's say in it
        self.P = nn.Parameter(torch.randn(self.psi_size, config.embedding) / config.embedding)

    def project(self, e: torch.Tensor) -> torch.Tensor:
        """psi = P·ê: (B, N_e) -> (B, n_psi)."""
        return e @ self.P.T

    def forward(self, y: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        h = y
        for block in self.blocks:
            h = block(h, psi)
        return torch.sigmoid(self.out(F.relu(self.out_norm(h))))


class Discriminator(nn.Module):
    """D(x, y, w): is x a real frame of the person whose projection vector is w, with landmarks y?

    Returns the realism score r = V^T w + b (B,), unbounded, and every block's activations (for the feature
    matching loss). w is `projection(i)` = W_i + w_0 in meta-learning, w' = w_0 + ê in fine-tuning.
    """

    def __init__(self, config: ModelConfig, videos: int) -> None:
        super().__init__()
        assert videos >= 1, f"a discriminator needs at least one training video, got {videos}"
        self.config = config
        channels = config.embedding
        self.blocks = nn.ModuleList([*trunk(config), ResBlock(channels, channels)])
        self.W = nn.Parameter(torch.randn(videos, channels) / math.sqrt(channels))  # one row W_i per video
        self.w0 = nn.Parameter(torch.zeros(channels))
        self.b = nn.Parameter(torch.zeros(()))

    def projection(self, video: torch.Tensor) -> torch.Tensor:
        """(B,) video indices -> (B, N_e) projection vectors W_i + w_0."""
        return self.W[video] + self.w0

    def forward(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, features = torch.cat([x, y], dim=1), []  # (B, 6, S, S)
        for block in self.blocks:
            h = block(h)
            features.append(h)
        return (pooled(h) * w).sum(dim=1) + self.b, features


def parameter_counts(config: ModelConfig, videos: int = 1) -> dict[str, int]:
    """Parameters of E, G and D (D with `videos` columns W_i) for `config`: the paper's widths give E ~15M,
    G ~38M and D ~20M + 512 per video."""
    nets = {"E": Embedder(config), "G": Generator(config), "D": Discriminator(config, videos)}
    return {name: sum(p.numel() for p in net.parameters()) for name, net in nets.items()}
