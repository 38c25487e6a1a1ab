"""The manifest registry: watermark id -> signed manifest store, in the ledger's database."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent import Ledger, LedgerKey
from provenance.errors import RegistryMiss
from provenance.registry import Registry

STORE = b"\x00\x00\x11\x8ajumb\x00\x00\x00\x1ejumdc2pa stand-in manifest store"


@pytest.fixture
def url(store_url: str) -> str:
    """Every test here runs on each store backend: SQLite and PostgreSQL."""
    return store_url


def test_a_registered_output_is_found_by_its_watermark_id(url: str) -> None:
    at = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    with Registry(url) as registry:
        written = registry.register(watermark_id="9F3A61C2", manifest=STORE, output_id="0123abcd",
                                    record_id="0123456789abcdef", engine="warp 0.1.0", sha256="e" * 64, now=at)
    with Registry(url) as registry:  # a fresh connection: it is in the database, not in memory
        found = registry.find("9f3a61c2")
        assert found == written == registry.get(" 9f3a61C2 ")
    assert (found.watermark_id, found.output_id, found.record_id) == ("9f3a61c2", "0123abcd", "0123456789abcdef")
    assert (found.created_at, found.engine, found.sha256, found.manifest) == (at, "warp 0.1.0", "e" * 64, STORE)


def test_an_unknown_watermark_id_is_none_from_find_and_a_miss_from_get(url: str) -> None:
    with Registry(url) as registry:
        assert registry.find("deadbeef") is None
        with pytest.raises(RegistryMiss, match="deadbeef"):
            registry.get("deadbeef")


def test_a_watermark_id_names_one_output(url: str) -> None:
    with Registry(url) as registry:
        registry.register(watermark_id="9f3a61c2", manifest=STORE, output_id="a1", record_id="r",
                          engine="warp 0.1.0", sha256="e" * 64)
        with pytest.raises(ValueError, match="already registered: draw a new watermark id"):
            registry.register(watermark_id="9f3a61c2", manifest=STORE, output_id="a2", record_id="r",
                              engine="warp 0.1.0", sha256="f" * 64)
        with pytest.raises(ValueError, match="hex string"):
            registry.register(watermark_id="not hex", manifest=STORE, output_id="a3", record_id="r",
                              engine="warp 0.1.0", sha256="f" * 64)
        with pytest.raises(ValueError, match="empty manifest"):
            registry.register(watermark_id="01", manifest=b"", output_id="a4", record_id="r",
                              engine="warp 0.1.0", sha256="f" * 64)
        assert [e.output_id for e in registry.entries()] == ["a1"]


def test_the_audit_list_is_newest_first_and_shows_sizes_not_bytes(url: str) -> None:
    with Registry(url) as registry:
        for day, wm in ((1, "01"), (3, "03"), (2, "02")):
            registry.register(watermark_id=wm, manifest=STORE, output_id=f"out{day}", record_id="r",
                              engine="warp 0.1.0", sha256="e" * 64, now=datetime(2026, 1, day, tzinfo=UTC))
        entries = registry.entries()
    assert [e.watermark_id for e in entries] == ["03", "02", "01"]
    assert entries[0].to_dict() == {"watermark_id": "03", "output_id": "out3",
                                    "created_at": "2026-01-03T00:00:00+00:00", "record_id": "r",
                                    "engine": "warp 0.1.0", "sha256": "e" * 64, "manifest_bytes": len(STORE)}


def test_it_shares_the_ledger_database_without_disturbing_the_chain(url: str, tmp_path: Path, images,
                                                                    evidence) -> None:
    with Ledger(url, LedgerKey.generate(), tmp_path / "evidence") as ledger, Registry(url) as registry:
        record = ledger.grant(kind="person", name="Ada Example", grantor="Ada Example", purposes=["marketing"],
                              expires="2099-12-31", evidence=evidence, images=images[:1], operator="tester")
        registry.register(watermark_id="9f3a61c2", manifest=STORE, output_id="0123abcd",
                          record_id=record.record_id, engine="warp 0.1.0", sha256="e" * 64)
        assert ledger.verify() is None
        assert registry.get("9f3a61c2").record_id == record.record_id
