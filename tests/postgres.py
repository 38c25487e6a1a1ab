"""A throwaway PostgreSQL server for the store tests: Debian's postgresql binaries, a new cluster in a
temporary folder, a free local port, one fresh database per test. Nothing is left behind.

PostgreSQL refuses to run as root; under root (CI) the cluster runs as the `postgres` user the Debian
package creates.
"""

import getpass
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from servers import free_port

USER = "sitter"


def binaries() -> Path | None:
    """The folder with initdb and pg_ctl (Debian keeps them off PATH, under /usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    """One PostgreSQL server on 127.0.0.1:`port`, trust authentication, fsync off (it is thrown away)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="sitter-pg-"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if getpass.getuser() == "root" else []
        if self.as_user:
            shutil.chown(self.root, "postgres")

    def start(self) -> "Cluster":
        data = self.root / "data"
        self._run("initdb", "-D", data, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", data, "-o", options, "-l", self.root / "server.log", "-w", "start")
        return self

    def create_database(self) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.root / "data", "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={database}"

    def _run(self, program: str, *args: object) -> None:
        command = [*self.as_user, str(self.bin_dir / program), *map(str, args)]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stderr.strip() or result.stdout.strip()}")

