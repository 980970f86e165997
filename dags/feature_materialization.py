"""Feature materialization: copy the online views' rows of each hour's interval to the online store.

The orchestrator owns the interval (``data_interval_start``/``end``): stateless, idempotent and
backfillable (``airflow backfill create --dag-id feature_materialization --from-date ... --to-date ...``);
never ``materialize-incremental``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from careassist.orchestration import DEFAULT_ARGS


@dag(
    dag_id="feature_materialization",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["careassist", "features", "feast"],
    doc_md=__doc__,
)
def feature_materialization() -> None:
    @task
    def materialize():  # type: ignore[no-untyped-def]
        from careassist.features import materialize_interval
        from careassist.settings import get_settings

        context = get_current_context()
        done = materialize_interval(get_settings(), context["data_interval_start"], context["data_interval_end"])
        return {"views": list(done.views), "start": done.start.isoformat(), "end": done.end.isoformat(),
                "seconds": round(done.seconds, 3)}

    materialize()


feature_materialization()
