"""The Feast feature store: definitions, offline sources, training sets, materialization, serving reads.

Configuration is built in Python from :class:`~careassist.settings.Settings`: the profile's
``feature_repo/feature_store*.yaml`` holds only the shape, with ``${...}`` placeholders that
:func:`feast_environment` fills from the settings, so no path or URL is written twice. The repo's
file sources name a file inside the offline store location and are bound to it here.

Module level stays light (no pandas, no Feast): the serving client is on the request path.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore, RepoConfig

    from careassist.settings import Settings

log = logging.getLogger(__name__)

#: The Feast project; Redis keys and SQLite tables are namespaced by it.
PROJECT = "careassist"
#: Feature services (defined in feature_repo/services.py under these names).
SESSION_SERVICE = "session_context_v1"
MODEL_SERVICE = "assistant_features_v1"
LABELS_SERVICE = "training_labels_v1"

REPO_PATH = Path(__file__).resolve().parent.parent / "feature_repo"
#: ``${NAME}`` as Feast's own loader (``os.path.expandvars``) reads it in feature_store.yaml.
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TEMPLATES = {"embedded": "feature_store.yaml", "production": "feature_store.production.yaml"}

#: Columns of a snapshot that the offline sources need (see ``careassist.ingest.SNAPSHOT_COLUMNS``).
CONVERSATION_COLUMNS = (
    "conversation_id",
    "session_id",
    "text",
    "label",
    "source",
    "kind",
    "dataset_version",
    "event_timestamp",
)
CRISIS_LABEL = "crisis"
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
#: Session context is read as it stood just before a message arrived, as serving reads it before
#: pushing that message: without the shift the row written by the message itself (its own label
#: as ``last_category``) would be joined to it, which is label leakage.
JUST_BEFORE = timedelta(microseconds=1)

SESSION_DEFAULTS: dict[str, Any] = {
    "messages_24h": 0,
    "crisis_flags_7d": 0,
    "last_category": "",
    "distinct_categories": [],
    "last_message_at": 0,
    "last_crisis_at": 0,
}
MAX_SESSION_ID = 128


class FeatureStoreError(RuntimeError):
    """The feature store could not do what was asked; the message names the URI or view at fault."""


class FeatureDataError(ValueError):
    """Data given to the feature store does not have the expected schema or values."""


class InvalidSessionId(ValueError):
    """A session id is empty, too long, unprintable or contains whitespace."""


class InvalidInterval(ValueError):
    """A materialization interval is empty, reversed or has naive datetimes."""


# -- configuration ----------------------------------------------------------------------------
def _redis_connection_string(redis_url: str) -> str:
    """Turn ``redis://[:password@]host:port/db`` into Feast's ``host:port,db=N,...`` form."""
    parts = urlsplit(redis_url)
    db = parts.path.strip("/") or "0"
    options = [f"{parts.hostname}:{parts.port or 6379}", f"db={db}"]
    if parts.password:
        options.append(f"password={unquote(parts.password)}")
    if parts.username:
        options.append(f"username={unquote(parts.username)}")
    if parts.scheme == "rediss":
        options.append("ssl=true")
    # A dead Redis must fail fast: the serving client turns the failure into defaults.
    options += ["socket_connect_timeout=0.5", "socket_timeout=0.5"]
    return ",".join(options)


def feast_environment(settings: Settings) -> dict[str, str]:
    """The values of the ``${...}`` placeholders of the profile's feature_store yaml."""
    online = _redis_connection_string(settings.redis_url) if settings.is_production else settings.feast_online_path
    return {
        "CAREASSIST_FEAST_PROJECT": PROJECT,
        "CAREASSIST_FEAST_REGISTRY": settings.feast_registry_uri,
        "CAREASSIST_FEAST_ONLINE_STORE": online,
    }


