"""The lean neural model: `sitter export` (E and G alone, half precision, safetensors), rendering from it through
the one render path, its refusals, and the studio's models loaded once (engine/neural/cache.py)."""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from engine import preset
from engine.neural import ModelCache, ModelConfig, NeuralConfig, NeuralEngine, checkpoint, load_model
from engine.neural.model import Embedder, Generator
from provenance import Verdict, verify
from studio.pipeline import RenderRequest, render
from studio.settings import Settings

DATA = Path(__file__).parent / "data"
SOURCES = [DATA / "einstein_photo.jpg", DATA / "bouguereau_girl_small.jpg"]
LANDMARKS = [p.with_name(p.stem + ".landmarks.json") for p in SOURCES]
GIVEN = [arg for source, marks in zip(SOURCES, LANDMARKS, strict=True) for arg in ("--source", source,
                                                                                   "--landmarks", marks)]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def exported(trained: tuple[Path, list], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint's export, in float16."""
    from engine.neural import export_model

    out = tmp_path_factory.mktemp("export") / "tiny.safetensors"
    export_model(trained[0], out)
    return out


@pytest.fixture
def consented(consent_to) -> str:
    return consent_to(*SOURCES)


def test_sitter_export_writes_e_and_g_alone_in_half_precision(sitter, trained: tuple[Path, list],
                                                              tmp_path: Path) -> None:
    out = tmp_path / "heads.model"  # any name: a file is known by its content
    result = sitter("export", trained[0], "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out}: E and G in float16, ")
    state = checkpoint.load(trained[0])
    config = ModelConfig(**state["model"])
    expected = {f"{name}.{key}" for name, net in (("embedder", Embedder(config)), ("generator", Generator(config)))
                for key in net.state_dict()}
    with safe_open(out, framework="pt") as file:
        keys, metadata = set(file.keys()), file.metadata()
        dtypes = {file.get_tensor(key).dtype for key in keys}
        for key in keys:
            name, _, rest = key.partition(".")
            assert torch.equal(file.get_tensor(key), state[name][rest].to(torch.float16))
    assert keys == expected and dtypes == {torch.float16}  # no discriminator, no W_i, no optimizer state
    assert json.loads(metadata["model"]) == state["model"] and metadata["content"] == state["content"]
    assert (metadata["sitter"], metadata["format"], metadata["step"]) == ("neural-export", "1", "30")
    assert out.stat().st_size < trained[0].stat().st_size / 3
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # written through a temporary file, gone now

    again = sitter("export", trained[0], "--out", out, "--dtype", "bfloat16")
    assert again.exit_code == 2 and "already at the output path" in again.output
    replaced = sitter("export", trained[0], "--out", out, "--dtype", "bfloat16", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert {t.dtype for t in load_file(out).values()} == {torch.bfloat16}


def test_an_export_paints_as_its_checkpoint_does(trained: tuple[Path, list], exported: Path) -> None:
    lean, full = load_model(exported, "cpu"), load_model(trained[0], "cpu")
    assert lean.discriminator is None and lean.training is None and full.discriminator is not None
    assert {p.dtype for p in (*lean.embedder.parameters(), *lean.painter.parameters())} == {torch.float32}
    motion = preset("speak", seconds=0.5, fps=10, seed=1)
    frames = []
    for model in (lean, full):
        engine = NeuralEngine(model, NeuralConfig(size=128, device="cpu"))
        frames.append(np.stack(list(engine.render(engine.prepare(SOURCES, LANDMARKS), motion))))
    assert frames[0].shape == (5, 128, 128, 3)
    difference = np.abs(frames[0].astype(int) - frames[1])
    assert difference.max() <= 4 and difference.mean() < 0.25  # float16 rounding, not another model


def test_an_export_renders_a_labeled_verifiable_video(sitter, consented: str, exported: Path, home: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "lean.mp4"
    result = sitter("render", "--engine", "neural", "--checkpoint", exported, *GIVEN, "--purpose", "marketing",
                    "--seconds", "0.8", "--fps", "10", "--size", "256", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["frames"] == 8
    settings = Settings.from_env({"SITTER_HOME": str(home)})
    with settings.open_registry() as registry, settings.open_ledger() as ledger:
        report = verify(out, trust_anchors=settings.known_trust_anchors(), registry=registry, ledger=ledger)
    assert report.verdict is Verdict.LABELED and report.manifest.trusted and report.watermark.found
    assert report.manifest.engine.startswith("sitter-neural ") and report.consent.record_id == consented


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1000])


def _edited(path: Path, tensors: dict | None = None, **metadata: str) -> None:
    with safe_open(path, framework="pt") as file:
        old = file.metadata()
    save_file({**load_file(path), **(tensors or {})}, path, {**old, **metadata})


def _reshaped(path: Path) -> None:
    key = next(k for k, t in load_file(path).items() if k.startswith("generator.") and t.ndim == 4)
    _edited(path, {key: torch.zeros(1, 1, 1, 1, dtype=torch.float16)})


def _wider(path: Path) -> None:
    model = json.loads(safe_open(path, framework="pt").metadata()["model"])
    _edited(path, model=json.dumps({**model, "base": 16}))


DAMAGES = {
    "truncated": (_truncated, "the neural export can't be read: it is truncated or damaged"),
    "config-edited": (_wider, "the export's embedder weights do not fit its model settings"),
    "tensor-reshaped": (_reshaped, "the export's generator weights do not fit its model settings"),
    "with-a-discriminator": (lambda p: _edited(p, {"discriminator.b": torch.zeros(1)}),
                             "the export holds networks a Sitter export has not (discriminator)"),
    "unknown-format": (lambda p: _edited(p, format="7"), "export format 7 (written by Sitter"),
    "not-sitters": (lambda p: save_file({"w": torch.zeros(2)}, p), "not a Sitter neural export"),
    "fine-tuned": (lambda p: None, "fine-tuning trains a copy of the discriminator, which an export leaves out"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_export_or_fine_tuning_one_is_refused_in_one_line(sitter, consented: str, exported: Path,
                                                                    tmp_path: Path, damage: str) -> None:
    model = tmp_path / "lean.safetensors"
    shutil.copyfile(exported, model)
    edit, message = DAMAGES[damage]
    edit(model)
    out = tmp_path / "bad.mp4"
    result = sitter("render", "--engine", "neural", "--checkpoint", model, *GIVEN[:4], "--purpose", "marketing",
                    "--seconds", "0.4", "--fps", "5", "--size", "256", "--out", out,
                    *(["--finetune-steps", "2"] if damage == "fine-tuned" else []))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --checkpoint: ") and message in lines[0], lines
    assert not out.exists()


def test_two_renders_in_one_studio_load_the_model_once(consented: str, trained: tuple[Path, list], home: Path,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = []
    real = load_model
    monkeypatch.setattr("engine.neural.engine.load_model", lambda *args: loads.append(args) or real(*args))
    model = tmp_path / "heads.pt"
    shutil.copyfile(trained[0], model)
    settings = Settings.from_env({"SITTER_HOME": str(home), "SITTER_DB_URL": ""})

    def request(name: str, finetune_steps: int = 0) -> RenderRequest:
        return RenderRequest(tuple(SOURCES), "marketing", "desk-1", tmp_path / name, landmarks=tuple(LANDMARKS),
                             engine="neural", checkpoint=model, finetune_steps=finetune_steps, seconds=0.4, fps=5,
                             size=256)

    with settings.open_studio() as studio:
        render(request("ft.mp4", finetune_steps=2), studio)
        cached = studio.models.get(model)
        before = [net.state_dict() for net in (cached.embedder, cached.generator, cached.discriminator)]
        before = [{key: tensor.clone() for key, tensor in state.items()} for state in before]
        render(request("ff.mp4"), studio)
        assert len(loads) == 1 and studio.models.get(model) is cached
        after = [net.state_dict() for net in (cached.embedder, cached.generator, cached.discriminator)]
        assert all(torch.equal(a[key], b[key]) for a, b in zip(before, after, strict=True) for key in a)  # FT copies

        shutil.copyfile(trained[0], tmp_path / "new.pt")
        os.replace(tmp_path / "new.pt", model)  # a new file at the same path: loaded again
        render(request("again.mp4"), studio)
        assert len(loads) == 2 and studio.models.get(model) is not cached
    assert all((tmp_path / name).is_file() for name in ("ft.mp4", "ff.mp4", "again.mp4"))


def test_two_threads_asking_for_one_model_load_it_once(exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release, loads = threading.Event(), threading.Event(), []

    def held(*args: object) -> object:
        loads.append(args)
        entered.set()
        release.wait()
        return object()

    monkeypatch.setattr("engine.neural.engine.load_model", held)
    cache, got = ModelCache(), []
    first = threading.Thread(target=lambda: got.append(cache.get(exported, "cpu")))
    first.start()
    entered.wait()
    second = threading.Thread(target=lambda: got.append(cache.get(exported, "cpu")))
    second.start()
    second.join(0.2)  # time for the second to reach the loader, were it not waiting for the first
    release.set()
    first.join()
    second.join()
    assert len(loads) == 1 and len(got) == 2 and got[0] is got[1]
    assert cache.get(exported, "meta") is not got[0] and len(loads) == 2  # another device: another model


def test_a_studio_holds_its_model_cache_without_loading_torch() -> None:
    check = ("import sys; from engine.neural import ModelCache; ModelCache(); import studio.pipeline; "
             "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parents[1])
    assert result.stdout.strip() == "False"
