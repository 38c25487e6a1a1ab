"""The consent ledger: an append-only, hash-chained, signed log of grant, use, revoke and erase events.

Every row's hash covers the previous row's hash and the row's own canonical JSON, and every row is
signed with the studio's Ed25519 ledger key; a signed *head* (the last row's number and hash) catches
rows cut off the end. `verify` walks the chain and names the first row that fails.

Every read of a record (the gate, the re-check before publishing, `consent show`, the studio) trusts its
events only as part of a chain that verifies up to the signed head. That costs one walk of the chain per
process: the verified prefix is remembered (`_Verified`), later reads walk only the rows appended since,
count the rows (a deletion anywhere shows) and compare the record's own rows with what was verified (an
edit to another record's row shows when that record is read, and in `verify`). A record the ledger does
not vouch for has the status "ledger does not verify" and allows nothing. A ledger that was rolled back
(rows cut off the end and an older signed head put back) is caught by a process that had verified further.

Personal data (subject and grantor names, contact, free-text reasons) never enters the chain. It
lives in the `personal` table, referenced from the chain by a salted hash; `erase` deletes the data
and its salt, so the reference no longer identifies anyone while the chain still verifies (GDPR
Art. 17 without breaking the audit trail). Every read of personal data recomputes its reference: an
edited, moved, deleted or re-inserted row makes the record's ledger fail to verify.

Example:

    with Ledger("sqlite:///ledger.db", LedgerKey.load_or_create("ledger.pem"), "evidence/") as ledger:
        record = ledger.grant(kind="artwork", name="Mona Lisa", grantor="Registrar", ...)
        ledger.revoke(record.record_id, reason="loan ended", operator="curator")
        assert ledger.verify() is None
"""

import hashlib
import json
import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, func, select

from consent.errors import InvalidInput, LedgerTampered, RecordNotFound
from consent.event import Event, EventKind
from consent.evidence import EvidenceStore, read_evidence
from consent.keys import LedgerKey
from consent.record import Artwork, Purpose, Record, Status, SubjectKind, printable
from sitter.database import connect, create_tables, serialize
from sitter.sources import SourceImage

if TYPE_CHECKING:
    from consent.gate import Grant

GENESIS = "0" * 64
COLUMNS = ("seq", "record_id", "kind", "at", "body", "prev_hash", "hash", "signature")  # of a chain row
CHECKED_MEMORY = 100_000  # rows remembered as checked (a few tens of MB at most), then forgotten all at once
SOURCES = "sources"  # the evidence subfolder holding a record's source images

metadata = MetaData()

chain = Table(
    "ledger_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("record_id", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("at", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("signature", String(128), nullable=False),
)

head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

personal = Table(
    "personal_data",
    metadata,
    Column("ref", String(64), primary_key=True),
    Column("record_id", String(32), nullable=False, index=True),
    Column("salt", String(64), nullable=False),
    Column("data", Text, nullable=False),
)


@dataclass(frozen=True)
class Fault:
    """The first row of the chain that fails verification, and why."""

    seq: int | None
    reason: str

    def __str__(self) -> str:
        return f"ledger row {self.seq}: {self.reason}" if self.seq is not None else f"ledger: {self.reason}"


@dataclass
class _Verified:
    """The prefix of the chain this process has verified: how far, and which rows name each record.

    `floor` is the furthest (seq, hash) ever verified; it survives a fault, so a chain put back to an
    older signed head is caught."""

    seq: int = 0
    tip: str = GENESIS
    hashes: list[str] = field(default_factory=list)  # hashes[seq - 1]
    rows: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # record id -> [(seq, hash)]
    floor: tuple[int, str] = (0, GENESIS)

    def forget(self) -> None:
        """Start over from the first row next time, keeping the floor."""
        self.seq, self.tip, self.hashes, self.rows = 0, GENESIS, [], {}


