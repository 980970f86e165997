"""The response standard: every answer's shape, the disclaimer and the crisis block, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from careassist.content import AnswerTemplate

DISCLAIMER = (
    "This is general information, not medical advice. It does not replace a doctor, nurse, "
    "pharmacist or therapist who knows your situation. If you think it is an emergency, call 911."
)

#: The crisis resources of crisis-policy.md; a crisis answer lists them first, in this order.
CRISIS_RESOURCES: tuple[tuple[str, str], ...] = (
    ("988 Suicide & Crisis Lifeline", "call or text 988, or chat at 988lifeline.org (US)"),
    ("Emergency services", "call 911 for immediate danger or a medical emergency; outside the US, call your local emergency number"),
)

#: The first step of every crisis answer: before anything else the assistant would say.
CRISIS_FIRST_STEP = (
    "If you or someone else is in immediate danger or this is a medical emergency, call 911 now "
    "(outside the US, your local emergency number). To talk with someone right now, call or text 988, "
    "or chat at 988lifeline.org."
)

#: Added when the session showed a crisis earlier, to a later answer that is not itself a crisis.
ESCALATION_NOTE = (
    "Earlier in this conversation you mentioned something that worried us. If you are not safe or "
    "feel that way again, call or text 988 any time, or call 911 in an emergency."
)

LOW_CONFIDENCE_NOTE = (
    "I'm not fully sure I understood your question. If this doesn't fit, tell me a little more "
    "about who needs help and with what."
)


@dataclass(frozen=True)
class Resource:
    name: str
    contact: str


@dataclass(frozen=True)
class Response:
    """An answer as the API returns it (``response`` of ``../shared/spec/api.md``)."""

    title: str
    steps: tuple[str, ...]
    safety: tuple[str, ...]
    provider_guidance: str
    disclaimer: str = DISCLAIMER
    resources: tuple[Resource, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "steps": list(self.steps),
            "safety": list(self.safety),
            "provider_guidance": self.provider_guidance,
            "disclaimer": self.disclaimer,
            "resources": [{"name": r.name, "contact": r.contact} for r in self.resources],
        }


def numbered(steps: list[str]) -> tuple[str, ...]:
    return tuple(f"{i}. {step}" for i, step in enumerate(steps, start=1))


def _crisis_resources() -> list[Resource]:
    return [Resource(name, contact) for name, contact in CRISIS_RESOURCES]


def build_response(
    template: AnswerTemplate,
    *,
    crisis: bool = False,
    escalate: bool = False,
    low_confidence: bool = False,
) -> Response:
    """Turn a content template into a standard answer (crisis block first when ``crisis``)."""
    steps = list(template.steps)
    safety = list(template.safety)
    resources = [Resource(name, contact) for name, contact in template.resources]
    if crisis:
        steps.insert(0, CRISIS_FIRST_STEP)
        resources = _crisis_resources() + [r for r in resources if r.name not in dict(CRISIS_RESOURCES)]
    elif escalate:
        safety.insert(0, ESCALATION_NOTE)
        resources = _crisis_resources() + [r for r in resources if r.name not in dict(CRISIS_RESOURCES)]
    if low_confidence and not crisis:
        safety.append(LOW_CONFIDENCE_NOTE)
    return Response(
        title=template.title,
        steps=numbered(steps),
        safety=tuple(safety),
        provider_guidance=template.provider_guidance,
        resources=tuple(resources),
    )
