"""The ledger is append-only, tamper-evident, erasable without breaking, and safe with many writers."""

import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from attacker import sql
from PIL import Image
from sqlalchemy import inspect, text

from consent import (
    Artwork,
    ConsentRevoked,
    InvalidInput,
    Ledger,
    LedgerKey,
    LedgerTampered,
    RecordNotFound,
    Rights,
    Status,
    authorize,
    fingerprint,
    receipt,
    verify_receipt,
)

COLUMNS = ["seq", "record_id", "kind", "at", "body", "prev_hash", "hash", "signature"]


@pytest.fixture
def db_url(store_url: str) -> str:
    """Every test here runs on each store backend: SQLite and PostgreSQL."""
    return store_url


@pytest.fixture
def busy(ledger: Ledger, add, images: list[Path]) -> Ledger:
    """A ledger of six rows: two grants, two uses, a revoke and an erase."""
    first = add(images[:1])
    second = add(images[1:], kind="artwork", name="Portrait", grantor="Registrar",
                 artwork=Artwork("Portrait", "Unknown", Rights.PUBLIC_DOMAIN), purposes=["exhibit"])
    grant = authorize(ledger, images[:1], "marketing", "tester")
    ledger.record_render(grant, output_id="out-1")
    ledger.record_render(grant, output_id="out-2")
    ledger.revoke(first.record_id, reason="withdrawn by email", operator="tester")
    ledger.erase(second.record_id, operator="tester")
    return ledger


def test_a_grant_reads_back(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:2], purposes=["marketing", "speech"], expires="2030-01-31")
    again = ledger.get(record.record_id)
    assert again == record
    assert record.purposes == ("marketing", "speech")
    assert record.expires.isoformat() == "2030-01-31"
    assert len(record.sources) == 2
    assert record.personal == {"subject": "Ada Example", "grantor": "Ada Example", "contact": ""}
    assert record.status(datetime.now(UTC)) is Status.ACTIVE
    assert ledger.records() == [record]


def test_no_personal_data_in_the_chain(busy: Ledger) -> None:
    chain = json.dumps([e.to_dict() for e in busy.events()])
    for secret in ("Ada Example", "Registrar", "withdrawn by email"):
        assert secret not in chain


def test_a_fresh_ledger_verifies(busy: Ledger) -> None:
    assert busy.verify() is None
    assert [e.seq for e in busy.events()] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("seq", [1, 3, 6])
def test_changing_any_column_of_any_row_is_caught(busy: Ledger, db_url: str, column: str, seq: int) -> None:
    with sql(db_url) as db:
        value = db.execute(text(f"SELECT {column} FROM ledger_events WHERE seq = :seq"), {"seq": seq}).scalar()
        db.execute(text(f"UPDATE ledger_events SET {column} = :value WHERE seq = :seq"),
                   {"value": _altered(value), "seq": seq})
    fault = busy.verify()
    assert fault is not None and fault.seq == seq, fault


@pytest.mark.parametrize("seq", [1, 3, 6])
def test_deleting_a_row_is_caught(busy: Ledger, db_url: str, seq: int) -> None:
    with sql(db_url) as db:
        db.execute(text("DELETE FROM ledger_events WHERE seq = :seq"), {"seq": seq})
    fault = busy.verify()
    assert fault is not None and fault.seq == seq and "missing" in fault.reason


def test_swapping_two_rows_is_caught(busy: Ledger, db_url: str) -> None:
    columns = ", ".join(COLUMNS)
    with sql(db_url) as db:  # rows 2 and 5 trade places, each keeping its position number
        rows = {r["seq"]: dict(r) for r in db.execute(
            text(f"SELECT {columns} FROM ledger_events WHERE seq IN (2, 5)")).mappings()}
        db.execute(text("DELETE FROM ledger_events WHERE seq IN (2, 5)"))
        for seq, other in ((2, 5), (5, 2)):
            db.execute(text(f"INSERT INTO ledger_events ({columns}) VALUES ({', '.join(':' + c for c in COLUMNS)})"),
                       {**rows[other], "seq": seq})
    fault = busy.verify()
    assert fault is not None and fault.seq == 2


def test_a_forged_head_is_caught(busy: Ledger, db_url: str) -> None:
    with sql(db_url) as db:
        db.execute(text("UPDATE ledger_head SET seq = 5"))
    assert "head" in busy.verify().reason


def test_a_row_signed_with_another_key_is_caught(busy: Ledger, db_url: str, tmp_path: Path, images: list[Path],
                                                 evidence: Path) -> None:
    with Ledger(db_url, LedgerKey.generate(), tmp_path / "evidence") as intruder:
        intruder.grant(kind="person", name="X", grantor="X", purposes=["internal"], expires="2099-01-01",
                       evidence=evidence, images=images[:1], operator="intruder")
    fault = busy.verify()
    assert fault is not None and fault.seq == 7 and "signature" in fault.reason


def test_the_gate_refuses_a_record_whose_rows_were_altered(busy: Ledger, db_url: str, images: list[Path]) -> None:
    with sql(db_url) as db:  # try to un-revoke the first record by relabelling its revoke row
        db.execute(text("UPDATE ledger_events SET kind = 'use' WHERE kind = 'revoke'"))
    with pytest.raises(LedgerTampered):
        authorize(busy, images[:1], "marketing", "tester")