class Ledger:
    """The one entry object of consent/: open it, call a verb, close it (or use `with`).

    Safe to share between threads; several processes may write to the same database at once.
    """

    tables: ClassVar[MetaData] = metadata  # the ledger's tables, for the studio's migrations

    def __init__(self, url: str, key: LedgerKey, evidence_dir: Path | str | None = None) -> None:
        if not url:
            raise ValueError("Ledger needs a database URL, e.g. sqlite:///path/to/sitter.db")
        if not isinstance(key, LedgerKey):
            raise TypeError(f"key must be a LedgerKey, not {type(key).__name__}")
        self.key = key
        self.evidence = EvidenceStore(evidence_dir) if evidence_dir is not None else None
        self._engine = connect(url)
        self._verified = _Verified()
        self._verifying = threading.Lock()
        self._checked: set[tuple] = set()  # rows whose hash and signature verified, as read (see _check_row)
        create_tables(self._engine, metadata)

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    # verbs that write

    def grant(
        self,
        *,
        kind: str,
        name: str,
        grantor: str,
        purposes: Sequence[str],
        expires: date | str,
        evidence: Path | str,
        images: Sequence[Path | str],
        operator: str,
        artwork: Artwork | None = None,
        contact: str = "",
        now: datetime | None = None,
    ) -> Record:
        """Record a new consent; every input is checked before anything is written.

        Raises InvalidInput (or its UnreadableImage) naming the first unusable value.
        """
        from consent.sources import read_picture  # the image decoder: only a new record reads images

        now = now or _now()
        subject = _parse_kind(kind)
        name, grantor = _required(name, "name"), _required(grantor, "grantor")
        operator = _required(operator, "operator")
        if subject is SubjectKind.ARTWORK and artwork is None:
            raise InvalidInput("an artwork record needs its title, creator and rights status")
        if subject is SubjectKind.PERSON and artwork is not None:
            raise InvalidInput("a person record takes no artwork title, creator or rights")
        contact = printable(contact, "contact").strip()
        allowed = _parse_purposes(purposes)
        expiry = _parse_expiry(expires, now)
        if not images:
            raise InvalidInput("a consent record must cover at least one source image")
        pictures = {}
        for path in images:  # one copy per distinct picture, of the bytes that were hashed
            picture = read_picture(path)
            pictures.setdefault(picture.source, (picture.data, Path(path).suffix.lower()))
        sources = tuple(pictures)
        evidence_data = read_evidence(Path(evidence))
        evidence_sha = hashlib.sha256(evidence_data).hexdigest()
        if self.evidence is None:
            raise InvalidInput("this ledger was opened without an evidence store")

        record_id = secrets.token_hex(8)
        self.evidence.put(record_id, evidence_data, f"{evidence_sha}{Path(evidence).suffix.lower()}")
        for source, (data, suffix) in pictures.items():
            self.evidence.put(record_id, data, f"{source.sha256}{suffix}", under=SOURCES)
        try:
            with self._atomic() as conn:
                ref = self._store_personal(conn, record_id, {"subject": name, "grantor": grantor,
                                                             "contact": contact})
                body = {
                    "subject": {"kind": subject.value, **(artwork.to_dict() if artwork else {})},
                    "purposes": [p.value for p in allowed],
                    "expires": expiry.isoformat(),
                    "evidence": {"sha256": evidence_sha},
                    "sources": [s.to_dict() for s in sources],
                    "personal_ref": ref,
                    "operator": operator,
                }
                self._append(conn, record_id, EventKind.GRANT, body, now)
        except BaseException:
            self.evidence.remove(record_id)
            raise
        return self.get(record_id)

    def record_render(self, grant: "Grant", *, output_id: str, output_sha256: str = "",
                      now: datetime | None = None) -> Record:
        """Log a use of `grant` (a consent.Grant) for one output; refuses if the record stopped allowing it.

        The status check and the append happen in one write transaction, so a revocation cannot slip
        between them.
        """
        now = now or _now()
        with self._atomic() as conn:
            record = self._load(conn, grant.record_id)
            refusal = record.refusal(Purpose(grant.purpose), now, also=grant.also)
            if refusal is not None:
                raise refusal
            body = {
                "purpose": grant.purpose,
                **({"also": [p.value for p in grant.also]} if grant.also else {}),
                "operator": grant.operator,
                "output_id": output_id,
                "output_sha256": output_sha256,
                "sources": [s.sha256 for s in grant.sources],
            }
            self._append(conn, grant.record_id, EventKind.USE, body, now)
        return self.get(grant.record_id)

    def revoke(self, record_id: str, *, reason: str, operator: str, now: datetime | None = None) -> Record:
        """Withdraw consent: from now on the gate refuses this record. The reason is personal data."""
        now = now or _now()
        reason, operator = _required(reason, "reason"), _required(operator, "operator")
        with self._atomic() as conn:
            record = self._load(conn, record_id)
            if record.status(now) in (Status.REVOKED, Status.ERASED):
                raise InvalidInput(f"consent record {record_id} is already {record.status(now).value}")
            ref = self._store_personal(conn, record_id, {"reason": reason})
            self._append(conn, record_id, EventKind.REVOKE, {"operator": operator, "personal_ref": ref}, now)
        return self.get(record_id)

    def erase(self, record_id: str, *, operator: str, now: datetime | None = None) -> Record:
        """Delete a record's personal data, salts and evidence files; the chain keeps only hashes."""
        now = now or _now()
        operator = _required(operator, "operator")
        with self._atomic() as conn:
            record = self._load(conn, record_id)
            if record.erased_at is not None:
                raise InvalidInput(f"consent record {record_id} is already erased")
            conn.execute(personal.delete().where(personal.c.record_id == record_id))
            self._append(conn, record_id, EventKind.ERASE, {"operator": operator}, now)
        if self.evidence is not None:
            self.evidence.remove(record_id)
        return self.get(record_id)

    # verbs that read

    def get(self, record_id: str) -> Record:
        """The record with this id; RecordNotFound when there is none."""
        with self._engine.connect() as conn:
            return self._load(conn, record_id)

    def source_images(self, record_id: str) -> list[Path]:
        """The copies of the images a record covers, kept with its evidence; [] once erased."""
        return self.evidence.files(record_id, under=SOURCES) if self.evidence is not None else []

    def records(self) -> list[Record]:
        """Every record, newest first."""
        with self._engine.connect() as conn:
            ids = conn.execute(
                select(chain.c.record_id).where(chain.c.kind == EventKind.GRANT.value).order_by(chain.c.seq.desc())
            ).scalars().all()
            return [self._load(conn, record_id) for record_id in dict.fromkeys(ids)]

    def events(self) -> list[Event]:
        """The whole chain in order (for audit timelines; `Event.to_dict` for `--json`)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(chain).order_by(chain.c.seq)).mappings().all()
        return [Event.from_row(row) for row in rows]

    def verify(self) -> Fault | None:
        """Walk the chain and the personal data; return the first row that fails (changed, missing, reordered,
        badly signed; personal data edited, moved, deleted or put back after an erasure)."""
        events: dict[str, list[Event]] = {}
        with self._engine.connect() as conn:
            walked, fault = self._walk(conn.execute(select(chain).order_by(chain.c.seq)).mappings(), 0, GENESIS)
            if fault is not None:
                return fault
            for row in walked:
                events.setdefault(row["record_id"], []).append(Event.from_row(row))
            tip = conn.execute(select(head)).mappings().first()
            fault = self._check_head(tip, len(walked), walked[-1]["hash"] if walked else GENESIS)
            if fault is not None:
                return fault
            rows = conn.execute(select(personal)).mappings().all()
        by_record: dict[str, list] = {}
        for row in rows:
            by_record.setdefault(row["record_id"], []).append(row)
        for record_id in sorted(by_record.keys() - events.keys()):
            return Fault(None, f"personal data names a consent record the chain does not hold ({record_id})")
        for record_id, record_events in events.items():
            _, fault = _people(record_events, by_record.get(record_id, []))
            if fault is not None:
                return fault
        return None

    def require_trusted(self) -> None:
        """Raise LedgerTampered unless the chain verifies up to its signed head: the quick check every use makes
        (only the rows appended since this process last verified are walked)."""
        with self._engine.connect() as conn, self._verifying:
            fault = self._extend(conn)
            if fault is not None:
                self._verified.forget()
        if fault is not None:
            raise LedgerTampered(fault, f"the consent ledger does not verify ({fault}), so nothing can be rendered: "
                                        "run sitter consent verify-ledger")

    def require_intact(self) -> int:
        """The number of rows in the chain, all verified (`verify`); LedgerTampered, with its `fault`, if one is not.
        What `sitter consent verify-ledger` and the Audit page run."""
        fault = self.verify()
        if fault is not None:
            raise LedgerTampered(fault)
        return len(self.events())

    # the one write path

    @contextmanager
    def _atomic(self) -> Iterator[Connection]:
        """One write transaction, the only one appending to the chain until it ends (sitter.database)."""
        with self._engine.begin() as conn:
            serialize(conn)
            yield conn

    def _append(self, conn: Connection, record_id: str, kind: EventKind, body: dict, now: datetime) -> None:
        tip = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).first()
        seq, prev = (tip.seq + 1, tip.hash) if tip else (1, GENESIS)
        row = {"seq": seq, "record_id": record_id, "kind": kind.value, "at": now.isoformat(),
               "body": canonical(body), "prev_hash": prev}
        row["hash"] = row_hash(row)
        row["signature"] = self.key.sign(row["hash"].encode())
        conn.execute(chain.insert().values(**row))
        tip_row = {"seq": seq, "hash": row["hash"], "signature": self.key.sign(_head_message(seq, row["hash"]))}
        if tip:
            conn.execute(head.update().where(head.c.id == 1).values(**tip_row))
        else:
            conn.execute(head.insert().values(id=1, **tip_row))

    def _store_personal(self, conn: Connection, record_id: str, data: dict) -> str:
        salt = secrets.token_hex(32)
        ref = _personal_ref(salt, canonical(data))
        conn.execute(personal.insert().values(ref=ref, record_id=record_id, salt=salt, data=canonical(data)))
        return ref

    # reading a record back from its events

    def _load(self, conn: Connection, record_id: str) -> Record:
        """The record as its events describe it, with a `fault` when the ledger does not vouch for them: the
        chain up to the signed head, these rows as they were verified, and its personal data as referenced."""
        rows = conn.execute(
            select(chain).where(chain.c.record_id == record_id).order_by(chain.c.seq)
        ).mappings().all()
        if not rows or rows[0]["kind"] != EventKind.GRANT:
            raise RecordNotFound(f"no consent record with id {record_id!r}")
        trusted = self._trusted(conn, record_id, rows)
        try:
            events = [Event.from_row(row) for row in rows]
            people, personal_fault = _people(events, conn.execute(
                select(personal).where(personal.c.record_id == record_id)).mappings().all())
            record = _record(record_id, events, people)
        except (ValueError, KeyError, TypeError):
            if trusted is None:
                raise  # rows the chain vouches for are rows Sitter wrote: a bug, not an edit
            # an edit outside Sitter can leave a row that no longer reads as a record (a body that is not JSON,
            # a field gone): there is no record to show, only the fault that names the row
            raise LedgerTampered(trusted, f"consent record {record_id} can't be used: the consent ledger does not "
                                          f"verify ({trusted}); run sitter consent verify-ledger") from None
        fault = trusted or personal_fault
        return record if fault is None else replace(record, fault=fault)

    # verifying incrementally

    def _trusted(self, conn: Connection, record_id: str, rows: Sequence) -> Fault | None:
        """None when the chain verifies up to its signed head and `rows` are exactly the rows of `record_id`
        in it, each unchanged; else the fault, and the verified prefix is walked again from the start next time.
        """
        with self._verifying:
            fault = self._extend(conn)
            if fault is None and any(row["seq"] > self._verified.seq for row in rows):
                fault = self._extend(conn)  # appended since (a concurrent writer): extend once more
            if fault is None:
                fault = self._same_rows(record_id, rows)
            if fault is not None:
                self._verified.forget()
            return fault

    def _extend(self, conn: Connection) -> Fault | None:
        """Verify the rows appended since the verified prefix, up to the signed head, and remember them."""
        known = self._verified
        tip = conn.execute(select(head)).mappings().first()
        if tip is None:
            has_rows = conn.execute(select(chain.c.seq).limit(1)).first() is not None
            return Fault(None, "the signed ledger head is missing") if has_rows or known.floor[0] else None
        last = tip["seq"]
        if known.seq == last and tip["hash"] == known.tip:
            return self._count_unchanged(conn)
        if last < known.floor[0]:
            return self._rolled_back(last)
        new, fault = self._walk(conn.execute(select(chain).where(chain.c.seq > known.seq, chain.c.seq <= last)
                                             .order_by(chain.c.seq)).mappings(), known.seq, known.tip)
        prev = new[-1]["hash"] if new else known.tip
        fault = fault or self._check_head(tip, known.seq + len(new), prev)
        if fault is not None:
            return fault
        for row in new:
            known.hashes.append(row["hash"])
            known.rows.setdefault(row["record_id"], []).append((row["seq"], row["hash"]))
        known.seq, known.tip = known.seq + len(new), prev
        floor_seq, floor_hash = known.floor
        if floor_seq and known.hashes[floor_seq - 1] != floor_hash:
            return self._rolled_back(floor_seq - 1)
        known.floor = (known.seq, known.tip)
        return None

    def _walk(self, rows: Iterable, after_seq: int, prev: str) -> tuple[list, Fault | None]:
        """Rows that follow row `after_seq` (whose hash is `prev`), each checked in order: numbered next, linked to
        the row before, its hash and signature right. The rows up to the first that fails, and its fault."""
        walked: list = []
        for row in rows:
            expected_seq = after_seq + len(walked) + 1
            if row["seq"] != expected_seq:
                return walked, Fault(expected_seq, "missing, renumbered or out of order")
            if row["prev_hash"] != prev:
                return walked, Fault(row["seq"], "does not link to the row before it (changed, moved or reordered)")
            fault = self._check_row(row)
            if fault is not None:
                return walked, fault
            walked.append(row)
            prev = row["hash"]
        return walked, None

    def _count_unchanged(self, conn: Connection) -> Fault | None:
        """A row deleted from the verified prefix, whichever record it belongs to, shows in the row count."""
        count = conn.execute(select(func.count()).select_from(chain).where(chain.c.seq <= self._verified.seq)).scalar()
        if count == self._verified.seq:
            return None
        return Fault(None, f"{self._verified.seq - count} rows were removed since the ledger was verified")

    def _rolled_back(self, last_seq: int) -> Fault:
        return Fault(last_seq + 1, f"missing: this process had verified {self._verified.floor[0]} rows (the ledger "
                                   "was rolled back to an older signed head)")

    def _same_rows(self, record_id: str, rows: Sequence) -> Fault | None:
        """The first of a record's rows that differs from the verified chain's: removed, changed or added."""
        verified = self._verified.rows.get(record_id, [])
        for row, (seq, row_hash_) in zip(rows, verified, strict=False):
            if (row["seq"], row["hash"]) != (seq, row_hash_):
                return Fault(min(row["seq"], seq), "changed or removed since the ledger was verified")
            fault = self._check_row(row)
            if fault is not None:
                return fault
        if len(rows) != len(verified):
            extra = rows[len(verified):] or None
            seq = extra[0]["seq"] if extra else verified[len(rows)][0]
            return Fault(seq, "added after the last signed head" if extra else
                         "removed since the ledger was verified")
        return None

    def _check_row(self, row: "dict") -> Fault | None:
        """The row's own hash and signature. A row seen before, column for column, is not hashed again: every read
        of a record checks all its rows, and a record with hundreds of uses would pay for each on every render."""
        seen = tuple(row[column] for column in COLUMNS)
        if seen in self._checked:
            return None
        if row_hash(row) != row["hash"]:
            return Fault(row["seq"], "content changed since it was written (hash mismatch)")
        if not self.key.verifies(row["hash"].encode(), row["signature"]):
            return Fault(row["seq"], "signature does not verify with the ledger key")
        if len(self._checked) >= CHECKED_MEMORY:
            self._checked.clear()
        self._checked.add(seen)
        return None

    def _check_head(self, tip: "dict | None", last_seq: int, last_hash: str) -> Fault | None:
        if tip is None:
            return None if last_seq == 0 else Fault(None, "the signed ledger head is missing")
        if not self.key.verifies(_head_message(tip["seq"], tip["hash"]), tip["signature"]):
            return Fault(None, "the ledger head's signature does not verify")
        if tip["seq"] > last_seq:
            return Fault(last_seq + 1, f"missing (the signed head says the ledger has {tip['seq']} rows)")
        if tip["seq"] < last_seq:
            return Fault(tip["seq"] + 1, "was added after the last signed head")
        if tip["hash"] != last_hash:
            return Fault(last_seq, "differs from the row the signed head names")
        return None


def canonical(value: object) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 text. Equal data always hashes equal."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(row: "dict") -> str:
    """SHA-256 over the previous row's hash and this row's canonical JSON."""
    fields = {k: row[k] for k in ("seq", "record_id", "kind", "at", "body")}
    return hashlib.sha256(f"{row['prev_hash']}\n{canonical(fields)}".encode()).hexdigest()


# helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _head_message(seq: int, tip_hash: str) -> bytes:
    return f"sitter-ledger-head\n{seq}\n{tip_hash}".encode()


def _required(value: str, what: str) -> str:
    value = printable(value, what).strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    return value


def _parse_kind(kind: str) -> SubjectKind:
    try:
        return SubjectKind(kind)
    except ValueError:
        raise InvalidInput(f"unknown subject kind {kind!r}: use person or artwork") from None


def _parse_purposes(purposes: Sequence[str]) -> tuple[Purpose, ...]:
    if not purposes:
        raise InvalidInput("a consent record must allow at least one purpose")
    return tuple(dict.fromkeys(Purpose.parse(p) for p in purposes))


def _parse_expiry(expires: date | str, now: datetime) -> date:
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires.strip())
        except ValueError:
            raise InvalidInput(f"expiry {expires!r} is not a date like 2027-12-31") from None
    if expires < now.date():
        raise InvalidInput(f"expiry {expires.isoformat()} is in the past")
    return expires


def _people(events: list[Event], rows: Sequence) -> tuple[dict[str, dict], Fault | None]:
    """A record's personal data by reference, each row checked against the salted hash the chain holds.

    Returns the rows that verify and the first fault: a row whose data or salt was edited, one the record's
    events do not reference (moved from another record, or put back after an erasure), or a referenced row
    that is missing although the record was never erased."""
    erased = any(e.kind is EventKind.ERASE for e in events)
    referenced = {e.body["personal_ref"]: e.seq for e in events if "personal_ref" in e.body}
    people, fault = {}, None
    for row in rows:
        seq = referenced.get(row["ref"])
        if _personal_ref(row["salt"], row["data"]) != row["ref"]:
            fault = fault or Fault(seq, "its personal data was changed since it was written")
        elif seq is None or erased:
            fault = fault or Fault(seq, f"personal data that consent record {row['record_id']} does not reference "
                                        "(moved from another record, or put back after an erasure)")
        else:
            people[row["ref"]] = json.loads(row["data"])
    present = {row["ref"] for row in rows}
    missing = [seq for ref, seq in referenced.items() if ref not in present]
    if fault is None and missing and not erased:
        fault = Fault(missing[0], "its personal data was removed (the record was never erased)")
    return people, fault


def _personal_ref(salt: str, data: str) -> str:
    """The chain's reference to one row of personal data: SHA-256 over its salt and its canonical JSON."""
    try:
        return hashlib.sha256(bytes.fromhex(salt) + data.encode()).hexdigest()
    except ValueError:
        return ""


