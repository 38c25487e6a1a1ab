"""Consent page: add a record (a person or an artwork, its evidence, the images it covers), find records,
show one with its receipt and its uses, revoke, erase. The only page that shows personal data."""

import json
from datetime import UTC, date, datetime, timedelta

import streamlit as st

from consent import Artwork, EventKind, InvalidInput, Purpose, Record, Rights, Status, receipt
from studio.app.errors import reported
from studio.app.session import ledger, operator, settings
from studio.app.uploads import EVIDENCE, IMAGES, save, uploader, workspace


def add_record() -> None:
    kind = st.radio("Who or what is animated", ["person", "artwork"], horizontal=True, key="add_kind")
    with st.form("add_record"):
        name = st.text_input("Name" if kind == "person" else "Artwork's common name", key="add_name")
        grantor = st.text_input("Given by", key="add_grantor",
                                help="The person, or the rights holder's representative.")
        contact = st.text_input("Contact (optional, erasable)", key="add_contact")
        work = _artwork_fields() if kind == "artwork" else None
        purposes = st.multiselect("Allowed purposes", [p.value for p in Purpose], key="add_purposes")
        expires = st.date_input("Valid until", value=date.today() + timedelta(days=365), key="add_expires")
        evidence = uploader(EVIDENCE, "Evidence: the signed form or consent video", key="add_evidence")
        images = uploader(IMAGES, "Source images the consent covers", key="add_images", multiple=True)
        if not st.form_submit_button("Add record", type="primary"):
            return
    with reported(), workspace() as folder:
        if not evidence:
            raise InvalidInput("attach the evidence: the signed consent form or consent video")
        if not images:
            raise InvalidInput("attach at least one source image the consent covers")
        record = ledger().grant(kind=kind, name=name, grantor=grantor, purposes=purposes, expires=expires,
                                evidence=save(evidence, EVIDENCE, folder)[0], images=save(images, IMAGES, folder),
                                operator=operator(), artwork=work and _artwork(work, name), contact=contact)
        st.success(f"Recorded consent record {record.record_id}.")


def _artwork_fields() -> dict[str, str]:
    return {
        "title": st.text_input("Title (default: the name)", key="add_title"),
        "creator": st.text_input("Creator", key="add_creator"),
        "date": st.text_input("Date made", key="add_date"),
        "institution": st.text_input("Institution", key="add_institution"),
        "rights": st.selectbox("Rights", [r.value for r in Rights], key="add_rights"),
    }


def _artwork(work: dict[str, str], name: str) -> Artwork:
    """The artwork as entered (Artwork checks it), titled by its common name unless a title was given."""
    return Artwork(title=work["title"].strip() or name, creator=work["creator"].strip(), rights=work["rights"],
                   date=work["date"], institution=work["institution"])


def find_record(records: list[Record], now: datetime) -> Record | None:
    query = st.text_input("Search", key="search", placeholder="id, name, title, purpose or status").strip().lower()
    found = [r for r in records if not query or query in _searchable(r, now)]
    st.dataframe([_row(r, now) for r in found], hide_index=True, width="stretch")
    if not found:
        st.info("No record matches." if records else "No consent records yet: add one above.")
        return None
    by_id = {r.record_id: r for r in found}
    chosen = st.selectbox("Record", list(by_id), key="chosen",
                          format_func=lambda rid: f"{rid}: {by_id[rid].subject_label()}")
    return by_id[chosen]


def show_record(record: Record, now: datetime) -> None:
    st.subheader(f"{record.subject_label()} ({record.status(now).value})")
    left, right = st.columns(2)
    left.markdown("\n".join(f"- **{k}**: {v}" for k, v in record.facts(now).items()))
    images = ledger().source_images(record.record_id)
    if images:
        right.image([str(p) for p in images], width=120)
    uses = [e for e in record.events if e.kind is EventKind.USE]
    st.markdown(f"**Uses** ({len(uses)})")
    if uses:
        st.dataframe([{"at": e.at[:19], "purpose": e.body["purpose"], "by": e.body["operator"],
                       "output": e.body["output_id"]} for e in uses], hide_index=True, width="stretch")
    if record.fault is not None:
        st.error(f"This record allows nothing and gets no receipt: the consent ledger does not verify "
                 f"({record.fault}). The Audit page checks the whole chain.")
    else:
        signed = json.dumps(receipt(record, ledger().key, settings().controller), indent=2)
        st.download_button("Download the signed receipt", signed, file_name=f"receipt-{record.record_id}.json",
                           mime="application/json", key="receipt")
        with st.expander("Receipt (Kantara consent receipt, signed)"):
            st.code(signed, language="json")
        revoke(record, now)
    erase(record)


def revoke(record: Record, now: datetime) -> None:
    if record.status(now) in (Status.REVOKED, Status.ERASED):
        return
    with st.form("revoke"):
        reason = st.text_input("Reason for revoking (kept as erasable personal data)", key="revoke_reason")
        if st.form_submit_button("Revoke"):
            with reported():
                ledger().revoke(record.record_id, reason=reason, operator=operator())
                st.success(f"Revoked {record.record_id}: no render may use it from now on.")


def erase(record: Record) -> None:
    if record.erased_at is not None:
        return
    sure = st.checkbox("I understand erasing deletes the names, contact, reasons, evidence and images for good",
                       key="erase_sure")
    if st.button("Erase personal data", disabled=not sure, key="erase"):
        with reported():
            ledger().erase(record.record_id, operator=operator())
            st.success(f"Erased the personal data of {record.record_id}; the ledger keeps only hashes.")


def _row(record: Record, now: datetime) -> dict:
    return {"id": record.record_id, "kind": record.kind.value, "subject": record.subject_label(),
            "status": record.status(now).value, "purposes": ", ".join(record.purposes),
            "valid until": record.expires.isoformat(), "images": len(record.sources), "uses": record.uses}


def _searchable(record: Record, now: datetime) -> str:
    return " ".join(str(v) for v in _row(record, now).values()).lower()


st.title("Consent")
st.caption("Nothing is animated without a record here. Names and contacts are shown on this page only.")
with st.expander("Add a record", expanded=False):
    add_record()
st.header("Records")
moment = datetime.now(UTC)
with reported():
    selected = find_record(ledger().records(), moment)
    if selected is not None:
        show_record(selected, moment)
