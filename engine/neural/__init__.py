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
    export.py       the lean model for rendering: E and G in half precision, as safetensors (`sitter export`)
    engine.py       NeuralEngine: prepare (FF or FT few-shot adaptation) and render, like the warp engine
    cache.py        ModelCache: a studio's (or render worker's) models, loaded once per file and device
    samples.py      seeing training work: sample grids of held-out identities (FF, FT), the identity-collapse check

Each name here is imported when first used (sitter.lazy), and all but ModelCache import torch: engine/ itself does
not, so the CLI starts fast, and a Studio holds a ModelCache without loading torch until a neural render. Training is
`meta_learn` (the paper's meta-learning stage; `sitter train` runs it).
"""

from sitter.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "engine.neural.cache": ("ModelCache",),
    "engine.neural.engine": ("NeuralConfig", "NeuralEngine", "NeuralIdentity", "NeuralModel", "load_model"),
    "engine.neural.export": ("export_model",),
    "engine.neural.model": ("ModelConfig", "parameter_counts"),
    "engine.neural.prepare": ("PrepareConfig", "PrepareSummary", "prepare_data"),
    "engine.neural.train": ("TrainConfig", "meta_learn"),
})
