"""The studio's entry script (`sitter studio` runs it): page setup, who is acting, and the four pages.

Verify is open to anyone; Consent, Create and Audit need a signed-in user when the deployment configures
OIDC login (st.login), and otherwise ask for a local name that every ledger event records.
"""

import streamlit as st

from studio.app.session import default_operator, login_configured, signed_in

st.set_page_config(page_title="Sitter studio", page_icon=":material/record_voice_over:", layout="wide")

consent = st.Page("views/consent.py", title="Consent", icon=":material/verified_user:")
create = st.Page("views/create.py", title="Create", icon=":material/movie:", default=True)
verify = st.Page("views/verify.py", title="Verify", icon=":material/fact_check:")
audit = st.Page("views/audit.py", title="Audit", icon=":material/history:")

page = st.navigation([consent, create, verify, audit] if signed_in() else [verify])

with st.sidebar:
    st.markdown("**Sitter studio**: consented, labeled talking heads.")
    if not login_configured():
        st.text_input("Your name", value=default_operator(), key="operator",
                      help="Recorded with every consent and render you make here.")
    elif st.user.get("is_logged_in"):
        st.caption(f"Signed in as {st.user.get('email') or st.user.get('name')}")
        st.button("Log out", on_click=st.logout)
    else:
        st.caption("Staff pages need you to sign in. Anyone may verify a clip.")
        st.button("Log in", on_click=st.login, type="primary")

page.run()
