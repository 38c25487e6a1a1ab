"""Helpers for tests that use what this machine has: free ports for real servers, system packages."""

import os
import socket
import subprocess
import time
import urllib.request
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


def wait_healthy(url: str, server: subprocess.Popen, seconds: float = 90) -> None:
    """Wait until the studio at `url` answers its health check; fail saying why if it exits or stays silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"sitter studio exited: {server.stdout.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"sitter studio did not answer at {url} within {seconds:.0f} s")
