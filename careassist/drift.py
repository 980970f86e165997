"""Drift detection: served traffic against the production model's training baseline.

The baseline is the same anonymous aggregate as the served traffic (``careassist.traffic``), counted
while the training pipeline's evaluate step answers the held-out split (``drift/baseline.json`` in
the training run). A check compares the last ``drift_window_hours`` of traffic with it, signal by
signal, with the population stability index (PSI, zero shares smoothed with ``EPSILON``):

* ``category``: the mix of served labels; also a chi-square test of homogeneity, so that a PSI over
  the threshold counts only when the difference is significant (``drift_chi2_alpha``);
* ``confidence``, ``oov_rate``, ``message_length``: the fixed-bin histograms.

Drift is detected when a signal's PSI reaches ``drift_psi_threshold`` and the window holds at least
``drift_min_requests`` answers (fewer: no verdict, never a retrain). Each check is an MLflow run in
``healthcare-assistant-drift`` (params, a metric per signal, ``drift/report.json`` and a plot), and
its gauges are written in Prometheus' text format to ``<data root>/monitoring/drift.prom`` and pushed
to a Pushgateway when ``pushgateway_url`` is set. The drift DAG emits the retrain asset on drift.

This module imports only the standard library at import time (DAG files read its constants).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from careassist.traffic import HISTOGRAMS, TrafficAggregate, bin_labels, observation, served_label, vocabulary_of

if TYPE_CHECKING:
    from careassist.assistant import Assistant, AssistantAnswer, SessionContext
    from careassist.registry import RegisteredVersion
    from careassist.settings import Settings

log = logging.getLogger(__name__)

#: The asset the drift check emits on drift; the training pipeline is scheduled on it.
EXPERIMENT = "healthcare-assistant-drift"
BASELINE_ARTIFACT = "drift/baseline.json"
REPORT_FOLDER = "drift"
METRICS_FILE = "drift.prom"
PUSH_JOB = "careassist_drift"
SIGNALS: tuple[str, ...] = ("category", *HISTOGRAMS)
#: Share given to a bin that one side never saw, so that PSI stays finite.
EPSILON = 1e-4
#: Held-out rows answered at most when a model has no baseline artifact and it is computed.
FALLBACK_MAX_ROWS = 5000
#: Verdicts of a check.
DRIFT, NO_DRIFT, INSUFFICIENT = "drift", "no_drift", "insufficient_data"


class DriftError(RuntimeError):
    """A drift check cannot run; the message names the model version or reference at fault."""


class NoBaseline(DriftError):
    """No production model, or one with neither a baseline artifact nor the lineage to compute one."""


# -- statistics ----------------------------------------------------------------------------------
def shares(counts: Sequence[float], epsilon: float = EPSILON) -> list[float]:
    """Counts as shares summing to 1, every share at least ``epsilon`` (then renormalised)."""
    total = float(sum(counts))
    if total <= 0:
        raise ValueError("no counts: shares of an empty histogram are undefined")
    floored = [max(c / total, epsilon) for c in counts]
    norm = sum(floored)
    return [value / norm for value in floored]


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """Population stability index of ``actual`` counts against ``expected`` counts (same bins)."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} expected bins but {len(actual)} actual ones")
    e, a = shares(expected, epsilon), shares(actual, epsilon)
    return float(sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a, strict=True)))


def chi_square(expected: Sequence[float], actual: Sequence[float]) -> tuple[float, float, int]:
    """(statistic, p-value, degrees of freedom) of a chi-square test that two count vectors come
    from one distribution (a 2 x k contingency table; bins empty on both sides left out)."""
    from scipy.stats import chi2_contingency

    columns = [(e, a) for e, a in zip(expected, actual, strict=True) if e or a]
    if len(columns) < 2:
        return 0.0, 1.0, 0
    table = [[e for e, _ in columns], [a for _, a in columns]]
    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue), int(result.dof)


# -- the comparison ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    chi2_alpha: float = 0.01
    min_requests: int = 500

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(settings.drift_psi_threshold, settings.drift_chi2_alpha, settings.drift_min_requests)


