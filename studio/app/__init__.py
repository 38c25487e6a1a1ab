"""The Streamlit studio: Consent, Create, Verify and Audit pages over the same library as the CLI."""
