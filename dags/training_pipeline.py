"""Training pipeline: ingest -> validate -> training set -> train -> evaluate -> gate -> register -> promote.

Thin on purpose: every step is a function of ``careassist.pipeline``. Tasks pass references (dataset
version, URIs, run id, version number), never data. Triggered by new raw data (the raw-data asset,
emitted by ``raw_data_watch``), by drift in served traffic (the drift asset, emitted by
``drift_detection``) and daily at 03:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task

from careassist.orchestration import DEFAULT_ARGS, DRIFT_ASSET_NAME, DRIFT_ASSET_URI, RAW_ASSET_NAME, RAW_ASSET_URI

RAW_DATA = Asset(name=RAW_ASSET_NAME, uri=RAW_ASSET_URI)
DRIFT_RETRAIN = Asset(name=DRIFT_ASSET_NAME, uri=DRIFT_ASSET_URI)


def _settings():  # type: ignore[no-untyped-def]
    from careassist.settings import get_settings

    return get_settings()


def _run_reference() -> str:
    context = get_current_context()
    return f"airflow:{context['dag'].dag_id}/{context['run_id']}"


@dag(
    dag_id="training_pipeline",
    # Either asset's event is enough (|); a list would wait for both.
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * *", timezone="UTC"), assets=RAW_DATA | DRIFT_RETRAIN
    ),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["careassist", "training", "mlflow"],
    doc_md=__doc__,
)
def training_pipeline() -> None:
    @task
    def ingest():  # type: ignore[no-untyped-def]
        from careassist import pipeline

        return pipeline.ingest_step(_settings())

    @task
    def validate(staged):  # type: ignore[no-untyped-def]
        from airflow.sdk.exceptions import AirflowFailException

        from careassist import pipeline
        from careassist.validation import ValidationFailed

        try:
            return pipeline.validate_step(_settings(), staged["dataset_version"])
        except ValidationFailed as exc:
            # Quarantined with its report: a retry cannot help, and production stays as it is.
            raise AirflowFailException(str(exc)) from exc

    @task
    def training_set(validated):  # type: ignore[no-untyped-def]
        from careassist import pipeline

        context = get_current_context()
        cutoff = context.get("data_interval_end") or context.get("logical_date") or datetime.now(UTC)
        return pipeline.training_set_step(_settings(), validated["dataset_version"], cutoff)

    @task
    def train(training, validated):  # type: ignore[no-untyped-def]
        from careassist import pipeline

        return pipeline.train_step(_settings(), training, validated, airflow_run=_run_reference())

    @task
    def evaluate(trained):  # type: ignore[no-untyped-def]
        from careassist import pipeline

        return pipeline.evaluate_step(_settings(), trained["run_id"])

    @task
    def gate(trained, evaluated):  # type: ignore[no-untyped-def]
        from careassist import pipeline

        return pipeline.gate_step(_settings(), trained["run_id"])

    @task
    def register(gated):  # type: ignore[no-untyped-def]
        from careassist import pipeline

        return pipeline.register_step(_settings(), gated["run_id"])

    @task
    def promote(registered):  # type: ignore[no-untyped-def]
        from airflow.sdk.exceptions import AirflowSkipException

        from careassist import pipeline

        result = pipeline.promote_step(
            _settings(), registered["version"], who=_run_reference(), why="training pipeline: gates passed"
        )
        if not result["promoted"]:
            # Skipped, not failed: the candidate stays registered with its reasons, production as it was.
            raise AirflowSkipException(
                f"version {result['version']} not promoted (production stays {result['production']}): "
                + "; ".join(result["reasons"])
            )
        return result

    validated = validate(ingest())
    trained = train(training_set(validated), validated)
    promote(register(gate(trained, evaluate(trained))))


training_pipeline()
