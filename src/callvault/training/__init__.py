"""Training clips: staff consent, anonymised callers, review and revocation."""
