"""Drift detection: each hour, served traffic of the last window against the training baseline.

collect_traffic -> compare_with_baseline -> report_drift. Thin on purpose: every step is a function
of ``careassist.drift``. Only anonymous aggregates travel (counts per label and per histogram bin).
The report is an MLflow run in ``healthcare-assistant-drift`` and Prometheus gauges
(``careassist_drift_*``). When drift passes the threshold, ``report_drift`` emits the drift asset,
which triggers ``training_pipeline``; otherwise it is skipped and no event is emitted. Without a
production model there is nothing to compare: the run is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, get_current_context, task

from careassist.orchestration import DEFAULT_ARGS, DRIFT_ASSET_NAME, DRIFT_ASSET_URI

DRIFT_RETRAIN = Asset(name=DRIFT_ASSET_NAME, uri=DRIFT_ASSET_URI)


def _settings():  # type: ignore[no-untyped-def]
    from careassist.settings import get_settings

    return get_settings()


@dag(
    dag_id="drift_detection",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["careassist", "monitoring", "drift"],
    doc_md=__doc__,
)
def drift_detection() -> None:
    @task
    def collect_traffic():  # type: ignore[no-untyped-def]
        from careassist import drift

        # The window ends where the run's interval does: a re-run of the interval reads the same hours.
        return drift.collect_traffic(_settings(), get_current_context()["data_interval_end"])

    @task
    def compare_with_baseline(collected):  # type: ignore[no-untyped-def]
        from airflow.sdk.exceptions import AirflowSkipException

        from careassist import drift

        try:
            return drift.compare_with_baseline(_settings(), collected)
        except drift.NoBaseline as exc:
            raise AirflowSkipException(str(exc)) from exc

    @task(outlets=[DRIFT_RETRAIN])
    def report_drift(compared):  # type: ignore[no-untyped-def]
        from airflow.sdk.exceptions import AirflowSkipException

        from careassist import drift

        result = drift.report_drift(_settings(), compared)
        if not result["detected"]:
            # Skipped, not failed: the report is logged, and no asset event means no retrain.
            raise AirflowSkipException(f"no drift to act on ({result['status']}): {result['scores']}")
        get_current_context()["outlet_events"][DRIFT_RETRAIN].extra = {
            k: result[k] for k in ("drifted", "scores", "requests", "run_id", "window_end", "model_version")
        }
        return result

    report_drift(compare_with_baseline(collect_traffic()))


drift_detection()
