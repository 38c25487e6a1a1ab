"""Shared by every benchmark: how to name the machine, and how to rewrite one section of RESULTS.md."""

import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    """CPU model, core count, OS and Python: what a reader needs to compare numbers."""
    cpuinfo = Path("/proc/cpuinfo")
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text()) if cpuinfo.exists() else None
    cpu = model.group(1).strip() if model else platform.processor() or platform.machine()
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu} ({os.cpu_count()} cores), {system}, Python {platform.python_version()}"


def write_section(section: str, path: Path = RESULTS) -> None:
    """Replace the section that starts with `section`'s "## " heading (up to the next one), or append it."""
    heading = section.splitlines()[0]
    assert heading.startswith("## "), f"a section starts with a '## ' heading, not {heading!r}"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")
