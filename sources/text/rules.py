"""Filter rules shared by every source: each looks at one field of a record and says why it drops it.

A rule returns None to keep the record or a drop reason from ``schemas.reasons`` (datatrove's
``filter()``, with the reason as the answer). A source lists the rules it applies, in order and
with its own thresholds; ``first_drop`` runs them cheapest first and stops at the first failure,
so the costly one (language ID) is only paid by records that pass every cheaper rule.

    COMMENT_RULES = (MinScore(1), NotEmpty(), LinkOnly("raw_text"), MaxChars(4096), MinChars(20), English())
    reason = first_drop(post, COMMENT_RULES)

Rules are frozen dataclasses: hashable, picklable (Beam ships them to workers), and their
thresholds show in their repr.
"""

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from schemas import reasons
from sources.text.normalize import is_link_only, strip_urls

MAX_RULE_CHARS = 20_000  # a counting rule reads at most this much: its threshold is met long before


@dataclass(frozen=True)
class NotEmpty:
    field: str = "text"

    def __call__(self, record: Any) -> Optional[str]:
        return None if getattr(record, self.field) else reasons.DROP_EMPTY_TEXT


@dataclass(frozen=True)
class MinChars:
    min_chars: int
    field: str = "text"

    def __call__(self, record: Any) -> Optional[str]:
        return reasons.DROP_TOO_SHORT if len(getattr(record, self.field)) < self.min_chars else None


@dataclass(frozen=True)
class MinWords:
    """Fewer whitespace-separated words than the threshold; with count_urls=False a URL is no word
    (a reply of two links and "here:" has one). Reads at most MAX_RULE_CHARS characters."""

    min_words: int
    field: str = "text"
    count_urls: bool = True

    def __call__(self, record: Any) -> Optional[str]:
        return reasons.DROP_TOO_FEW_WORDS if self.too_few(getattr(record, self.field)) else None

    def too_few(self, text: str) -> bool:
        text = text[:MAX_RULE_CHARS]
        return len((text if self.count_urls else strip_urls(text)).split()) < self.min_words


@dataclass(frozen=True)
class MaxChars:
    max_chars: int
    field: str = "text"

    def __call__(self, record: Any) -> Optional[str]:
        return reasons.DROP_TOO_LONG if len(getattr(record, self.field)) > self.max_chars else None


@dataclass(frozen=True)
class LinkOnly:
    """A URL and next to nothing else: the text is a pointer, not content (read it before cleanup)."""

    field: str = "text"

    def __call__(self, record: Any) -> Optional[str]:
        return reasons.DROP_LINK_ONLY if is_link_only(getattr(record, self.field)) else None


@dataclass(frozen=True)
class MinScore:
    """Score below the threshold; an unknown (None) score passes: old dumps lack it."""

    min_score: int
    field: str = "score"

    def __call__(self, record: Any) -> Optional[str]:
        score = getattr(record, self.field)
        return reasons.DROP_LOW_SCORE if score is not None and score < self.min_score else None


@dataclass(frozen=True)
class English:
    """Language ID: sources.text.langid's cascade unless a detector is given (tests inject one)."""

    field: str = "text"
    detector: Optional[Callable[[str], bool]] = None

    def __call__(self, record: Any) -> Optional[str]:
        detect = self.detector
        if detect is None:
            from sources.text.langid import is_english as detect
        return None if detect(getattr(record, self.field)) else reasons.DROP_NON_ENGLISH


@dataclass(frozen=True)
class NotCertainlyForeign:
    """For short texts (titles) under an English passage: a Portuguese or Korean title is no pair for
    an English model, but titles are short and technical ("Aqueous processing of hydroxyapatite" reads
    as Tagalog to a model), so only a certain verdict drops one: another language at confidence >=
    0.999 (non-Latin scripts reach 1.0). On the S2ORC sample: 11 foreign titles caught, 0 English
    ones lost; at the default threshold 12 English titles were lost."""

    field: str = "title"
    min_confidence: float = 0.999

    def __call__(self, record: Any) -> Optional[str]:
        from sources.text.langid import UNDETERMINED, detect_language

        code, confidence = detect_language(getattr(record, self.field))
        foreign = code not in ("en", UNDETERMINED) and confidence >= self.min_confidence
        return reasons.DROP_NON_ENGLISH if foreign else None


def first_drop(record: Any, rules: Sequence[Callable[[Any], Optional[str]]]) -> Optional[str]:
    """The reason of the first rule that drops the record, or None when every rule keeps it."""
    for rule in rules:
        reason = rule(record)
        if reason is not None:
            return reason
    return None
