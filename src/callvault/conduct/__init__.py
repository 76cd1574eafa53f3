"""Customer conduct: incidents that link flagged recordings, holds and evidence bundles."""
