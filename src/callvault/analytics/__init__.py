"""Demand analysis and quality evaluations (figures and review workflows, never free
browsing of recordings)."""
