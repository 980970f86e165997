"""PII redaction: personal identifiers in message text are replaced by typed placeholders.

The same patterns back the validation suite's "no PII left" expectation, so what redaction
promises and what validation checks cannot drift apart.
"""

from __future__ import annotations

import re
from collections import Counter

_DATE = r"(?i:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})"
_STREET = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|circle|cir|highway|hwy|parkway|pkwy)"
)

#: Placeholder type -> pattern; order matters (an SSN is not a phone number, a DOB not a date).
PII_PATTERNS: dict[str, str] = {
    # Links can carry names, account ids and locations; they never decide a category.
    "URL": r"(?i:https?://|www\.)[^\s<>\"]+",
    "EMAIL": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "SSN": r"\b\d{3}-\d{2}-\d{4}\b|(?i:\b(?:ssn|social security(?: number)?)\s*(?:is|#|:)?\s*)\d{9}\b",
    "DOB": (
        r"(?i:\b(?:dob|d\.o\.b\.?|date of birth|born on|birthday is|birth date)\s*(?:is|was|:|-)?\s*)"
        + _DATE
        + r"|\b\d{1,2}/\d{1,2}/19\d{2}\b"
    ),
    "PHONE": r"(?<![\w-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}\b|\b\d{10}\b",
    "RECORD_NUMBER": (
        r"(?i:\b(?:mrn|medical record(?: number)?|record (?:number|no\.?|#)|patient (?:id|number)|"
        r"member (?:id|number)|policy (?:number|no\.?|#)|medicare (?:number|id)|account (?:number|no\.?))"
        r"\s*(?:is|:|#)?\s*)[A-Za-z]*\d[A-Za-z0-9-]{3,}\b|\b\d{11,}\b"
    ),
    "ADDRESS": r"(?i:\b\d{2,6}\s+(?:[a-z]+\.?\s+){1,3}" + _STREET + r"\b\.?(?:\s*(?:apt|apartment|unit|#)\s*\w+)?)",
}

#: Anchored forms (each starts at '@' or a digit, so a scan over a whole column stays fast) that
#: validation checks are gone after redaction: the structural shape of each identifier type.
#: Context-only forms ("member id: XK29384") are redacted above but cannot be detected alone.
PII_DETECTORS: dict[str, str] = {
    "URL": r"(?i:https?://|www\.)\S",
    "EMAIL": r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "SSN": r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)",
    "PHONE": r"(?<!\d)\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)",
    "DOB": r"(?<!\d)\d{1,2}/\d{1,2}/19\d{2}(?!\d)",
    "RECORD_NUMBER": r"(?<!\d)\d{11,}",
    # From a word boundary, as redaction: digits inside a word ("hla b27 and hwy ...") are no address.
    "ADDRESS": r"\b\d{2,6}\s+(?:[A-Za-z]+\.?\s+){1,3}(?i:" + _STREET + r")\b",
}

_COMBINED = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in PII_PATTERNS.items()))
_DIGIT = re.compile(r"\d")
_DETECTORS = [re.compile(pattern) for pattern in PII_DETECTORS.values()]
#: Every context-led pattern above needs one of these words (checked on lowercased text).
_CONTEXT_WORDS = re.compile(
    r"mrn|record|patient|member|policy|medicare|account|ssn|social security|dob|d\.o\.b|birth|born"
)


def may_hold_pii(text: str) -> bool:
    """A fast, conservative pre-check: False only when no pattern of ``PII_PATTERNS`` can match."""
    lowered = text.lower()
    if "@" in text or "http" in lowered or "www." in lowered:
        return True
    if not _DIGIT.search(text):
        return False
    return any(d.search(text) for d in _DETECTORS) or bool(_CONTEXT_WORDS.search(lowered))


def redact(text: str, counts: Counter[str] | None = None) -> str:
    """Replace each PII match by ``[TYPE]``; optionally count the replacements per type."""
    if not may_hold_pii(text):
        return text

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup or "PII"
        if counts is not None:
            counts[kind] += 1
        return f"[{kind}]"

    return _COMBINED.sub(replace, text)


def find_pii(text: str) -> list[str]:
    """The PII types still present in ``text`` (empty when clean)."""
    return sorted({m.lastgroup or "PII" for m in _COMBINED.finditer(text)})
