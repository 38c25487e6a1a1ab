"""Sitter's configuration, in one place: where its data lives and which database it uses.

Read once at the edge (the CLI, the studio) from the environment and passed inward:
- SITTER_HOME: the data directory (default ~/.sitter) holding the database, keys, evidence and outputs;
- SITTER_DB_URL: the database (default a SQLite file in the data directory; a PostgreSQL URL for teams);
- SITTER_CONTROLLER: the organisation named as data controller on consent receipts.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from consent import Ledger, LedgerKey


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    controller: str = "Sitter studio"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        home = Path(env.get("SITTER_HOME") or Path.home() / ".sitter").expanduser()
        url = env.get("SITTER_DB_URL") or f"sqlite:///{home / 'sitter.db'}"
        return cls(home, url, env.get("SITTER_CONTROLLER") or cls.controller)

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def evidence_dir(self) -> Path:
        return self.home / "evidence"

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"

    def open_ledger(self) -> Ledger:
        """The consent ledger, its key created on first use. The data directory is private (0700)."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = LedgerKey.load_or_create(self.keys_dir / "ledger-ed25519.pem")
        return Ledger(self.database_url, key, self.evidence_dir)
