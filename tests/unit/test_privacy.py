from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careassist.privacy import _COMBINED, PII_DETECTORS, find_pii, redact

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to me at jane.doe+care@example.org please", "write to me at [EMAIL] please"),
        ("call my son at 555-867-5309", "call my son at [PHONE]"),
        ("her number is (555) 867-5309.", "her number is [PHONE]."),
        ("my ssn is 123-45-6789", "my ssn is [SSN]"),
        ("DOB: 04/12/1938 and still driving", "[DOB] and still driving"),
        ("dad was born on March 3, 1940", "dad was [DOB]"),
        ("his MRN is 00482913", "his [RECORD_NUMBER]"),
        ("we moved to 1420 Maple Drive Apt 3 last year", "we moved to [ADDRESS] last year"),
        ("member id: XK29384", "[RECORD_NUMBER]"),
        ("see https://example.org/u/jane?id=42 for more", "see [URL] for more"),
        ("my page is www.janedoe.net.", "my page is [URL]"),
    ],
)
def test_each_kind_of_identifier_becomes_a_typed_placeholder(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert find_pii(expected) == []


@pytest.mark.parametrize(
    "text",
    [
        "my 82 year old mother takes 50 mg of metoprolol twice a day",
        "she walks 2 blocks at 10:30 every morning",
        "blood pressure 140/90 and sugar 180",
        "my 3 kids drive me to appointments",
        "I climbed 14 stairs today",
    ],
)
def test_health_numbers_are_not_mistaken_for_identifiers(text: str) -> None:
    assert redact(text) == text


def test_redactions_are_counted_per_type() -> None:
    counts: Counter[str] = Counter()
    redact("mail a@b.co or b@c.co, phone 555-111-2222", counts)
    assert counts == Counter({"EMAIL": 2, "PHONE": 1})


@pytest.mark.parametrize(
    "text",
    [
        "write to me at jane.doe+care@example.org please",
        "call my son at 555-867-5309",
        "her number is (555) 867-5309.",
        "my ssn is 123-45-6789",
        "born 04/12/1938",
        "record 004829130012",
        "we moved to 1420 Maple Drive Apt 3 last year",
    ],
)
def test_validation_detectors_see_what_redaction_removes(text: str) -> None:
    detectors = [re.compile(p) for p in PII_DETECTORS.values()]
    assert any(d.search(text) for d in detectors)
    assert not any(d.search(redact(text)) for d in detectors)


FRAGMENTS = [
    "call 555-867-5309", "(555) 867-5309", "5558675309", "+1 555.867.5309", "ssn 123-45-6789",
    "SSN: 123456789", "social security number is 987654321", "DOB 4/12/1938", "born on March 3, 1940",
    "birth date: 1938-04-12", "mrn A1B2C3D4", "Member ID: XK29384", "policy no. 77-1234",
    "account number 12ab34", "https://x.io/a?b=1", "WWW.Site.org", "12 Elm St", "1420 Maple Drive Apt 3", "jo@x.io", "my 82 year old mom",
    "50 mg", "at 10:30", "room 12", "3/14/2026", "call me", "ok", "12345678901234",
]


@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), min_size=1, max_size=6))
@settings(max_examples=400, deadline=None)
def test_the_pre_check_never_skips_a_text_the_patterns_would_redact(parts: list[str]) -> None:
    text = " ".join(parts)
    full = _COMBINED.sub(lambda m: f"[{m.lastgroup}]", text)
    assert redact(text) == full
