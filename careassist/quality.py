"""The quality validator: every outgoing answer is checked against the response standard.

An answer that fails is never sent as it is: the assistant replaces it with a safe generic answer
and counts the event.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from careassist.responses import (
    CRISIS_FIRST_STEP,
    CRISIS_RESOURCES,
    DISCLAIMER,
    Response,
)

MIN_STEPS = 3
_NUMBERED = re.compile(r"^(\d+)\. \S")
_PROVIDER = re.compile(
    r"\b(doctor|physician|nurse|pharmacist|prescriber|therapist|counsel(?:l)?or|provider|clinician|"
    r"care team|cancer team|medical team|specialist|clinic|audiologist|pathologist|dentist|optometrist|"
    r"ophthalmologist|podiatrist|geriatrician|psychiatrist|psychologist|oncolog\w*|hospice|case manager|"
    r"care manager|social worker|dietitian|911|988)\b",
    re.IGNORECASE,
)
_PRESCRIBER = re.compile(r"\b(doctor|prescriber|pharmacist|provider|physician|nurse|care team)\b", re.IGNORECASE)
#: Medication changes that are unsafe unless the same sentence sends the person to the prescriber.
_MEDICATION_CHANGE = re.compile(
    r"\b(stop(?:ping)? (?:taking |using )?(?:your |the |their |his |her |this |that )?(?:medication|medicine|meds|pills?|dose|insulin|prescription)"
    r"|stop taking|quit taking|double (?:up )?(?:the |your |a )?dose|take (?:an )?extra dose|skip (?:a |the |your )?dose"
    r"|cut (?:the |your )?(?:pills?|tablets?) in half|increase (?:the |your )?dose|lower (?:the |your )?dose)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(do not|don't|dont|never|avoid|not to|no one should)\b", re.IGNORECASE)
_DIAGNOSIS = re.compile(r"\byou (?:have|definitely have|are suffering from) (?:a |an )?(?:[a-z]+ )?(?:disorder|disease|syndrome|depression|dementia)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class QualityReport:
    """The outcome of checking one answer: passed, or the problems found."""

    passed: bool
    problems: tuple[str, ...] = ()


def _unsafe_sentences(text: str) -> list[str]:
    problems = []
    for sentence in _SENTENCE.split(text):
        change = _MEDICATION_CHANGE.search(sentence)
        if change and not _PRESCRIBER.search(sentence) and not _NEGATION.search(sentence[: change.start()]):
            problems.append("medication change without the prescriber or pharmacist")
        if _DIAGNOSIS.search(sentence):
            problems.append("states a diagnosis")
    return problems


def check_response(response: Response, *, crisis: bool) -> QualityReport:
    """Check structure, numbering, disclaimer, safety, provider guidance, crisis block, safe advice.

    The verdict depends on the response alone, and responses come from a finite content base, so
    verdicts are remembered per (response, crisis): every answer is still checked, at a lookup's cost.
    """
    try:
        return _remembered_check(response, crisis)
    except TypeError:  # an unhashable response (a list where a tuple belongs) is checked afresh
        return _check(response, crisis)


@functools.lru_cache(maxsize=4096)
def _remembered_check(response: Response, crisis: bool) -> QualityReport:
    return _check(response, crisis)


def _check(response: Response, crisis: bool) -> QualityReport:
    problems: list[str] = []
    if not response.title.strip():
        problems.append("no title")
    if len(response.steps) < MIN_STEPS:
        problems.append(f"{len(response.steps)} steps; at least {MIN_STEPS} are required")
    for position, step in enumerate(response.steps, start=1):
        match = _NUMBERED.match(step)
        if not match or int(match.group(1)) != position:
            problems.append(f"step {position} is not numbered '{position}. ...'")
            break
    if not any(s.strip() for s in response.safety):
        problems.append("no safety considerations")
    if not _PROVIDER.search(response.provider_guidance):
        problems.append("provider guidance names no doctor, nurse, pharmacist, therapist or other provider")
    if response.disclaimer != DISCLAIMER:
        problems.append("the medical disclaimer is missing or altered")
    if crisis:
        if not response.steps or response.steps[0] != f"1. {CRISIS_FIRST_STEP}":
            problems.append("a crisis answer must start with the 988 / 911 block")
        names = [r.name for r in response.resources[: len(CRISIS_RESOURCES)]]
        if names != [name for name, _ in CRISIS_RESOURCES]:
            problems.append("a crisis answer must list 988 and 911 first among its resources")
    for text in (response.title, *response.steps, *response.safety, response.provider_guidance):
        problems.extend(_unsafe_sentences(text))
    return QualityReport(passed=not problems, problems=tuple(dict.fromkeys(problems)))
