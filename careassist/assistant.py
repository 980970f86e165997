"""The assistant: crisis gate, classification, contextual answer, response standard, quality check.

The crisis gate runs first and does not need the model: the rule layer alone answers a crisis when
the model, the registry, the feature store or the cache is down. Recall wins: the rules or the
model's crisis head can flag.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from careassist.content import ContentBase, load_content
from careassist.crisis_rules import detect_rules
from careassist.quality import check_response
from careassist.responses import Response, build_response
from careassist.text import strip_markup

if TYPE_CHECKING:
    from careassist.model import AssistantModel

#: Why an answer took the path it did.
REASONS = (
    "classified",
    "crisis",
    "out_of_scope",
    "low_confidence",
    "empty",
    "no_text",
    "unsupported_script",
    "model_unavailable",
)
#: The crisis answer of each kind the rule layer reports (the content base's ids).
CRISIS_ANSWERS = {
    "ideation_explicit": "crisis.suicidal_thoughts",
    "ideation_passive": "crisis.suicidal_thoughts",
    "plan_or_means": "crisis.suicidal_thoughts",
    "self_harm": "crisis.self_harm",
    "third_person": "crisis.someone_else_in_danger",
    "overdose": "crisis.overdose_or_poisoning",
    "harm_to_others": "crisis.harm_or_abuse",
    "medical_emergency": "crisis.medical_emergency",
}
#: The category reported when no model is loaded and the message is not a crisis.
NO_CATEGORY = "unknown"

_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
#: A letter (``_LETTER``) in the Latin ranges (``_LATIN``), counted in one pass.
_LATIN_LETTER = re.compile(r"(?=[^\W\d_])[A-Za-z\u00c0-\u024f]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class SessionContext:
    """What the feature store knows of a session; earlier crisis flags escalate an answer."""

    crisis_flags_7d: int = 0
    messages_24h: int = 0
    last_category: str | None = None
    distinct_categories: int = 0

    @property
    def prior_crisis(self) -> bool:
        return self.crisis_flags_7d > 0


@dataclass(frozen=True)
class AssistantAnswer:
    """One answer with the decisions behind it (never the user's text)."""

    category: str
    confidence: float
    crisis: bool
    out_of_scope: bool
    low_confidence: bool
    reason: str
    response: Response
    crisis_kind: str | None = None
    crisis_layer: str | None = None
    answer_id: str = ""
    quality_fallback: bool = False
    escalated: bool = False


@dataclass
class AssistantStats:
    """Counters the service exports as metrics."""

    answers: Counter[str] = field(default_factory=Counter)
    quality_fallbacks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, reason: str, fallback: bool) -> None:
        with self.lock:
            self.answers[reason] += 1
            self.quality_fallbacks += int(fallback)


def _text_outcome(text: str) -> str | None:
    """A reason when the message has nothing the classifier can read, else None."""
    if not text.strip():
        return "empty"
    if text.isascii():  # every ASCII letter is Latin: readable as soon as it has one (the common case)
        return None if _ASCII_LETTER.search(text) else "no_text"
    return _script_outcome(text)


def _script_outcome(text: str) -> str | None:
    """``_text_outcome`` of any text: no letters, or mostly letters of a script the model never read."""
    letters = _LETTER.findall(text)
    if not letters:
        return "no_text"
    if len(_LATIN_LETTER.findall(text)) < 0.5 * len(letters):
        return "unsupported_script"
    return None


class Assistant:
    """Answers one message; thread-safe, and usable with no model (crisis layer only)."""

    def __init__(self, model: AssistantModel | None = None, content: ContentBase | None = None) -> None:
        self.model = model
        self.content = content or load_content()
        self.stats = AssistantStats()
        by_id = {template.id: template for template in self.content.templates()}
        missing = sorted(set(CRISIS_ANSWERS.values()) - set(by_id))
        if missing:
            raise ValueError(f"the content base lacks crisis answers {', '.join(missing)}")
        self._crisis_answers = {kind: by_id[answer_id] for kind, answer_id in CRISIS_ANSWERS.items()}

    def answer(self, text: str, session: SessionContext | None = None) -> AssistantAnswer:
        session = session or SessionContext()
        text = text if isinstance(text, str) else ""
        hit = detect_rules(text)
        readable = strip_markup(text)
        outcome = _text_outcome(readable)
        prediction = self.model.predict_one(readable) if self.model is not None else None

        if hit is not None or (prediction is not None and prediction.crisis_flag):
            template = self._crisis_answers[hit.kind] if hit else self.content.select("crisis", readable)
            return self._finish(
                category="crisis",
                confidence=1.0 if prediction is None else max(prediction.crisis_score, prediction.confidence),
                reason="crisis",
                template_response=build_response(template, crisis=True),
                answer_id=template.id,
                crisis_kind=hit.kind if hit else None,
                crisis_layer="rules" if hit else "model",
            )
        if prediction is None:
            # No model: only the crisis layer can answer; the service maps this to a 503.
            template = self.content.out_of_scope()
            return self._finish(
                category=NO_CATEGORY,
                confidence=0.0,
                reason="model_unavailable",
                template_response=build_response(template, escalate=session.prior_crisis),
                answer_id=template.id,
                out_of_scope=True,
                escalated=session.prior_crisis,
            )
        if outcome is not None or prediction.out_of_scope:
            # Nothing readable, or a message that fits no category: an honest answer that still
            # points to help.
            template = self.content.out_of_scope()
            reason, out_of_scope = outcome or "out_of_scope", True
        else:
            template = self.content.select(prediction.category, readable)
            reason, out_of_scope = ("low_confidence" if prediction.low_confidence else "classified"), False
        return self._finish(
            category=prediction.category,
            confidence=prediction.confidence,
            reason=reason,
            template_response=build_response(
                template, escalate=session.prior_crisis, low_confidence=prediction.low_confidence
            ),
            answer_id=template.id,
            out_of_scope=out_of_scope,
            low_confidence=prediction.low_confidence,
            escalated=session.prior_crisis,
        )

    def _finish(
        self,
        *,
        category: str,
        confidence: float,
        reason: str,
        template_response: Response,
        answer_id: str,
        out_of_scope: bool = False,
        low_confidence: bool = False,
        crisis_kind: str | None = None,
        crisis_layer: str | None = None,
        escalated: bool = False,
    ) -> AssistantAnswer:
        crisis = reason == "crisis"
        response = template_response
        fallback = False
        if not check_response(response, crisis=crisis).passed:
            fallback = True
            response = build_response(self.content.fallback(), crisis=crisis, escalate=escalated)
        self.stats.count(reason, fallback)
        return AssistantAnswer(
            category=category,
            confidence=round(float(confidence), 4),
            crisis=crisis,
            out_of_scope=out_of_scope,
            low_confidence=low_confidence,
            reason=reason,
            response=response,
            crisis_kind=crisis_kind,
            crisis_layer=crisis_layer,
            answer_id=self.content.fallback().id if fallback else answer_id,
            quality_fallback=fallback,
            escalated=escalated,
        )
