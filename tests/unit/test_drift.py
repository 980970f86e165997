"""Drift statistics, verdicts, the report in MLflow and the Prometheus gauges."""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from careassist import drift
from careassist.drift import DRIFT, INSUFFICIENT, NO_DRIFT, DriftReport, Thresholds, chi_square, compare, psi
from careassist.settings import Settings
from careassist.traffic import TrafficAggregate

pytestmark = pytest.mark.unit

END = datetime(2026, 11, 27, 4, tzinfo=UTC)
WINDOW = (END - timedelta(hours=24), END)
LABELS = ("fall_prevention", "nutrition_wellness", "medication_management", "crisis", "out_of_scope")


def aggregate(requests: int, mix: dict[str, float], confidence: int = 8, length: int = 2, oov: int = 0) -> TrafficAggregate:
    """``requests`` answers split by ``mix``, all in one bin of each histogram."""
    counts: Counter[str] = Counter({"requests": requests, f"confidence:{confidence}": requests,
                                    f"message_length:{length}": requests, f"oov_rate:{oov}": requests,
                                    "tokens": 10 * requests, "oov_tokens": oov * requests})
    for label, share in mix.items():
        counts[f"label:{label}"] = round(requests * share)
    return TrafficAggregate(counts)


EVEN = {label: 1 / len(LABELS) for label in LABELS}
SKEWED = {"fall_prevention": 0.8, "nutrition_wellness": 0.05, "medication_management": 0.05, "crisis": 0.05,
          "out_of_scope": 0.05}


# -- statistics ------------------------------------------------------------------------------------
def test_psi_is_zero_for_the_same_shares_and_matches_its_formula() -> None:
    assert psi([10, 20, 70], [100, 200, 700]) == pytest.approx(0.0, abs=1e-12)
    expected = (0.5 - 0.2) * math.log(0.5 / 0.2) + (0.5 - 0.8) * math.log(0.5 / 0.8)
    assert psi([20, 80], [50, 50]) == pytest.approx(expected)