@dataclass(frozen=True)
class SignalDrift:
    """One signal's comparison: the counts per bin on each side, its PSI (and chi-square for the mix)."""

    signal: str
    bins: list[str]
    baseline: list[int]
    current: list[int]
    psi: float | None
    drifted: bool
    chi2: float | None = None
    p_value: float | None = None
    dof: int | None = None


@dataclass(frozen=True)
class DriftReport:
    """What a check found; ``status`` is ``drift``, ``no_drift`` or ``insufficient_data``."""

    status: str
    window_start: str
    window_end: str
    requests: int
    baseline_requests: int
    thresholds: dict[str, float]
    signals: list[SignalDrift]
    oov_share: dict[str, float | None] = field(default_factory=dict)
    model: dict[str, str] = field(default_factory=dict)

    @property
    def detected(self) -> bool:
        return self.status == DRIFT

    @property
    def drifted(self) -> list[str]:
        return [s.signal for s in self.signals if s.drifted]

    def scores(self) -> dict[str, float]:
        """PSI per signal that had data on both sides."""
        return {s.signal: s.psi for s in self.signals if s.psi is not None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"detected": self.detected, "drifted": self.drifted}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        values = {k: v for k, v in data.items() if k not in ("detected", "drifted")}
        values["signals"] = [SignalDrift(**s) for s in values["signals"]]
        return cls(**values)


def _signal(signal: str, baseline: TrafficAggregate, current: TrafficAggregate, thresholds: Thresholds) -> SignalDrift:
    if signal == "category":
        b_labels, c_labels = baseline.labels(), current.labels()
        bins = sorted(set(b_labels) | set(c_labels))
        expected, actual = [b_labels.get(n, 0) for n in bins], [c_labels.get(n, 0) for n in bins]
    else:
        bins, expected, actual = bin_labels(signal), baseline.histogram(signal), current.histogram(signal)
    if not sum(expected) or not sum(actual):
        return SignalDrift(signal, bins, expected, actual, None, False)
    score = psi(expected, actual)
    drifted = score >= thresholds.psi
    if signal != "category":
        return SignalDrift(signal, bins, expected, actual, round(score, 6), drifted)
    statistic, p_value, dof = chi_square(expected, actual)
    return SignalDrift(signal, bins, expected, actual, round(score, 6), drifted and p_value < thresholds.chi2_alpha,
                       round(statistic, 4), p_value, dof)


def compare(
    baseline: TrafficAggregate, current: TrafficAggregate, thresholds: Thresholds, *,
    window: tuple[datetime, datetime], model: dict[str, str] | None = None,
) -> DriftReport:
    """Every signal of ``current`` against ``baseline``, and the verdict."""
    if not baseline.requests:
        raise NoBaseline("the baseline holds no answers")
    signals = [_signal(name, baseline, current, thresholds) for name in SIGNALS]
    if current.requests < thresholds.min_requests:
        status = INSUFFICIENT
    else:
        status = DRIFT if any(s.drifted for s in signals) else NO_DRIFT
    return DriftReport(
        status=status,
        window_start=window[0].isoformat(),
        window_end=window[1].isoformat(),
        requests=current.requests,
        baseline_requests=baseline.requests,
        thresholds=asdict(thresholds),
        signals=signals,
        oov_share={"baseline": baseline.oov_share, "current": current.oov_share},
        model=model or {},
    )


# -- the baseline --------------------------------------------------------------------------------
class ObservedAssistant:
    """An assistant whose answers are also counted as traffic: the baseline of an evaluation run."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.traffic = TrafficAggregate()
        self._vocabulary = vocabulary_of(assistant.model) if assistant.model is not None else None

    def answer(self, text: str, session: SessionContext | None = None) -> AssistantAnswer:
        answer = self.assistant.answer(text, session)
        label = served_label(answer.category, answer.crisis, answer.out_of_scope)
        self.traffic.counts.update(observation(label, answer.confidence, text, self._vocabulary))
        return answer


def log_baseline(settings: Settings, run_id: str, traffic: TrafficAggregate) -> None:
    """Store a model's baseline in its training run (``drift/baseline.json``)."""
    from careassist import registry

    registry.client(settings).log_dict(run_id, traffic.to_dict(), BASELINE_ARTIFACT)


