"""Envelope encryption of recordings: per-recording data keys, wrapped KEKs, blob stores.

Other packages use ``Vault`` (``callvault.vault.service``) only; ``bootstrap.py`` builds it
from a ``BlobStore`` and a ``KeyWrapper``. See docs/vault.md for the format and key hierarchy.
"""