def repo_config(settings: Settings) -> RepoConfig:
    """The Feast ``RepoConfig`` of the active profile: the yaml template filled from settings."""
    import yaml
    from feast import RepoConfig

    template = REPO_PATH / _TEMPLATES[settings.profile]
    values = feast_environment(settings)

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise FeatureStoreError(f"{template}: placeholder ${{{match.group(1)}}} has no value in the settings")
        return values[match.group(1)]

    text = _PLACEHOLDER.sub(fill, template.read_text(encoding="utf-8"))
    return RepoConfig(**yaml.safe_load(text), repo_path=REPO_PATH)


def _ensure_s3_filesystem() -> None:
    """Let the file offline store (Dask, through fsspec) read ``s3://`` without the s3fs package.

    s3fs is not a dependency of the platform (its aiobotocore pins would fight boto3's); pyarrow's
    native S3 filesystem, which Feast itself uses for file sources, serves fsspec instead. Nothing
    is registered when s3fs is installed.
    """
    import fsspec
    from fsspec.implementations.arrow import ArrowFSWrapper
    from pyarrow import fs

    try:
        fsspec.get_filesystem_class("s3")
        return
    except ImportError:
        pass

    class ArrowS3FileSystem(ArrowFSWrapper):  # type: ignore[misc]
        """fsspec's ``s3`` protocol over ``pyarrow.fs.S3FileSystem`` (s3fs-style options accepted)."""

        protocol = ("s3", "s3a")
        root_marker = ""

        def __init__(
            self,
            client_kwargs: dict[str, Any] | None = None,
            key: str | None = None,
            secret: str | None = None,
            token: str | None = None,
            **kwargs: Any,
        ) -> None:
            options: dict[str, Any] = {"access_key": key, "secret_key": secret, "session_token": token}
            endpoint = (client_kwargs or {}).get("endpoint_url")
            if endpoint:
                options["endpoint_override"] = endpoint
            options = {k: v for k, v in options.items() if v}
            super().__init__(fs.S3FileSystem(**options), **kwargs)

    fsspec.register_implementation("s3", ArrowS3FileSystem, clobber=True)
    fsspec.register_implementation("s3a", ArrowS3FileSystem, clobber=True)


def feature_store(settings: Settings) -> FeatureStore:
    """A FeatureStore for the settings' profile (local folders are created when missing)."""
    from feast import FeatureStore

    if settings.is_production:
        _ensure_s3_filesystem()
    else:
        Path(settings.feast_registry_uri).parent.mkdir(parents=True, exist_ok=True)
        Path(settings.feast_online_path).parent.mkdir(parents=True, exist_ok=True)
    return FeatureStore(repo_path=str(REPO_PATH), config=repo_config(settings))


# -- definitions ------------------------------------------------------------------------------
def _offline_uri(settings: Settings, name: str) -> str:
    from careassist.storage import join

    return join(settings.offline_store_location, name)


def load_definitions(settings: Settings) -> list[Any]:
    """Import feature_repo/ afresh and bind its file sources to the profile's offline location.

    Fresh modules each time (as ``feast apply`` does in its own process): binding mutates the
    sources, so two settings in one process must not share them.
    """
    from feast import Entity, FeatureService, FeatureView, FileSource, OnDemandFeatureView
    from feast.data_source import DataSource

    names = sorted(p.stem for p in REPO_PATH.glob("*.py") if not p.stem.startswith("_"))
    saved_path = list(sys.path)
    sys.path.insert(0, str(REPO_PATH))
    for name in names:
        sys.modules.pop(name, None)
    try:
        modules = [importlib.import_module(name) for name in names]
    finally:
        sys.path[:] = saved_path
        for name in names:
            sys.modules.pop(name, None)
    kinds = (Entity, FeatureView, OnDemandFeatureView, FeatureService, DataSource)
    objects: list[Any] = []
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, kinds) and not any(value is seen for seen in objects):
                objects.append(value)
    for value in list(objects):
        source = value.batch_source if isinstance(value, FeatureView) else None
        if source is not None and not any(source is seen for seen in objects):
            objects.append(source)
    for value in objects:
        if isinstance(value, FileSource) and "://" not in value.path and not Path(value.path).is_absolute():
            value.file_options.uri = _offline_uri(settings, value.path)
            value.file_options.s3_endpoint_override = settings.s3_endpoint_url if settings.is_production else ""
    return objects


