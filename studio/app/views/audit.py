"""Audit page: the ledger as a timeline (grants, uses, revocations, erasures), a check of its hash chain and
signatures, and the registry of every output made. Shows ids, hashes and operators: never a subject's name.
"""

import altair as alt
import streamlit as st

from consent import Event, EventKind
from studio.app.errors import reported
from studio.app.session import ledger, studio

KINDS = tuple(EventKind)


def timeline(events: list[Event]) -> None:
    kinds = st.multiselect("Show", KINDS, default=list(KINDS), key="kinds")
    rows = [_row(e) for e in reversed(events) if e.kind in kinds]
    if rows:
        st.altair_chart(_chart(rows), width="stretch")
    st.dataframe(rows, hide_index=True, width="stretch")


def check_chain() -> None:
    if not st.button("Verify the ledger", type="primary", key="verify_ledger"):
        return
    with reported(), st.spinner("Walking the hash chain and checking every signature…"):
        rows = ledger().require_intact()
        st.success(f"Ledger intact: {rows} rows, every hash link and signature verifies.")


def outputs() -> None:
    entries = [e.to_dict() for e in studio().registry.entries()]
    st.dataframe(entries, hide_index=True, width="stretch",
                 column_order=("created_at", "output_id", "watermark_id", "record_id", "engine", "sha256",
                               "manifest_bytes"))
    if not entries:
        st.info("No outputs yet.")


def _chart(rows: list[dict]) -> alt.Chart:
    """Events as dots on a time line, one lane per kind; hovering shows the row."""
    return alt.Chart(alt.Data(values=rows)).mark_circle(size=90, opacity=0.8).encode(
        x=alt.X("at:T", title=None, axis=alt.Axis(format="%Y-%m-%d %H:%M", labelAngle=0)),
        y=alt.Y("event:N", sort=list(KINDS), title=None),
        color=alt.Color("event:N", sort=list(KINDS), legend=None),
        tooltip=["seq:Q", "at:T", "event:N", "record:N", "by:N", "detail:N"],
    ).properties(height=160)


def _row(event: Event) -> dict:
    body = event.body
    return {"seq": event.seq, "at": event.at[:19].replace("T", " "), "event": str(event.kind),
            "record": event.record_id, "by": body.get("operator", "-"), "detail": _detail(event.kind, body)}


def _detail(kind: EventKind | str, body: dict) -> str:
    """What the row says, in a few words; a row changed outside Sitter so that it no longer says it (the check
    above names it) shows as such instead of failing the page."""
    try:
        return _said(kind, body)
    except (KeyError, TypeError):
        return "unreadable: changed outside Sitter"


def _said(kind: EventKind | str, body: dict) -> str:
    match kind:
        case EventKind.GRANT:
            return f"purposes {', '.join(body['purposes'])}; {len(body['sources'])} image(s); until {body['expires']}"
        case EventKind.USE:
            return f"{body['purpose']}: output {body['output_id']}"
        case EventKind.REVOKE:
            return "consent withdrawn"
    return "personal data and evidence erased"


st.title("Audit")
st.caption("Everything that happened, in the order the tamper-evident ledger recorded it.")
check_chain()
st.header("Ledger")
with reported():
    timeline(ledger().events())
st.header("Outputs")
outputs()
