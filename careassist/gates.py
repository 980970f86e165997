"""Promotion gates: a candidate reaches users only if it is as good and as safe as production.

Every gate is measured, never assumed, and the decision keeps the reasons either way:

* ``macro_f1_floor``: macro-F1 on the evaluation data at least the configured floor;
* ``no_regression``: not worse than the current production model by more than the margin, both
  measured now on the same evaluation data;
* ``crisis_recall``: every message of the frozen crisis set (``gatesets/frozen_crisis.csv``) flagged;
* ``quality``: every answer to the golden messages (``gatesets/golden_messages.csv``) passes the
  quality validator without a fallback;
* ``latency``: in-process p99 of one whole answer within the budget.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from careassist.model import AssistantModel
    from careassist.settings import Settings

FROZEN_CRISIS_FILE = "frozen_crisis.csv"
GOLDEN_MESSAGES_FILE = "golden_messages.csv"
#: Answers timed for the latency gate (after one warm pass over the golden messages).
LATENCY_CALLS = 2000


@dataclass(frozen=True)
class GateConfig:
    """The gates' thresholds (from the settings)."""

    min_macro_f1: float = 0.85
    max_f1_drop: float = 0.01
    latency_p99_ms: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> GateConfig:
        return cls(settings.gate_min_macro_f1, settings.gate_max_f1_drop, settings.gate_latency_p99_ms)


@dataclass(frozen=True)
class GateResult:
    """One gate: what was measured, the rule, and whether it held."""

    name: str
    passed: bool
    value: float | None
    rule: str
    detail: str = ""


@dataclass
class GateDecision:
    """All gates of one candidate; it passes only if every gate holds."""

    results: list[GateResult]
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def reasons(self) -> list[str]:
        """Why the candidate was rejected (empty when it passed)."""
        return [f"{r.name}: {r.detail}" for r in self.results if not r.passed]

    def as_tags(self) -> dict[str, str]:
        """The decision as model-version tags (read back by ``careassist.lifecycle``)."""
        return {
            "gate_status": "passed" if self.passed else "rejected",
            "gate_reasons": json.dumps(self.reasons),
            "gate_results": json.dumps([asdict(r) for r in self.results]),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": self.reasons, "results": [asdict(r) for r in self.results],
                "metrics": self.metrics}


def _gateset(name: str) -> pd.DataFrame:
    import pandas as pd

    with resources.files("careassist.gatesets").joinpath(name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


def gateset_sha256(name: str) -> str:
    """The checksum of a gate set file, recorded with every decision (a frozen set must not drift)."""
    return hashlib.sha256(resources.files("careassist.gatesets").joinpath(name).read_bytes()).hexdigest()


def frozen_crisis_set() -> pd.DataFrame:
    """The frozen crisis messages (text, kind)."""
    return _gateset(FROZEN_CRISIS_FILE)


def golden_messages() -> list[str]:
    """Messages every answer of which must pass the quality standard, edge cases included."""
    return _gateset(GOLDEN_MESSAGES_FILE)["text"].tolist()


def macro_f1(model: AssistantModel, frame: pd.DataFrame) -> float:
    """The harness's macro-F1 of the whole assistant on a labelled frame."""
    from careassist.assistant import Assistant
    from careassist.evaluation import evaluate_assistant

    overall = evaluate_assistant(Assistant(model), frame)["overall"]
    if overall is None:
        raise ValueError("the evaluation data holds no in-scope rows: macro-F1 cannot be measured")
    return float(overall["macro_f1"])


def _crisis_gate(model: AssistantModel) -> GateResult:
    crisis = frozen_crisis_set()
    flagged = model.predict(crisis[["text"]])["crisis"].to_numpy()
    missed = crisis.loc[~flagged, "kind"].value_counts().to_dict()
    recall = float(flagged.mean()) if len(flagged) else 0.0
    detail = f"flagged {int(flagged.sum())} of {len(flagged)}" + (f"; missed by kind {missed}" if missed else "")
    return GateResult("crisis_recall", recall == 1.0, recall, "== 1.0 on the frozen crisis set", detail)


def _quality_gate(model: AssistantModel) -> GateResult:
    from careassist.assistant import Assistant
    from careassist.quality import check_response

    assistant = Assistant(model)
    failures = []
    for index, text in enumerate(golden_messages()):
        answer = assistant.answer(text)
        report = check_response(answer.response, crisis=answer.crisis)
        if answer.quality_fallback or not report.passed:
            failures.append(index)
    total = len(golden_messages())
    share = (total - len(failures)) / total
    detail = f"{total - len(failures)} of {total} answers pass" + (f"; failing rows {failures[:10]}" if failures else "")
    return GateResult("quality", not failures, share, "every golden answer passes without fallback", detail)


def answer_latency_p99_ms(model: AssistantModel, calls: int = LATENCY_CALLS) -> float:
    """In-process p99 (ms) of one whole answer, cycling through the golden messages after a warm pass."""
    import numpy as np

    from careassist.assistant import Assistant

    assistant = Assistant(model)
    messages = golden_messages()
    for text in messages:
        assistant.answer(text)
    timings = np.empty(calls)
    for i in range(calls):
        text = messages[i % len(messages)]
        started = time.perf_counter()
        assistant.answer(text)
        timings[i] = time.perf_counter() - started
    return float(np.quantile(timings, 0.99) * 1000)


def evaluate_gates(
    candidate: AssistantModel,
    evaluation: pd.DataFrame,
    config: GateConfig,
    *,
    production: AssistantModel | None = None,
    latency_calls: int = LATENCY_CALLS,
) -> GateDecision:
    """Measure every gate of a candidate against the evaluation data and the production model."""
    f1 = macro_f1(candidate, evaluation)
    results = [
        GateResult("macro_f1_floor", f1 >= config.min_macro_f1, f1, f">= {config.min_macro_f1}",
                   f"macro-F1 {f1:.4f} vs floor {config.min_macro_f1}"),
    ]
    metrics = {"macro_f1": f1}
    if production is None:
        results.append(GateResult("no_regression", True, None, "no production model", "first model: nothing to compare"))
    else:
        baseline = macro_f1(production, evaluation)
        metrics["production_macro_f1"] = baseline
        floor = baseline - config.max_f1_drop
        results.append(
            GateResult("no_regression", f1 >= floor, f1 - baseline, f">= production - {config.max_f1_drop}",
                       f"macro-F1 {f1:.4f} vs production {baseline:.4f} (margin {config.max_f1_drop})")
        )
    results.append(_crisis_gate(candidate))
    results.append(_quality_gate(candidate))
    p99 = answer_latency_p99_ms(candidate, latency_calls)
    metrics["latency_p99_ms"] = p99
    results.append(GateResult("latency", p99 <= config.latency_p99_ms, p99, f"<= {config.latency_p99_ms} ms",
                              f"p99 {p99:.3f} ms over {latency_calls} answers"))
    metrics["crisis_recall"] = results[2].value or 0.0
    metrics["quality_pass_rate"] = results[3].value or 0.0
    return GateDecision(results, metrics)
