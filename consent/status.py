"""A cited record's status today: the one thing provenance reads from consent (DESIGN: `provenance -> consent`
only to read a record's status).

A verifier holds what a manifest cites, a record id and the hash of its grant row, and asks the studio's ledger
whether that consent still holds. It learns the status and nothing else: no names, purposes or history.
"""

from datetime import datetime

from consent.errors import RecordNotFound
from consent.ledger import Ledger

UNKNOWN = "unknown"  # no ledger to ask, nothing cited, or a record this ledger does not hold
MISMATCH = "mismatch"  # the ledger holds a record under that id, but not the grant the manifest cites


def record_status(ledger: Ledger | None, record_id: str | None, record_hash: str | None, now: datetime) -> str:
    """The status at `now` of the record cited as (`record_id`, `record_hash`): a consent.Status value (active,
    revoked, expired, erased, ledger does not verify), or UNKNOWN, or MISMATCH."""
    if ledger is None or not record_id:
        return UNKNOWN
    try:
        record = ledger.get(record_id)
    except RecordNotFound:
        return UNKNOWN
    return record.status(now).value if record.grant_hash == record_hash else MISMATCH