def apply_definitions(settings: Settings) -> list[str]:
    """Register the feature repo's definitions in the profile's registry; returns their names."""
    objects = load_definitions(settings)
    store = feature_store(settings)
    try:
        with warnings.catch_warnings():
            # Feast calls every on-demand view "experimental" on apply; ours is a plain Python UDF.
            warnings.filterwarnings(
                "ignore", message="On demand feature view is an experimental", category=RuntimeWarning
            )
            store.apply(objects)
    except Exception as exc:
        raise FeatureStoreError(
            f"cannot apply the feature definitions to {settings.feast_registry_uri}: {exc}"
        ) from exc
    return sorted(obj.name for obj in objects)


def _file_of(settings: Settings, source_name: str) -> str:
    """The offline file a repo source is bound to (its relative path names the file)."""
    from feast import FileSource

    for obj in load_definitions(settings):
        if isinstance(obj, FileSource) and obj.name == source_name:
            return obj.path
    raise FeatureStoreError(f"{REPO_PATH}: no file source named {source_name!r}")


# -- offline sources --------------------------------------------------------------------------
def conversations_frame(snapshot: pd.DataFrame) -> pd.DataFrame:
    """The conversation source rows of a snapshot, after a schema check (drift is an error)."""
    import pandas as pd

    missing = [c for c in CONVERSATION_COLUMNS if c not in snapshot.columns]
    if missing:
        raise FeatureDataError(
            f"snapshot frame lacks column(s) {', '.join(missing)}; has {', '.join(snapshot.columns)}"
        )
    frame = snapshot[list(CONVERSATION_COLUMNS)].copy()
    stamps = frame["event_timestamp"]
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        raise FeatureDataError(f"snapshot column 'event_timestamp' must be tz-aware datetimes, got {stamps.dtype}")
    if stamps.isna().any():
        raise FeatureDataError(f"snapshot column 'event_timestamp' is empty in {int(stamps.isna().sum())} row(s)")
    for column in ("conversation_id", "label"):
        if frame[column].isna().any() or (frame[column].astype(str) == "").any():
            raise FeatureDataError(f"snapshot column {column!r} has empty values")
    if frame["conversation_id"].duplicated().any():
        first = frame.loc[frame["conversation_id"].duplicated(), "conversation_id"].iloc[0]
        raise FeatureDataError(f"snapshot column 'conversation_id' repeats {first!r}")
    for column in ("conversation_id", "text", "label", "source", "kind", "dataset_version"):
        frame[column] = frame[column].astype(str)
    frame["session_id"] = frame["session_id"].astype(object).where(frame["session_id"].notna(), None)
    frame["event_timestamp"] = stamps.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return frame.sort_values("conversation_id", kind="stable").reset_index(drop=True)


def session_activity_frame(conversations: pd.DataFrame) -> pd.DataFrame:
    """Batch transformation: session activity as of each message of a session.

    One row per message with a session id: messages in the 24 h up to and including it, crisis
    flags in the 7 days up to it, its category, the distinct categories of the session so far,
    and the times (Unix seconds) of the last message and last crisis flag.
    """
    import numpy as np
    import pandas as pd

    rows = conversations.loc[conversations["session_id"].notna(), ["session_id", "label", "event_timestamp"]]
    rows = rows.sort_values(["session_id", "event_timestamp", "label"], kind="stable").reset_index(drop=True)
    if rows.empty:
        return pd.DataFrame(
            {
                "session_id": pd.Series(dtype=object),
                **{k: pd.Series(dtype=object) for k in SESSION_DEFAULTS},
                "event_timestamp": pd.Series(dtype="datetime64[us, UTC]"),
            }
        )
    crisis = rows["label"].eq(CRISIS_LABEL).astype("int64")
    indexed = rows.assign(_one=1, _crisis=crisis).set_index("event_timestamp")
    grouped = indexed.groupby("session_id", sort=False)
    messages = grouped["_one"].rolling(DAY).sum().to_numpy()
    flags = grouped["_crisis"].rolling(WEEK).sum().to_numpy()

    seconds = rows["event_timestamp"].astype("int64").to_numpy() // 10**6
    crisis_seconds = pd.Series(np.where(crisis.to_numpy() == 1, seconds, np.nan))
    last_crisis = crisis_seconds.groupby(rows["session_id"]).ffill().fillna(0).astype("int64")

    seen: dict[str, set[str]] = {}
    categories = []
    for session_id, label in zip(rows["session_id"].tolist(), rows["label"].tolist(), strict=True):
        labels = seen.setdefault(session_id, set())
        labels.add(label)
        categories.append(sorted(labels))
    return pd.DataFrame(
        {
            "session_id": rows["session_id"].astype(str),
            "messages_24h": messages.astype("int64"),
            "crisis_flags_7d": flags.astype("int64"),
            "last_category": rows["label"].astype(str),
            "distinct_categories": categories,
            "last_message_at": seconds.astype("int64"),
            "last_crisis_at": last_crisis.to_numpy(),
            "event_timestamp": rows["event_timestamp"],
        }
    )


