"""Shared fixtures: a throwaway ledger, real portraits, an evidence file."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from postgres import Cluster, binaries
from servers import missing

from consent import Ledger, LedgerKey
from provenance import StudioSigner, development_signer
from provenance.video import write_mp4
from studio.cli import cli

DATA = Path(__file__).parent / "data"


@pytest.fixture
def portrait(tmp_path: Path) -> Path:
    """A real photograph (public domain), copied so a test may alter it."""
    path = tmp_path / "portrait.jpg"
    shutil.copy(DATA / "einstein_photo.jpg", path)
    return path


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Three distinct small PNG images."""
    rng = np.random.default_rng(7)
    paths = []
    for i in range(3):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh data directory (SITTER_HOME) for a test's studio."""
    return tmp_path / "home"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """The environment a test's `sitter` commands run in: its own data directory and SQLite database."""
    return {"SITTER_HOME": str(home), "SITTER_DB_URL": "", "SITTER_OPERATOR": "desk-1"}


@pytest.fixture
def sitter(env: dict[str, str]):
    """Run the `sitter` command line in-process: sitter("consent", "list", input=...) -> click's Result."""

    def run(*args: object, input: str | None = None):
        return CliRunner().invoke(cli, [str(a) for a in args], env=env, input=input)

    return run


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    path = tmp_path / "consent-form.pdf"
    path.write_bytes(b"%PDF-1.4 signed consent form, stand-in\n")
    return path


@pytest.fixture
def consent_to(sitter, evidence: Path):
    """Add a person record through the CLI, as a user would: covering `images`, for `purposes`; its id."""

    def add(*images: Path, purposes: tuple[str, ...] = ("marketing",)) -> str:
        result = sitter("consent", "add", "--kind", "person", "--name", "Ada Example", "--grantor", "Ada Example",
                        *(arg for p in purposes for arg in ("--purpose", p)), "--expires", "2099-01-01",
                        "--evidence", evidence, *(arg for image in images for arg in ("--image", image)))
        assert result.exit_code == 0, result.output
        return result.output.strip()

    return add


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session, or a skip saying why there is none (a failure in CI)."""
    bin_dir = binaries()
    if bin_dir is None:
        missing("no PostgreSQL server binaries here (apt-get install postgresql)")
    cluster = Cluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The studio database for a test: SQLite, except in the store tests, which take `store_url`."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store backend in turn: a SQLite file, and a fresh database on the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'sitter.db'}"  # a folder that does not exist yet
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture
def ledger(db_url: str, tmp_path: Path):
    with Ledger(db_url, LedgerKey.generate(), tmp_path / "evidence") as ledger:
        yield ledger


@pytest.fixture
def add(ledger: Ledger, evidence: Path):
    """Add a person record with sensible defaults; keyword arguments override them."""

    def add(images: list[Path], **overrides):
        fields = dict(kind="person", name="Ada Example", grantor="Ada Example", purposes=["marketing"],
                      expires="2099-12-31", evidence=evidence, images=images, operator="tester")
        return ledger.grant(**{**fields, **overrides})

    return add


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A real one-second H.264 MP4, not yet signed."""
    rng = np.random.default_rng(3)
    path = tmp_path / "unsigned.mp4"
    write_mp4((rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(12)), path, fps=12)
    return path


@pytest.fixture
def signer(tmp_path: Path) -> StudioSigner:
    """The development CA's signer in a throwaway keys folder."""
    return development_signer(tmp_path / "keys")


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch on one thread: tiny networks on a shared 2-core machine run faster without thread contention."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def talking_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three synthetic people talking, 16 frames each (tests/talking_faces.py): neural engine training data."""
    from talking_faces import write_clips

    return write_clips(tmp_path_factory.mktemp("talking"))


@pytest.fixture(scope="session")
def trained(talking_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, float]]]:
    """A tiny neural engine checkpoint (32 px, 8 to 32 channels) meta-learned for 30 steps on `talking_data`
    (at 10x the paper's learning rates, so that 30 steps show), and the losses of each step."""
    from engine.neural import ModelConfig, TrainConfig, meta_learn

    out = tmp_path_factory.mktemp("checkpoint") / "tiny.pt"
    config = TrainConfig(steps=30, k=2, batch=2, lr_eg=5e-4, lr_d=2e-3, save_every=30)
    with one_torch_thread():
        history = meta_learn(talking_data, out, config, ModelConfig(size=32, base=8, max_channels=32, g_downs=2,
                                                               res_blocks=1))
    return out, history
