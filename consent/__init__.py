"""consent/: who agreed to what. Records, the tamper-evident ledger, and the gate every render passes.

Each name is imported when first used (sitter.lazy): a command that only reads the ledger key loads no database.
"""

from sitter.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "consent.errors": ("ConsentErased", "ConsentError", "ConsentExpired", "ConsentRefused", "ConsentRevoked",
                       "InvalidInput", "LedgerKeyUnusable", "LedgerTampered", "PurposeNotAllowed", "RecordNotFound",
                       "SourceNotCovered"),
    "consent.event": ("Event", "EventKind"),
    "consent.gate": ("Grant", "authorize", "covering"),
    "consent.keys": ("LedgerKey",),
    "consent.ledger": ("Fault", "Ledger"),
    "consent.receipts": ("receipt", "verify_receipt"),
    "consent.record": ("Artwork", "Purpose", "Record", "Rights", "Status", "SubjectKind"),
    "consent.sources": ("SourceImage", "fingerprint"),
    "consent.status": ("record_status",),
    "sitter.images": ("UnreadableImage",),  # one error for an image file that can't be read, in every part
})
