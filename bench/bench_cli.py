"""CLI start-up benchmark: how long the commands people type most take as whole processes, and what they import.

    .venv/bin/python bench/bench_cli.py [--runs 7]

Each command runs `--runs` times in a fresh process (the `sitter` console script of this venv, against a throwaway
SITTER_HOME whose ledger holds a few records) and the median wall time is reported, with the interpreter alone as
the floor. Then `python -X importtime` names the costliest imports of each command, for the notes. Run it on an
idle machine: every figure is a wall time. Writes the "## CLI" section of bench/RESULTS.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image
from results import machine, write_section

BIN = Path(sys.executable).parent
SITTER = BIN / "sitter"
TARGET_S = 0.3
COMMANDS = {
    "python -c pass (the floor)": [sys.executable, "-c", "pass"],
    "import sqlalchemy + its SQLite dialect (the floor of a command that reads the store)": [
        sys.executable, "-c", "import sqlalchemy, sqlalchemy.dialects.sqlite"],
    "sitter --help": [str(SITTER), "--help"],
    "sitter consent list --json": [str(SITTER), "consent", "list", "--json"],
    "sitter keys show": [str(SITTER), "keys", "show"],
}
RECORDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SITTER_HOME": home, "SITTER_DB_URL": "", "SITTER_OPERATOR": "bench"}
        _fill(Path(home), env)
        rows = [(name, _median(command, env, args.runs)) for name, command in COMMANDS.items()]
        imports = {name: _top_imports(command, env) for name, command in COMMANDS.items() if "sitter" in name}
    table = _table(rows, imports, args.runs)
    print(table)
    write_section(table)


def _fill(home: Path, env: dict[str, str]) -> None:
    """A ledger with a few records (and the studio's keys made), as `consent list` and `keys show` meet it."""
    rng = np.random.default_rng(0)
    evidence = home / "form.txt"
    evidence.write_text("signed consent form")
    for n in range(RECORDS):
        image = home / f"face-{n}.png"
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(image)
        subprocess.run([str(SITTER), "consent", "add", "--kind", "person", "--name", f"Person {n}", "--grantor",
                        f"Person {n}", "--purpose", "marketing", "--expires", "2099-12-31", "--evidence", str(evidence),
                        "--image", str(image)], env=env, check=True, capture_output=True)
        image.unlink()
    subprocess.run([str(SITTER), "keys", "show"], env=env, check=True, capture_output=True)


def _median(command: list[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(command, env=env, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _top_imports(command: list[str], env: dict[str, str], top: int = 4) -> str:
    """The packages that cost the most to import, each by its costliest (outermost) import in `-X importtime`'s
    report; studio itself, which imports them all, is left out."""
    script = [sys.executable, "-X", "importtime", str(SITTER), *command[1:]]
    report = subprocess.run(script, env=env, check=True, capture_output=True, text=True).stderr
    cost: dict[str, int] = {}
    for line in report.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            package = fields[2].strip().split(".")[0]
            cost[package] = max(cost.get(package, 0), int(fields[1]))
    ranked = sorted(((p, c) for p, c in cost.items() if p not in ("studio", "site")), key=lambda item: -item[1])
    return ", ".join(f"{package} {micros / 1000:.0f} ms" for package, micros in ranked[:top])


def _table(rows: list[tuple[str, float]], imports: dict[str, str], runs: int) -> str:
    lines = [
        "## CLI",
        "",
        f"{machine()}; {datetime.now(UTC):%Y-%m-%d}. `bench/bench_cli.py`: each command as a whole process, median "
        f"of {runs}, against a SITTER_HOME with {RECORDS} consent records. Target: at most {TARGET_S} s each. Before "
        "the parts' names loaded on first use (#13), each of the three took 1.4-1.5 s on this machine (median of 5).",
        "",
        "| command | median (s) | target met | costliest imports (`-X importtime`, cumulative) |",
        "|---|---|---|---|",
    ]
    for name, seconds in rows:
        met = "" if "floor" in name else ("yes" if seconds <= TARGET_S else "no")
        lines.append(f"| `{name}` | {seconds:.3f} | {met} | {imports.get(name, '')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
