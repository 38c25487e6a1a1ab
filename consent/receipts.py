"""A consent receipt the subject (or the rights holder) can keep, after the Kantara Consent Receipt v1.1.

The receipt is the one place a record's names appear outside the studio's database: it goes to the
person they belong to. It is signed with the ledger key over its canonical JSON, so its holder can
later prove what was agreed even if the studio's copy is disputed; `verify_receipt` checks it.
"""

import json
from datetime import UTC, datetime

from consent.errors import LedgerTampered
from consent.keys import LedgerKey
from consent.ledger import canonical
from consent.record import Record, SubjectKind

VERSION = "KI-CR-v1.1.0"
SERVICE = "Sitter: animated portrait (talking-head) video from still images"


def receipt(record: Record, key: LedgerKey, controller: str, now: datetime | None = None) -> dict:
    """The signed receipt of `record` as it stands at `now`; LedgerTampered when the ledger does not vouch for the
    record (the ledger key never signs names or terms it can't prove)."""
    if record.fault is not None:
        raise LedgerTampered(record.fault, f"no receipt for consent record {record.record_id}: the consent ledger "
                                           f"does not verify ({record.fault}); run sitter consent verify-ledger")
    now = now or datetime.now(UTC)
    people = record.personal or {}
    body = {
        "version": VERSION,
        "jurisdiction": "",
        "consentTimestamp": int(record.granted_at.timestamp()),
        "collectionMethod": "signed consent form held in evidence",
        "consentReceiptID": record.record_id,
        "language": "en",
        "piiPrincipalId": people.get("subject", "[erased]") if record.kind is SubjectKind.PERSON else "",
        "piiControllers": [{"piiController": controller}],
        "services": [{
            "service": SERVICE,
            "purposes": [
                {
                    "purpose": purpose.value,
                    "consentType": "EXPLICIT",
                    "piiCategory": ["facial image", "likeness"],
                    "primaryPurpose": True,
                    "termination": record.expires.isoformat(),
                    "thirdPartyDisclosure": purpose.value in ("marketing", "exhibit"),
                }
                for purpose in record.purposes
            ],
        }],
        "sensitive": record.kind is SubjectKind.PERSON,
        "spiCat": ["biometric likeness"] if record.kind is SubjectKind.PERSON else [],
        "sitter": {
            "subject": record.artwork.to_dict() if record.artwork else {"kind": "person"},
            "grantor": people.get("grantor", "[erased]"),
            "status": record.status(now).value,
            "statusAt": now.isoformat(),
            "revokedAt": record.revoked_at.isoformat() if record.revoked_at else None,
            "evidenceSha256": record.evidence_sha256,
            "sources": [s.to_dict() for s in record.sources],
            "ledgerGrantHash": record.grant_hash,
            "uses": record.uses,
        },
    }
    return {**body, "publicKey": key.public_pem(), "signature": key.sign(canonical(body).encode())}


def verify_receipt(document: dict | str) -> bool:
    """True when the receipt's signature matches its content and its embedded public key."""
    document = json.loads(document) if isinstance(document, str) else dict(document)
    signature, public_pem = document.pop("signature", ""), document.pop("publicKey", "")
    try:
        key = LedgerKey.from_public_pem(public_pem)
    except ValueError:
        return False
    return key.verifies(canonical(document).encode(), signature)
