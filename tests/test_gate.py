"""The gate lets a use through only when one record covers every image, now, for this purpose."""

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from consent import (
    ConsentErased,
    ConsentExpired,
    ConsentRefused,
    ConsentRevoked,
    InvalidInput,
    Ledger,
    LedgerKey,
    PurposeNotAllowed,
    SourceNotCovered,
    UnreadableImage,
    authorize,
    covering,
)


@pytest.fixture
def db_url(store_url: str) -> str:
    """Every test here runs on each store backend: SQLite and PostgreSQL."""
    return store_url


def test_a_covered_image_for_an_allowed_purpose_is_granted(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:2], purposes=["marketing", "exhibit"])
    grant = authorize(ledger, images[:2], "exhibit", "alice")
    assert (grant.record_id, grant.purpose, grant.operator) == (record.record_id, "exhibit", "alice")
    assert grant.record_hash == record.grant_hash
    assert {s.sha256 for s in grant.sources} == {s.sha256 for s in record.sources}
    ledger.record_render(grant, output_id="out-1")
    assert authorize(ledger, images[1:2], "marketing", "alice").record_id == record.record_id


def test_an_image_on_no_record_is_refused(ledger: Ledger, add, images: list[Path]) -> None:
    add(images[:1])
    with pytest.raises(SourceNotCovered, match="source image 2 of 2"):
        authorize(ledger, [images[0], images[2]], "marketing", "alice")


def test_images_covered_only_by_different_records_are_refused(ledger: Ledger, add, images: list[Path]) -> None:
    add(images[:1])
    add(images[1:2])
    with pytest.raises(SourceNotCovered, match="in different records"):
        authorize(ledger, images[:2], "marketing", "alice")


def test_covering_lists_every_record_holding_all_the_images_whatever_its_status(
    ledger: Ledger, add, images: list[Path]
) -> None:
    both = add(images[:2])
    first_only = add(images[:1])
    ledger.revoke(both.record_id, reason="withdrawn", operator="alice")
    assert {r.record_id for r in covering(ledger, images[:1])} == {both.record_id, first_only.record_id}
    assert [r.record_id for r in covering(ledger, images[:2])] == [both.record_id]
    assert covering(ledger, images[2:]) == []


def test_a_named_record_must_itself_cover_the_images(ledger: Ledger, add, images: list[Path]) -> None:
    first = add(images[:1])
    add(images[1:2])
    with pytest.raises(SourceNotCovered, match=f"record {first.record_id} does not cover source image 1 of 1"):
        authorize(ledger, images[1:2], "marketing", "alice", record_id=first.record_id)


def test_a_revoked_record_is_refused(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:1])
    ledger.revoke(record.record_id, reason="no longer", operator="alice")
    with pytest.raises(ConsentRevoked, match=record.record_id):
        authorize(ledger, images[:1], "marketing", "alice")


def test_an_expired_record_is_refused(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:1], expires="2030-06-30")
    authorize(ledger, images[:1], "marketing", "alice", now=datetime(2030, 6, 30, 23, 59, tzinfo=UTC))
    with pytest.raises(ConsentExpired, match="expired on 2030-06-30"):
        authorize(ledger, images[:1], "marketing", "alice", now=datetime(2030, 7, 1, tzinfo=UTC))
    assert record.record_id


def test_an_erased_record_is_refused(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:1])
    ledger.erase(record.record_id, operator="alice")
    with pytest.raises(ConsentErased):
        authorize(ledger, images[:1], "marketing", "alice")


def test_a_purpose_the_record_does_not_allow_is_refused(ledger: Ledger, add, images: list[Path]) -> None:
    add(images[:1], purposes=["exhibit"])
    with pytest.raises(PurposeNotAllowed, match=r"'marketing'.*allows: exhibit"):
        authorize(ledger, images[:1], "marketing", "alice")


def test_a_use_with_sound_needs_one_record_that_also_allows_speech(ledger: Ledger, add, images: list[Path]) -> None:
    silent = add(images[:1], purposes=["marketing"])
    with pytest.raises(PurposeNotAllowed, match=rf"{silent.record_id} does not allow purpose 'speech'.*without sound"):
        authorize(ledger, images[:1], "marketing", "alice", also=["speech"])
    speaking = add(images[:1], purposes=["marketing", "speech"])
    grant = authorize(ledger, images[:1], "marketing", "alice", also=["speech"])
    assert (grant.record_id, grant.purpose, grant.also) == (speaking.record_id, "marketing", ("speech",))
    assert ledger.record_render(grant, output_id="out-1").events[-1].body["also"] == ["speech"]
    ledger.revoke(speaking.record_id, reason="no more talking", operator="alice")
    with pytest.raises(ConsentRevoked):
        ledger.record_render(grant, output_id="out-2")


