"""The dependency rules of DESIGN.md, read from the source: which part may import which, and only through the front
door (a package's `__all__`), never a private submodule of another part.

    sitter/      imports none of the parts: the neutral low-level pieces they share
    engine/      imports neither consent/ nor provenance/ nor studio/
    consent/     imports neither engine/ nor provenance/ nor studio/
    provenance/  imports of consent/ only the entry that reads a record's status
    studio/      imports every part, each through its package

Static (every import statement, lazy ones inside functions included), so a rule holds on every code path, not just
the ones a test runs. The subprocess tests in test_warp.py and test_neural_model.py check what importing the
engine really loads.
"""

import ast
import importlib
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
