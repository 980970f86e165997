"""Raw-data watch: emits the raw-data asset event when the raw location's files change.

That event triggers ``training_pipeline`` (data-aware scheduling). No change: the task is skipped
and no event is emitted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Asset, dag, task

from careassist.orchestration import DEFAULT_ARGS, RAW_ASSET_NAME, RAW_ASSET_URI

RAW_DATA = Asset(name=RAW_ASSET_NAME, uri=RAW_ASSET_URI)


@dag(
    dag_id="raw_data_watch",
    schedule="*/10 * * * *",
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["careassist", "data"],
    doc_md=__doc__,
)
def raw_data_watch() -> None:
    @task(outlets=[RAW_DATA])
    def detect_new_raw_data():  # type: ignore[no-untyped-def]
        from airflow.sdk.exceptions import AirflowSkipException

        from careassist.pipeline import detect_raw_change
        from careassist.settings import get_settings

        change = detect_raw_change(get_settings())
        if change is None:
            raise AirflowSkipException("the raw location has not changed")
        return change

    detect_new_raw_data()


raw_data_watch()