def production_baseline(settings: Settings) -> tuple[TrafficAggregate, dict[str, str]]:
    """The production model's baseline and where it came from (its artifact, else computed)."""
    from careassist import lifecycle, registry

    number = lifecycle.current(settings, lifecycle.PRODUCTION)
    if number is None:
        raise NoBaseline(f"{settings.model_name} has no production version yet: nothing to compare with")
    version = registry.get_version(settings, number)
    model = {"name": settings.model_name, "version": str(version.version), "run_id": version.run_id or ""}
    if version.run_id:
        stored = _stored_baseline(settings, version.run_id)
        if stored is not None:
            return stored, model | {"baseline": "artifact"}
    return computed_baseline(settings, version), model | {"baseline": "computed"}


def _stored_baseline(settings: Settings, run_id: str) -> TrafficAggregate | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from careassist import registry

    registry.configure(settings)
    uri = f"runs:/{run_id}/{BASELINE_ARTIFACT}"
    try:
        data = mlflow.artifacts.load_dict(uri)
    except (MlflowException, OSError) as exc:
        log.info("no stored baseline at %s (%s); computing it", uri, type(exc).__name__)
        return None
    return TrafficAggregate.from_dict(data, source=uri)


def computed_baseline(settings: Settings, version: RegisteredVersion) -> TrafficAggregate:
    """The baseline of a model registered without one: its held-out split (at most
    ``FALLBACK_MAX_ROWS`` rows) answered again, from the training set its lineage names."""
    from careassist import pipeline
    from careassist.assistant import Assistant

    uri = version.tags.get("training_set_uri")
    if not uri:
        raise NoBaseline(
            f"{version.uri} has neither {BASELINE_ARTIFACT} in its run nor a training_set_uri lineage tag"
        )
    frame = pipeline.evaluation_frame(pipeline.read_training_set(settings, uri)).head(FALLBACK_MAX_ROWS)
    observed = ObservedAssistant(Assistant(pipeline.load_assistant(settings, version.uri)))
    for text in frame["text"]:
        observed.answer(str(text))
    return observed.traffic


# -- the check, as the DAG's tasks call it -----------------------------------------------------
def window_of(settings: Settings, end: datetime) -> tuple[datetime, datetime]:
    return end - timedelta(hours=settings.drift_window_hours), end


def collect_traffic(settings: Settings, end: datetime) -> dict[str, Any]:
    """The served traffic of the window that ends at ``end`` (anonymous counts only)."""
    from careassist.traffic import read_traffic

    start, end = window_of(settings, end)
    traffic = read_traffic(settings, start, end)
    log.info("traffic of %s to %s: %d answers", start.isoformat(), end.isoformat(), traffic.requests)
    return {"window_start": start.isoformat(), "window_end": end.isoformat(), "traffic": traffic.to_dict()}


def compare_with_baseline(settings: Settings, collected: dict[str, Any]) -> dict[str, Any]:
    """The collected window against the production model's baseline (raises NoBaseline)."""
    baseline, model = production_baseline(settings)
    current = TrafficAggregate.from_dict(collected["traffic"], source="collected traffic")
    window = (datetime.fromisoformat(collected["window_start"]), datetime.fromisoformat(collected["window_end"]))
    report = compare(baseline, current, Thresholds.from_settings(settings), window=window, model=model)
    log.info("drift check of %s: %s %s", report.window_end, report.status, report.scores())
    return report.to_dict()


