"""Keeping only what the law allows: retention periods, legal holds, purge, erasure ledger."""
