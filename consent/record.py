"""A consent record: who or what may be animated, for which purposes, until when, from which images.

Field names follow the Kantara Consent Receipt (v1.1) and ISO/IEC TS 27560 where they have one:
the *PII principal* is the subject, purposes are a closed list, `expires` is the consent's
termination date, `evidence` is the hash of the signed form (the document stays in the evidence
store), and the record id is the receipt id. A record is never edited: its state is derived from the
ledger events that name it (grant, use, revoke, erase).
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from consent.errors import (
    ConsentErased,
    ConsentError,
    ConsentExpired,
    ConsentRevoked,
    InvalidInput,
    LedgerTampered,
    PurposeNotAllowed,
)
from consent.event import Event
from sitter.sources import SourceImage
from sitter.text import control_character


class Purpose(StrEnum):
    """What a rendered video may be used for. `speech` covers making the subject say new words."""

    EXHIBIT = "exhibit"
    MARKETING = "marketing"
    INTERNAL = "internal"
    EDUCATION = "education"
    RESEARCH = "research"
    SPEECH = "speech"

    @classmethod
    def parse(cls, value: str) -> "Purpose":
        try:
            return cls(value.strip().lower())
        except ValueError:
            allowed = ", ".join(p.value for p in cls)
            raise InvalidInput(f"unknown purpose {value!r}: use one of {allowed}") from None


def printable(value: str, what: str) -> str:
    """`value` when it is plain text (sitter.text says why); else InvalidInput naming `what`."""
    value = value or ""
    bad = control_character(value)
    if bad is not None:
        raise InvalidInput(f"{what} contains a control character (U+{ord(bad):04X}): use plain text")
    return value


# what a refusal for `speech` adds: why it is needed, and the two ways forward
_SPEECH_FIX = ("; a video with sound in the subject's likeness (a spoken text, a recorded voice or a driving "
               "video's sound) needs a record that allows 'speech': add one, or make the video without sound")


class SubjectKind(StrEnum):
    PERSON = "person"
    ARTWORK = "artwork"


class Rights(StrEnum):
    """Why an artwork may be animated: nobody holds its rights, or they are licensed to or owned by us."""

    PUBLIC_DOMAIN = "public-domain"
    LICENSED = "licensed"
    OWNED = "owned"


class Status(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"
    ERASED = "erased"
    UNVERIFIED = "ledger does not verify"  # its events, or its personal data, are not what the chain says


@dataclass(frozen=True)
class Artwork:
    """An artwork subject. Title and creator of a work are public facts, not personal data."""

    title: str
    creator: str
    rights: Rights
    date: str = ""
    institution: str = ""

    def __post_init__(self) -> None:
        """Every artwork is checked where it is made, whoever makes it (the CLI, the studio, a script): plain text,
        a title and a creator, and a known rights status. InvalidInput naming what is wrong."""
        for what in ("title", "creator", "date", "institution"):
            printable(getattr(self, what), f"the artwork's {what}")
        if not (self.title or "").strip() or not (self.creator or "").strip():
            raise InvalidInput("an artwork record needs its title and its creator")
        try:
            object.__setattr__(self, "rights", Rights(self.rights))
        except ValueError:
            allowed = ", ".join(r.value for r in Rights)
            raise InvalidInput(f"an artwork record needs its rights status: one of {allowed}") from None

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "creator": self.creator,
            "date": self.date,
            "institution": self.institution,
            "rights": self.rights.value,
        }


@dataclass(frozen=True)
class Record:
    """One consent record as the ledger's events describe it now.

    `personal` holds the subject's and grantor's names; it is None once erased. Everything else is
    in the hash chain and stays forever. `fault`, when set, is why the ledger does not vouch for this record
    (a row of the chain, or a row of personal data, that does not verify): such a record allows nothing.
    """

    record_id: str
    kind: SubjectKind
    purposes: tuple[Purpose, ...]
    expires: date
    evidence_sha256: str
    sources: tuple[SourceImage, ...]
    granted_at: datetime
    grant_hash: str
    artwork: Artwork | None = None
    personal: dict | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    erased_at: datetime | None = None
    uses: int = 0
    events: tuple[Event, ...] = field(default=(), repr=False)
    fault: "object | None" = None  # a consent.Fault

    def status(self, now: datetime) -> Status:
        if self.fault is not None:
            return Status.UNVERIFIED
        if self.erased_at is not None:
            return Status.ERASED
        if self.revoked_at is not None:
            return Status.REVOKED
        if now.date() > self.expires:
            return Status.EXPIRED
        return Status.ACTIVE

    def covers(self, sha256s: "set[str] | frozenset[str]") -> bool:
        return set(sha256s) <= {s.sha256 for s in self.sources}

    def refusal(self, purpose: Purpose, now: datetime, also: tuple[Purpose, ...] = ()) -> ConsentError | None:
        """The rule this record breaks for `purpose` (and the purposes in `also`) at `now`, or None when it
        allows the use: a ConsentRefused, or LedgerTampered when the ledger does not vouch for the record."""
        status = self.status(now)
        if status is Status.UNVERIFIED:
            return LedgerTampered(self.fault, f"consent record {self.record_id} can't be used: the consent ledger "
                                              f"does not verify ({self.fault}); run sitter consent verify-ledger")
        if status is Status.ERASED:
            return ConsentErased(f"consent record {self.record_id} was erased and can no longer be used")
        if status is Status.REVOKED:
            return ConsentRevoked(f"consent record {self.record_id} was revoked on {self.revoked_at:%Y-%m-%d}")
        if status is Status.EXPIRED:
            return ConsentExpired(f"consent record {self.record_id} expired on {self.expires:%Y-%m-%d}")
        missing = next((p for p in (purpose, *also) if p not in self.purposes), None)
        if missing is not None:
            allowed = ", ".join(self.purposes)
            return PurposeNotAllowed(
                f"consent record {self.record_id} does not allow purpose {missing.value!r} (allows: {allowed})"
                + (_SPEECH_FIX if missing is Purpose.SPEECH else "")
            )
        return None

    def subject_label(self) -> str:
        """How to name the subject on screen: the artwork's title, the person's name, '[erased]', or
        '[unverified]' when the name on file does not match what the ledger holds."""
        if self.artwork is not None:
            return self.artwork.title
        return self.personal["subject"] if self.personal else self.missing_label()

    def missing_label(self) -> str:
        """What stands in for personal data that can't be shown."""
        return "[erased]" if self.erased_at is not None or self.fault is None else "[unverified]"

    def facts(self, now: datetime) -> dict[str, str]:
        """The record as an operator reads it, label by label, names included: what `sitter consent show` prints and
        the Consent page lists (each adds its own views of the images and the history)."""
        personal = self.personal or {}
        facts = {"record": self.record_id, "kind": self.kind.value, "subject": self.subject_label()}
        if self.artwork:
            a = self.artwork
            facts["artwork"] = f"{a.title} / {a.creator} / {a.date or '-'} / {a.institution or '-'} / {a.rights}"
        facts |= {
            "given by": personal.get("grantor", self.missing_label()),
            "contact": personal.get("contact") or "-",
            "status": self.status(now).value,
        }
        if self.fault is not None:
            facts["fault"] = str(self.fault)
        if self.revoke_reason:
            facts["revoked"] = f"{self.revoked_at:%Y-%m-%d}: {self.revoke_reason}"
        return facts | {
            "purposes": ", ".join(self.purposes),
            "valid until": self.expires.isoformat(),
            "evidence": f"sha256:{self.evidence_sha256}",
            "images": str(len(self.sources)),
        }

    def to_dict(self, now: datetime) -> dict:
        """Everything about the record, names included (None once erased): for the operator's eyes only."""
        return {
            "record_id": self.record_id,
            "kind": self.kind.value,
            "artwork": self.artwork.to_dict() if self.artwork else None,
            "personal": self.personal,
            "status": self.status(now).value,
            "purposes": [p.value for p in self.purposes],
            "expires": self.expires.isoformat(),
            "evidence_sha256": self.evidence_sha256,
            "sources": [s.to_dict() for s in self.sources],
            "granted_at": self.granted_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoke_reason": self.revoke_reason,
            "erased_at": self.erased_at.isoformat() if self.erased_at else None,
            "uses": self.uses,
            "grant_hash": self.grant_hash,
            "fault": str(self.fault) if self.fault is not None else None,
        }
