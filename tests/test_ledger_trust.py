"""An attacker with write access to the database, but not the ledger key, can't undo a revocation or an erasure, nor
forge the personal data a receipt signs: every read of a record trusts it only as part of a chain that verifies.
"""

import json
import sqlite3
from pathlib import Path

import pytest
from attacker import sql
from sqlalchemy import text

from consent import (
    ConsentRevoked,
    Ledger,
    LedgerKey,
    LedgerTampered,
    Status,
    authorize,
    receipt,
)
from consent.ledger import canonical


@pytest.fixture
def db_url(store_url: str) -> str:
    """The library-level tests run on each store backend: SQLite and PostgreSQL."""
    return store_url


@pytest.fixture
def revoked(ledger: Ledger, add, images: list[Path]) -> str:
    """A record used once and then revoked: rows 1 grant, 2 use, 3 revoke."""
    record = add(images[:1])
    ledger.record_render(authorize(ledger, images[:1], "marketing", "tester"), output_id="out-1")
    ledger.revoke(record.record_id, reason="withdrawn by email", operator="tester")
    return record.record_id


def _fresh(db_url: str, ledger: Ledger, tmp_path: Path) -> Ledger:
    """The same database opened by a new process: nothing verified yet."""
    return Ledger(db_url, ledger.key, tmp_path / "evidence")


# 1. deleting a revoke row


@pytest.mark.parametrize("process", ["long-lived", "new"])
def test_deleting_the_revoke_row_does_not_unrevoke(ledger: Ledger, revoked: str, db_url: str, images: list[Path],
                                                   tmp_path: Path, process: str) -> None:
    with pytest.raises(ConsentRevoked):
        authorize(ledger, images[:1], "marketing", "tester")  # the long-lived process has verified all 3 rows
    with sql(db_url) as db:
        db.execute(text("DELETE FROM ledger_events WHERE kind = 'revoke'"))
    reader = ledger if process == "long-lived" else _fresh(db_url, ledger, tmp_path)
    with pytest.raises(LedgerTampered, match="does not verify"):
        authorize(reader, images[:1], "marketing", "tester")
    record = reader.get(revoked)
    assert record.status(record.granted_at) is Status.UNVERIFIED
    assert record.fault is not None and record.fault.seq == 3


def test_deleting_the_revoke_row_and_putting_back_an_older_head_is_caught_by_a_process_that_saw_it(
        ledger: Ledger, add, images: list[Path], db_url: str) -> None:
    record = add(images[:1])
    authorize(ledger, images[:1], "marketing", "tester")
    with sql(db_url) as db:
        old_head = dict(db.execute(text("SELECT * FROM ledger_head")).mappings().one())
    ledger.revoke(record.record_id, reason="r", operator="tester")
    with pytest.raises(ConsentRevoked):
        authorize(ledger, images[:1], "marketing", "tester")
    with sql(db_url) as db:  # a rollback: the revoke cut off the end and the signed head from before put back
        db.execute(text("DELETE FROM ledger_events WHERE kind = 'revoke'"))
        db.execute(text("UPDATE ledger_head SET seq = :seq, hash = :hash, signature = :signature"), old_head)
    with pytest.raises(LedgerTampered, match="rolled back"):
        authorize(ledger, images[:1], "marketing", "tester")


def test_an_unsigned_row_appended_after_the_head_is_refused(ledger: Ledger, revoked: str, db_url: str,
                                                             images: list[Path]) -> None:
    ledger.get(revoked)
    with sql(db_url) as db:  # a forged 'use' row after the head, with a made-up hash: not part of the chain
        db.execute(text("INSERT INTO ledger_events (seq, record_id, kind, at, body, prev_hash, hash, signature) "
                        "VALUES (4, :id, 'use', '2026-01-01T00:00:00+00:00', '{}', :prev, :hash, '00')"),
                   {"id": revoked, "prev": "0" * 64, "hash": "f" * 64})
    assert ledger.get(revoked).status(ledger.get(revoked).granted_at) is Status.UNVERIFIED


