"""engine/neural/: the neural engine, after Zakharov et al. 2019, "Few-Shot Adversarial Learning of Realistic
Neural Talking Head Models" (arXiv 1905.08233). One file per idea, read in this order:

    landmarks.py    landmark images: the 68 points drawn as coloured polylines, what G is conditioned on
    model.py        the networks: embedder E, generator G (AdaIN driven by P·ê), projection discriminator D
    losses.py       content (VGG19 / VGGFace, or a pixel stand-in), hinge, feature matching, embedding match
    prepare.py      `sitter prepare-data`: videos to JPEG frames and landmarks in tar shards, resumable, parallel
    shards.py       the shards and their index: writing, and reading with few files open
    data.py         training videos from the shards, drawn as episodes (in DataLoader workers)
    checkpoint.py   the one file that resumes training or renders, and its checks
    train.py        meta-learning (and `gan_step`, which fine-tuning shares); DDP under torchrun
    engine.py       NeuralEngine: prepare (FF or FT few-shot adaptation) and render, like the warp engine
    samples.py      seeing training work: sample grids of held-out identities (FF, FT), the identity-collapse check

Importing this package imports torch; engine/ itself does not, so the CLI starts fast. Training is
`meta_learn` (the paper's meta-learning stage; `sitter train` runs it).
"""

from engine.neural.engine import NeuralConfig, NeuralEngine, NeuralIdentity
from engine.neural.model import ModelConfig, parameter_counts
from engine.neural.prepare import PrepareConfig, PrepareSummary, prepare_data
from engine.neural.train import TrainConfig, meta_learn

__all__ = ["ModelConfig", "NeuralConfig", "NeuralEngine", "NeuralIdentity", "PrepareConfig", "PrepareSummary",
           "TrainConfig", "meta_learn", "parameter_counts", "prepare_data"]
