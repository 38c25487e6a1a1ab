"""The studio's database schema under Alembic, on SQLite and PostgreSQL: `sitter db upgrade`, the studio
migrating an empty database by itself, adopting one made before migrations, several processes at once."""

import json
import multiprocessing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from consent import Ledger, LedgerKey, authorize
from consent.ledger import metadata as ledger_metadata
from provenance.registry import Registry
from provenance.registry import metadata as registry_metadata
from studio import store
from studio.cli import cli
from studio.settings import Settings

TABLES = {"ledger_events", "ledger_head", "personal_data", "provenance_manifests", "alembic_version"}


@pytest.fixture
def url(store_url: str) -> str:
    return store_url


def sitter(url: str, *args: str, home: Path | None = None):
    env = {"SITTER_DB_URL": url, **({"SITTER_HOME": str(home)} if home else {})}
    return CliRunner().invoke(cli, list(args), env=env)


def test_db_upgrade_creates_the_schema_the_code_describes(url: str) -> None:
    result = sitter(url, "db", "upgrade", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert (info["before"], info["revision"], info["head"]) == (None, store.head(), store.head())
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as conn:  # the migrations and the tables' definitions in code agree exactly
            assert compare_metadata(MigrationContext.configure(conn), [ledger_metadata, registry_metadata]) == []
    finally:
        engine.dispose()


def test_the_head_every_command_checks_for_is_the_newest_migration(url: str, tmp_path: Path) -> None:
    assert store.head() == store.HEAD
    assert not store.is_current(url)  # an empty database
    store.upgrade(url)
    assert store.is_current(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:  # a database at an older revision is behind, and the studio upgrades it
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    finally:
        engine.dispose()
    assert not store.is_current(url)
    Settings(tmp_path / "home", url).open_registry().close()
    assert store.is_current(url)


def test_upgrading_an_up_to_date_database_changes_nothing(url: str) -> None:
    assert sitter(url, "db", "upgrade").exit_code == 0
    again = json.loads(sitter(url, "db", "upgrade", "--json").output)
    assert again["before"] == again["revision"] == store.head()
    assert "up to date" in sitter(url, "db", "status").output


def test_a_database_made_before_migrations_is_adopted_with_its_data(url: str, tmp_path: Path, images: list[Path],
                                                                    evidence: Path) -> None:
    key = LedgerKey.generate()
    with Ledger(url, key, tmp_path / "evidence") as ledger, Registry(url) as registry:
        record = ledger.grant(kind="person", name="Ada Example", grantor="Ada Example", purposes=["marketing"],
                              expires="2099-12-31", evidence=evidence, images=images[:1], operator="tester")
        registry.register(watermark_id="9f3a61c2", manifest=b"store", output_id="out-1",
                          record_id=record.record_id, engine="warp", sha256="e" * 64)
    assert store.revision(url) is None
    assert store.upgrade(url) == store.head()
    with Ledger(url, key, tmp_path / "evidence") as ledger, Registry(url) as registry:
        assert ledger.verify() is None and ledger.get(record.record_id) == record
        assert registry.get("9f3a61c2").output_id == "out-1"
        assert authorize(ledger, images[:1], "marketing", "tester").record_id == record.record_id


def test_the_studio_migrates_an_empty_database_on_first_use(url: str, tmp_path: Path) -> None:
    assert "none (empty)" in sitter(url, "db", "status").output
    settings = Settings(tmp_path / "home", url)
    with settings.open_registry():
        assert store.revision(url) == store.head()


def test_four_processes_starting_on_an_empty_database_migrate_it_once(url: str) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        revisions = pool.map(store.upgrade, [url] * 4)
    assert revisions == [store.head()] * 4
    assert store.revision(url) == store.head()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("mysql://user@host/db", "runs on SQLite or PostgreSQL, not mysql"),
        ("not a url", "not a URL"),
    ],
)
def test_an_unusable_database_url_is_one_line_and_exit_2(bad: str, message: str) -> None:
    result = sitter(bad, "db", "status")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_printed_urls_hide_the_password(postgres) -> None:
    url = postgres.create_database().replace("sitter@", "sitter:hunter2@")  # trust auth ignores the password
    result = sitter(url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "***" in result.output
