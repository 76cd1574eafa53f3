"""Flag threatening or abusive language for the safety and conduct officer's review.

A flag is a pointer for a person: nothing happens to the recording or to anyone because of
it. Both speakers are checked, since staff conduct matters as much as callers'.

How words are matched
    Each speaker's words are taken in time order across Whisper's segments (a phrase split
    over two segments still matches), and broken only at a pause longer than ``_MAX_PAUSE_S``.
    Words are normalised: lower case, punctuation dropped, curly apostrophes straightened,
    contractions spelled out ("I'll" -> "i will", "what's" -> "what is", "gonna" -> "going
    to"), and asterisk-masked swearing as Whisper sometimes writes it ("f***ing") restored.
    Lexicon phrases match whole normalised words only.

Threats (kind "threat") need a target: violence aimed at "you", "him", "her", "them" or the
    listener's family ("I'll kill you", "I'm going to hurt you"), or one of a few set
    phrases that are threats by themselves ("I know where you live", "watch your back",
    "burn the place down", "you'll regret it"). Figures of speech with no target do not
    count: "this form is killing me", "I could kill for a coffee". Where a harmless reading
    is common, the words after the phrase rule it out: "I'll shoot you an email", "we'll
    find you a flat", "I'll come down there and bring the papers".

Abuse (kind "abuse") must be aimed at someone: an insult addressed to the listener ("you
    idiot", "you're a stupid bitch"), an insult with an insulting adjective standing alone
    as a form of address ("useless cunt") but not after "the", "a", "that", "I'm" and the
    like (then it is about someone else or oneself), a dismissal ("fuck off", "fuck you",
    "shove it up your arse"), an insult to the listener's family, or a slur. Swearing that
    is not aimed at anyone does not count: "bloody hell", "oh shit, I dropped it", "what
    the fuck is this form", "I'm a bloody idiot".

The lexicon below is curated by hand: threats of the kind councils' unacceptable-behaviour
policies give as examples, common British and US profanity and insults, and the slurs that
Ofcom's research on offensive language (2021) rates strongest, in the phrasings Whisper
writes. It is a filter's data, so the words are written out. Each entry trades recall for
few false alarms: a reviewer's time is the cost of a false flag.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from callvault.speech.model import Segment, Word

_MAX_PAUSE_S = 3.0  # longer than this between a speaker's words and a phrase cannot span it
_MAX_GAP_WORDS = 3  # what "..." in a lexicon phrase allows


@dataclass(frozen=True, slots=True)
class ConductFlag:
    kind: str  # "threat" | "abuse"
    speaker: str
    start_s: float
    end_s: float
    phrase: str  # the matched words as spoken, for the reviewer
    rule: str  # which lexicon entry matched, e.g. "threat:kill-you"


# ---- The lexicon -------------------------------------------------------------------------
# Word lists, used in phrases as {NAME}. Every entry is written as the normaliser leaves
# words: lower case, contractions spelled out.

_FAMILY = ("kids", "children", "family", "wife", "husband", "mum", "mother", "dad", "father",
           "son", "daughter", "partner", "kid", "child", "missus")  # fmt: skip

# Insults for a person, strong enough to be abuse when aimed at someone.
_INSULTS = (
    "idiot", "moron", "cretin", "imbecile", "halfwit", "dimwit", "prick", "dick", "dickhead",
    "knob", "knobhead", "knobend", "bellend", "tosser", "wanker", "twat", "cunt", "bitch",
    "bastard", "arsehole", "asshole", "shithead", "scumbag", "slag", "slut", "whore", "cow",
    "retard", "git", "motherfucker", "fucker", "jackass", "dumbass", "douchebag", "nonce",
    "lowlife", "pervert", "parasite", "scrounger",
)  # fmt: skip
# Insults only when said to "you": alone, they are as often about a thing or a mess.
_YOU_ONLY_INSULTS = ("shit", "scum", "pig", "arse", "ass", "animal", "vermin", "waste of space",
                     "waste of oxygen", "piece of shit", "piece of crap", "sack of shit",
                     "son of a bitch", "loser")  # fmt: skip
# Adjectives that make an insult of what follows.
_INSULTING = ("stupid", "useless", "fucking", "fuckin", "effing", "bloody", "thick", "fat",
              "ugly", "dumb", "lazy", "incompetent", "pathetic", "worthless", "brainless",
              "ignorant", "little", "absolute", "complete", "total", "utter", "silly", "old",
              "dirty", "filthy", "disgusting", "horrible", "miserable", "sad", "jumped-up",
              "lying", "racist", "nasty", "vile")  # fmt: skip
# Slurs: abuse whoever they are aimed at. Kept short and unambiguous ("fag" is a cigarette).
_SLURS = ("nigger", "niggers", "nigga", "paki", "pakis", "wog", "wogs", "chink", "chinks",
          "kike", "spic", "faggot", "faggots", "poof", "poofter", "tranny", "spastic", "spaz",
          "pikey", "gyppo")  # fmt: skip


def _plurals(words: Iterable[str]) -> tuple[str, ...]:
    """Each word and its plural ("you idiots"); phrases ("waste of space") as they are."""
    out: list[str] = []
    for word in words:
        out.append(word)
        if " " not in word:
            out.append(word + ("es" if word.endswith(("sh", "ch", "ss", "x")) else "s"))
    return tuple(out)


_PHRASES: dict[str, tuple[str, ...]] = {
    "I": ("i", "we"),
    "WILL": ("will", "would", "shall", "am going to", "are going to", "am coming to",
             "are coming to", "want to", "could", "will come and", "am going to come and"),
    # Words that may stand between "I'll" and the verb without changing the threat.
    "EMPHASIS": ("fucking", "fuckin", "effing", "bloody", "really", "just", "actually",
                 "personally", "literally", "seriously", "definitely", "honestly", "fully"),
    "HARM": ("kill", "murder", "stab", "shoot", "strangle", "throttle", "choke", "batter",
             "hurt", "punch", "slap", "smack", "thump", "deck", "glass", "knife", "headbutt",
             "chin", "lamp", "twat", "bash", "end", "destroy", "bury", "torch", "break",
             "kick"),
    "TARGET": ("you", "him", "her", "them", "you all", "all of you", "the lot of you",
               "every one of you", "each of you",
               *(f"your {who}" for who in _FAMILY)),
    "YOU": ("you", "you all", "all of you", "the lot of you"),
    "WHOSE": ("your", "his", "her", "their"),
    "BODY": ("face", "head", "teeth", "legs", "neck", "skull", "jaw", "nose", "throat",
             "kneecaps", "knees", "arms", "fingers", "block", "lights", "brains", "heads",
             "faces"),
    # Words after "shoot you" and the like that make it an errand: "I'll shoot you an email",
    # "shoot you through to housing", "hurt her feelings", "break them up into payments".
    "SENT": ("a", "an", "the", "some", "any", "one", "another", "something", "back", "off",
             "over", "across", "through", "up", "down", "out", "feelings", "details", "your",
             "his", "her", "their", "my", "our"),
    # The same after "find you", which has many more errands: "find you in the system".
    "ERRAND": ("a", "an", "the", "some", "any", "one", "another", "something", "somewhere",
               "someone", "somebody", "anything", "more", "that", "this", "those", "these",
               "back", "off", "over", "across", "through", "on", "in", "into", "out",
               "details", "information", "help", "housing", "accommodation", "support",
               "advice", "your", "his", "her", "their", "my", "our"),
    "DESTROY": ("kill", "murder", "stab", "shoot", "smash", "wreck", "trash", "kick", "knock",
                "batter", "punch", "hurt", "strangle", "sort you out", "deal with you",
                "teach you a lesson", "do you in", "beat"),
    "PLACE": ("place", "building", "office", "offices", "house", "flat", "council",
              "town hall", "car", "door", "estate", "school"),
    "THE": ("the", "this", "that", "your", "their", "his", "her"),
    "FAMILY": _FAMILY,
    "INSULT": _plurals(_INSULTS + _YOU_ONLY_INSULTS),
    "ADDRESSED": _INSULTS,  # singular: "stupid idiots" is nearly always about others
    "INSULTING": _INSULTING,
    "SLUR": _SLURS,
    "ARTICLE": ("a", "an", "such a", "such an", "nothing but a", "nothing but an", "just a",
                "just an", "one", "a right", "a proper", "some"),
}  # fmt: skip

# Determiners and self-reference before a bare insult: then it is not an address.
# (More insulting words may stand between: "a fucking stupid useless lazy cunt".)
_NOT_ADDRESS = (
    r"(?:^| )(?:the|that|this|these|those|some|his|her|their|my|our|a|an|i am|i was|am i)"
    rf"(?: (?:{'|'.join(map(re.escape, _INSULTING))}))*$"
)


@dataclass(frozen=True, slots=True)
class _Rule:
    """A named phrase. In ``pattern`` slots are separated by spaces; "a|b" is either; "_"
    joins words into one alternative ("will|are_going_to"); {NAME} is any phrase of that
    list; a trailing "?" makes a slot optional, "*" allows it 0-3 times, "+" 1-3 times; "..."
    is up to three other words; "!x|y" means the next words are not these. ``not_after`` is
    a regex the text before the match must not end with."""

    name: str
    pattern: str
    not_after: str = ""

    @property
    def kind(self) -> str:
        return self.name.split(":", 1)[0]


_RULES = (
    # Threats of violence against the listener or someone named.
    _Rule("threat:kill-you", "{I} {WILL} {EMPHASIS}* kill|murder {TARGET} !{SENT}"),
    _Rule("threat:hurt-you", "{I} {WILL} {EMPHASIS}* {HARM} {TARGET} !{SENT}"),
    _Rule("threat:hurt-you", "{I} {WILL} {EMPHASIS}* hit {TARGET} !{SENT}|with"),
    _Rule("threat:hurt-you", "{I} {WILL} {EMPHASIS}* knock|spark|lay {TARGET} out"),
    _Rule("threat:beat-you-up",
          "{I} {WILL} {EMPHASIS}* beat|batter|duff|do|rough|smash {TARGET} up|in|over"),
    _Rule("threat:beat-you-up",
          "beat|kick|knock|smack|punch|batter|slap the shit|crap|hell|living_daylights|life "
          "out of {TARGET}"),
    _Rule("threat:smash-your-face",
          "{I} {WILL} {EMPHASIS}* smash|kick|knock|punch|cave|bash|break|snap|rip|slit|cut "
          "{WHOSE} {EMPHASIS}* {BODY}"),
    _Rule("threat:know-where-you-live",
          "{I} know|found where {TARGET} live|lives|work|works|sleep|sleeps|park|parks"),
    _Rule("threat:know-where-you-live",
          "{I} know|found where {TARGET} go|goes to school"),
    _Rule("threat:come-down-there",
          "{I} {WILL} come|be down|round|over|up|back ... and ... {DESTROY}"),
    _Rule("threat:burn-the-place-down", "burn|torch {THE} {PLACE} down"),
    _Rule("threat:burn-the-place-down", "burn down {THE} {PLACE}"),
    _Rule("threat:burn-the-place-down", "set fire to {THE} {PLACE}|you"),
    _Rule("threat:burn-the-place-down", "petrol bomb|firebomb {THE} {PLACE}"),
    _Rule("threat:regret", "{YOU} will|are_going_to regret it|this|that|the_day"),
    _Rule("threat:regret", "{YOU} will|are_going_to be sorry !to|that|about"),
    _Rule("threat:watch-your-back", "watch|mind your back|backs"),
    _Rule("threat:find-you", "{I} {WILL} {EMPHASIS}* find|hunt|track {YOU} !{ERRAND}"),
    _Rule("threat:find-you", "{I} {WILL} {EMPHASIS}* hunt|track {YOU} down"),
    _Rule("threat:you-will-get-hurt",
          "{YOU} will|are_going_to get|be stabbed|shot|killed|battered|hurt|beaten_up|done_in"),
    _Rule("threat:you-will-get-hurt", "{YOU} will|are_going_to get what is coming"),
    _Rule("threat:you-will-get-hurt", "{YOU} are a dead man|woman"),
    _Rule("threat:you-will-get-hurt", "{YOU} are dead meat"),
    _Rule("threat:weapon",
          "{I} have|have_got|got|am_carrying|will_bring|am_bringing a|my gun|knife|blade|"
          "machete|shotgun|bomb"),
    _Rule("threat:weapon", "there is a bomb"),
    # Abuse aimed at someone.
    _Rule("abuse:fuck-off", "fuck|piss|sod|bugger|bog|naff|eff off"),
    _Rule("abuse:fuck-you", "fuck|screw|sod|bugger you|yourself|yourselves !about|around|over"),
    _Rule("abuse:fuck-you", "get fucked"),
    _Rule("abuse:fuck-you", "up yours"),
    _Rule("abuse:shove-it", "shove|stick|ram it|that|this up your|you arse|ass"),
    _Rule("abuse:shove-it", "kiss my arse|ass"),
    _Rule("abuse:shove-it", "eat shit"),
    _Rule("abuse:shut-up", "shut the fuck|fucking|hell up"),
    _Rule("abuse:shut-up", "shut your {EMPHASIS}* mouth|face|gob|trap|hole"),
    _Rule("abuse:you-insult", "you are? {ARTICLE}? {INSULTING}* {INSULT}"),
    _Rule("abuse:you-are-useless",
          "you|you_lot|you_people are {EMPHASIS}* so|such|too? {EMPHASIS}* "
          "useless|stupid|thick|pathetic|worthless|brainless|incompetent|retarded|disgusting|vile"),
    _Rule("abuse:you-are-useless", "you are {ARTICLE} {INSULTING}* joke|disgrace"),
    _Rule("abuse:insult-address", "{INSULTING}+ {ADDRESSED}", not_after=_NOT_ADDRESS),
    _Rule("abuse:your-family", "your {FAMILY} is|are {ARTICLE}? {INSULTING}* {INSULT}"),
    _Rule("abuse:your-family", "fuck|screw your {FAMILY}"),
    # Swearing in a sentence addressed to the listener: "you lot can't fucking do anything".
    _Rule("abuse:swearing-at-you", "you|you_lot|you_people|your ... fucking|fuckin|fucked|fuck"),
    _Rule("abuse:slur", "{SLUR}"),
)  # fmt: skip

# ---- Normalising words -------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_WORD_CHARS = re.compile(r"[a-z0-9*'\-]+")
# Whole-word spellings, before the general rules for clitics.
_SPELLINGS: dict[str, tuple[str, ...]] = {
    "gonna": ("going", "to"), "wanna": ("want", "to"), "gotta": ("got", "to"),
    "i'ma": ("i", "am", "going", "to"), "imma": ("i", "am", "going", "to"),
    "won't": ("will", "not"), "can't": ("can", "not"), "shan't": ("shall", "not"),
    "ain't": ("am", "not"), "y'all": ("you", "all"), "ya": ("you",), "yer": ("your",),
    "yous": ("you",), "youse": ("you",), "em": ("them",), "im": ("i", "am"),
    "youre": ("you", "are"),
}  # fmt: skip
_CLITICS = (("n't", "not"), ("'ll", "will"), ("'re", "are"), ("'ve", "have"), ("'m", "am"),
            ("'d", "would"), ("'s", "is"))  # fmt: skip
# What an asterisk-masked word may stand for, most likely first.
_MASKED = ("fuck", "fucking", "fucked", "fucker", "fuckers", "fuckin", "shit", "shite",
           "shitty", "shithead", "cunt", "cunts", "bitch", "bitches", "bastard", "bastards",
           "twat", "twats", "wanker", "wankers", "prick", "dick", "dickhead", "cock",
           "arsehole", "asshole", "arse", "piss", "pissed", "bollocks", "motherfucker",
           "bloody", "nigger", "faggot")  # fmt: skip
_KNOWN_COMPOUNDS = frozenset(_INSULTS + _SLURS)


def _normalise(word: str) -> list[str]:
    """A recogniser's word as lexicon words: "I'll" -> ["i", "will"], "you!" -> ["you"]."""
    out: list[str] = []
    for raw in _WORD_CHARS.findall(word.lower().translate(_APOSTROPHES)):
        token = raw.strip("'-")
        if not token:
            continue
        if "*" in token:
            token = _unmask(token)
        if "-" in token and token.replace("-", "") in _KNOWN_COMPOUNDS:
            token = token.replace("-", "")  # "knob-head" is "knobhead"
        out += _expand(token)
    return out


