"""Store benchmark: events appended to the consent ledger per second, by 1 and by 8 writer processes at once, on
SQLite and on PostgreSQL; then the time to verify the whole chain, and what the gate's check of it costs a render.

    .venv/bin/python bench/bench_store.py --postgres postgresql://USER@HOST:PORT/EMPTY_DB

Each writer is a process with its own Ledger that adds one consent record and then logs uses of it, as renders
do (`Ledger.record_render`: the record re-read and re-checked, one row appended, the head re-signed, in one write
transaction). Every append holds the store's write lock (sitter/database.py), so writers take turns: the
numbers are how many renders a second one studio database can log, and what contention costs. SQLite's file is
in a temporary folder; the PostgreSQL database should be empty and is left holding the events. Without
--postgres, only SQLite is measured. The gate (`consent.authorize`) trusts a record only as part of a chain that
verifies to its signed head: a new process walks the whole chain once, a long-lived one (the studio, a Ray worker)
only what was appended since. Writes the "## Store" section of bench/RESULTS.md.
"""

import argparse
import multiprocessing
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image
from results import machine, write_section
from sqlalchemy import create_engine, text

from consent import Ledger, LedgerKey, authorize
from sitter.database import normalize

EVENTS = 200  # per writer: one grant, then uses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to measure as well")
    args = parser.parse_args()
    rows, gates = [], []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        image, evidence = _inputs(folder)
        urls = {"SQLite": f"sqlite:///{folder / 'store.db'}"}
        if args.postgres:
            urls["PostgreSQL"] = args.postgres
        for backend, url in urls.items():
            key = folder / f"{backend}.pem"
            LedgerKey.load_or_create(key)
            for writers in (1, 8):
                seconds = _append(url, key, folder / "evidence", image, evidence, writers)
                rows.append((backend, writers, writers * EVENTS, seconds))
            rows.append((backend, "verify", *_verify(url, key, folder / "evidence")))
            gates.append((backend, *_gate(url, key, folder / "evidence", image)))
    table = _table(rows, gates, _server(args.postgres) if args.postgres else None)
    print(table)
    write_section(table)


def _inputs(folder: Path) -> tuple[Path, Path]:
    image = folder / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(image)
    evidence = folder / "release.pdf"
    evidence.write_bytes(b"%PDF stand-in release")
    return image, evidence


def _append(url: str, key: Path, evidence_dir: Path, image: Path, evidence: Path, writers: int) -> float:
    context = multiprocessing.get_context("spawn")
    with context.Pool(writers) as pool:
        pool.map(_ready, range(writers))  # the processes started and their imports done before the clock starts
        start = time.perf_counter()
        pool.starmap(_writer, [(url, key, evidence_dir, image, evidence)] * writers)
        return time.perf_counter() - start


def _ready(_: int) -> None:
    """Nothing: called once per process so that each has started and imported this module (and consent/)."""


def _writer(url: str, key: Path, evidence_dir: Path, image: Path, evidence: Path) -> None:
    with Ledger(url, LedgerKey.load_or_create(key), evidence_dir) as ledger:
        record = ledger.grant(kind="person", name="P", grantor="P", purposes=["internal"], expires="2099-01-01",
                              evidence=evidence, images=[image], operator="bench")
        grant = authorize(ledger, [image], "internal", "bench", record_id=record.record_id)
        for n in range(EVENTS - 1):
            ledger.record_render(grant, output_id=f"{record.record_id}-{n}")


def _verify(url: str, key: Path, evidence_dir: Path) -> tuple[int, float]:
    with Ledger(url, LedgerKey.load_or_create(key), evidence_dir) as ledger:
        rows = len(ledger.events())
        start = time.perf_counter()
        assert ledger.verify() is None, "the chain does not verify"
        return rows, time.perf_counter() - start


def _gate(url: str, key: Path, evidence_dir: Path, image: Path, repeats: int = 50) -> tuple[int, float, float]:
    """Seconds for the first `authorize` of a new process (the whole chain walked), and for one in a process that
    has verified the chain already (the mean of `repeats`, each after one more use was logged)."""
    with Ledger(url, LedgerKey.load_or_create(key), evidence_dir) as ledger:
        rows = len(ledger.events())
        start = time.perf_counter()
        grant = authorize(ledger, [image], "internal", "bench")
        first = time.perf_counter() - start
        warm = 0.0
        for n in range(repeats):
            ledger.record_render(grant, output_id=f"gate-{n}")
            start = time.perf_counter()
            authorize(ledger, [image], "internal", "bench")
            warm += time.perf_counter() - start
    return rows, first, warm / repeats


def _server(url: str) -> str:
    """The PostgreSQL server's version and whether it syncs to disk: both change the numbers a lot."""
    engine = create_engine(normalize(url))
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
            fsync = conn.execute(text("SHOW fsync")).scalar()
    finally:
        engine.dispose()
    return f"PostgreSQL {version} on this machine, fsync {fsync}"


def _table(rows: list[tuple], gates: list[tuple], server: str | None) -> str:
    lines = [
        "## Store",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, by `bench/bench_store.py`: each writer a process "
        f"adding one record and {EVENTS - 1} uses of it (`Ledger.record_render`), all writers at once; then "
        "`Ledger.verify` of the whole chain (every link and signature). SQLite in WAL mode on the local disk"
        + (f"; {server}." if server else "."),
        "",
        "| database | writers | events | seconds | events/s |",
        "|---|---|---|---|---|",
    ]
    for backend, writers, events, seconds in rows:
        label = "verify the chain" if writers == "verify" else writers
        lines.append(f"| {backend} | {label} | {events} | {seconds:.2f} | {events / seconds:.0f} |")
    lines += ["", "The gate's check of the chain, per `authorize` (9 records cover the image, each one read):", "",
              "| database | events | new process (whole chain walked) | long-lived process (rows since) |",
              "|---|---|---|---|"]
    for backend, events, first, warm in gates:
        lines.append(f"| {backend} | {events} | {first * 1000:.0f} ms | {warm * 1000:.1f} ms |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
