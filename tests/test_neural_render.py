"""The neural engine renders: few-shot adaptation (FF and FT), `sitter train`, and `sitter render --engine
neural` through the one render path, labeled and verifiable like every render."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import preset
from engine.neural import NeuralConfig, NeuralEngine, checkpoint
from engine.neural.engine import finetune, start_finetuning
from engine.neural.losses import ContentLoss, LossWeights
from provenance import Verdict, verify
from provenance.video import probe
from studio.settings import Settings

DATA = Path(__file__).parent / "data"
SOURCES = [DATA / "einstein_photo.jpg", DATA / "bouguereau_girl_small.jpg"]
LANDMARKS = [p.with_name(p.stem + ".landmarks.json") for p in SOURCES]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def consented(consent_to) -> str:
    """A marketing consent for both source portraits; its record id."""
    return consent_to(*SOURCES)


def test_finetuning_starts_at_p_e_and_w0_plus_e(trained: tuple[Path, list]) -> None:
    engine = NeuralEngine(trained[0], NeuralConfig(size=128, device="cpu"))
    identity = engine.prepare(SOURCES, LANDMARKS)
    e, G, D = identity.embedding, engine.generator, engine.discriminator
    tuning = start_finetuning(G, D, e)
    assert torch.equal(tuning.psi, e @ G.P.T) and torch.equal(tuning.w, D.w0 + e)  # exactly
    assert torch.equal(identity.psi, tuning.psi)  # feed-forward renders from where fine-tuning starts
    originals = [p.detach().clone() for p in (*G.parameters(), *D.parameters())]
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    losses = finetune(tuning, x, y, 2, ContentLoss(LossWeights()), engine.training)
    assert len(losses) == 2 and all(step["g_applied"] and step["d_applied"] for step in losses)
    assert not torch.equal(tuning.psi, e @ G.P.T) and not torch.equal(tuning.w, D.w0 + e)  # both learned
    assert all(torch.equal(a, b) for a, b in zip(originals, (*G.parameters(), *D.parameters()), strict=True))


def test_ff_and_ft_render_the_motion_at_the_output_size(trained: tuple[Path, list]) -> None:
    motion = preset("speak", seconds=0.8, fps=10, seed=1)
    feed_forward = NeuralEngine(trained[0], NeuralConfig(size=128, device="cpu", batch=3))
    identity = feed_forward.prepare(SOURCES, LANDMARKS)
    frames = list(feed_forward.render(identity, motion))
    assert len(frames) == 8 and all(f.shape == (128, 128, 3) and f.dtype == np.uint8 for f in frames)
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])  # the mouth moves
    tuned = NeuralEngine(trained[0], NeuralConfig(size=128, device="cpu", finetune_steps=2)).prepare(SOURCES, LANDMARKS)
    assert tuned.generator is not feed_forward.generator and not torch.equal(tuned.psi, identity.psi)
    assert torch.equal(tuned.embedding, identity.embedding)


def test_a_neural_render_is_labeled_and_verifiable(sitter, consented: str, trained: tuple[Path, list], home: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "neural.mp4"
    result = sitter("render", "--engine", "neural", "--checkpoint", trained[0], "--finetune-steps", "2",
                    *(arg for source, marks in zip(SOURCES, LANDMARKS, strict=True)
                      for arg in ("--source", source, "--landmarks", marks)),
                    "--purpose", "marketing", "--motion", "talk", "--seconds", "1", "--fps", "10", "--size", "256",
                    "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["frames"] == 10 and (probe(out).width, probe(out).height) == (256, 256)
    settings = Settings.from_env({"SITTER_HOME": str(home)})
    with settings.open_registry() as registry, settings.open_ledger() as ledger:
        report = verify(out, trust_anchors=settings.known_trust_anchors(), registry=registry, ledger=ledger)
        assert ledger.get(consented).uses == 1
    assert report.verdict is Verdict.LABELED and report.manifest.trusted and report.watermark.found
    assert report.manifest.engine.startswith("sitter-neural ") and report.consent.record_id == consented


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--engine", "neural"], "the neural engine needs a meta-learned checkpoint"),
        (["--engine", "neural", "--checkpoint", "{garbage}"], "not a Sitter neural checkpoint"),
        (["--finetune-steps", "3"], "fine-tuning steps are for the neural engine"),
    ],
    ids=["no-checkpoint", "not-a-checkpoint", "finetune-with-warp"],
)
def test_bad_neural_renders_exit_2_in_one_line(sitter, consented: str, tmp_path: Path, extra: list[str],
                                               message: str) -> None:
    garbage = tmp_path / "heads.pt"
    garbage.write_bytes(b"these are not the weights you are looking for")
    out = tmp_path / "outputs" / "bad.mp4"
    result = sitter("render", "--source", SOURCES[0], "--landmarks", LANDMARKS[0], "--purpose", "marketing",
                    "--seconds", "1", "--out", out, *(arg.format(garbage=garbage) for arg in extra))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert not out.exists()


def test_sitter_train_writes_a_checkpoint_and_resumes_it(sitter, talking_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "heads.pt"
    common = ["train", "--data", talking_data, "--out", out, "--k", "2", "--log-every", "1"]
    tiny = ["--size", "32", "--base-channels", "8", "--max-channels", "32", "--res-blocks", "1", "--g-downs", "2"]
    first = sitter(*common, *tiny, "--steps", "2")
    assert first.exit_code == 0, first.output
    assert "parameters: E 0.02M" in first.output and "step 2: g " in first.output
    assert f"wrote {out}: step 2" in first.stdout
    again = sitter(*common, "--steps", "3", "--resume")
    assert again.exit_code == 0, again.output
    assert checkpoint.load(out)["step"] == 3
    exists = sitter(*common, "--steps", "3")
    assert exists.exit_code == 2 and "already at the output path" in exists.output
    mixed = sitter(*common, "--resume", "--size", "64")
    assert mixed.exit_code == 2 and "keeps its checkpoint's model" in mixed.output