def write_offline_sources(settings: Settings, snapshot: pd.DataFrame) -> dict[str, str]:
    """Write a snapshot's conversations and their session activity as the offline parquet files."""
    from careassist.ingest import to_parquet_bytes
    from careassist.storage import Location, StorageError

    conversations = conversations_frame(snapshot)
    activity = session_activity_frame(conversations)
    location = Location(settings.offline_store_location, settings)
    written = {}
    # Both frames are computed before anything is written; each file is replaced in one step.
    for source, frame in (("conversations", conversations), ("session_activity_batch", activity)):
        name = _file_of(settings, source)
        try:
            written[source] = location.write_bytes(Path(name).name, to_parquet_bytes(frame))
        except (StorageError, OSError) as exc:
            raise FeatureStoreError(f"cannot write the offline source {source} to {location.uri}: {exc}") from exc
    log.info("offline sources: %d conversations, %d session activity rows", len(conversations), len(activity))
    return written


def _read_offline(settings: Settings, source: str) -> pd.DataFrame:
    import io

    import pyarrow.parquet as pq

    from careassist.storage import Location, StorageError

    location = Location(settings.offline_store_location, settings)
    name = Path(_file_of(settings, source)).name
    try:
        return pq.read_table(io.BytesIO(location.read_bytes(name))).to_pandas()
    except FileNotFoundError:
        raise FeatureStoreError(
            f"{location.path_of(name)}: no offline source {source}; run write_offline_sources first"
        ) from None
    except StorageError as exc:
        raise FeatureStoreError(str(exc)) from exc


