"""Signed evidence bundles a recipient can check offline with the public key alone."""