def _expand(token: str) -> list[str]:
    if token in _SPELLINGS:
        return list(_SPELLINGS[token])
    for clitic, meaning in _CLITICS:
        if token.endswith(clitic) and len(token) > len(clitic):
            return [*_expand(token[: -len(clitic)]), meaning]
    return [token]


def _unmask(token: str) -> str:
    """ "f***ing" -> "fucking": the first listed word the visible letters fit."""
    shape = re.compile("".join("[a-z]" if c == "*" else re.escape(c) for c in token))
    return next((word for word in _MASKED if shape.fullmatch(word)), token)


# ---- Compiling the lexicon ---------------------------------------------------------------


def _compile(pattern: str) -> re.Pattern[str]:
    # Matched against words joined by single spaces with a trailing space, so every slot
    # ends with a space and a match must start where a word starts.
    return re.compile("(?<![^ ])" + "".join(_slot(part) for part in pattern.split()))


def _slot(part: str) -> str:
    if part == "...":
        return rf"(?:[^ ]+ ){{0,{_MAX_GAP_WORDS}}}"
    if part.startswith("!"):
        return f"(?!{_choices(part[1:])})"
    repeats = {"?": "?", "*": "{0,3}", "+": "{1,3}"}
    if part[-1] in repeats:
        return _choices(part[:-1]) + repeats[part[-1]]
    return _choices(part)


