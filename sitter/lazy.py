"""A package's public names, each imported the first time it is read (PEP 562).

`import provenance` then costs nothing, and `provenance.describe` imports provenance/keys.py and what that needs,
not C2PA, FFmpeg and the watermark: a command pays only for what it uses (`sitter keys show` starts in a blink).
A name's module must not share the name (no `verify` in verify.py): importing a submodule binds its name in the
package, which would hide the lazy attribute.

Example, in a package's __init__.py:

    __all__, __getattr__, __dir__ = exports(__name__, {
        "provenance.keys": ("StudioSigner", "describe"),
        "provenance.verifier": ("VerifyReport", "verify"),
    })
"""

import sys
from collections.abc import Callable, Mapping
from importlib import import_module


def exports(package: str, modules: Mapping[str, tuple[str, ...]]) -> tuple[
        list[str], Callable[[str], object], Callable[[], list[str]]]:
    """`__all__`, `__getattr__` and `__dir__` for `package`, whose public names live in `modules` (module: names)."""
    home = {name: module for module, names in modules.items() for name in names}
    clashes = sorted(name for name in home if f"{package}.{name}" in modules)
    assert not clashes, f"{package}: {clashes} would be hidden by the submodule of the same name"
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> object:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(home[name]), name)
        namespace[name] = value  # read once: later reads are plain attribute lookups
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *home})

    return sorted(home), __getattr__, __dir__
