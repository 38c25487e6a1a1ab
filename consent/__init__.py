"""consent/: who agreed to what. Records, the tamper-evident ledger, and the gate every render passes."""

from consent.errors import (
    ConsentErased,
    ConsentError,
    ConsentExpired,
    ConsentRefused,
    ConsentRevoked,
    InvalidInput,
    LedgerKeyUnusable,
    LedgerTampered,
    PurposeNotAllowed,
    RecordNotFound,
    SourceNotCovered,
    UnreadableImage,
)
from consent.gate import Grant, authorize, covering
from consent.keys import LedgerKey
from consent.ledger import Fault, Ledger
from consent.receipt import receipt, verify_receipt
from consent.record import Artwork, Purpose, Record, Rights, Status, SubjectKind
from consent.sources import SourceImage, fingerprint

__all__ = [
    "Artwork",
    "ConsentErased",
    "ConsentError",
    "ConsentExpired",
    "ConsentRefused",
    "ConsentRevoked",
    "Fault",
    "Grant",
    "InvalidInput",
    "Ledger",
    "LedgerKey",
    "LedgerKeyUnusable",
    "LedgerTampered",
    "Purpose",
    "PurposeNotAllowed",
    "Record",
    "RecordNotFound",
    "Rights",
    "SourceImage",
    "SourceNotCovered",
    "Status",
    "SubjectKind",
    "UnreadableImage",
    "authorize",
    "covering",
    "fingerprint",
    "receipt",
    "verify_receipt",
]
