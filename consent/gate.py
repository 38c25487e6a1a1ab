"""The consent gate: nothing is animated unless one consent record covers it, now, for this purpose.

`authorize` is called at the start of every render and returns a Grant. The re-check is
`Ledger.record_render`: the use is logged right before the output is published, and the record checked
again in the same transaction, so a revocation that lands mid-render stops it. The Grant carries the
pixels it checked: each source file is read once, and what the engine animates is exactly what consent
covers. Every refusal is a ConsentRefused subclass naming the rule that failed, with record ids and dates
only: never a name.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from consent.errors import InvalidInput, SourceNotCovered
from consent.ledger import Ledger
from consent.record import Purpose, Record, printable
from consent.sources import SourceImage, fingerprint, read_picture


@dataclass(frozen=True)
class Grant:
    """Permission to render these sources for this purpose, as of `checked_at`.

    `record_hash` is the hash of the record's grant row in the ledger: what a C2PA manifest cites
    (with `record_id`) to prove consent without carrying any personal data. `also` are further purposes
    the same record allows for this use (`speech`, for a video with sound), re-checked with `purpose` when
    the use is logged (`Ledger.record_render`).
    `pictures` are the source images' pixels, as read and hashed for this grant (one per source, in order):
    the render animates these, not the files, which may have changed since.
    """

    record_id: str
    record_hash: str
    purpose: Purpose
    operator: str
    sources: tuple[SourceImage, ...]
    checked_at: datetime
    also: tuple[Purpose, ...] = ()
    pictures: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)


def authorize(
    ledger: Ledger,
    sources: Sequence[Path | str],
    purpose: str,
    operator: str,
    *,
    record_id: str | None = None,
    also: Sequence[str] = (),
    now: datetime | None = None,
) -> Grant:
    """Return a Grant if one record covers every source image and allows `purpose` at `now`, and every
    purpose in `also` too (a video with sound needs `speech` besides what it is for).

    With `record_id`, only that record is considered (the CLI's `--consent ID`). Otherwise any
    record that covers the sources and allows the use will do.

    Raises:
        InvalidInput: no sources, an unreadable image, an unknown purpose, no operator.
        SourceNotCovered, ConsentRevoked, ConsentExpired, ConsentErased, PurposeNotAllowed.
        LedgerTampered: the ledger does not verify up to its signed head; no record can be trusted.
    """
    now = now or datetime.now(UTC)
    ledger.require_trusted()
    if not printable(operator, "operator").strip():
        raise InvalidInput("operator must not be empty: every use is recorded against who made it")
    wanted = Purpose.parse(purpose)
    extra = tuple(p for p in dict.fromkeys(map(Purpose.parse, also)) if p is not wanted)
    if not sources:
        raise InvalidInput("at least one source image is needed")
    pictures = tuple(read_picture(s) for s in sources)
    images = tuple(p.source for p in pictures)
    candidates = [ledger.get(record_id)] if record_id else ledger.records()
    covering = [r for r in candidates if r.covers({i.sha256 for i in images})]
    if not covering:
        raise SourceNotCovered(_not_covered(record_id, candidates, images))
    refusals = []
    for record in covering:
        refusal = record.refusal(wanted, now, also=extra)
        if refusal is None:
            return Grant(record.record_id, record.grant_hash, wanted, operator.strip(), images, now, extra,
                         tuple(p.pixels for p in pictures))
        refusals.append(refusal)
    raise refusals[0]


def covering(ledger: Ledger, sources: Sequence[Path | str]) -> list[Record]:
    """Every record that covers all of `sources` together, whatever its status: what the studio offers to
    render under, and, for records that no longer allow a use, the reason why (`Record.refusal`)."""
    hashes = {fingerprint(s).sha256 for s in sources}
    return [r for r in ledger.records() if r.covers(hashes)] if hashes else []


# helpers


def _not_covered(record_id: str | None, candidates: list[Record], images: tuple[SourceImage, ...]) -> str:
    """Say which source images are not covered, by position (file names may be personal data)."""
    known = {s.sha256 for r in candidates for s in r.sources}
    missing = [str(i) for i, img in enumerate(images, 1) if img.sha256 not in known]
    who = f"consent record {record_id} does not cover" if record_id else "no consent record covers"
    if missing:
        return f"{who} source image {', '.join(missing)} of {len(images)}"
    return f"{who} all {len(images)} source images together (each is on record, but in different records)"
