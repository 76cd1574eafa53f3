"""People's rights: subject access and erasure requests, and the statutory clock."""
