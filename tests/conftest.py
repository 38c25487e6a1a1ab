"""Shared fixtures: a throwaway ledger, real portraits, an evidence file."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from postgres import Cluster, binaries

from consent import Ledger, LedgerKey
from provenance import StudioSigner, development_signer
from provenance.video import write_mp4

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
def evidence(tmp_path: Path) -> Path:
    path = tmp_path / "consent-form.pdf"
    path.write_bytes(b"%PDF-1.4 signed consent form, stand-in\n")
    return path


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session, or a skip saying why there is none (a failure where
    SITTER_REQUIRE_POSTGRES is set: .ci/run sets it, so CI never skips the PostgreSQL store tests)."""
    bin_dir = binaries()
    if bin_dir is None:
        reason = "no PostgreSQL server binaries (apt-get install postgresql)"
        if os.environ.get("SITTER_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL store tests required but {reason}")
        pytest.skip(reason)
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
