"""What a page acts with: the studio's long-lived objects, shared by every session of this server, and who is acting.

The pages are Streamlit scripts run by `main.py` through st.navigation; they call the same library functions as the
CLI, and the render goes through studio/pipeline.py only.
"""

from typing import TYPE_CHECKING

import streamlit as st

from consent import Ledger
from provenance import Registry
from studio.settings import Settings

if TYPE_CHECKING:
    from studio.pipeline import Studio  # imports the engine and torch: only when a page renders


def settings() -> Settings:
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def _studio(key: str, _settings: Settings) -> "Studio":
    return _settings.open_studio()


def studio() -> "Studio":
    """The studio (ledger, registry, signer, engine) shared by every session of this server."""
    current = settings()
    return _studio(repr(current), current)


def ledger() -> Ledger:
    return studio().ledger


def lookup() -> tuple[Registry | None, Ledger | None]:
    """The registry and ledger for verifying, or (None, None) where this server has no studio database:
    verifying a clip never creates one."""
    if not settings().has_database():
        return None, None
    opened = studio()
    return opened.registry, opened.ledger


# who is acting


def login_configured() -> bool:
    """Whether the deployment set up OIDC login (an [auth] section in secrets.toml): st.user then says."""
    return "is_logged_in" in st.user.to_dict()


def signed_in() -> bool:
    """Staff pages open when login is not configured (a local studio) or the user has logged in."""
    return not login_configured() or bool(st.user.get("is_logged_in"))


def default_operator() -> str:
    return settings().operator


def operator() -> str:
    """Who is acting, recorded with every ledger event: the logged-in user, else the local name setting."""
    if login_configured() and st.user.get("is_logged_in"):
        return str(st.user.get("email") or st.user.get("name") or st.user.get("sub"))
    return str(st.session_state.get("operator") or default_operator()).strip()