def test_record_render_refuses_when_the_chain_no_longer_verifies(ledger: Ledger, add, images: list[Path],
                                                                db_url: str) -> None:
    add(images[:1])
    grant = authorize(ledger, images[:1], "marketing", "tester")
    with sql(db_url) as db:  # mid-render, someone edits the grant row (say, to add a purpose)
        db.execute(text("UPDATE ledger_events SET at = '2020-01-01T00:00:00+00:00' WHERE seq = 1"))
    with pytest.raises(LedgerTampered):
        ledger.record_render(grant, output_id="out-x")
    with sql(db_url) as db:
        assert db.execute(text("SELECT count(*) FROM ledger_events WHERE kind = 'use'")).scalar() == 0


def test_a_ledger_that_does_not_verify_refuses_every_record(ledger: Ledger, add, images: list[Path],
                                                           db_url: str) -> None:
    add(images[:1])
    add(images[1:2])  # another record, untouched
    with sql(db_url) as db:
        db.execute(text("DELETE FROM ledger_events WHERE seq = 1"))
    with pytest.raises(LedgerTampered):
        authorize(ledger, images[1:2], "marketing", "tester")


def test_new_rows_from_another_writer_are_verified_and_trusted(ledger: Ledger, add, images: list[Path],
                                                               db_url: str, tmp_path: Path) -> None:
    add(images[:1])
    authorize(ledger, images[:1], "marketing", "tester")
    with _fresh(db_url, ledger, tmp_path) as other:  # another studio process appends
        record = other.grant(kind="person", name="B", grantor="B", purposes=["internal"], expires="2099-01-01",
                             evidence=next(iter((tmp_path / "evidence").glob("*/*.pdf"))), images=images[1:2],
                             operator="desk-2")
    assert authorize(ledger, images[1:2], "internal", "tester").record_id == record.record_id


# 3. personal data


def test_editing_a_name_is_caught_and_never_signed_into_a_receipt(ledger: Ledger, add, images: list[Path],
                                                                  db_url: str) -> None:
    record = add(images[:1])
    with sql(db_url) as db:
        db.execute(text("UPDATE personal_data SET data = :data"),
                   {"data": canonical({"subject": "Someone Else", "grantor": "Someone Else", "contact": ""})})
    fault = ledger.verify()
    assert fault is not None and fault.seq == 1 and "personal data was changed" in fault.reason
    forged = ledger.get(record.record_id)
    assert forged.status(forged.granted_at) is Status.UNVERIFIED
    assert forged.personal is None and forged.subject_label() == "[unverified]"
    with pytest.raises(LedgerTampered, match="no receipt"):
        receipt(forged, ledger.key, "Studio")


def test_editing_a_name_and_recomputing_its_reference_with_the_salt_is_caught(ledger: Ledger, add,
                                                                              images: list[Path], db_url: str) -> None:
    import hashlib

    add(images[:1])
    data = canonical({"subject": "Someone Else", "grantor": "Someone Else", "contact": ""})
    with sql(db_url) as db:
        salt = db.execute(text("SELECT salt FROM personal_data")).scalar()
        ref = hashlib.sha256(bytes.fromhex(salt) + data.encode()).hexdigest()
        db.execute(text("UPDATE personal_data SET data = :data, ref = :ref"), {"data": data, "ref": ref})
    assert "does not reference" in ledger.verify().reason


def test_a_row_edited_into_no_json_is_still_listed_and_named(ledger: Ledger, revoked: str, db_url: str) -> None:
    with sql(db_url) as db:
        db.execute(text("UPDATE ledger_events SET body = '{not json' WHERE seq = 2"))
    assert [(e.seq, e.body) for e in ledger.events()][1] == (2, {"unreadable": "{not json"})
    assert ledger.verify().seq == 2


def test_editing_a_revoke_reason_is_caught(ledger: Ledger, revoked: str, db_url: str) -> None:
    with sql(db_url) as db:
        db.execute(text("UPDATE personal_data SET data = :data WHERE data LIKE '%reason%'"),
                   {"data": canonical({"reason": "never gave consent"})})
    fault = ledger.verify()
    assert fault is not None and fault.seq == 3
    assert ledger.get(revoked).revoke_reason is None