def _choices(part: str) -> str:
    phrases: list[str] = []
    for option in part.split("|"):
        is_list = option.startswith("{") and option.endswith("}")
        phrases += _PHRASES[option[1:-1]] if is_list else [option.replace("_", " ")]
    # Longest first, so a match takes "such a" rather than stopping at "such".
    ordered = sorted(set(phrases), key=lambda p: (-len(p.split()), p))
    return "(?:" + "|".join(re.escape(p) + " " for p in ordered) + ")"


_COMPILED = tuple(
    (rule, _compile(rule.pattern), re.compile(rule.not_after) if rule.not_after else None)
    for rule in _RULES
)


# ---- Matching ----------------------------------------------------------------------------


def find_conduct(segments: Sequence[Segment]) -> list[ConductFlag]:
    """Every threat or abuse in the transcript, by time; both speakers are checked."""
    flags: list[ConductFlag] = []
    for speaker, words in _words_by_speaker(segments).items():
        for run in _split_at_pauses(words):
            flags += _match(speaker, run)
    return sorted(flags, key=lambda f: (f.start_s, f.speaker, f.rule))


def _words_by_speaker(segments: Sequence[Segment]) -> dict[str, list[Word]]:
    by_speaker: dict[str, list[Word]] = {}
    for segment in segments:
        by_speaker.setdefault(segment.speaker, []).extend(segment.words or _guessed(segment))
    return {
        speaker: sorted(words, key=lambda w: w.start_s) for speaker, words in by_speaker.items()
    }


