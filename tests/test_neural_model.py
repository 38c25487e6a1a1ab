"""The neural engine's pieces without training: landmark images, the three networks, the losses."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from engine import BadCheckpoint, load_landmarks
from engine.faces import PARTS
from engine.neural.engine import frozen
from engine.neural.landmarks import landmark_images, rasterize
from engine.neural.losses import PIXEL, VGG19, VGGFACE, ContentLoss, LossWeights, hinge_d, ms_ssim
from engine.neural.model import AdaIN, Discriminator, Embedder, Generator, ModelConfig, parameter_counts

DATA = Path(__file__).parent / "data"
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)  # torchvision's VGG19 input: (x - mean) / std
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
TINY = ModelConfig(size=32, base=8, max_channels=32, g_downs=2, res_blocks=1)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def face() -> np.ndarray:
    """A real face's landmarks, scaled into a 64 px square."""
    points = load_landmarks(DATA / "einstein_photo.landmarks.json")[0]
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - low) / (high - low).max() * 40 + 12


def test_landmark_images_draw_each_part_in_its_own_colour(face: np.ndarray) -> None:
    image = rasterize(face * 4, 256)  # 2 px lines: their middles are the pure colour
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    colours = {tuple(c) for c in image.reshape(-1, 3)}
    for first, _, _, colour in PARTS:
        x, y = np.round(face[first] * 4).astype(int)
        window = image[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).astype(int)
        assert np.abs(window - colour).sum(axis=1).min() < 60, f"part from point {first} is not in its colour"
    assert len({colour for *_, colour in PARTS}) == len(PARTS) and (0, 0, 0) in colours
    assert not rasterize(np.full((68, 2), np.nan), 64).any()  # no face: a blank image
    shifted = landmark_images(np.stack([face, face + 0.25]), 64)  # sub-pixel motion shows
    assert shifted.shape == (2, 3, 64, 64) and shifted.min() >= 0 and shifted.max() <= 1
    assert not torch.equal(shifted[0], shifted[1])


def test_the_networks_have_the_papers_shapes() -> None:
    torch.manual_seed(0)
    E, G, D = Embedder(TINY).eval(), Generator(TINY).eval(), Discriminator(TINY, videos=3).eval()  # SN fixed
    x, y = torch.rand(2, 4, 3, 32, 32), torch.rand(2, 4, 3, 32, 32)
    e = E(x, y)
    assert e.shape == (2, TINY.embedding) and (e >= 0).all()  # ReLU, then max-pooling
    assert torch.allclose(E(x[:1], y[:1]), e[:1], atol=1e-6)  # an embedding depends on its own frames only
    psi = G.project(e)
    assert psi.shape == (2, G.psi_size) and torch.equal(psi, e @ G.P.T)
    adains = [m for m in G.modules() if isinstance(m, AdaIN)]
    assert [a.start for a in adains] == list(np.cumsum([0] + [a.params for a in adains])[:-1])
    assert sum(a.params for a in adains) == G.psi_size  # psi is laid out over every AdaIN, nothing spare
    fake = G(y[:, 0], psi)
    assert fake.shape == (2, 3, 32, 32) and fake.min() >= 0 and fake.max() <= 1
    assert not torch.allclose(G(y[:, 0], psi * 3), fake)  # psi drives the image
    score, features = D(fake, y[:, 0], D.projection(torch.tensor([0, 2])))
    assert score.shape == (2,) and len(features) == 5 and features[-1].shape == (2, TINY.embedding, 4, 4)


def test_parameter_counts_at_the_papers_widths() -> None:
    counts = parameter_counts(ModelConfig(), videos=1)
    print(f"paper widths: E {counts['E'] / 1e6:.2f}M, G {counts['G'] / 1e6:.2f}M, D {counts['D'] / 1e6:.2f}M")
    assert 13.5e6 < counts["E"] < 16e6 and 36e6 < counts["G"] < 40e6 and 18.5e6 < counts["D"] < 21e6
    small = ModelConfig(size=16, base=256, max_channels=512, g_downs=1)  # N_e = 512, as the paper's
    more, fewer = Discriminator(small, videos=10), Discriminator(small, videos=9)
    assert sum(p.numel() for p in more.parameters()) - sum(p.numel() for p in fewer.parameters()) == 512


