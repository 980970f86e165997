from __future__ import annotations

from collections import Counter

import pytest

from careassist.privacy import find_pii, redact

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
