"""Helpers for tests that use what this machine has: free ports for real servers, system packages."""

import os
import socket
from typing import NoReturn

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def missing(reason: str) -> NoReturn:
    """Skip a test for want of something this machine lacks (a browser, a PostgreSQL server, espeak-ng), or
    fail it where SITTER_CI is set: .ci/run installs all of them, so there a skip would hide a broken setup."""
    if os.environ.get("SITTER_CI"):
        pytest.fail(f"required in CI, but {reason}")
    pytest.skip(reason)