def test_a_record_keeps_one_copy_of_each_picture_it_covers(ledger: Ledger, add, images: list[Path],
                                                           tmp_path: Path) -> None:
    again = tmp_path / "again.bmp"  # the first image re-saved losslessly: the same picture
    Image.open(images[0]).save(again)
    record = add([images[0], again, images[1]])
    kept = ledger.source_images(record.record_id)
    assert len(record.sources) == len(kept) == 2
    assert {fingerprint(p).sha256 for p in kept} == {s.sha256 for s in record.sources}
    assert authorize(ledger, kept, "marketing", "tester").record_id == record.record_id


def test_erase_removes_personal_data_and_evidence_and_the_chain_still_verifies(
    ledger: Ledger, add, images: list[Path], db_url: str
) -> None:
    record = add(images[:1], contact="ada@example.org")
    ledger.revoke(record.record_id, reason="moved away", operator="tester")
    assert ledger.evidence.files(record.record_id)
    assert ledger.source_images(record.record_id)
    erased = ledger.erase(record.record_id, operator="tester")
    assert erased.personal is None and erased.revoke_reason is None
    assert erased.status(datetime.now(UTC)) is Status.ERASED
    assert ledger.evidence.files(record.record_id) == []
    assert ledger.source_images(record.record_id) == []
    with sql(db_url) as db:
        assert db.execute(text("SELECT count(*) FROM personal_data")).scalar() == 0
        dump = "\n".join(str(row) for table in inspect(db).get_table_names()
                         for row in db.execute(text(f"SELECT * FROM {table}")))
    for secret in ("Ada Example", "ada@example.org", "moved away"):
        assert secret not in dump
    assert ledger.verify() is None


def test_revoke_twice_and_unknown_ids_are_input_errors(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:1])
    ledger.revoke(record.record_id, reason="r", operator="tester")
    with pytest.raises(InvalidInput, match="already revoked"):
        ledger.revoke(record.record_id, reason="r", operator="tester")
    with pytest.raises(RecordNotFound):
        ledger.get("0000000000000000")
    with pytest.raises(RecordNotFound):
        ledger.erase("0000000000000000", operator="tester")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"name": "  "}, "name must not be empty"),
        ({"grantor": ""}, "grantor must not be empty"),
        ({"expires": "2001-01-01"}, "in the past"),
        ({"expires": "31/12/2030"}, "not a date"),
        ({"purposes": ["advertising"]}, "unknown purpose"),
        ({"purposes": []}, "at least one purpose"),
        ({"images": []}, "at least one source image"),
        ({"evidence": "/nonexistent/form.pdf"}, "evidence file not found"),
        ({"kind": "artwork"}, "title, creator and rights"),
    ],
)
def test_bad_input_writes_nothing(ledger: Ledger, add, images: list[Path], tmp_path: Path, override: dict,
                                  message: str) -> None:
    override = dict(override)
    with pytest.raises(InvalidInput, match=message):
        add(override.pop("images", images[:1]), **override)
    assert ledger.events() == [] and ledger.records() == []
    assert not any((tmp_path / "evidence").glob("*/*"))


def test_receipt_is_signed_and_detects_edits(busy: Ledger, images: list[Path]) -> None:
    record = busy.records()[1]  # the revoked person record
    document = receipt(record, busy.key, "Example Studio")
    assert document["consentReceiptID"] == record.record_id
    assert document["piiPrincipalId"] == "Ada Example"
    assert document["sitter"]["status"] == "revoked"
    assert verify_receipt(json.dumps(document))
    assert not verify_receipt({**document, "services": []})


def test_use_is_refused_once_revoked(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:1])
    grant = authorize(ledger, images[:1], "marketing", "tester")
    ledger.revoke(record.record_id, reason="r", operator="tester")
    with pytest.raises(ConsentRevoked):
        ledger.record_render(grant, output_id="late")
    assert ledger.get(record.record_id).uses == 0


def test_eight_writers_at_once_lose_nothing_and_the_chain_verifies(db_url: str, tmp_path: Path, images: list[Path],
                                                                   evidence: Path) -> None:
    key_path = tmp_path / "keys" / "ledger.pem"
    LedgerKey.load_or_create(key_path)
    writers, events = 8, 200  # each writer: one grant, then uses of it
    context = multiprocessing.get_context("spawn")
    with context.Pool(writers) as pool:
        pool.starmap(_writer, [(db_url, key_path, tmp_path / "evidence", images, evidence, events)] * writers)
    with Ledger(db_url, LedgerKey.load_or_create(key_path), tmp_path / "evidence") as ledger:
        assert ledger.verify() is None
        assert [e.seq for e in ledger.events()] == list(range(1, writers * events + 1))
        records = ledger.records()
        assert len(records) == writers and all(r.uses == events - 1 for r in records)


# helpers


def _writer(url: str, key_path: Path, evidence_dir: Path, images: list[Path], evidence: Path, events: int) -> None:
    with Ledger(url, LedgerKey.load_or_create(key_path), evidence_dir) as ledger:
        record = ledger.grant(kind="person", name="P", grantor="P", purposes=["internal"],
                              expires="2099-01-01", evidence=evidence, images=images, operator="w")
        grant = authorize(ledger, images, "internal", "w", record_id=record.record_id)
        for n in range(events - 1):
            ledger.record_render(grant, output_id=f"{record.record_id}-{n}")


def _altered(value: object) -> object:
    if isinstance(value, int):
        return value + 100
    if value.startswith("{"):  # a JSON body: change a value, keep it valid JSON
        return value.replace('"operator":"tester"', '"operator":"mallory"').replace("}", ',"x":1}', 1)
    return value[:-1] + ("0" if value[-1] != "0" else "1")
