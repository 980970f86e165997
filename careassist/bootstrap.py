"""First-run set-up of the stores a profile needs: folders, the bucket, the databases, raw data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from careassist.storage import Location, ensure_bucket

if TYPE_CHECKING:
    from careassist.settings import Settings


def create_databases(settings: Settings) -> list[str]:
    """Create the PostgreSQL databases of Airflow, MLflow and Feast if they are missing."""
    import psycopg2
    from psycopg2 import sql

    wanted = (settings.airflow_database, settings.mlflow_database, settings.feast_database)
    try:
        connection = psycopg2.connect(f"{settings.database_url.rstrip('/')}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise ConnectionError(f"CAREASSIST_DATABASE_URL: cannot connect to PostgreSQL: {exc}".strip()) from None
    connection.autocommit = True
    created = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database")
        existing = {row[0] for row in cursor.fetchall()}
        for name in wanted:
            if name not in existing:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
    connection.close()
    return created


def initialise(settings: Settings, *, seed_raw: bool = True) -> dict[str, Any]:
    """Prepare the profile's stores; idempotent. Returns what was found and done."""
    done: dict[str, Any] = {"profile": settings.profile, "data_root": str(settings.root)}
    for folder in ("airflow", "mlflow", "feast", "logs"):
        (settings.root / folder).mkdir(parents=True, exist_ok=True)
    if settings.is_production:
        ensure_bucket(settings)
        done["bucket"] = settings.s3_bucket
        done["databases_created"] = create_databases(settings)
    raw = Location(settings.raw_location, settings)
    if seed_raw and not raw.list_files():
        from careassist.corpus import export_seed_corpus

        done["seeded_raw"] = export_seed_corpus(raw)
    done["raw_location"] = raw.uri
    return done


def check_services(settings: Settings) -> dict[str, str]:
    """Reach each service the profile uses; ``ok`` or the reason it is not reachable."""
    status: dict[str, str] = {}
    if not settings.is_production:
        return {"profile": "embedded: no services needed"}
    import psycopg2
    import redis

    try:
        psycopg2.connect(f"{settings.database_url.rstrip('/')}/postgres", connect_timeout=3).close()
        status["postgresql"] = "ok"
    except psycopg2.OperationalError as exc:
        status["postgresql"] = f"unreachable: {str(exc).strip().splitlines()[0]}"
    try:
        redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2).ping()
        status["redis"] = "ok"
    except redis.RedisError as exc:
        status["redis"] = f"unreachable: {exc}"
    try:
        Location(f"s3://{settings.s3_bucket}", settings).exists("_probe")
        status["s3"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
        status["s3"] = f"unreachable: {exc}"
    return status