# -- training sets ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingSet:
    """A point-in-time training set and the sha256 of its canonical content."""

    frame: pd.DataFrame
    sha256: str
    cutoff: datetime

    @property
    def rows(self) -> int:
        return len(self.frame)


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise InvalidInterval(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInterval(f"{name}={value.isoformat()} has no time zone; pass an aware datetime (UTC)")


def frame_sha256(frame: pd.DataFrame) -> str:
    """A hash of a frame's columns and values, independent of where or when it was computed."""
    canonical = frame.to_json(orient="split", index=False, date_format="iso", date_unit="us")
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _historical(store: FeatureStore, entity_df: pd.DataFrame, features: Any, what: str) -> pd.DataFrame:
    try:
        return store.get_historical_features(entity_df=entity_df, features=features).to_df()
    except Exception as exc:
        raise FeatureStoreError(f"historical retrieval of {what} failed: {exc}") from exc


def _on_demand_features(store: FeatureStore, service: Any, spine: pd.DataFrame) -> pd.DataFrame:
    """The service's on-demand features for every spine row, by the registered transformation.

    Run here rather than inside ``get_historical_features``: there they ride on the rows the file
    store keeps, and it drops rows whose session context expired (see :func:`training_set`).
    """
    import pandas as pd

    frame = pd.DataFrame({"conversation_id": spine["conversation_id"]})
    on_demand = {view.name: view for view in store.list_on_demand_feature_views()}
    for projection in service.feature_view_projections:
        view = on_demand.get(projection.name)
        if view is None:
            continue  # a stored view, joined by Feast
        inputs = {name: spine[name].tolist() for name in view.get_request_data_schema()}
        output = view.transform_dict(inputs)
        for feature in projection.features:
            frame[feature.name] = output[feature.name]
    return frame


def training_set(settings: Settings, cutoff: datetime) -> TrainingSet:
    """The training set as of ``cutoff``: every message up to it, with point-in-time features.

    Labels come from the conversation view at the message's time; session context from the
    model's feature service just before it (:data:`JUST_BEFORE`), and its request-time text
    features from the registered transformation. The file offline store drops an entity row
    outright when every feature row it matches lies outside the view's TTL (or after the row's
    time, as for a session's first message), so the result is rebuilt on the spine: every message
    is present, with defaults for a session context that is absent or expired.
    """
    import pandas as pd

    _require_aware("cutoff", cutoff)
    conversations = _read_offline(settings, "conversations")
    spine = conversations.loc[
        conversations["event_timestamp"] <= pd.Timestamp(cutoff),
        ["conversation_id", "session_id", "text", "event_timestamp"],
    ]
    spine = spine.sort_values("conversation_id", kind="stable").reset_index(drop=True)
    if spine.empty:
        raise FeatureDataError(
            f"no conversation at or before {cutoff.isoformat()} in {settings.offline_store_location}"
        )
    store = feature_store(settings)
    labels = _historical(
        store, spine[["conversation_id", "event_timestamp"]], store.get_feature_service(LABELS_SERVICE), LABELS_SERVICE
    )
    service = store.get_feature_service(MODEL_SERVICE)
    on_demand = _on_demand_features(store, service, spine)
    stored_refs = [
        f"{p.name}:{f.name}" for p in service.feature_view_projections for f in p.features if f.name not in on_demand
    ]
    context_spine = spine[["conversation_id", "session_id", "event_timestamp"]].assign(
        session_id=spine["session_id"].fillna("").astype(str),
        event_timestamp=spine["event_timestamp"] - JUST_BEFORE,
    )
    context = _historical(store, context_spine, stored_refs, MODEL_SERVICE)

    label_columns = [c for c in labels.columns if c not in ("event_timestamp", "text")]
    context_columns = [c for c in context.columns if c not in ("event_timestamp", "session_id")]
    frame = spine.merge(labels[label_columns], on="conversation_id", how="left", validate="one_to_one")
    frame = frame.merge(context[context_columns], on="conversation_id", how="left", validate="one_to_one")
    frame = frame.merge(on_demand, on="conversation_id", how="left", validate="one_to_one")
    if len(frame) != len(spine) or frame["label"].isna().any():
        raise FeatureStoreError(f"training set lost messages: {len(frame)} rows for {len(spine)}, or labels missing")
    for column, default in SESSION_DEFAULTS.items():
        if column not in frame.columns:
            continue
        if isinstance(default, list):
            frame[column] = [[str(v) for v in value] if _is_sequence(value) else [] for value in frame[column]]
        else:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), default).astype(type(default))
    frame = frame[sorted(frame.columns, key=lambda c: (c != "conversation_id", c))]
    frame = frame.sort_values("conversation_id", kind="stable").reset_index(drop=True)
    return TrainingSet(frame=frame, sha256=frame_sha256(frame), cutoff=cutoff)


def _is_sequence(value: object) -> bool:
    return isinstance(value, list | tuple) or hasattr(value, "tolist")


# -- materialization --------------------------------------------------------------------------
@dataclass(frozen=True)
class Materialization:
    """What one materialization run wrote: the views and the interval."""

    views: tuple[str, ...]
    start: datetime
    end: datetime
    seconds: float