def _record(record_id: str, events: list[Event], people: dict[str, dict]) -> Record:
    grant = events[0]
    body = grant.body
    subject = dict(body["subject"])
    kind = SubjectKind(subject.pop("kind"))
    artwork = Artwork(**subject) if kind is SubjectKind.ARTWORK else None
    revoked = next((e for e in events if e.kind is EventKind.REVOKE), None)
    erased = next((e for e in events if e.kind is EventKind.ERASE), None)
    return Record(
        record_id=record_id,
        kind=kind,
        purposes=tuple(Purpose(p) for p in body["purposes"]),
        expires=date.fromisoformat(body["expires"]),
        evidence_sha256=body["evidence"]["sha256"],
        sources=tuple(SourceImage(**s) for s in body["sources"]),
        granted_at=datetime.fromisoformat(grant.at),
        grant_hash=grant.hash,
        artwork=artwork,
        personal=people.get(body["personal_ref"]),
        revoked_at=datetime.fromisoformat(revoked.at) if revoked else None,
        revoke_reason=people.get(revoked.body["personal_ref"], {}).get("reason") if revoked else None,
        erased_at=datetime.fromisoformat(erased.at) if erased else None,
        uses=sum(e.kind is EventKind.USE for e in events),
        events=tuple(events),
    )
