"""The manifest registry: watermark id -> the output's signed C2PA manifest store and what it was.

A clip whose metadata was stripped (re-uploaded, re-encoded, screen-recorded) loses its embedded
manifest but keeps its invisible watermark. The watermark decodes to an id; this registry maps the id
back to the manifest store bytes signed at render time, so a verifier can still show and validate the
manifest (the idea behind C2PA soft-binding resolution).

It lives in the same database as the consent ledger (same URL, its own table) and holds no personal
data: ids, hashes, an engine name and the signed store, which itself carries none.

A render registers its output *pending* before the consent re-check and publishes the row once the file
is in place (provenance/staging.py). Lookups (`find`, `get`, `entries`, and so `sitter verify`) see published
rows only; a pending row of a render that died is discarded by the next command's sweep.

Example:

    with Registry("sqlite:///sitter.db") as registry:
        registry.register(watermark_id="9f3a61c2", manifest=store, output_id="3f9a...", record_id="a1b2...",
                          engine="warp 0.1.0", sha256="...")
        entry = registry.find("9f3a61c2")  # None when nothing is registered under that id

        registry.register(..., output_id="5e0b...", pending=True)  # a render's reservation, invisible to lookups
        registry.publish("5e0b...")  # its file is in place: now it counts
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import Boolean, Column, LargeBinary, MetaData, String, Table, select, true
from sqlalchemy.exc import IntegrityError

from provenance.errors import RegistryMiss
from sitter.database import connect, create_tables

metadata = MetaData()

manifests = Table(
    "provenance_manifests",
    metadata,
    Column("watermark_id", String(64), primary_key=True),
    Column("output_id", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("record_id", String(32), nullable=False, index=True),
    Column("engine", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("manifest", LargeBinary, nullable=False),
    # False while the render that registered it has not published its file yet (migration 0002)
    Column("published", Boolean, nullable=False, server_default=true()),
)


@dataclass(frozen=True)
class Entry:
    """One registered output. `sha256` is of the signed file as published."""

    watermark_id: str
    output_id: str
    created_at: datetime
    record_id: str
    engine: str
    sha256: str
    manifest: bytes = field(repr=False)  # the C2PA manifest store, exactly as signed into the output

    def to_dict(self) -> dict:
        """For audit lists and `--json`: the manifest as its size, not its bytes."""
        return {"watermark_id": self.watermark_id, "output_id": self.output_id,
                "created_at": self.created_at.isoformat(), "record_id": self.record_id,
                "engine": self.engine, "sha256": self.sha256, "manifest_bytes": len(self.manifest)}


class Registry:
    """Open it on the studio's database URL, call a verb, close it (or use `with`). Thread-safe."""

    tables: ClassVar[MetaData] = metadata  # the registry's table, for the studio's migrations

    def __init__(self, url: str) -> None:
        if not url:
            raise ValueError("Registry needs a database URL, e.g. sqlite:///path/to/sitter.db")
        self._engine = connect(url)
        create_tables(self._engine, metadata)

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    def register(self, *, watermark_id: str, manifest: bytes, output_id: str, record_id: str, engine: str,
                 sha256: str, now: datetime | None = None, pending: bool = False) -> Entry:
        """Record an output under its watermark id; with `pending`, only reserve the id until `publish`.

        Raises ValueError if the id is not hex, the manifest is empty, or the id or output id is already
        registered: a watermark id names one output, so a clash means drawing a new id.
        """
        if not manifest:
            raise ValueError("refusing to register an empty manifest store")
        at = (now or datetime.now(UTC)).astimezone(UTC)  # one offset, so the ISO strings sort by time
        entry = Entry(_normalize(watermark_id), output_id, at, record_id, engine, sha256, manifest)
        try:
            with self._engine.begin() as conn:
                conn.execute(manifests.insert().values(
                    watermark_id=entry.watermark_id, output_id=output_id,
                    created_at=entry.created_at.isoformat(), record_id=record_id, engine=engine,
                    sha256=sha256, manifest=manifest, published=not pending,
                ))
        except IntegrityError:
            raise ValueError(f"watermark id {entry.watermark_id} or output {output_id} is already registered: "
                             "draw a new watermark id") from None
        return entry

    def publish(self, output_id: str) -> None:
        """Make a pending output count: its file is in place. Publishing a published output changes nothing.

        Raises RegistryMiss when no output has this id (its pending row was discarded).
        """
        with self._engine.begin() as conn:
            found = conn.execute(manifests.update().where(manifests.c.output_id == output_id)
                                 .values(published=True)).rowcount
        if not found:
            raise RegistryMiss(f"no output {output_id} is registered, pending or published")

    def discard(self, output_id: str) -> None:
        """Forget a pending output that was never published (its render failed or died); a published one stays."""
        with self._engine.begin() as conn:
            conn.execute(manifests.delete().where(manifests.c.output_id == output_id, ~manifests.c.published))

    def discard_stale(self, before: datetime) -> None:
        """Forget every output still pending that was registered before `before`: its render died."""
        with self._engine.begin() as conn:
            conn.execute(manifests.delete().where(~manifests.c.published,
                                                  manifests.c.created_at < before.astimezone(UTC).isoformat()))

    def find(self, watermark_id: str, *, include_pending: bool = False) -> Entry | None:
        """The output published under this watermark id, or None: for a verifier, absence is normal.

        `include_pending` also finds a render's reservation: for drawing an id no output holds.
        """
        query = select(manifests).where(manifests.c.watermark_id == _normalize(watermark_id))
        with self._engine.connect() as conn:
            row = conn.execute(query if include_pending else query.where(manifests.c.published)).mappings().first()
        return _entry(row) if row else None

    def get(self, watermark_id: str) -> Entry:
        """The output published under this watermark id; RegistryMiss when there is none."""
        entry = self.find(watermark_id)
        if entry is None:
            raise RegistryMiss(f"no manifest is registered under watermark id {_normalize(watermark_id)}")
        return entry

    def entries(self) -> list[Entry]:
        """Every published output, newest first (for the audit page)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(manifests).where(manifests.c.published)
                                .order_by(manifests.c.created_at.desc())).mappings().all()
        return [_entry(row) for row in rows]


# helpers


def _normalize(watermark_id: str) -> str:
    """Watermark ids are hex; compare them in one spelling whatever case the decoder or a user typed."""
    value = watermark_id.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{1,64}", value):
        raise ValueError(f"a watermark id is a hex string, not {watermark_id!r}")
    return value


def _entry(row: dict) -> Entry:
    return Entry(row["watermark_id"], row["output_id"], datetime.fromisoformat(row["created_at"]),
                 row["record_id"], row["engine"], row["sha256"], bytes(row["manifest"]))