def report_drift(settings: Settings, report_data: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """Log the check to MLflow and publish its gauges; returns what the asset event carries."""
    report = DriftReport.from_dict(report_data)
    run_id = log_report(settings, report)
    metrics = publish_metrics(settings, report, now=now)
    return {"status": report.status, "detected": report.detected, "drifted": report.drifted,
            "scores": report.scores(), "requests": report.requests, "run_id": run_id,
            "window_end": report.window_end, "model_version": report.model.get("version", ""), **metrics}


# -- MLflow ----------------------------------------------------------------------------------------
def report_key(report: DriftReport) -> str:
    """What makes two checks the same: the window, the model, the counts and the thresholds."""
    body = json.dumps(report.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def log_report(settings: Settings, report: DriftReport) -> str:
    """One run per check in the drift experiment (the same check again reuses its run)."""
    import mlflow

    from careassist import registry

    experiment = registry.ensure_experiment(settings, EXPERIMENT)
    client = registry.client(settings)
    key = report_key(report)
    existing = client.search_runs([experiment], filter_string=f"tags.drift_key = '{key}' and attributes.status = 'FINISHED'",
                                  max_results=1)
    if existing:
        return str(existing[0].info.run_id)
    with mlflow.start_run(experiment_id=experiment, run_name=f"drift-{report.window_end}") as run:
        mlflow.set_tags({"drift_key": key, "drift_status": report.status, "model_version": report.model.get("version", ""),
                         "baseline_origin": report.model.get("baseline", ""), "drifted": ",".join(report.drifted)})
        mlflow.log_params({"window_start": report.window_start, "window_end": report.window_end,
                           "window_hours": settings.drift_window_hours, "model_version": report.model.get("version", ""),
                           **{f"threshold_{k}": v for k, v in report.thresholds.items()}})
        metrics = {"requests": float(report.requests), "baseline_requests": float(report.baseline_requests),
                   "drift_detected": float(report.detected),
                   **{f"psi_{name}": score for name, score in report.scores().items()}}
        category = next(s for s in report.signals if s.signal == "category")
        if category.p_value is not None:
            metrics["category_chi2_p_value"] = category.p_value
        if report.oov_share.get("current") is not None:
            metrics["oov_share"] = float(report.oov_share["current"] or 0.0)
        mlflow.log_metrics(metrics)
        mlflow.log_dict(report.to_dict(), f"{REPORT_FOLDER}/report.json")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.png"
            plot_report(report, path)
            mlflow.log_artifact(str(path), REPORT_FOLDER)
        return str(run.info.run_id)


def plot_report(report: DriftReport, path: Path) -> None:
    """Baseline and current shares per bin, one panel per signal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(13, 8))
    for axis, signal in zip(axes.flat, report.signals, strict=False):
        positions = range(len(signal.bins))
        for offset, (name, counts) in enumerate((("baseline", signal.baseline), ("current", signal.current))):
            total = sum(counts) or 1
            axis.bar([p + (offset - 0.5) * 0.4 for p in positions], [c / total for c in counts], width=0.4, label=name)
        axis.set_xticks(list(positions), signal.bins, rotation=45, ha="right", fontsize=7)
        score = "n/a" if signal.psi is None else f"{signal.psi:.3f}"
        axis.set_title(f"{signal.signal}: PSI {score}{' (drift)' if signal.drifted else ''}", fontsize=10)
        axis.legend(fontsize=8)
    figure.suptitle(f"{report.status}: {report.requests} answers, {report.window_start} to {report.window_end}")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


# -- Prometheus ------------------------------------------------------------------------------------
def publish_metrics(settings: Settings, report: DriftReport, *, now: float | None = None) -> dict[str, Any]:
    """The check's gauges, written to ``<data root>/monitoring/drift.prom`` and pushed to the
    Pushgateway when one is set. Scores are left out of a check without a verdict (too few answers),
    so that an alert on a score never fires on a tiny sample. A failed push is logged, not raised:
    the verdict stands, and the last-run gauge's staleness tells the alerting."""
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

    registry = CollectorRegistry()
    score = Gauge("careassist_drift_score", "PSI of served traffic against the training baseline, per signal.",
                  ["signal"], registry=registry)
    if report.status != INSUFFICIENT:
        for signal, value in report.scores().items():
            score.labels(signal=signal).set(value)
    Gauge("careassist_drift_detected", "1 when the last drift check found drift (a retrain was triggered).",
          registry=registry).set(1 if report.detected else 0)
    Gauge("careassist_drift_window_requests", "Answers in the last drift check's window.",
          registry=registry).set(report.requests)
    Gauge("careassist_drift_last_run_timestamp_seconds", "When the last drift check ran (Unix time).",
          registry=registry).set(time.time() if now is None else now)
    path = settings.monitoring_dir / METRICS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    pushed = False
    if settings.pushgateway_url:
        try:
            push_to_gateway(settings.pushgateway_url, job=PUSH_JOB, registry=registry, timeout=10)
            pushed = True
        except OSError as exc:
            log.warning("drift metrics not pushed to %s: %s", settings.pushgateway_url, exc)
    return {"metrics_file": str(path), "pushed": pushed}
