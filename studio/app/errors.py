"""How a page shows a domain error: one sentence, the page staying usable; a refusal links to the Consent page."""

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from sitter.errors import Refused, SitterError

CONSENT_PAGE = "views/consent.py"


@contextmanager
def reported() -> Iterator[None]:
    """Show a domain error as one sentence in the page (the page stays usable); a refusal links to Consent."""
    try:
        yield
    except Refused as err:
        st.error(sentence(err))
        st.page_link(CONSENT_PAGE, label="Open Consent to add or renew a record", icon=":material/arrow_forward:")
    except SitterError as err:
        st.error(sentence(err))


def sentence(err: Exception) -> str:
    """The error's own message, capitalized and ended. Paths are left out: in the studio they are temporary
    files the user never named."""
    text = str(err).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