def _guessed(segment: Segment) -> list[Word]:
    """Words for a segment the recogniser gave no word times: its text, spread evenly."""
    texts = segment.text.split()
    share = (segment.end_s - segment.start_s) / max(1, len(texts))
    return [
        Word(segment.start_s + i * share, segment.start_s + (i + 1) * share, text)
        for i, text in enumerate(texts)
    ]


def _split_at_pauses(words: list[Word]) -> list[list[Word]]:
    runs: list[list[Word]] = []
    for word in words:
        if runs and word.start_s - runs[-1][-1].end_s <= _MAX_PAUSE_S:
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs


def _match(speaker: str, words: list[Word]) -> list[ConductFlag]:
    tokens: list[str] = []
    owner: list[int] = []  # token index -> index of the word it came from
    for index, word in enumerate(words):
        normalised = _normalise(word.text)
        tokens += normalised
        owner += [index] * len(normalised)
    text = " ".join(tokens) + " "
    starts = [0]
    for token in tokens[:-1]:
        starts.append(starts[-1] + len(token) + 1)
    claimed: dict[str, set[int]] = {}  # kind -> words already flagged as that kind
    flags: list[ConductFlag] = []
    for rule, regex, not_after in _COMPILED:
        for found in regex.finditer(text):
            if not_after is not None and not_after.search(text[: found.start()].rstrip()):
                continue
            first = owner[bisect_right(starts, found.start()) - 1]
            last = owner[bisect_right(starts, found.end() - 2) - 1]
            taken = claimed.setdefault(rule.kind, set())
            if taken.intersection(range(first, last + 1)):
                continue  # an earlier, more specific entry already flagged these words
            taken.update(range(first, last + 1))
            flags.append(_flag(rule, speaker, words[first : last + 1]))
    return flags


def _flag(rule: _Rule, speaker: str, words: list[Word]) -> ConductFlag:
    return ConductFlag(
        kind=rule.kind,
        speaker=speaker,
        start_s=words[0].start_s,
        end_s=words[-1].end_s,
        phrase=" ".join(w.text for w in words),
        rule=rule.name,
    )