def test_every_convolution_has_spectral_norm() -> None:
    for net in Embedder(TINY), Generator(TINY), Discriminator(TINY, 1):
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(hasattr(m, "parametrizations") and "weight" in m.parametrizations for m in convs)


def test_the_painting_copy_folds_spectral_norm_and_paints_the_same() -> None:
    torch.manual_seed(0)
    G = Generator(TINY).eval()
    y, psi = torch.rand(2, 3, 32, 32), torch.rand(2, G.psi_size) * 0.1
    painter = frozen(G)
    assert not any(hasattr(m, "parametrizations") for m in painter.modules())
    with torch.no_grad():
        assert torch.allclose(painter(y, psi), G(y, psi), atol=1e-5)  # and G itself still works


def test_the_discriminator_score_is_unbounded() -> None:
    """No sigmoid under the hinge loss: the score scales with the projection and shifts with the bias."""
    torch.manual_seed(0)
    D = Discriminator(TINY, videos=2).eval()
    assert not any(isinstance(m, torch.nn.Sigmoid | torch.nn.Tanh) for m in D.modules())
    x, y, w = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32), D.projection(torch.tensor([0, 1, 1]))
    with torch.no_grad():
        score, _ = D(x, y, w)
        big, _ = D(x, y, w * 1e4)
        D.b.fill_(25.0)
        shifted, _ = D(x, y, w)
    assert big.abs().max() > 10
    assert torch.allclose(shifted - score, torch.full_like(score, 25.0)) and shifted.min() > 1


def test_the_discriminator_loss_is_the_hinge() -> None:
    assert hinge_d(torch.tensor([0.0]), torch.tensor([0.0])).item() == 2.0
    assert hinge_d(torch.tensor([3.0]), torch.tensor([-3.0])).item() == 0.0  # past the margin: no loss, no push
    real = torch.tensor([0.5, 4.0], requires_grad=True)
    hinge_d(real, torch.tensor([-2.0])).backward()
    assert real.grad.tolist() == [-0.5, 0.0]  # linear inside the margin, flat outside (a BCE never is)


def test_without_perceptual_weights_the_content_loss_is_pixels() -> None:
    torch.manual_seed(0)
    content = ContentLoss(LossWeights())
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert content.kind == PIXEL and len(content.networks) == 0
    assert content(a, a).item() == pytest.approx(0.0, abs=1e-5) and content(a, b).item() > 1
    assert ms_ssim(a, a).item() == pytest.approx(1.0, abs=1e-5) and ms_ssim(a, b).item() < 0.2


def test_vgg19_weights_load_from_a_state_dict_file(tmp_path: Path) -> None:
    state = _standin(VGG19)
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    content = ContentLoss(LossWeights(), vgg19=path)
    assert content.kind == "vgg19-caffe" and sum(w != "M" for w in VGG19.layers) == 13
    assert torch.equal(content.networks[0].features[0].weight, state["features.0.weight"])
    a = torch.rand(1, 3, 32, 32)
    assert content(a, a).item() == 0.0 and content(a, torch.rand(1, 3, 32, 32)).item() > 0
    del state["features.28.weight"], state["features.28.bias"]
    torch.save(state, path)
    with pytest.raises(BadCheckpoint, match=r"convolution 13 should be \(512, 512, 3, 3\), the file has nothing"):
        ContentLoss(LossWeights(), vgg19=path)
    path.write_bytes(b"not a state dict")
    with pytest.raises(BadCheckpoint, match="can't be read as a torch state dict"):
        ContentLoss(LossWeights(), vgg19=path)