def test_psi_stays_finite_when_one_side_never_saw_a_bin() -> None:
    score = psi([100, 0], [50, 50])
    assert math.isfinite(score) and score > 2  # smoothed with EPSILON, still a very large shift
    with pytest.raises(ValueError, match="bins"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        psi([0, 0], [1, 1])


def test_chi_square_tells_a_shifted_mix_from_the_same_one() -> None:
    assert chi_square([100, 100, 100], [200, 200, 200])[1] == pytest.approx(1.0)
    statistic, p_value, dof = chi_square([100, 100, 100], [300, 20, 20])
    assert p_value < 1e-6 and statistic > 100 and dof == 2
    # A label neither side used is left out; a single label cannot be tested.
    assert chi_square([100, 100, 0], [300, 20, 0])[2] == 1
    assert chi_square([5, 0], [7, 0]) == (0.0, 1.0, 0)


# -- verdicts ------------------------------------------------------------------------------------
def test_the_same_traffic_as_the_baseline_is_no_drift() -> None:
    report = compare(aggregate(1600, EVEN), aggregate(900, EVEN), Thresholds(), window=WINDOW)
    assert report.status == NO_DRIFT and not report.detected and report.drifted == []
    assert set(report.scores()) == set(drift.SIGNALS) and max(report.scores().values()) < 0.01


def test_a_shifted_mix_longer_messages_and_low_confidence_are_drift() -> None:
    shifted = aggregate(900, SKEWED, confidence=3, length=6, oov=4)
    report = compare(aggregate(1600, EVEN), shifted, Thresholds(), window=WINDOW, model={"version": "3"})
    assert report.status == DRIFT and report.detected
    assert report.drifted == ["category", "confidence", "oov_rate", "message_length"]
    category = report.signals[0]
    assert category.psi is not None and category.psi > 0.2 and category.p_value is not None and category.p_value < 0.01
    assert report.model == {"version": "3"} and report.window_end == END.isoformat()


def test_too_few_requests_never_give_a_verdict_however_shifted() -> None:
    report = compare(aggregate(1600, EVEN), aggregate(499, SKEWED, confidence=1), Thresholds(min_requests=500),
                     window=WINDOW)
    assert report.status == INSUFFICIENT and not report.detected
    assert report.drifted == ["category", "confidence"]  # the scores are reported, the verdict is not given


def test_the_thresholds_come_from_the_settings(make_settings: Any) -> None:
    settings = make_settings(drift_psi_threshold=5.0, drift_min_requests=10, drift_chi2_alpha=0.05)
    thresholds = Thresholds.from_settings(settings)
    assert thresholds == Thresholds(psi=5.0, chi2_alpha=0.05, min_requests=10)
    report = compare(aggregate(1600, EVEN), aggregate(900, SKEWED), thresholds, window=WINDOW)
    assert report.status == NO_DRIFT and report.scores()["category"] > 0.2


def test_a_large_category_psi_on_a_small_sample_needs_significance() -> None:
    # Ten answers against ten: the mix looks very different (PSI over 0.2) but could be chance.
    small = compare(aggregate(10, {"fall_prevention": 0.6, "crisis": 0.4}),
                    aggregate(10, {"fall_prevention": 0.3, "crisis": 0.7}), Thresholds(min_requests=1), window=WINDOW)
    category = small.signals[0]
    assert category.psi is not None and category.psi > 0.2 and category.p_value is not None
    assert category.p_value > 0.01 and not category.drifted and small.status == NO_DRIFT


def test_a_signal_without_data_on_one_side_is_not_scored() -> None:
    current = aggregate(900, EVEN)
    for name in [k for k in current.counts if k.startswith("oov_rate:")]:
        del current.counts[name]
    report = compare(aggregate(1600, EVEN), current, Thresholds(), window=WINDOW)
    oov = next(s for s in report.signals if s.signal == "oov_rate")
    assert oov.psi is None and not oov.drifted and "oov_rate" not in report.scores()


def test_a_report_round_trips_through_its_dict() -> None:
    report = compare(aggregate(1600, EVEN), aggregate(900, SKEWED), Thresholds(), window=WINDOW)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["detected"] is True and data["drifted"] == ["category"]
    assert DriftReport.from_dict(data) == report


# -- reporting ---------------------------------------------------------------------------------------
def _report(requests: int = 900, mix: dict[str, float] = SKEWED) -> DriftReport:
    return compare(aggregate(1600, EVEN), aggregate(requests, mix), Thresholds(), window=WINDOW,
                   model={"name": "healthcare-assistant", "version": "1", "baseline": "artifact"})


def test_the_gauges_are_written_under_the_data_root(settings: Settings) -> None:
    result = drift.publish_metrics(settings, _report(), now=1_800_000_000.0)
    text = (settings.monitoring_dir / drift.METRICS_FILE).read_text()
    assert result == {"metrics_file": str(settings.monitoring_dir / drift.METRICS_FILE), "pushed": False}
    assert 'careassist_drift_score{signal="category"}' in text
    assert "careassist_drift_detected 1.0" in text
    assert "careassist_drift_last_run_timestamp_seconds 1.8e+09" in text
    drift.publish_metrics(settings, _report(requests=100))
    text = (settings.monitoring_dir / drift.METRICS_FILE).read_text()
    assert "careassist_drift_detected 0.0" in text and 'careassist_drift_score{' not in text


def test_the_gauges_are_pushed_to_the_pushgateway_when_one_is_set(make_settings: Any) -> None:
    received: list[tuple[str, str, bytes]] = []

    class Gateway(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_PUT(self) -> None:
            received.append((self.command, self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = make_settings(pushgateway_url=f"http://127.0.0.1:{server.server_address[1]}")
        assert drift.publish_metrics(settings, _report())["pushed"] is True
    finally:
        server.shutdown()
    (method, path, body) = received[0]
    assert method == "PUT" and path == "/metrics/job/careassist_drift"
    assert b"careassist_drift_detected" in body and b"careassist_drift_score" in body


def test_an_unreachable_pushgateway_does_not_fail_the_check(make_settings: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(pushgateway_url=f"http://127.0.0.1:{port}")
    assert drift.publish_metrics(settings, _report())["pushed"] is False
    assert (settings.monitoring_dir / drift.METRICS_FILE).exists()


def test_each_check_is_an_mlflow_run_with_its_report_and_a_repeat_reuses_it(settings: Settings) -> None:
    from careassist import registry

    report = _report()
    run_id = drift.log_report(settings, report)
    assert drift.log_report(settings, report) == run_id
    run = registry.client(settings).get_run(run_id)
    assert run.data.tags["drift_status"] == DRIFT and run.data.params["window_hours"] == "24"
    assert run.data.params["threshold_psi"] == "0.2"
    assert run.data.metrics["psi_category"] == pytest.approx(report.scores()["category"])
    assert run.data.metrics["drift_detected"] == 1.0 and run.data.metrics["requests"] == 900
    artifacts = {a.path for a in registry.client(settings).list_artifacts(run_id, drift.REPORT_FOLDER)}
    assert artifacts == {"drift/report.json", "drift/report.png"}
    experiment = registry.client(settings).get_experiment(run.info.experiment_id)
    assert experiment.name == drift.EXPERIMENT


def test_without_a_production_model_there_is_no_baseline(settings: Settings) -> None:
    with pytest.raises(drift.NoBaseline, match="no production version"):
        drift.production_baseline(settings)


def test_a_model_without_a_baseline_artifact_gets_one_computed_from_its_lineage(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from careassist import pipeline
    from careassist.registry import RegisteredVersion

    version = RegisteredVersion("healthcare-assistant", 4, "READY", "src", "run", tags={"training_set_uri": "mem://ts"})
    frame = pd.DataFrame({"text": [f"message {i}" for i in range(40)], "label": "fall_prevention"})
    monkeypatch.setattr(pipeline, "read_training_set", lambda s, uri: frame if uri == "mem://ts" else None)
    monkeypatch.setattr(pipeline, "evaluation_frame", lambda f: f.head(30))
    monkeypatch.setattr(pipeline, "load_assistant", lambda s, uri: None)  # the crisis layer alone answers
    baseline = drift.computed_baseline(settings, version)
    assert baseline.requests == 30
    with pytest.raises(drift.NoBaseline, match="training_set_uri"):
        drift.computed_baseline(settings, RegisteredVersion("healthcare-assistant", 5, "READY", "src", None))
