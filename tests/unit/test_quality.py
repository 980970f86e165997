from __future__ import annotations

from dataclasses import replace

import pytest

from careassist.content import load_content
from careassist.quality import check_response
from careassist.responses import (
    CRISIS_FIRST_STEP,
    CRISIS_RESOURCES,
    DISCLAIMER,
    ESCALATION_NOTE,
    build_response,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def content():  # type: ignore[no-untyped-def]
    return load_content()


def test_every_answer_of_the_content_base_meets_the_standard(content) -> None:  # type: ignore[no-untyped-def]
    for template in content.templates():
        crisis = template.category == "crisis"
        report = check_response(build_response(template, crisis=crisis), crisis=crisis)
        assert report.passed, (template.id, report.problems)


def test_a_crisis_answer_starts_with_the_988_911_block(content) -> None:  # type: ignore[no-untyped-def]
    response = build_response(content.select("crisis", "i want to end it"), crisis=True)
    assert response.steps[0] == f"1. {CRISIS_FIRST_STEP}"
    assert "988" in response.steps[0] and "911" in response.steps[0]
    assert [r.name for r in response.resources[:2]] == [name for name, _ in CRISIS_RESOURCES]
    assert response.steps[1].startswith("2. ")
    assert response.disclaimer == DISCLAIMER


def test_an_earlier_crisis_in_the_session_escalates_a_later_answer(content) -> None:  # type: ignore[no-untyped-def]
    template = content.select("nutrition_wellness", "what should my dad eat for breakfast")
    plain = build_response(template)
    escalated = build_response(template, escalate=True)
    assert escalated.safety[0] == ESCALATION_NOTE
    assert [r.name for r in escalated.resources[:2]] == [name for name, _ in CRISIS_RESOURCES]
    assert ESCALATION_NOTE not in plain.safety
    assert check_response(escalated, crisis=False).passed


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: replace(r, title=" "), "no title"),
        (lambda r: replace(r, steps=r.steps[:2]), "2 steps; at least 3 are required"),
        (lambda r: replace(r, steps=("1. a", "3. b", "4. c")), "step 2 is not numbered"),
        (lambda r: replace(r, steps=("Do this", "2. b", "3. c")), "step 1 is not numbered"),
        (lambda r: replace(r, safety=()), "no safety considerations"),
        (lambda r: replace(r, provider_guidance="Read more online."), "provider guidance names no"),
        (lambda r: replace(r, disclaimer=""), "the medical disclaimer is missing or altered"),
        (lambda r: replace(r, steps=(*r.steps, "4. Stop taking the pills if they upset your stomach.")), "medication change without the prescriber"),
        (lambda r: replace(r, steps=(*r.steps, "4. Double the dose tomorrow to catch up.")), "medication change without the prescriber"),
        (lambda r: replace(r, safety=("You have a depressive disorder.",)), "states a diagnosis"),
    ],
)
def test_each_breach_of_the_standard_is_named(content, change, problem) -> None:  # type: ignore[no-untyped-def]
    good = build_response(content.select("medication_management", "i forgot my pills this morning"))
    assert check_response(good, crisis=False).passed
    report = check_response(change(good), crisis=False)
    assert not report.passed
    assert any(problem in p for p in report.problems), report.problems


@pytest.mark.parametrize(
    "sentence",
    [
        "Do not stop taking a medicine on your own.",
        "Never double a dose to make up for a missed one.",
        "Ask your pharmacist before you stop taking it.",
        "If a side effect bothers you, call the prescriber before you skip a dose.",
    ],
)
def test_safe_medication_advice_passes(content, sentence: str) -> None:  # type: ignore[no-untyped-def]
    good = build_response(content.select("medication_management", "i forgot my pills this morning"))
    assert check_response(replace(good, safety=(*good.safety, sentence)), crisis=False).passed


def test_a_non_crisis_answer_checked_as_crisis_fails(content) -> None:  # type: ignore[no-untyped-def]
    response = build_response(content.select("adl_mobility", "help my dad sit up in bed"))
    problems = check_response(response, crisis=True).problems
    assert "a crisis answer must start with the 988 / 911 block" in problems
    assert "a crisis answer must list 988 and 911 first among its resources" in problems


def test_a_remembered_verdict_is_the_verdict_of_the_same_response_and_flag(content) -> None:  # type: ignore[no-untyped-def]
    good = build_response(content.select("medication_management", "i forgot my pills this morning"))
    unsafe = replace(good, steps=(*good.steps, "4. Stop taking the pills if they upset your stomach."))
    for _ in range(2):  # the second round answers from memory, with the same verdicts
        assert check_response(good, crisis=False).passed
        assert not check_response(good, crisis=True).passed
        assert not check_response(unsafe, crisis=False).passed
    listed = replace(unsafe, steps=list(unsafe.steps))  # unhashable: checked afresh, same verdict
    assert check_response(listed, crisis=False) == check_response(unsafe, crisis=False)
