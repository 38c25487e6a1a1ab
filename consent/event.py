"""A ledger event: one row of the consent chain, as read back (the audit timeline, a record's history, `--json`)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    """What happened to a consent record; each is one row of the chain."""

    GRANT = "grant"  # the record itself: subject, purposes, expiry, evidence, the source images
    USE = "use"  # one output rendered under it
    REVOKE = "revoke"  # consent withdrawn
    ERASE = "erase"  # its personal data and evidence deleted


@dataclass(frozen=True)
class Event:
    """One row of the chain, without its link and signature (the ledger checks those)."""

    seq: int
    record_id: str
    kind: EventKind | str  # any other text only in a row the ledger does not vouch for (its hash then fails)
    at: str  # ISO 8601, exactly as the row holds it
    body: dict  # what the row records; personal data only as a salted reference ("personal_ref");
    # in a row the ledger does not vouch for, whatever it held that was not a JSON object, under "unreadable"
    hash: str

    @classmethod
    def from_row(cls, row: Mapping) -> "Event":
        return cls(seq=row["seq"], record_id=row["record_id"], kind=_kind(row["kind"]), at=row["at"],
                   body=_body(row["body"]), hash=row["hash"])

    def to_dict(self) -> dict:
        return {"seq": self.seq, "record_id": self.record_id, "kind": str(self.kind), "at": self.at,
                "body": self.body, "hash": self.hash}


# helpers


def _kind(text: str) -> EventKind | str:
    """A row's kind; a tampered row is still read (and then named by the check that fails), so its text stays."""
    try:
        return EventKind(text)
    except ValueError:
        return text


def _body(text: str) -> dict:
    """A row's body; like `_kind`, a tampered body that is no JSON object is still read, so that the timeline
    shows the row and the chain check names it, instead of the reader failing."""
    try:
        body = json.loads(text)
    except (ValueError, TypeError):
        return {"unreadable": str(text)}
    return body if isinstance(body, dict) else {"unreadable": str(text)}
