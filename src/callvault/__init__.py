"""callvault: call recording that enforces a public body's recording policy in software."""

__version__ = "0.1.0"
