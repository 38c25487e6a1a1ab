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
from consent.event import Event, EventKind
from consent.gate import Grant, authorize, covering
from consent.keys import LedgerKey
from consent.ledger import Fault, Ledger
from consent.receipt import receipt, verify_receipt
from consent.record import Artwork, Purpose, Record, Rights, Status, SubjectKind
from consent.sources import SourceImage, fingerprint
from consent.status import record_status

__all__ = [
    "Artwork",
    "ConsentErased",
    "ConsentError",
    "ConsentExpired",
    "ConsentRefused",
    "ConsentRevoked",
    "Event",
    "EventKind",
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
    "record_status",
    "verify_receipt",
]
