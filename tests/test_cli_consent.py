"""`sitter consent ...` as a user runs it: exit codes, one-line errors, JSON, nothing half-written."""

import json
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from studio.cli import cli


def add_args(portrait: Path, evidence: Path, *extra: str) -> list[str]:
    return ["consent", "add", "--kind", "person", "--name", "Ada Example", "--grantor", "Ada Example",
            "--purpose", "marketing", "--purpose", "speech", "--expires", "2099-01-31",
            "--evidence", str(evidence), "--image", str(portrait), *extra]


def test_add_list_show_revoke_receipt_erase_round_trip(sitter, portrait: Path, evidence: Path, home: Path) -> None:
    added = sitter(*add_args(portrait, evidence))
    assert added.exit_code == 0, added.output
    record_id = added.output.strip()
    assert len(record_id) == 16

    listed = json.loads(sitter("consent", "list", "--json").output)
    assert [r["record_id"] for r in listed] == [record_id]
    assert listed[0]["status"] == "active" and listed[0]["purposes"] == ["marketing", "speech"]
    assert record_id in sitter("consent", "list").output

    shown = sitter("consent", "show", record_id)
    assert "Ada Example" in shown.output and "status      active" in shown.output

    assert sitter("consent", "revoke", record_id, "--reason", "changed her mind").exit_code == 0
    after = json.loads(sitter("consent", "show", record_id, "--json").output)
    assert after["status"] == "revoked" and after["revoke_reason"] == "changed her mind"
    assert [e["kind"] for e in after["events"]] == ["grant", "revoke"]
    assert all(e["body"]["operator"] == "desk-1" for e in after["events"])

    out = home / "receipt.json"
    assert sitter("consent", "receipt", record_id, "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text())["consentReceiptID"] == record_id

    assert sitter("consent", "erase", record_id, input="y\n").exit_code == 0
    erased = json.loads(sitter("consent", "show", record_id, "--json").output)
    assert erased["status"] == "erased" and erased["personal"] is None

    verified = sitter("consent", "verify-ledger", "--json")
    assert verified.exit_code == 0 and json.loads(verified.output) == {"ok": True, "rows": 3, "fault": None}


def test_an_artwork_record(sitter, portrait: Path, evidence: Path) -> None:
    result = sitter("consent", "add", "--kind", "artwork", "--name", "Woman in Black", "--grantor", "Registrar",
                    "--purpose", "exhibit", "--expires", "2099-01-01", "--evidence", str(evidence),
                    "--image", str(portrait), "--creator", "John Singer Sargent", "--rights", "public-domain",
                    "--date", "c. 1890", "--institution", "A Museum", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["artwork"] == {"title": "Woman in Black", "creator": "John Singer Sargent", "date": "c. 1890",
                                 "institution": "A Museum", "rights": "public-domain"}


def test_a_tampered_ledger_fails_verification_with_exit_1(sitter, portrait: Path, evidence: Path,
                                                          home: Path) -> None:
    record_id = sitter(*add_args(portrait, evidence)).output.strip()
    sitter("consent", "revoke", record_id, "--reason", "r")
    with sqlite3.connect(home / "sitter.db") as db:
        db.execute("UPDATE ledger_events SET kind = 'use' WHERE seq = 2")
    result = sitter("consent", "verify-ledger")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: ledger row 2: content changed since it was written (hash mismatch)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a, p: _replace(a, "--expires", "2001-02-03"), "expiry 2001-02-03 is in the past"),
        (lambda a, p: _replace(a, "--expires", "next week"), "is not a date"),
        (lambda a, p: _replace(a, "--name", " "), "name must not be empty"),
        (lambda a, p: _replace(a, "--evidence", str(p / "nope.pdf")), "evidence file not found"),
        (lambda a, p: _replace(a, "--image", str(p / "empty.png")), "image is empty"),
        (lambda a, p: _replace(a, "--image", str(p / "notes.txt")), "not an image"),
        (lambda a, p: _replace(a, "--image", str(p / "cut.jpg")), "corrupt or truncated"),
        (lambda a, p: _replace(a, "--purpose", "advertising"), "unknown purpose 'advertising'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(sitter, portrait: Path, evidence: Path, home: Path,
                                                            tmp_path: Path, change, message: str) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "cut.jpg").write_bytes(portrait.read_bytes()[:3000])
    result = sitter(*change(add_args(portrait, evidence), tmp_path))
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert json.loads(sitter("consent", "list", "--json").output) == []
    assert not any((home / "evidence").glob("**/*.*"))


def test_unknown_record_ids_exit_2(sitter) -> None:
    for command in (["show", "feedface"], ["revoke", "feedface", "--reason", "x"], ["erase", "feedface", "--yes"],
                    ["receipt", "feedface"]):
        result = sitter("consent", *command)
        assert result.exit_code == 2 and "no consent record with id 'feedface'" in result.output, command


def test_every_command_has_help_with_an_example() -> None:
    def walk(group: click.Group, path: tuple[str, ...] = ()):
        for name, command in group.commands.items():
            yield (*path, name), command
            if isinstance(command, click.Group):
                yield from walk(command, (*path, name))

    for path, command in walk(cli):
        assert command.help, path
        if not isinstance(command, click.Group):
            assert "Example:" in command.help, path
        assert CliRunner().invoke(cli, [*path, "--help"]).exit_code == 0, path


# helpers


def _replace(args: list[str], option: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(option) + 1] = value
    return args
