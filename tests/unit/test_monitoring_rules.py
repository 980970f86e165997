"""Prometheus configuration, alert rules and Grafana dashboards of k8s/base/monitoring.

Always: the rules and dashboards are well formed and name only metrics that exist (those of
careassist/metrics.py, the drift DAG's Pushgateway gauges, the Airflow StatsD exporter's and the
rules' own recorded series), and every alert the operations issue asks for is there. With
``promtool`` installed (Debian package ``prometheus``) also: ``promtool check config``,
``promtool check rules`` (the dashboards' queries included) and ``promtool test rules``, which
shows the crisis-spike, latency, staleness and drift alerts firing on made-up series.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Histogram

from careassist.metrics import create_metrics

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "k8s" / "base" / "monitoring"
PROMETHEUS = MONITORING / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RULES = PROMETHEUS / "careassist.rules.yml"
RULE_TESTS = PROMETHEUS / "careassist.rules.test.yml"
DASHBOARDS = sorted((MONITORING / "grafana").glob("*.json"))
DATASOURCES = MONITORING / "grafana" / "datasources.yaml"

#: Gauges the drift DAG pushes to the Pushgateway (job="careassist_drift").
DRIFT_METRICS = {
    "careassist_drift_score",
    "careassist_drift_detected",
    "careassist_drift_last_run_timestamp_seconds",
}
DRIFT_SIGNALS = {"category_mix", "confidence", "oov_rate", "message_length"}
#: Series of the Airflow chart's StatsD exporter mappings (timers become summaries).
AIRFLOW_METRICS = {
    "airflow_dagrun_duration",
    "airflow_dagrun_failed_count",
    "airflow_task_duration",
    "airflow_scheduler_heartbeat",
}
#: What the operations issue asks the alerts to cover, by the alert that covers it.
REQUIRED_ALERTS = {
    "crisis-detection spikes": "CareAssistCrisisDetectionSpike",
    "quality fallbacks": "CareAssistQualityFallbacks",
    "latency objective": "CareAssistLatencyBudgetFastBurn",
    "error rate": "CareAssistHighErrorRate",
    "cache hit rate": "CareAssistCacheHitRateLow",
    "model staleness": "CareAssistModelStale",
    "drift": "CareAssistDriftDetected",
}
SEVERITIES = {"critical", "warning", "info"}
DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")
_PROMQL_WORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "rate",
    "increase",
    "irate",
    "time",
    "vector",
    "absent",
    "clamp_min",
    "histogram_quantile",
    "humanizePercentage",
    "le",
    "bool",
}


def _service_metric_names() -> set[str]:
    """Every series name the service exposes, suffixes included."""
    service = create_metrics()
    names: set[str] = set()
    for value in vars(service).values():
        if isinstance(value, Histogram):
            base = value._name
            names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
        elif isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif hasattr(value, "_name"):
            names.add(value._name)
    return names


def _rules() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return data


def _all_rules() -> list[dict[str, Any]]:
    return [rule for group in _rules()["groups"] for rule in group["rules"]]


def _recorded() -> set[str]:
    return {rule["record"] for rule in _all_rules() if "record" in rule}


def _dashboard_queries() -> list[tuple[str, str]]:
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
            for target in panel.get("targets", []):
                queries.append((f"{path.name}: {panel['title']}", target["expr"]))
    return queries


def _metric_names(expr: str) -> set[str]:
    """The series names an expression selects (label names and values, functions and keywords aside)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_grouping = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_grouping)
    # Numbers and durations (1e-9, 0.01, 15m) start with a digit: drop them whole.
    without_numbers = re.sub(r"(?<![A-Za-z0-9_:])[0-9][0-9A-Za-z_.]*([eE][-+][0-9]+)?", " ", without_ranges)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_numbers))
    return words - _PROMQL_WORDS


def _known_metrics() -> set[str]:
    return _service_metric_names() | DRIFT_METRICS | AIRFLOW_METRICS | _recorded() | {"up"}


