"""The studio's ledger key: an Ed25519 key pair that signs every ledger row and every receipt.

Created on first use with the private key file readable by its owner only (0600). Anyone holding
the public key can check the ledger and a subject's receipt; only the studio can extend them.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.errors import LedgerKeyUnusable

RESTORE = "restore the studio's ledger key from your backup"
VERIFIED_MEMORY = 100_000  # pairs remembered (about 35 MB at most), then forgotten all at once


@dataclass(frozen=True)
class LedgerKey:
    """Signs with the private half (when present) and verifies with the public half."""

    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None
    # (message, signature) pairs already verified: every read of a record re-checks its rows, and a verify
    # costs ~0.1 ms, which a record with hundreds of uses would pay on every render. A changed row has a
    # different message or signature, so it is checked afresh.
    _verified: set[tuple[bytes, str]] = field(default_factory=set, init=False, repr=False, compare=False)

    @classmethod
    def load_or_create(cls, path: Path | str) -> "LedgerKey":
        """Read the PEM private key at `path`, creating it (mode 0600, folder 0700) if absent.

        Raises LedgerKeyUnusable (its `path` is the file) when the file is there but holds no usable
        Ed25519 private key.
        """
        path = Path(path)
        if not path.exists():
            _create(path)
        try:
            pem = path.read_bytes()
        except OSError:
            raise LedgerKeyUnusable(f"the ledger key file can't be read: {RESTORE}", path) from None
        if not pem.strip():
            raise LedgerKeyUnusable(f"the ledger key file is empty: {RESTORE}", path)
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except TypeError:  # cryptography's word for "it is encrypted"
            raise LedgerKeyUnusable("the ledger key file is encrypted: Sitter needs it unencrypted, owner-only",
                                    path) from None
        except (ValueError, UnsupportedAlgorithm):
            raise LedgerKeyUnusable(f"the ledger key file is not a PEM private key (corrupt or truncated): {RESTORE}",
                                    path) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise LedgerKeyUnusable(f"the ledger key file holds another kind of key, not Ed25519: {RESTORE}", path)
        return cls(private.public_key(), private)

    @classmethod
    def generate(cls) -> "LedgerKey":
        """A throwaway key in memory (tests, in-memory ledgers)."""
        private = Ed25519PrivateKey.generate()
        return cls(private.public_key(), private)

    @classmethod
    def from_public_pem(cls, pem: str) -> "LedgerKey":
        """A verify-only key, e.g. from a receipt; ValueError when `pem` is not an Ed25519 public key."""
        public = serialization.load_pem_public_key(pem.encode())
        if not isinstance(public, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return cls(public)

    def sign(self, message: bytes) -> str:
        if self.private is None:
            raise ValueError("this ledger key has no private half: it can verify but not sign")
        return self.private.sign(message).hex()

    def verifies(self, message: bytes, signature_hex: str) -> bool:
        if (message, signature_hex) in self._verified:
            return True
        try:
            self.public.verify(bytes.fromhex(signature_hex), message)
        except (InvalidSignature, ValueError):
            return False
        if len(self._verified) >= VERIFIED_MEMORY:
            self._verified.clear()
        self._verified.add((message, signature_hex))
        return True

    def public_pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


# helpers


def _create(path: Path) -> None:
    """Write a new key atomically: a crash never leaves a half-written or world-readable key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    try:
        os.link(tmp, path)  # fails if another process created the key first: keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
