"""One error family: every domain error is bad input (2), a refusal (3) or a failed check (1), and pickles as itself."""

import inspect
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

import consent.errors
import engine.errors
import provenance.errors
import sitter.database
import sitter.images
import studio.errors
import studio.workers
from sitter.errors import BadInput, CheckFailed, Refused, SitterError
from studio.cli import cli

DATA = Path(__file__).parent / "data"
FAMILIES = (BadInput, Refused, CheckFailed)
MODULES = (consent.errors, engine.errors, provenance.errors, sitter.database, sitter.images, studio.errors,
           studio.workers)
ERRORS = sorted({cls for module in MODULES for _, cls in inspect.getmembers(module, inspect.isclass)
                 if issubclass(cls, Exception) and cls.__module__.startswith(tuple(m.__name__ for m in MODULES))},
                key=lambda cls: cls.__qualname__)
BASES = {consent.errors.ConsentError, engine.errors.EngineError, provenance.errors.ProvenanceError}


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_domain_error_is_in_exactly_one_family_and_pickles_as_itself(cls: type) -> None:
    assert issubclass(cls, SitterError), cls
    if cls in BASES:
        return
    assert sum(issubclass(cls, family) for family in FAMILIES) == 1, cls
    err = cls("something is wrong")
    err.path = Path("/somewhere/jane-doe.jpg")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls and str(again) == str(err) and again.path == err.path
    assert again.exit_code == {BadInput: 2, Refused: 3, CheckFailed: 1}[next(f for f in FAMILIES if isinstance(err, f))]


def test_a_half_set_signing_configuration_is_bad_input(tmp_path: Path) -> None:
    env = {"SITTER_HOME": str(tmp_path / "home"), "SITTER_DB_URL": "", "SITTER_SIGNING_CHAIN": str(tmp_path / "c.pem")}
    result = CliRunner().invoke(cli, ["render", "--source", DATA / "einstein_photo.jpg", "--purpose", "marketing",
                                      "--out", tmp_path / "out.mp4"], env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "Error: set both SITTER_SIGNING_CHAIN and SITTER_SIGNING_KEY, or neither"