def materialize_interval(settings: Settings, start: datetime, end: datetime) -> Materialization:
    """Copy the online views' latest rows of ``[start, end)`` to the online store.

    Stateless (no ``materialize-incremental`` bookkeeping) and idempotent: a re-run of the same
    interval writes the same values. The orchestrator owns the interval
    (``data_interval_start``/``end``). Redis ignores rows older than what it holds, so a backfill
    never regresses it; SQLite (embedded) is last-write-wins, so after a backfill there, re-run
    the latest interval.
    """
    _require_aware("start", start)
    _require_aware("end", end)
    if start >= end:
        raise InvalidInterval(f"empty interval: start {start.isoformat()} is not before end {end.isoformat()}")
    store = feature_store(settings)
    views = tuple(sorted(fv.name for fv in store.list_feature_views() if fv.online))
    if not views:
        raise FeatureStoreError(f"no online feature view in {settings.feast_registry_uri}; run apply_definitions")
    began = time.perf_counter()
    try:
        store.materialize(start_date=start, end_date=end, feature_views=list(views))
    except Exception as exc:
        raise FeatureStoreError(
            f"materializing {', '.join(views)} for [{start.isoformat()}, {end.isoformat()}) failed: {exc}"
        ) from exc
    return Materialization(views, start, end, time.perf_counter() - began)


# -- serving ----------------------------------------------------------------------------------
def validate_session_id(session_id: object) -> str:
    """Return the session id if it is 1-128 printable characters without whitespace."""
    if not isinstance(session_id, str):
        raise InvalidSessionId(f"session id must be a string, got {type(session_id).__name__}")
    if not 1 <= len(session_id) <= MAX_SESSION_ID:
        raise InvalidSessionId(f"session id must have 1-{MAX_SESSION_ID} characters, got {len(session_id)}")
    if not session_id.isprintable() or any(ch.isspace() for ch in session_id):
        raise InvalidSessionId(f"session id {session_id[:40]!r} contains whitespace or unprintable characters")
    return session_id


def next_activity(current: dict[str, Any], category: str, crisis: bool, at: datetime) -> dict[str, Any]:
    """Session activity after one more message: the windows roll forward from the last times seen.

    Approximate between batch runs (a window restarts once its last event is older than the
    window, rather than dropping each old message); the next materialization makes it exact.
    """
    now = int(at.timestamp())
    last_message, last_crisis = int(current["last_message_at"]), int(current["last_crisis_at"])
    recent = bool(last_message) and now - last_message < DAY.total_seconds()
    crisis_recent = bool(last_crisis) and now - last_crisis < WEEK.total_seconds()
    return {
        "messages_24h": (int(current["messages_24h"]) if recent else 0) + 1,
        "crisis_flags_7d": (int(current["crisis_flags_7d"]) if crisis_recent else 0) + int(crisis),
        "last_category": category,
        "distinct_categories": sorted({*current["distinct_categories"], category}),
        "last_message_at": now,
        "last_crisis_at": now if crisis else last_crisis,
    }


class _RedisReader:
    """One HMGET per read, on the hash layout Feast's Redis store writes (its own key helpers).

    Feast's SDK read resolves the service, builds protos and a response object on every call;
    this does only the network round trip and the value decoding, for the p99 < 1 ms budget.
    """

    def __init__(self, settings: Settings, views: list[tuple[str, list[str]]]) -> None:
        import redis
        from feast.infra.online_stores.helpers import _mmh3
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retry: a blip costs one request its context (defaults), never the latency budget.
        self._client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        self._features = [feature for _, features in views for feature in features]
        self._fields = [_mmh3(f"{view}:{feature}") for view, features in views for feature in features]

    def read(self, session_id: str) -> dict[str, Any]:
        from feast.infra.key_encoding_utils import serialize_entity_key
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value
        from feast.type_map import feast_value_type_to_python_type

        key = EntityKey(join_keys=["session_id"], entity_values=[Value(string_val=session_id)])
        # redis-py types keys as str, but Feast's keys are bytes; a sync client returns a list.
        raw: list[Any] = self._client.hmget(  # type: ignore[assignment]
            serialize_entity_key(key, entity_key_serialization_version=3) + PROJECT.encode(),  # type: ignore[arg-type]
            self._fields,
        )
        values: dict[str, Any] = {}
        for feature, blob in zip(self._features, raw, strict=True):
            if blob is not None:
                proto = Value()
                proto.ParseFromString(blob)
                values[feature] = feast_value_type_to_python_type(proto)
        return values


