"""The one typed settings object of the platform; every URI, name and path is defined here.

Two profiles, chosen by environment variables only (prefix ``CAREASSIST_``):

* ``embedded`` (default): SQLite files, local artifacts and an in-process cache, all under one
  data root; needs no server.
* ``production``: PostgreSQL, Redis and an S3 endpoint.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CAREASSIST_"
PROFILES = ("embedded", "production")
MODEL_NAME = "healthcare-assistant"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _check_url(field: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.hostname or parts.path.strip("/")):
        raise ValueError(
            f"{_env_name(field)}={value!r} is not a valid URL: expected a {' or '.join(schemes)}:// URL"
            " with a host"
        )
    try:
        parts.port  # noqa: B018 - raises on a non-numeric port
    except ValueError as exc:
        raise ValueError(f"{_env_name(field)}={value!r} has a malformed port: {exc}") from None
    return value


CACHE_BACKENDS = ("auto", "memory", "redis")


class Settings(BaseSettings):
    """Platform settings read from ``CAREASSIST_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    profile: str = Field("embedded", description="embedded (default, no servers) or production")
    data_root: Path = Field(Path(".platform"), description="local state: SQLite files, logs, Airflow home")
    shared_data_dir: Path = Field(
        Path("../shared/data"), description="folder of the public datasets (optional; see docs)"
    )

    # Data layer
    raw_uri: str = Field("", description="where raw batches are read from (folder or s3://bucket/prefix)")
    datasets_uri: str = Field("", description="where snapshots, staging and quarantine live")
    include_public_data: bool = Field(False, description="also ingest the public datasets of shared_data_dir")
    min_rows_per_category: int = Field(100, ge=1)
    max_text_chars: int = Field(40_000, ge=1, description="longest message a dataset may hold (the API limit is separate)")
    max_duplicate_rate: float = Field(0.5, ge=0.0, le=1.0)

    # Production services
    database_url: str = Field(
        "", description="PostgreSQL server DSN, e.g. postgresql://postgres@127.0.0.1:5432"
    )
    airflow_database: str = "careassist_airflow"
    mlflow_database: str = "careassist_mlflow"
    feast_database: str = "careassist_feast"
    redis_url: str = Field("", description="Redis URL for cache and online features (production)")
    s3_endpoint_url: str = Field("", description="S3 endpoint (MinIO, moto, AWS); empty means AWS")
    s3_bucket: str = Field("careassist", description="bucket for artifacts and offline data")
    s3_region: str = "us-east-1"

    # Registry and serving
    model_name: str = MODEL_NAME
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    mlflow_port: int = Field(5000, ge=1, le=65535)
    airflow_port: int = Field(8080, ge=1, le=65535)
    mlflow_uri: str = Field(
        "", description="MLflow tracking server URL; empty means the backend store directly (no server)"
    )

    # Promotion gates (see careassist.gates)
    gate_min_macro_f1: float = Field(0.85, ge=0.0, le=1.0, description="macro-F1 floor on the evaluation split")
    gate_max_f1_drop: float = Field(
        0.01, ge=0.0, le=1.0, description="how much worse than production a candidate's macro-F1 may be"
    )
    gate_latency_p99_ms: float = Field(
        5.0, gt=0.0, description="in-process p99 of one answer; the bench target is 2 ms, this leaves room for noise"
    )

    # The HTTP service (serving/)
    api_key_hashes: str = Field(
        "", description="comma-separated sha256 hex digests of the accepted API keys (several during a rotation)"
    )
    api_keys_file: str = Field(
        "", description="file of accepted key digests, one per line (# comments); read at start, joins api_key_hashes"
    )
    rate_limit_per_minute: int = Field(600, ge=1, description="requests per API key per minute")
    cache_ttl_seconds: int = Field(3600, ge=1, description="how long an answer stays cached")
    cache_max_entries: int = Field(50_000, ge=1, description="entries of the in-process LRU and of the shared file (embedded profile)")
    cache_backend: str = Field(
        "auto",
        description="answer cache: auto (Redis in production; otherwise an in-process LRU per worker in front of "
        "one SQLite file that the workers share), memory (the LRU alone), or redis (shared by every worker; "
        "needs redis_url, on either profile)",
    )
    model_poll_seconds: float = Field(10.0, gt=0.0, description="how often the service checks the production alias")
    model_start_timeout_seconds: float = Field(
        25.0, gt=0.0,
        description="how long a worker waits for the registry at start before serving its local copy (or nothing)",
    )
    session_hash_salt: str = Field(
        "careassist-dev-salt", description="salt of the hashed session ids in audit records (set a secret in production)"
    )
    max_request_bytes: int = Field(64 * 1024, ge=1024, description="largest request body the service reads")

    # Drift detection (careassist.traffic, careassist.drift, dags/drift_detection.py)
    traffic_flush_seconds: float = Field(
        10.0, gt=0.0, description="how often a service worker writes its anonymous traffic aggregates to the store"
    )
    traffic_retention_hours: int = Field(
        24 * 14, ge=1, description="how long the hourly traffic aggregates are kept (Redis TTL, SQLite pruning)"
    )
    drift_window_hours: int = Field(24, ge=1, description="served traffic a drift check compares: the hours before it")
    drift_psi_threshold: float = Field(
        0.2, gt=0.0, description="population stability index from which a signal counts as drifted"
    )
    drift_chi2_alpha: float = Field(
        0.01, gt=0.0, lt=1.0, description="the category mix drifts only when its chi-square p-value is also below this"
    )
    drift_min_requests: int = Field(
        500, ge=1, description="fewer served requests in the window than this: no verdict, never a retrain"
    )
    pushgateway_url: str = Field(
        "", description="Prometheus Pushgateway the drift check pushes to (job careassist_drift); empty: file only"
    )

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(
                f"{_env_name('profile')}={value!r} is not a known profile: use one of {', '.join(PROFILES)}"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        if value:
            _check_url("database_url", value, ("postgresql", "postgresql+psycopg2", "postgres"))
        return value

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, value: str) -> str:
        return _check_url("redis_url", value, ("redis", "rediss")) if value else value

    @field_validator("mlflow_uri")
    @classmethod
    def _valid_mlflow_uri(cls, value: str) -> str:
        return _check_url("mlflow_uri", value, ("http", "https")) if value else value

    @field_validator("api_key_hashes")
    @classmethod
    def _valid_key_hashes(cls, value: str) -> str:
        bad = [h for h in (part.strip() for part in value.split(",")) if h and not _SHA256_HEX.fullmatch(h.lower())]
        if bad:
            raise ValueError(
                f"{_env_name('api_key_hashes')} holds {len(bad)} value(s) that are not sha256 hex digests"
                " (64 characters 0-9a-f); store digests, never the keys themselves"
            )
        return value

    @property
    def api_key_digests(self) -> frozenset[str]:
        """The accepted key digests: ``api_key_hashes`` plus the lines of ``api_keys_file``."""
        digests = {h.strip().lower() for h in self.api_key_hashes.split(",") if h.strip()}
        if self.api_keys_file:
            path = Path(self.api_keys_file)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise SettingsError(f"{_env_name('api_keys_file')}={path}: cannot read it ({exc.strerror})") from None
            for number, line in enumerate(lines, 1):
                entry = line.split("#", 1)[0].strip().lower()
                if not entry:
                    continue
                if not _SHA256_HEX.fullmatch(entry):
                    raise SettingsError(f"{path}:{number}: not a sha256 hex digest")
                digests.add(entry)
        return frozenset(digests)

    @field_validator("s3_endpoint_url")
    @classmethod
    def _valid_s3_endpoint(cls, value: str) -> str:
        return _check_url("s3_endpoint_url", value, ("http", "https")) if value else value

    @field_validator("pushgateway_url")
    @classmethod
    def _valid_pushgateway_url(cls, value: str) -> str:
        return _check_url("pushgateway_url", value, ("http", "https")) if value else value

    @field_validator("raw_uri", "datasets_uri")
    @classmethod
    def _valid_storage_uri(cls, value: str) -> str:
        if "://" in value and not value.startswith("s3://"):
            raise ValueError(f"{value!r} is neither a local folder nor an s3:// URI")
        return value

    @field_validator("cache_backend")
    @classmethod
    def _known_cache_backend(cls, value: str) -> str:
        if value not in CACHE_BACKENDS:
            raise ValueError(f"{_env_name('cache_backend')}={value!r}: use one of {', '.join(CACHE_BACKENDS)}")
        return value

    @model_validator(mode="after")
    def _redis_cache_needs_redis(self) -> Settings:
        if self.cache_backend == "redis" and not self.redis_url:
            raise ValueError(f"{_env_name('cache_backend')}=redis needs {_env_name('redis_url')}")
        return self

    @model_validator(mode="after")
    def _production_needs_services(self) -> Settings:
        if self.profile == "production":
            missing = [
                _env_name(name) for name in ("database_url", "redis_url") if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"the production profile needs {' and '.join(missing)}")
        return self

    # Derived locations: defined here once, used everywhere.
    @property
    def is_production(self) -> bool:
        return self.profile == "production"

    @property
    def root(self) -> Path:
        return self.data_root.resolve()

    @property
    def raw_location(self) -> str:
        return self.raw_uri or str(self.root / "raw")

    @property
    def datasets_location(self) -> str:
        if self.datasets_uri:
            return self.datasets_uri
        if self.is_production:
            return f"s3://{self.s3_bucket}/datasets"
        return str(self.root / "datasets")

    @property
    def artifacts_location(self) -> str:
        if self.is_production:
            return f"s3://{self.s3_bucket}/mlflow-artifacts"
        return str(self.root / "mlflow" / "artifacts")

    @property
    def offline_store_location(self) -> str:
        if self.is_production:
            return f"s3://{self.s3_bucket}/feast/offline"
        return str(self.root / "feast" / "offline")

    def _postgres(self, database: str) -> str:
        return f"{self.database_url.rstrip('/')}/{database}"

    @property
    def airflow_db_uri(self) -> str:
        if self.is_production:
            return self._postgres(self.airflow_database).replace("postgresql://", "postgresql+psycopg2://", 1)
        return f"sqlite:///{self.root / 'airflow' / 'airflow.db'}"

    @property
    def mlflow_backend_uri(self) -> str:
        if self.is_production:
            return self._postgres(self.mlflow_database)
        return f"sqlite:///{self.root / 'mlflow' / 'mlflow.db'}"

    @property
    def mlflow_tracking_uri(self) -> str:
        """The tracking server when one is configured, else its backend store (same registry)."""
        return self.mlflow_uri or self.mlflow_backend_uri

    @property
    def feast_registry_uri(self) -> str:
        if self.is_production:
            return self._postgres(self.feast_database).replace("postgresql://", "postgresql+psycopg2://", 1)
        return str(self.root / "feast" / "registry.db")

    @property
    def feast_online_path(self) -> str:
        return str(self.root / "feast" / "online.db")

    @property
    def models_dir(self) -> Path:
        """Where ``healthcare-ai train`` writes model files outside the registry."""
        return self.root / "models"

    @property
    def monitoring_dir(self) -> Path:
        """Traffic aggregates (embedded profile) and the drift check's metrics file."""
        return self.root / "monitoring"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}@production"

    def environment(self) -> dict[str, str]:
        """These settings as ``CAREASSIST_*`` variables: a child process (an Airflow task, a server)
        built from them gets the same settings, whatever the parent's own environment holds."""
        values = {name: value.resolve() if isinstance(value, Path) else value for name, value in self.model_dump().items()}
        return {_env_name(name): str(value) for name, value in values.items()}


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and overrides), turning errors into one clear message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "settings"
            message = err["msg"].removeprefix("Value error, ")
            lines.append(message if ENV_PREFIX in message else f"{_env_name(field)}: {message}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once on first use (never at import time)."""
    return load_settings()