def test_a_resaved_copy_is_covered_and_an_edited_one_is_not(ledger: Ledger, add, portrait: Path,
                                                           tmp_path: Path) -> None:
    add([portrait])
    resaved, edited = tmp_path / "copy.webp", tmp_path / "edited.png"
    pixels = Image.open(portrait)
    pixels.save(resaved, lossless=True)
    authorize(ledger, [resaved], "marketing", "alice")
    array = np.array(pixels)
    array[100:110, 100:110] = 255
    Image.fromarray(array).save(edited)
    with pytest.raises(SourceNotCovered):
        authorize(ledger, [edited], "marketing", "alice")


def test_recheck_catches_a_revocation_that_lands_after_authorize(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:1])
    grant = authorize(ledger, images[:1], "marketing", "alice")
    ledger.revoke(record.record_id, reason="mid-render", operator="bob")
    with pytest.raises(ConsentRevoked):
        ledger.record_render(grant, output_id="out-1")


def test_refusals_never_carry_personal_data(ledger: Ledger, add, images: list[Path]) -> None:
    record = add(images[:1], name="Zoe Private", grantor="Yann Private", purposes=["exhibit"])
    messages = []
    for attempt in (lambda: authorize(ledger, images[:1], "marketing", "a"),
                    lambda: authorize(ledger, images[1:], "exhibit", "a")):
        with pytest.raises(ConsentRefused) as err:
            attempt()
        messages.append(str(err.value))
    ledger.revoke(record.record_id, reason="Zoe asked", operator="a")
    with pytest.raises(ConsentRefused) as err:
        authorize(ledger, images[:1], "exhibit", "a")
    messages.append(str(err.value))
    assert not any("Private" in m or "Zoe" in m for m in messages), messages


@pytest.mark.parametrize(
    ("sources", "purpose", "operator", "error"),
    [
        ([], "marketing", "alice", InvalidInput),
        (["missing.png"], "marketing", "alice", UnreadableImage),
        (None, "advertising", "alice", InvalidInput),
        (None, "marketing", " ", InvalidInput),
    ],
)
def test_bad_requests_are_input_errors(ledger: Ledger, add, images: list[Path], sources, purpose, operator,
                                       error) -> None:
    add(images[:1])
    with pytest.raises(error):
        authorize(ledger, images[:1] if sources is None else sources, purpose, operator)


# property: no combination of records lets an unauthorized (image, purpose, time) through

POOL = 3
PURPOSES = ["exhibit", "marketing", "speech"]
BASE = datetime(2031, 1, 1, 12, tzinfo=UTC)

records_strategy = st.lists(
    st.fixed_dictionaries({
        "images": st.sets(st.integers(0, POOL - 1), min_size=1),
        "purposes": st.sets(st.sampled_from(PURPOSES), min_size=1),
        "expires_in": st.integers(0, 3),
        "revoked": st.sampled_from([False, False, True]),  # mostly live records: refusals must be earned
        "erased": st.sampled_from([False, False, False, True]),
    }),
    max_size=4,
)


@pytest.fixture(scope="module")
def pool() -> list[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sitter-pool-"))
    rng = np.random.default_rng(11)
    paths = [folder / f"p{i}.png" for i in range(POOL)]
    for path in paths:
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
    (folder / "form.txt").write_text("consent form")
    return paths


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=records_strategy,
    wanted=st.sets(st.integers(0, POOL - 1), min_size=1),
    purpose=st.sampled_from(PURPOSES),
    days_later=st.integers(0, 5),
    by_id=st.booleans(),
)
def test_no_unauthorized_use_gets_through(pool: list[Path], records, wanted, purpose, days_later, by_id) -> None:
    now = BASE + timedelta(days=days_later)
    with Ledger("sqlite://", LedgerKey.generate(), pool[0].parent / "evidence") as ledger:
        ids = []
        for r in records:
            record = ledger.grant(kind="person", name="P", grantor="P", purposes=sorted(r["purposes"]),
                                  expires=(BASE + timedelta(days=r["expires_in"])).date(),
                                  evidence=pool[0].parent / "form.txt", images=[pool[i] for i in r["images"]],
                                  operator="o", now=BASE)
            if r["revoked"]:
                ledger.revoke(record.record_id, reason="r", operator="o", now=BASE)
            if r["erased"]:
                ledger.erase(record.record_id, operator="o", now=BASE)
            ids.append(record.record_id)

        def allows(r: dict) -> bool:
            return (wanted <= r["images"] and purpose in r["purposes"] and not r["revoked"] and not r["erased"]
                    and now.date() <= (BASE + timedelta(days=r["expires_in"])).date())

        named = 0 if by_id and records else None
        considered = [records[named]] if named is not None else records
        try:
            grant = authorize(ledger, [pool[i] for i in sorted(wanted)], purpose, "o", now=now,
                              record_id=ids[named] if named is not None else None)
        except ConsentRefused:
            assert not any(allows(r) for r in considered)
        else:
            assert allows(records[ids.index(grant.record_id)])
