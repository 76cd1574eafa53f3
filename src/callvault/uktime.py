"""The council's clocks: UK time (Europe/London, GMT in winter and BST in summer).

Staff read times, days and months as the clocks on their walls show them, and so do the
statutory clock, demand figures, opening hours and the monthly quality sample: one zone,
named once.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")

__all__ = ["UK"]