def test_deleting_a_records_personal_rows_is_caught(ledger: Ledger, add, images: list[Path], db_url: str) -> None:
    record = add(images[:1])
    with sql(db_url) as db:
        db.execute(text("DELETE FROM personal_data"))
    assert "removed" in ledger.verify().reason
    assert ledger.get(record.record_id).fault is not None


def test_moving_a_personal_row_to_another_record_is_caught(ledger: Ledger, add, images: list[Path],
                                                           db_url: str) -> None:
    first, second = add(images[:1]), add(images[1:2], name="Bea Example", grantor="Bea Example")
    with sql(db_url) as db:
        db.execute(text("DELETE FROM personal_data WHERE record_id = :id"), {"id": second.record_id})
        db.execute(text("UPDATE personal_data SET record_id = :to WHERE record_id = :of"),
                   {"to": second.record_id, "of": first.record_id})
    assert ledger.verify() is not None
    assert ledger.get(first.record_id).fault is not None and ledger.get(second.record_id).fault is not None


def test_an_erased_record_still_verifies_but_its_data_cannot_be_put_back(ledger: Ledger, add, images: list[Path],
                                                                        db_url: str) -> None:
    record = add(images[:1])
    with sql(db_url) as db:
        saved = [dict(r) for r in db.execute(text("SELECT * FROM personal_data")).mappings()]
    ledger.erase(record.record_id, operator="tester")
    assert ledger.verify() is None
    assert ledger.get(record.record_id).fault is None
    with sql(db_url) as db:  # the names put back from a backup after the erasure
        for row in saved:
            db.execute(text("INSERT INTO personal_data (ref, record_id, salt, data) "
                            "VALUES (:ref, :record_id, :salt, :data)"), row)
    assert "put back after an erasure" in ledger.verify().reason
    assert ledger.get(record.record_id).personal is None


# through the CLI, as the red team did it


def test_cli_deleting_the_revoke_row_refuses_the_render_and_lists_the_record_as_unverified(
        sitter, portrait: Path, evidence: Path, home: Path, tmp_path: Path) -> None:
    added = sitter("consent", "add", "--kind", "person", "--name", "Ada Example", "--grantor", "Ada Example",
                   "--purpose", "marketing", "--expires", "2099-01-31", "--evidence", evidence, "--image", portrait)
    record_id = added.output.strip()
    sitter("consent", "revoke", record_id, "--reason", "changed her mind")
    with sqlite3.connect(home / "sitter.db") as db:
        db.execute("DELETE FROM ledger_events WHERE kind = 'revoke'")
    out = tmp_path / "out.mp4"
    result = sitter("render", "--source", portrait, "--purpose", "marketing", "--out", out, "--seconds", "1")
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1 and "does not verify" in result.output
    assert not out.exists()
    listed = json.loads(sitter("consent", "list", "--json").output)
    assert [r["status"] for r in listed] == ["ledger does not verify"]
    assert "ledger does not verify" in sitter("consent", "list").output
    shown = sitter("consent", "show", record_id)
    assert "status      ledger does not verify" in shown.output
    assert sitter("consent", "receipt", record_id).exit_code == 1


def test_a_receipt_never_signs_a_forged_name(sitter, portrait: Path, evidence: Path, home: Path) -> None:
    added = sitter("consent", "add", "--kind", "person", "--name", "Ada Example", "--grantor", "Ada Example",
                   "--purpose", "marketing", "--expires", "2099-01-31", "--evidence", evidence, "--image", portrait)
    record_id = added.output.strip()
    with sqlite3.connect(home / "sitter.db") as db:
        db.execute("UPDATE personal_data SET data = replace(data, 'Ada', 'Eve')")
    result = sitter("consent", "receipt", record_id)
    assert result.exit_code == 1 and "Eve" not in result.output
    assert sitter("consent", "verify-ledger").exit_code == 1
    assert "Eve" not in sitter("consent", "show", record_id).output


def test_a_second_key_reads_nothing_as_trusted(ledger: Ledger, add, images: list[Path], db_url: str,
                                               tmp_path: Path) -> None:
    add(images[:1])
    with Ledger(db_url, LedgerKey.generate(), tmp_path / "evidence") as stranger, pytest.raises(LedgerTampered):
        authorize(stranger, images[:1], "marketing", "tester")
