"""A property the red team could not break: whatever one row of any table an attacker deletes, edits or moves, the gate
never authorizes a record that its true history forbids (revoked, erased, expired, or never granted)."""

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from attacker import sql
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import text

from consent import ConsentError, Ledger, LedgerKey, authorize

START = datetime(2030, 1, 1, 12, tzinfo=UTC)
RECORDS = 3
TABLES = {"ledger_events": ["seq", "record_id", "kind", "at", "body", "prev_hash", "hash", "signature"],
          "ledger_head": ["seq", "hash", "signature"],
          "personal_data": ["ref", "record_id", "salt", "data"]}

step = st.one_of(
    st.tuples(st.just("use"), st.integers(0, RECORDS - 1)),
    st.tuples(st.just("revoke"), st.integers(0, RECORDS - 1)),
    st.tuples(st.just("erase"), st.integers(0, RECORDS - 1)),
    st.tuples(st.just("wait"), st.integers(1, 3)),  # days pass: a record may expire
)
attack = st.one_of(
    st.tuples(st.just("delete"), st.sampled_from(sorted(TABLES)), st.integers(0, 50)),
    st.tuples(st.just("edit"), st.sampled_from(sorted(TABLES)), st.integers(0, 50), st.integers(0, 7)),
    st.tuples(st.just("swap"), st.just("ledger_events"), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("relabel"), st.just("ledger_events"), st.integers(0, 50), st.sampled_from(["use", "grant"])),
)


class History:
    """What really happened, kept apart from the database the attacker edits."""

    def __init__(self) -> None:
        self.expires: dict[str, datetime] = {}
        self.ended: set[str] = set()  # revoked or erased
        self.erased: set[str] = set()

    def allows(self, record_id: str, now: datetime) -> bool:
        return record_id not in self.ended and now.date() <= self.expires[record_id].date()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lifetimes=st.lists(st.integers(0, 4), min_size=RECORDS, max_size=RECORDS), steps=st.lists(step, max_size=8),
       attack=attack, long_lived=st.booleans())
@example(lifetimes=[0, 0, 0], steps=[("revoke", 0)], attack=("edit", "ledger_events", 3, 4), long_lived=True)
def test_no_single_row_change_authorizes_what_the_history_forbids(lifetimes, steps, attack, long_lived) -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        url, key = f"sqlite:///{folder / 'sitter.db'}", LedgerKey.generate()
        images = _images(folder)
        with Ledger(url, key, folder / "evidence") as ledger:
            history, now, ids = History(), START, []
            for i, days in enumerate(lifetimes):
                record = ledger.grant(kind="person", name=f"Person {i}", grantor=f"Person {i}",
                                      purposes=["marketing"], expires=(START + timedelta(days=days)).date(),
                                      evidence=images[-1], images=[images[i]], operator="desk", now=START)
                ids.append(record.record_id)
                history.expires[record.record_id] = START + timedelta(days=days)
            for kind, arg in steps:
                now = _play(ledger, history, ids, images, kind, arg, now)
            for i in range(RECORDS):  # the long-lived studio has verified the chain as it was
                _granted(ledger, images[i], now)
            _tamper(url, attack)
            reader = ledger if long_lived else Ledger(url, key, folder / "evidence")
            for i, record_id in enumerate(ids):
                if not history.allows(record_id, now):
                    assert _granted(reader, images[i], now) is None, (record_id, attack)


def _play(ledger: Ledger, history: History, ids: list[str], images: list[Path], kind: str, arg: int,
          now: datetime) -> datetime:
    if kind == "wait":
        return now + timedelta(days=arg)
    record_id = ids[arg]
    if kind == "use" and history.allows(record_id, now):
        ledger.record_render(authorize(ledger, [images[arg]], "marketing", "desk", now=now), output_id="o", now=now)
    elif kind == "revoke" and record_id not in history.ended:
        ledger.revoke(record_id, reason="withdrawn", operator="desk", now=now)
        history.ended.add(record_id)
    elif kind == "erase" and record_id not in history.erased:
        ledger.erase(record_id, operator="desk", now=now)
        history.ended.add(record_id)
        history.erased.add(record_id)
    return now


def _granted(ledger: Ledger, image: Path, now: datetime) -> str | None:
    """The record the gate authorizes for `image` at `now`, or None when it refuses."""
    try:
        return authorize(ledger, [image], "marketing", "desk", now=now).record_id
    except ConsentError:
        return None


def _tamper(url: str, attack: tuple) -> None:
    """One change to one row, as an attacker with the database file but not the ledger key would make it."""
    kind, table, pick, *rest = attack
    with sql(url) as db:
        rows = [dict(r) for r in db.execute(text(f"SELECT rowid AS _id, * FROM {table} ORDER BY rowid")).mappings()]
        if not rows:
            return
        row = rows[pick % len(rows)]
        if kind == "delete":
            db.execute(text(f"DELETE FROM {table} WHERE rowid = :id"), {"id": row["_id"]})
        elif kind == "edit":
            column = TABLES[table][rest[0] % len(TABLES[table])]
            db.execute(text(f"UPDATE {table} SET {column} = :value WHERE rowid = :id"),
                       {"value": _altered(row[column]), "id": row["_id"]})
        elif kind == "relabel":
            db.execute(text(f"UPDATE {table} SET kind = :kind WHERE rowid = :id"), {"kind": rest[0], "id": row["_id"]})
        elif (other := rows[rest[0] % len(rows)]) is not row:  # two rows trade places, each keeping its seq
            columns = TABLES[table]
            db.execute(text(f"DELETE FROM {table} WHERE rowid IN (:a, :b)"), {"a": row["_id"], "b": other["_id"]})
            insert = text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
            for target, source in ((row, other), (other, row)):
                db.execute(insert, {**{c: source[c] for c in columns}, "seq": target["seq"]})


def _altered(value: object) -> object:
    if isinstance(value, int):
        return value + 1000  # past every row: a renumbered row, not a collision
    text_value = str(value)
    for old, new in (("revoke", "use"), ("erase", "use"), ('"expires":"20', '"expires":"21'), ("withdrawn", "ok")):
        if old in text_value:
            return text_value.replace(old, new, 1)
    return text_value[:-1] + ("0" if text_value[-1:] != "0" else "1")


def _images(folder: Path) -> list[Path]:
    """One small distinct picture per record, and an evidence file last."""
    rng = np.random.default_rng(5)
    paths = []
    for i in range(RECORDS):
        path = folder / f"face{i}.png"
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    evidence = folder / "form.pdf"
    evidence.write_bytes(b"%PDF signed form")
    return [*paths, evidence]


@pytest.mark.parametrize("kind", ["revoke", "erase"])
def test_the_property_catches_the_red_teams_attack(kind: str) -> None:
    """The attack from the report, as one example of the property: delete the revoke (or erase) row."""
    test_no_single_row_change_authorizes_what_the_history_forbids.hypothesis.inner_test(
        lifetimes=[4, 4, 4], steps=[("use", 0), (kind, 0)], attack=("delete", "ledger_events", 2), long_lived=False)