class SessionFeatureClient:
    """Reads one session's features for serving and pushes its activity; never raises from ``get``.

    The feature service is fetched once, at construction. ``get`` returns defaults for an unknown
    session, and defaults plus one count in ``degraded`` (and ``degraded_reasons``) when the id is
    malformed or the online store fails. ``read`` is the strict variant for offline use.
    With ``fast_path`` (default in production) reads go straight to Redis; otherwise Feast's SDK.
    """

    def __init__(self, settings: Settings, *, service: str = SESSION_SERVICE, fast_path: bool | None = None) -> None:
        self.settings = settings
        self.store = feature_store(settings)
        try:
            self.service = self.store.get_feature_service(service)
        except Exception as exc:
            raise FeatureStoreError(f"feature service {service!r} not in {settings.feast_registry_uri}: {exc}") from exc
        views = [(p.name, [f.name for f in p.features]) for p in self.service.feature_view_projections]
        self.features = [feature for _, features in views for feature in features]
        push_sources = {self.store.get_feature_view(name).stream_source for name, _ in views}
        self.push_source = next((s.name for s in push_sources if s is not None), None)
        self.defaults = {name: SESSION_DEFAULTS.get(name) for name in self.features}
        use_fast = settings.is_production if fast_path is None else fast_path
        if use_fast and not settings.is_production:
            raise FeatureStoreError("the fast read path needs the production profile (Redis online store)")
        self._reader = _RedisReader(settings, views) if use_fast else None
        self.degraded = 0
        self.degraded_reasons: Counter[str] = Counter()

    def _defaults(self) -> dict[str, Any]:
        return {name: list(value) if isinstance(value, list) else value for name, value in self.defaults.items()}

    def read(self, session_id: str) -> dict[str, Any]:
        """The session's features (defaults where absent); raises on a bad id or a failing store."""
        validate_session_id(session_id)
        if self._reader is not None:
            found = self._reader.read(session_id)
        else:
            response = self.store.get_online_features(features=self.service, entity_rows=[{"session_id": session_id}])
            found = {name: values[0] for name, values in response.to_dict().items() if name in self.defaults}
        result = self._defaults()
        result.update({name: value for name, value in found.items() if value is not None})
        return result

    def _degrade(self, reason: str, exc: BaseException) -> None:
        self.degraded += 1
        self.degraded_reasons[reason] += 1
        log.warning("session features degraded to defaults (%s): %s", reason, exc)

    def get(self, session_id: str) -> dict[str, Any]:
        """The session's features for the request path: defaults instead of any error."""
        try:
            return self.read(session_id)
        except InvalidSessionId as exc:
            self._degrade("invalid_session_id", exc)
        except Exception as exc:  # noqa: BLE001 - the request path must never fail on features
            self._degrade("online_store", exc)
        return self._defaults()

    def push(self, session_id: str, category: str, crisis: bool, at: datetime) -> bool:
        """Record one message's activity online (category and flag only, no text); False if degraded."""
        import pandas as pd
        from feast.data_source import PushMode

        try:
            _require_aware("at", at)
            if self.push_source is None:
                raise FeatureStoreError(f"feature service {self.service.name!r} has no push source")
            row = next_activity(self.read(session_id), category, crisis, at)
            frame = pd.DataFrame([{"session_id": session_id, **row, "event_timestamp": pd.Timestamp(at)}])
            self.store.push(self.push_source, frame, to=PushMode.ONLINE)
        except (InvalidSessionId, InvalidInterval) as exc:
            self._degrade("invalid_push", exc)
            return False
        except Exception as exc:  # noqa: BLE001 - a failed push must not fail the answer
            self._degrade("online_store", exc)
            return False
        return True
