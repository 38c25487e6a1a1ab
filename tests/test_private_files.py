"""What Sitter keeps is its owner's only: SITTER_HOME 0700, every folder in it 0700, every file 0600, whatever
modes they had before; a data directory that can't be made so is refused. A lost or unusable ledger key is one
line saying what to do, never a new key or a traceback."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent import LedgerKey, LedgerKeyUnusable
from studio.settings import Settings

DATA = Path(__file__).parent / "data"
PORTRAIT = "einstein_photo.jpg"


@pytest.fixture(autouse=True)
def usual_umask():
    """The umask most systems start with (files 0644, folders 0755 unless Sitter says otherwise)."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.fixture
def add(sitter, tmp_path: Path):
    """Add a consent record for the portrait; its id."""
    evidence = tmp_path / "release.pdf"
    evidence.write_bytes(b"%PDF stand-in release")

    def add() -> str:
        result = sitter("consent", "add", "--kind", "person", "--name", "Ada Example", "--grantor", "Ada Example",
                        "--purpose", "marketing", "--expires", "2099-01-01", "--evidence", evidence,
                        "--image", DATA / PORTRAIT)
        assert result.exit_code == 0, result.output
        return result.output.strip()

    return add


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def not_owner_only(home: Path) -> list[str]:
    """Every folder under `home` (itself included) that is not 0700 and every file with group or other bits."""
    wrong = [] if mode(home) == 0o700 else [f"home {oct(mode(home))}"]
    for path in home.rglob("*"):
        if (path.is_dir() and mode(path) != 0o700) or (path.is_file() and mode(path) & 0o077):
            wrong.append(f"{path.relative_to(home)} {oct(mode(path))}")
    return wrong


def one_line(result) -> str:
    """The single line a refused command prints on stderr (no traceback, no usage)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_an_existing_open_home_and_database_become_owner_only(sitter, home: Path) -> None:
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    (home / "sitter.db").touch(mode=0o644)  # as an earlier Sitter left it
    (home / "evidence" / "0123456789abcdef").mkdir(parents=True, mode=0o755)
    (home / "evidence" / "0123456789abcdef" / "form.pdf").write_bytes(b"%PDF")
    result = sitter("consent", "list")
    assert result.exit_code == 0, result.output
    assert mode(home) == 0o700 and mode(home / "sitter.db") == 0o600
    assert not_owner_only(home) == []


def test_everything_the_studio_writes_is_owner_only(sitter, add, home: Path, tmp_path: Path) -> None:
    add()
    elsewhere = tmp_path / "shared" / "video.mp4"
    for out in (home / "outputs" / "video.mp4", elsewhere):
        result = sitter("render", "--source", DATA / PORTRAIT, "--landmarks",
                        DATA / PORTRAIT.replace(".jpg", ".landmarks.json"), "--purpose", "marketing",
                        "--seconds", "1", "--out", out)
        assert result.exit_code == 0, result.output
    assert sitter("keys", "show").exit_code == 0
    assert not_owner_only(home) == []
    for folder in ("keys", "evidence", "outputs", "work"):
        assert mode(home / folder) == 0o700, folder
    assert mode(elsewhere) == 0o600  # the video of a face, wherever it goes
    settings = Settings.from_env({"SITTER_HOME": str(home)})
    with settings.open_ledger() as ledger:  # while a connection is open, SQLite's WAL files exist
        ledger.revoke(ledger.records()[0].record_id, reason="withdrawn", operator="desk-1")
        for suffix in ("-wal", "-shm"):
            assert mode(home / f"sitter.db{suffix}") == 0o600, suffix


def test_a_fresh_database_file_is_created_owner_only(home: Path, tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "studio.db"  # SITTER_DB_URL outside the data directory
    with Settings(home, f"sqlite:///{database}").open_registry():
        assert mode(database) == 0o600


def test_a_home_that_can_not_be_made_private_is_refused(sitter, home: Path, monkeypatch) -> None:
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)

    def refuse(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", refuse)
    result = sitter("consent", "list")
    assert result.exit_code == 2
    assert "can't be made owner-only" in one_line(result) and str(home) not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")
def test_a_home_another_user_owns_is_refused(sitter, home: Path) -> None:
    home.mkdir(mode=0o700)
    os.chown(home, 65534, 65534)  # nobody
    result = sitter("consent", "list")
    assert result.exit_code == 2
    assert "belongs to another user" in one_line(result)
    assert not (home / "sitter.db").exists()


def test_a_missing_ledger_key_with_rows_is_refused_not_replaced(sitter, add, home: Path) -> None:
    key = home / "keys" / "ledger-ed25519.pem"
    assert sitter("consent", "list").exit_code == 0 and mode(key) == 0o600  # an empty ledger: a key is made
    key.unlink()
    assert sitter("consent", "list").exit_code == 0 and key.exists()  # still empty: a new key is fine
    add()
    key.unlink()
    for command in (["consent", "list"], ["keys", "show"]):
        result = sitter(*command)
        assert result.exit_code == 1, result.output
        line = one_line(result)
        assert "ledger key is missing" in line and "restore the key file from your backup" in line
        assert not key.exists()  # no new key made
    assert "Ada" not in result.stderr


def _ec_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _public_only() -> bytes:
    return Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _encrypted() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"hunter2"))


UNUSABLE = {
    "empty": (lambda: b"", "is empty"),
    "corrupt": (lambda: b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n",
                "not a PEM private key"),
    "truncated": (lambda: Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())[:60],
        "not a PEM private key"),
    "binary": (lambda: os.urandom(64), "not a PEM private key"),
    "ec-key": (_ec_key, "not Ed25519"),
    "public-only": (_public_only, "not a PEM private key"),
    "encrypted": (_encrypted, "is encrypted"),
}


@pytest.mark.parametrize("kind", UNUSABLE)
def test_an_unusable_ledger_key_is_one_line_not_a_traceback(sitter, env: dict[str, str], home: Path,
                                                            kind: str) -> None:
    assert sitter("consent", "list").exit_code == 0  # the studio and its key exist
    key = home / "keys" / "ledger-ed25519.pem"
    content, message = UNUSABLE[kind]
    key.write_bytes(bad := content())
    process = subprocess.run([sys.executable, "-m", "studio.cli", "consent", "list"], env={**os.environ, **env},
                             capture_output=True, text=True)
    assert process.returncode == 1, process.stderr
    assert "Traceback" not in process.stderr and message in one_line(process)
    assert key.read_bytes() == bad  # left for the operator to restore, not replaced


@pytest.mark.parametrize("kind", ["empty", "ec-key", "encrypted"])
def test_the_key_error_names_no_file_in_its_message(tmp_path: Path, kind: str) -> None:
    key = tmp_path / "keys" / "ledger-ed25519.pem"
    key.parent.mkdir()
    key.write_bytes(UNUSABLE[kind][0]())
    with pytest.raises(LedgerKeyUnusable) as caught:
        LedgerKey.load_or_create(key)
    assert caught.value.path == key and str(key) not in str(caught.value) and key.name not in str(caught.value)
    assert caught.value.exit_code == 1 and str(caught.value).count(". ") == 0