def test_the_perceptual_terms_are_of_the_size_the_papers_weights_expect(portrait: Path, tmp_path: Path) -> None:
    """The paper's weights (1.5e-1, 2.5e-2) are for Caffe input, 0-255 with the mean off; on torchvision's
    ImageNet-normalized 0-1 input the VGG19 term is 255 x 0.226 = 58 times smaller, and feature matching
    (x10) swamps it. Stand-ins with the real layers: a real face against a copy shifted by 2 px."""
    weights = LossWeights()
    torch.save(_standin(VGG19, seed=0), tmp_path / "vgg19.pth")
    torch.save(_standin(VGGFACE, seed=1, caffe_names=True), tmp_path / "vggface.pth")
    vgg19 = ContentLoss(weights, vgg19=tmp_path / "vgg19.pth")
    vggface = ContentLoss(weights, vggface=tmp_path / "vggface.pth")
    real = _square(portrait, 128)
    fake = torch.roll(real, (2, 2), dims=(2, 3))
    term19, term_face = vgg19(fake, real).item(), vggface(fake, real).item()
    features = vgg19.networks[0].features
    imagenet = sum(F.l1_loss(a, b) for a, b in zip(_taps(features, (fake - IMAGENET_MEAN) / IMAGENET_STD),
                                                   _taps(features, (real - IMAGENET_MEAN) / IMAGENET_STD),
                                                   strict=True)).item()
    assert 30 < term19 / weights.vgg19 / imagenet < 120
    assert 0.1 < term19 / term_face < 10  # weighted, the two networks count alike
    assert 0.1 < term_face < term19 < 20  # near the adversarial terms' ~1, as the paper's weights intend


@pytest.mark.parametrize(("spec", "reads"), [(VGG19, 2), (VGGFACE, 0)])
def test_each_network_reads_the_channel_order_of_its_weight_file(spec, reads: int, tmp_path: Path) -> None:
    """VGG19's file is Caffe's, whose first convolution reads BGR (its input 0 is blue); VGGFace's is a
    MatConvNet port's, which reads RGB."""
    state = _standin(spec, caffe_names=spec is VGGFACE)
    first = next(iter(state))
    state[first][:, 1:] = 0  # the first convolution sees its input channel 0 only
    torch.save(state, tmp_path / "weights.pth")
    content = ContentLoss(LossWeights(), **{spec.name: tmp_path / "weights.pth"})
    real = torch.rand(1, 3, 32, 32)
    for channel in range(3):
        fake = real.clone()
        fake[:, channel] = torch.rand(32, 32)
        assert (content(fake, real).item() > 0) == (channel == reads), f"channel {channel}"


def test_the_neural_engine_imports_neither_consent_nor_provenance() -> None:
    check = ("import sys, engine.neural, engine.neural.data, engine.neural.train, engine.neural.engine; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('consent', 'provenance', 'studio')))")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parents[1])
    assert result.stdout.strip() == "[]"


def _standin(spec, seed: int = 0, caffe_names: bool = False) -> dict[str, torch.Tensor]:
    """A state dict of `spec`'s convolutions in their real shapes, He-normal (so activations keep their size
    through depth, as trained ones roughly do), named as torchvision's `features.N` or a Caffe port's
    `convB_N`; and a classifier after them, which loading skips."""
    generator = torch.Generator().manual_seed(seed)
    state, channels, index, block, number = {}, 3, 0, 1, 1
    for width in spec.layers:
        if width == "M":
            index, block, number = index + 1, block + 1, 1
            continue
        name = f"conv{block}_{number}" if caffe_names else f"features.{index}"
        state[f"{name}.weight"] = torch.randn(width, channels, 3, 3, generator=generator) * (2 / (9 * channels)) ** 0.5
        state[f"{name}.bias"] = torch.zeros(width)
        channels, index, number = width, index + 2, number + 1
    state["classifier.0.weight"] = torch.zeros(2, 2)
    return state


def _square(path: Path, size: int) -> torch.Tensor:
    """The photo at `path`, its middle square at `size` px: (1, 3, size, size) in [0, 1]."""
    image = Image.open(path).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.array(square)).permute(2, 0, 1)[None].float() / 255


def _taps(features: torch.nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """VGG19's compared activations for input already normalized."""
    taps = []
    with torch.no_grad():
        for index, layer in enumerate(features):
            x = layer(x)
            if index in VGG19.taps:
                taps.append(x)
    return taps
