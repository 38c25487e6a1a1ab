"""Sitter's configuration, in one place: where its data lives and which database it uses.

Read once at the edge (the CLI, the studio) from the environment and passed inward:
- SITTER_HOME: the data directory (default ~/.sitter) holding the database, keys, evidence, outputs and renders'
  work folders; every command first makes it and all in it owner-only (folders 0700, files 0600);
- SITTER_DB_URL: the database (default a SQLite file in the data directory; a PostgreSQL URL for teams);
- SITTER_CONTROLLER: the organisation named as data controller on consent receipts;
- SITTER_OPERATOR: who acts, recorded with every ledger event, unless a command says (default: the login name);
- SITTER_SIGNING_CHAIN, SITTER_SIGNING_KEY (and optionally SITTER_TRUST_ANCHOR, SITTER_TSA_URL): the
  production C2PA certificate chain and key; without them a development CA is created on first use;
- SITTER_VGG19_WEIGHTS, SITTER_VGGFACE_WEIGHTS: state dict files of the perceptual networks the neural
  engine's content loss uses (training and fine-tuning); without them it uses a pixel-space loss;
- SITTER_RAY_ADDRESS: a Ray cluster (ray://HEAD:10001, or HEAD:6379 on one of its nodes) whose render workers run
  the renders; unset, they run in-process.
- SITTER_ALLOWED_HOSTS: host names (comma-separated) the web studio also answers to, besides the address it
  listens on and localhost: the public name behind a reverse proxy (studio/app/hosts.py says why).
"""

import getpass
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import provenance
from studio.errors import HomeNotPrivate, LedgerKeyMissing

