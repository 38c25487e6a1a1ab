#!/usr/bin/env python
"""The images' entrypoint: put the database password, read from a Docker secret, into SITTER_DB_URL; then run
the command (the studio, `ray start`, any `sitter ...`) in this process's place.

Sitter reads one database setting, SITTER_DB_URL. Written into compose.yaml with its password, that URL would
show in `docker inspect` and in every copy of the compose file, so compose.yaml gives it without a password and
names the secret's file in SITTER_DB_PASSWORD_FILE (the `_FILE` convention of the postgres image, which reads the
same file). The password is added here, at start, inside the container, and URL-quoted by SQLAlchemy, so any
character in it is safe. Without SITTER_DB_PASSWORD_FILE the environment passes through untouched.

    sitter-entrypoint sitter studio --address 0.0.0.0 --port 8501
"""

import os
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def database_url(url: str, password_file: Path) -> str:
    """`url` with the password in `password_file` (its trailing newline dropped, as the postgres image does)."""
    parsed = make_url(url)
    if parsed.password is not None:
        raise ValueError("SITTER_DB_URL already carries a password; give it there or in SITTER_DB_PASSWORD_FILE")
    password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    if not password:
        raise ValueError(f"SITTER_DB_PASSWORD_FILE names an empty file: {password_file}")
    return parsed.set(password=password).render_as_string(hide_password=False)


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: sitter-entrypoint COMMAND [ARG...]")
    password_file = os.environ.get("SITTER_DB_PASSWORD_FILE")
    if password_file:
        if not os.environ.get("SITTER_DB_URL"):
            sys.exit("sitter-entrypoint: SITTER_DB_PASSWORD_FILE is set but SITTER_DB_URL is not")
        try:
            os.environ["SITTER_DB_URL"] = database_url(os.environ["SITTER_DB_URL"], Path(password_file))
        except (OSError, ValueError, ArgumentError) as err:  # a missing secret, a bad URL: say so, start nothing
            sys.exit(f"sitter-entrypoint: {err}")
    os.execvp(argv[0], argv)  # the command replaces this process: it gets the signals and its exit code is ours


if __name__ == "__main__":
    main(sys.argv[1:])
