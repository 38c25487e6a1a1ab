"""The dependency rules of DESIGN.md, read from the source: which part may import which, and only through the front
door (a package's `__all__`), never a private submodule of another part.

    sitter/      imports none of the parts: the neutral low-level pieces they share
    engine/      imports neither consent/ nor provenance/ nor studio/
    consent/     imports neither engine/ nor provenance/ nor studio/
    provenance/  imports of consent/ only the entry that reads a record's status
    studio/      imports every part, each through its package

Static (every import statement, lazy ones inside functions included), so a rule holds on every code path, not just
the ones a test runs. The subprocess tests in test_warp.py and test_neural_model.py check what importing the
engine really loads; the last tests here, what the CLI loads for the commands people type most (the parts' names
load on first use: sitter.lazy).
"""

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PARTS = ("consent", "engine", "provenance", "studio")
NEUTRAL = "sitter"
PUBLIC_SUBPACKAGES = {"engine.neural"}  # imported from outside engine/ through its own __init__ and __all__
MAY_IMPORT = {
    "sitter": set(),
    "engine": set(),
    "consent": set(),
    "provenance": {"consent"},
    "studio": {"consent", "engine", "provenance"},
}
CONSENT_FOR_PROVENANCE = {"record_status"}  # what provenance/ may take from consent/: a record's status today


def _modules() -> list[Path]:
    return sorted(p for part in (*PARTS, NEUTRAL) for p in (ROOT / part).rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """(module imported, names taken from it, line) for each import in the file; relative imports are not used."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: a relative import"
            found.append((node.module, tuple(alias.name for alias in node.names), node.lineno))
    return found


def _part(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in (*PARTS, NEUTRAL) else None


IMPORTS = [(path, module, names, line) for path in _modules() for module, names, line in _imports(path)
           if _part(module) is not None]


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


@pytest.mark.parametrize("part", [*PARTS, NEUTRAL])
def test_each_part_imports_only_the_parts_it_may(part: str) -> None:
    wrong = [f"{_where(path, line)} imports {module}" for path, module, _, line in IMPORTS
             if path.relative_to(ROOT).parts[0] == part and _part(module) not in (part, NEUTRAL, *MAY_IMPORT[part])]
    assert wrong == []


def test_no_module_reaches_into_another_parts_private_submodules() -> None:
    wrong = [f"{_where(path, line)} imports {module}" for path, module, _, line in IMPORTS
             if _part(module) in PARTS and _part(module) != path.relative_to(ROOT).parts[0]
             and module not in (_part(module), *PUBLIC_SUBPACKAGES)]
    assert wrong == []


def test_what_is_imported_from_another_part_is_in_its_all() -> None:
    wrong = []
    for path, module, names, line in IMPORTS:
        if _part(module) in PARTS and _part(module) != path.relative_to(ROOT).parts[0] and names:
            public = set(getattr(importlib.import_module(module), "__all__", ()))
            wrong += [f"{_where(path, line)} takes {name} from {module}" for name in names if name not in public]
    assert wrong == []


def test_provenance_takes_from_consent_only_a_records_status() -> None:
    taken = {name for path, module, names, _ in IMPORTS
             if path.relative_to(ROOT).parts[0] == "provenance" and _part(module) == "consent" for name in names}
    assert taken <= CONSENT_FOR_PROVENANCE
    assert not [module for path, module, names, _ in IMPORTS
                if path.relative_to(ROOT).parts[0] == "provenance" and _part(module) == "consent" and not names]


HEAVY = ("numpy", "PIL", "cv2", "av", "scipy", "torch", "c2pa", "sqlalchemy", "alembic", "cryptography", "streamlit")


def _loaded_by(code: str, tmp_path: Path) -> list[str]:
    """The heavy libraries a fresh interpreter has loaded after `code` (bench/bench_cli.py times what they cost)."""
    check = f"import sys\n{code}\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    env = {**os.environ, "SITTER_HOME": str(tmp_path / "home"), "SITTER_DB_URL": "", "SITTER_OPERATOR": "desk-1"}
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=ROOT,
                            env=env)
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_the_cli_loads_no_library_until_a_command_needs_it(tmp_path: Path) -> None:
    assert _loaded_by("from studio.cli import cli", tmp_path) == []
    assert _loaded_by("from studio.cli import cli\ncli(['--help'], standalone_mode=False)", tmp_path) == []


def test_showing_the_keys_opens_no_database_and_no_media_library(tmp_path: Path) -> None:
    show = "from studio.cli import cli\ncli(['keys', 'show', '--json'], standalone_mode=False)"
    _loaded_by(show, tmp_path)  # the first run makes the keys (the ledger's only on an empty ledger: a database)
    assert _loaded_by(show, tmp_path) == ["cryptography"]


def test_reading_consent_records_needs_no_image_or_media_library(tmp_path: Path) -> None:
    listing = "from studio.cli import cli\ncli(['consent', 'list', '--json'], standalone_mode=False)"
    _loaded_by(listing, tmp_path)  # the first run creates the database (Alembic)
    assert _loaded_by(listing, tmp_path) == ["cryptography", "sqlalchemy"]