def _balanced(expr: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for char in re.sub(r'"[^"]*"', '""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack and expr.count('"') % 2 == 0


# -- structure (no tool needed) ------------------------------------------------------------------
def test_the_service_exposes_the_metrics_the_rules_are_built_on() -> None:
    names = _service_metric_names()
    for required in (
        "careassist_request_seconds_bucket",
        "careassist_requests_total",
        "careassist_answers_total",
        "careassist_crisis_detections_total",
        "careassist_quality_fallbacks_total",
        "careassist_cache_total",
        "careassist_model_info",
        "careassist_model_loaded_timestamp_seconds",
        "careassist_dependency_up",
        "careassist_degraded_events_total",
    ):
        assert required in names, required


def test_rule_groups_are_well_formed() -> None:
    groups = _rules()["groups"]
    assert len({g["name"] for g in groups}) == len(groups), "group names repeat"
    alerts: list[str] = []
    for group in groups:
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert ("alert" in rule) != ("record" in rule), rule
            assert set(rule) <= {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
            expr = rule["expr"]
            assert isinstance(expr, str) and expr.strip() and _balanced(expr), f"malformed expression: {expr}"
            if "record" in rule:
                assert re.fullmatch(r"careassist:[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]
                assert "annotations" not in rule and "for" not in rule
                continue
            alerts.append(rule["alert"])
            assert re.fullmatch(r"CareAssist[A-Z][A-Za-z0-9]+", rule["alert"]), rule["alert"]
            assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
            assert "for" not in rule or DURATION.fullmatch(rule["for"]), rule["alert"]
    assert len(set(alerts)) == len(alerts), "alert names repeat"


def test_every_alert_the_issue_asks_for_exists() -> None:
    alerts = {rule["alert"]: rule for rule in _all_rules() if "alert" in rule}
    missing = {need: name for need, name in REQUIRED_ALERTS.items() if name not in alerts}
    assert not missing, missing
    assert "careassist_crisis_detections_total" in alerts["CareAssistCrisisDetectionSpike"]["expr"]
    assert "careassist_quality_fallbacks_total" in alerts["CareAssistQualityFallbacks"]["expr"]
    stale = alerts["CareAssistModelStale"]["expr"]
    assert "careassist_model_loaded_timestamp_seconds" in stale and "careassist_model_info" in stale
    assert 'job="careassist_drift"' in alerts["CareAssistDriftDetected"]["expr"]


@pytest.mark.parametrize("source", ["rules", "dashboards"])
def test_only_existing_metrics_are_queried(source: str) -> None:
    known = _known_metrics()
    if source == "rules":
        queries = [(rule.get("alert") or rule["record"], rule["expr"]) for rule in _all_rules()]
    else:
        queries = _dashboard_queries()
    assert queries
    for where, expr in queries:
        unknown = _metric_names(expr) - known
        assert not unknown, f"{where} queries series nothing exposes: {sorted(unknown)}"


def test_drift_rules_name_the_pushed_job_and_signals() -> None:
    for rule in _all_rules():
        for name in DRIFT_METRICS & _metric_names(rule["expr"]):
            assert re.search(rf'{name}\{{[^}}]*job="careassist_drift"', rule["expr"]), rule.get("alert")
        for signals in re.findall(r'signal=~"([^"]+)"', rule["expr"]):
            assert set(signals.split("|")) <= DRIFT_SIGNALS


def test_dashboards_are_provisionable() -> None:
    datasource_uid = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"][0]["uid"]
    assert {p.name for p in DASHBOARDS} == {"careassist-service.json", "careassist-pipeline.json"}
    uids = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        uids.append(dashboard["uid"])
        assert dashboard["title"] and dashboard["schemaVersion"] >= 36
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(set(ids)) == len(ids), f"{path.name}: panel ids repeat"
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == datasource_uid, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource_uid and _balanced(target["expr"]), panel["title"]
    assert len(set(uids)) == len(uids)
    service = (MONITORING / "grafana" / "careassist-service.json").read_text(encoding="utf-8")
    for metric in ("careassist_request_seconds_bucket", "careassist_crisis_detections_total", "careassist_cache_total"):
        assert metric in service
    assert "careassist_drift_score" in (MONITORING / "grafana" / "careassist-pipeline.json").read_text(encoding="utf-8")


def test_a_misspelt_metric_is_noticed() -> None:
    assert _metric_names('sum(rate(careassist_crisis_detection_total{layer="rules"}[5m]))') - _known_metrics() == {
        "careassist_crisis_detection_total"
    }
    assert not _balanced("sum(rate(careassist_requests_total[5m])")


# -- promtool --------------------------------------------------------------------------------------
def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus); the structural checks above still ran")
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, check=False, cwd=PROMETHEUS)


def test_promtool_accepts_the_configuration(tmp_path: Path) -> None:
    result = _promtool("check", "config", CONFIG.name)
    output = result.stdout + result.stderr
    if result.returncode != 0 and "field kubernetes_sd_configs not found" in output:
        # Debian's promtool is built without Kubernetes discovery (Prometheus in the cluster has it):
        # check everything else, with the discovered job's targets given statically.
        config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
        for job in config["scrape_configs"]:
            if job.pop("kubernetes_sd_configs", None) is not None:
                job["static_configs"] = [{"targets": ["assistant.invalid:8000"]}]
        (tmp_path / CONFIG.name).write_text(yaml.safe_dump(config), encoding="utf-8")
        shutil.copy(RULES, tmp_path / RULES.name)
        result = _promtool("check", "config", str(tmp_path / CONFIG.name))
        output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS: 1 rule files found" in output or "careassist.rules.yml" in output, output


def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_tests_pass_and_the_crisis_spike_fires() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    firing = {
        case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", []) if case["exp_alerts"]
    }
    assert {"CareAssistCrisisDetectionSpike", "CareAssistModelStale", "CareAssistDriftDetected"} <= firing
    result = _promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    queries = _dashboard_queries()
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:query_{n}:check", "expr": expr.replace("$__rate_interval", "1m")}
                    for n, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_catches_a_broken_rule(tmp_path: Path) -> None:
    broken = RULES.read_text(encoding="utf-8").replace(
        "sum(increase(careassist_crisis_detections_total[15m])) >= 10",
        "sum(increase(careassist_crisis_detections_total[15m]) >= 10",
    )
    assert broken != RULES.read_text(encoding="utf-8")
    path = tmp_path / "broken.rules.yml"
    path.write_text(broken, encoding="utf-8")
    result = _promtool("check", "rules", str(path))
    assert result.returncode != 0
