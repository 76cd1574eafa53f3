"""Which of the policy's topics a call is about, from its redacted transcript.

A topic matches when one of its words or phrases appears in a segment as whole words, in any
case: "bin" matches "Bin" and "bin," but not "cabinet"; "missed bin" matches "missed  bin"
(any spacing) but not "missed" at the end of one speaker's turn and "bin" at the start of
the other's, since each segment is matched on its own. The text is the redacted one (the
full-text index holds nothing else), so personal data muted there can never mark a topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from callvault.policy.analytics_model import Topic


class TopicMatcher:
    """The policy's topics compiled once, for many calls."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self._patterns = [(topic.id, _pattern(topic.words)) for topic in topics]

    def topics_of(self, segments: Iterable[str]) -> list[str]:
        """The ids of every topic some segment mentions, sorted."""
        texts = [segment.lower() for segment in segments]
        return sorted(
            topic_id
            for topic_id, pattern in self._patterns
            if any(pattern.search(said) for said in texts)
        )


def _pattern(words: Sequence[str]) -> re.Pattern[str]:
    # Word boundaries by lookaround rather than \b, so a word that starts or ends with a
    # non-word character ("a&e") still needs a non-word character (or the edge) beside it.
    phrases = (r"\s+".join(re.escape(part) for part in word.lower().split()) for word in words)
    return re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)")


__all__ = ["TopicMatcher"]