if TYPE_CHECKING:  # the parts are imported where a method needs them: `sitter --help` loads none of them
    from consent import Ledger, LedgerKey
    from provenance import Registry, StudioSigner
    from studio.pipeline import Studio
    from studio.workers import Runner


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    controller: str = "Sitter studio"
    signing_chain: Path | None = None
    signing_key: Path | None = None
    trust_anchor: Path | None = None
    tsa_url: str | None = None
    vgg19_weights: Path | None = None
    vggface_weights: Path | None = None
    ray_address: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    operator: str = ""  # who acts when a command or page does not say: $SITTER_OPERATOR, else the login name

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        home = Path(env.get("SITTER_HOME") or Path.home() / ".sitter").expanduser()
        url = env.get("SITTER_DB_URL") or f"sqlite:///{home / 'sitter.db'}"

        def path(name: str) -> Path | None:
            return Path(env[name]).expanduser() if env.get(name) else None

        return cls(home, url, env.get("SITTER_CONTROLLER") or cls.controller, path("SITTER_SIGNING_CHAIN"),
                   path("SITTER_SIGNING_KEY"), path("SITTER_TRUST_ANCHOR"), env.get("SITTER_TSA_URL") or None,
                   path("SITTER_VGG19_WEIGHTS"), path("SITTER_VGGFACE_WEIGHTS"),
                   ray_address=env.get("SITTER_RAY_ADDRESS") or None,
                   allowed_hosts=tuple(host.strip() for host in env.get("SITTER_ALLOWED_HOSTS", "").split(",")
                                       if host.strip()),
                   operator=env.get("SITTER_OPERATOR") or _login_name())

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def evidence_dir(self) -> Path:
        return self.home / "evidence"

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"

    @property
    def work_dir(self) -> Path:
        """Renders' private work folders (provenance/staging.py), swept at every start when their render died."""
        return self.home / "work"

    def open_ledger(self) -> "Ledger":
        """The consent ledger, its key created on first use: on an empty ledger only. A ledger that holds rows
        but whose key file is gone needs that key restored (LedgerKeyMissing), not a new one."""
        from consent import Ledger, LedgerKey

        self._prepare_store()
        if not self.ledger_key_path.exists() and self._ledger_has_rows():
            raise LedgerKeyMissing("the ledger key is missing but the ledger holds rows it signed: restore the key "
                                   f"file from your backup to $SITTER_HOME/keys/{self.ledger_key_path.name}",
                                   self.ledger_key_path)
        key = LedgerKey.load_or_create(self.ledger_key_path)
        return Ledger(self.database_url, key, self.evidence_dir)

    def ledger_key(self) -> "LedgerKey":
        """The ledger's key, read from its file without opening the database; where there is no file yet, the
        ledger's own rule makes one (open_ledger)."""
        from consent import LedgerKey

        self._make_private()
        if self.ledger_key_path.exists():
            return LedgerKey.load_or_create(self.ledger_key_path)
        with self.open_ledger() as ledger:
            return ledger.key

    @property
    def ledger_key_path(self) -> Path:
        return self.keys_dir / "ledger-ed25519.pem"

    def open_registry(self) -> "Registry":
        self._prepare_store()
        return provenance.Registry(self.database_url)

    def _prepare_store(self) -> None:
        """What every command does first: the data directory and all in it made owner-only, the database migrated
        to this version's schema (when it is behind), and the work folders of renders that died swept."""
        from studio import store

        self._make_private()
        if not store.is_current(self.database_url):
            store.upgrade(self.database_url)
        if any(self.work_dir.iterdir()):
            with provenance.Registry(self.database_url) as registry:
                provenance.sweep(self.work_dir, registry)

    def _make_private(self) -> None:
        """SITTER_HOME, its folders (keys, evidence, outputs, work) and everything in them owner-only: no group or
        other permission bits on any folder or file (0700 and 0600 as Sitter makes them), nor on a SQLite
        database kept elsewhere. HomeNotPrivate when something there belongs to another user or won't change."""
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            for folder in (self.keys_dir, self.evidence_dir, self.outputs_dir, self.work_dir):
                folder.mkdir(exist_ok=True, mode=0o700)
            home = self.home.resolve()  # SITTER_HOME may itself be a link to the folder
            _owner_only(home)
            for root, folders, files in os.walk(home):  # links inside are neither followed nor changed
                for name in (*folders, *files):
                    _owner_only(Path(root, name))
            for path in self._sqlite_files():
                _owner_only(path)
        except OSError as err:
            raise HomeNotPrivate("the data directory (SITTER_HOME) can't be made owner-only "
                                 f"({err.strerror or err.__class__.__name__}): use a folder you own") from None

    def _sqlite_files(self) -> list[Path]:
        """The SQLite database file and its -wal and -shm files, where they exist."""
        if not self.database_url.startswith("sqlite:///") or self.database_url == "sqlite:///:memory:":
            return []
        database = Path(self.database_url.removeprefix("sqlite:///"))
        candidates = (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm"))
        return [path for path in candidates if path.exists()]

    def _ledger_has_rows(self) -> bool:
        """Whether the ledger already holds events (signed with a key, so a new one would not do)."""
        from consent import Ledger, LedgerKey

        with Ledger(self.database_url, LedgerKey.generate()) as ledger:
            return bool(ledger.events())

    def signer(self) -> "StudioSigner":
        """The configured certificate and key, or else the development CA (created on first use)."""
        if self.signing_chain or self.signing_key:
            if not (self.signing_chain and self.signing_key):
                raise provenance.SigningMisconfigured("set both SITTER_SIGNING_CHAIN and SITTER_SIGNING_KEY, or "
                                                      "neither")
            return provenance.certificate_signer(self.signing_chain, self.signing_key,
                                                 trust_anchor=self.trust_anchor, tsa_url=self.tsa_url)
        return provenance.development_signer(self.keys_dir)

    def open_studio(self) -> "Studio":
        """Everything a render needs, from this configuration; close it (or use `with`) when done."""
        from studio.pipeline import Studio  # the pipeline imports the engine and torch: only when rendering

        return Studio(self.open_ledger(), self.open_registry(), self.signer(), self.work_dir,
                      vgg19_weights=self.vgg19_weights, vggface_weights=self.vggface_weights)

    def open_runner(self, studio: "Studio | None" = None) -> "Runner":
        """Where renders run: the Ray cluster's render workers when SITTER_RAY_ADDRESS is set, else this process, on
        `studio` (or on one opened here and closed with the runner). Use it with `with`."""
        from studio.workers import InProcessRunner, WorkerFailed

        if self.ray_address:
            try:
                from studio.ray_workers import RayRunner  # imports Ray: only when a cluster is configured
            except ModuleNotFoundError as err:
                if err.name != "ray":
                    raise
                raise WorkerFailed("SITTER_RAY_ADDRESS is set but Ray is not installed here: pip install "
                                   "'sitter[ray]', or unset it to render in this process") from None
            return RayRunner(self.ray_address)

        return InProcessRunner(studio) if studio is not None else InProcessRunner(self.open_studio(), owned=True)

    def known_trust_anchors(self) -> list[Path]:
        """The studio's own roots, where they exist: a verifier on the studio's machine trusts its own CA."""
        candidates = (self.trust_anchor, provenance.development_trust_anchor(self.keys_dir))
        return [p for p in candidates if p is not None and p.is_file()]

    def has_database(self) -> bool:
        """Whether a studio database exists here (a SQLite file, or any server URL): verify never creates one."""
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///")).is_file() and self.ledger_key_path.is_file()
        return True


# helpers


def _login_name() -> str:
    """The user's login name, or "" where the system knows none (a container running as an unnamed uid): the
    ledger then refuses to record a use until someone says who acts."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def _owner_only(path: Path) -> None:
    """Take away group and other permissions from `path`; HomeNotPrivate if it belongs to another user.
    A symbolic link is left alone (what it points to is not Sitter's to change), and so is a file gone meanwhile
    (a render running beside this command removed its work folder)."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return
        if info.st_uid != os.geteuid():
            raise HomeNotPrivate("the data directory (SITTER_HOME) or something in it belongs to another user: "
                                 "use a folder you own")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
    except FileNotFoundError:
        pass
