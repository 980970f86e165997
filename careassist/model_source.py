"""Where the HTTP service gets its model: the registry's production alias, kept as a verified local copy.

``ModelSource`` loads ``models:/<model_name>@production`` at start and keeps a verified copy of its
weights under ``<data root>/serving/models/<model_name>/`` (the newest two versions), so that a
restart works while the registry is down. It then watches the alias: when it points at another
version (a promotion or a rollback) that version is fetched, verified, warmed with one answer and
swapped in.

Only the version's ``MLmodel`` (for the sha256 of its weights) and the skops weights are
downloaded; the logged pyfunc's code is never imported or run.

The serving model is one immutable ``LoadedModel``, replaced by a single reference assignment: a
request that reads ``source.current`` once uses one model from start to end. A version that cannot
be loaded leaves the serving one in place; the failure is counted, logged and reported as a
degraded registry, never raised into a request.

MLflow is imported inside functions, so importing this module stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

from careassist.lifecycle import PRODUCTION
from careassist.registry import COMPLETE, INPUT_EXAMPLE, MODEL_FILE, STATUS_TAG

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from careassist.assistant import Assistant
    from careassist.model import AssistantModel
    from careassist.settings import Settings

log = logging.getLogger(__name__)

#: The record written next to each local copy of the weights.
RECORD_FILE = "record.json"
#: How many versions' local copies are kept (the serving one and the one before).
KEEP_LOCAL_COPIES = 2
#: The message of the warm-up answer: a readable, non-crisis question that goes through the model.
WARM_MESSAGE = INPUT_EXAMPLE[0]
#: The version reported for a model given in memory (``ModelSource.from_model``).
INJECTED = "injected"
#: Where a loaded model came from.
Origin = Literal["registry", "local_copy", "injected"]
#: What one ``check_now`` did.
CheckOutcome = Literal[
    "loaded",  # the first model
    "swapped",  # another version replaced the serving one
    "confirmed",  # the registry confirmed the version served from the local copy
    "unchanged",  # the alias still points at the serving version
    "load_failed",  # the alias's version could not be loaded; the serving one stays
    "rejected",  # the alias's version was refused before and is not retried until the alias moves
    "registry_unavailable",
    "no_production_version",
    "static",  # an injected model: nothing to watch
]
OK, DEGRADED = "ok", "degraded"
NOT_CHECKED = "the registry has not been checked yet"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_MAX_ERROR_CHARS = 500


class ModelSourceError(RuntimeError):
    """The service's model could not be obtained; the message names the URI or path at fault."""


class RegistryUnavailable(ModelSourceError):
    """The registry cannot be reached; the message names its (password-free) URI."""


class ModelLoadError(ModelSourceError):
    """A version could not be fetched; it is tried again at the next check."""


class ModelRejected(ModelLoadError):
    """A version may not serve: its registration is incomplete, its weights fail verification or
    its warm-up answer fails. It is not tried again until the alias moves."""


class LocalCopyError(ModelSourceError):
    """A local copy is missing, unreadable or not the file that was verified; names its path."""


# -- what is loaded ----------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionRef:
    """A registered version as the source needs it: lineage, its weights' URI and their sha256."""

    name: str
    version: str
    alias: str
    run_id: str | None
    dataset_version: str | None
    sha256: str
    weights_uri: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    """The serving model: one immutable object, swapped as a whole. ``assistant`` has answered
    once (the warm-up) before a ``LoadedModel`` is ever built."""

    name: str
    version: str
    alias: str
    run_id: str | None
    dataset_version: str | None
    sha256: str | None
    loaded_at: datetime
    assistant: Assistant = field(repr=False, compare=False)
    origin: Origin = "registry"
    source_uri: str = ""

    def describe(self) -> dict[str, Any]:
        """The model as ``GET /v1/model`` shows it."""
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
            "dataset_version": self.dataset_version,
            "sha256": self.sha256,
            "loaded_at": self.loaded_at.isoformat(timespec="seconds"),
            "origin": self.origin,
            "source_uri": self.source_uri,
        }


@dataclass(frozen=True)
class SourceStatus:
    """A snapshot of the source for ``/readyz`` and ``/metrics``."""

    ready: bool
    registry: str
    reason: str
    model: LoadedModel | None
    production_version: str | None
    checks: int
    loads: int
    load_failures: int
    swaps: int
    downloads: int
    last_check_at: datetime | None

    def dependency(self) -> dict[str, Any]:
        """The registry as one dependency of ``/readyz``: ``ok`` or ``degraded`` with the reason."""
        return {"status": self.registry, "reason": self.reason}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "registry": self.dependency(),
            "model": self.model.describe() if self.model else None,
            "production_version": self.production_version,
            "counters": {
                "checks": self.checks,
                "loads": self.loads,
                "load_failures": self.load_failures,
                "swaps": self.swaps,
                "downloads": self.downloads,
            },
            "last_check_at": self.last_check_at.isoformat(timespec="seconds") if self.last_check_at else None,
        }


def warm_up(model: AssistantModel, what: str) -> Assistant:
    """An assistant on ``model`` once a first answer went through it (which compiles the serving
    path); ``ModelRejected`` naming ``what`` when it fails."""
    from careassist.assistant import Assistant

    try:
        warm = Assistant(model)
        answer = warm.answer(WARM_MESSAGE)
    except Exception as exc:  # any failure here means the model cannot serve
        raise ModelRejected(f"{what}: the warm-up answer failed ({type(exc).__name__}: {_brief(exc)})") from exc
    if answer.reason == "model_unavailable":
        raise ModelRejected(f"{what}: the warm-up answer did not go through the model")
    # A fresh assistant (same model and content) so that request counters do not include the warm-up.
    return Assistant(model, content=warm.content)


# -- the registry boundary ---------------------------------------------------------------------
class ModelRegistry(Protocol):
    """What the source asks of a registry; ``MlflowRegistry`` in the service, a fake in tests."""

    location: str

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version ``name@alias`` points at (None: no such alias); ``RegistryUnavailable``."""
        ...

    def describe(self, name: str, version: str, alias: str) -> VersionRef:
        """The version's lineage and its weights' URI and sha256; ``RegistryUnavailable``,
        ``ModelLoadError`` or ``ModelRejected``."""
        ...

    def download_weights(self, ref: VersionRef, folder: Path) -> Path:
        """The weights downloaded into ``folder``; ``ModelLoadError``."""
        ...


class MlflowRegistry:
    """The settings' MLflow registry, read with MLflow's client; downloads only what it needs."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.location = redact_uri(settings.mlflow_tracking_uri)

    def _client(self) -> MlflowClient:
        from careassist.registry import client

        uri = self._settings.mlflow_tracking_uri
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
            # MLflow would create an empty store; a service must not.
            raise RegistryUnavailable(f"there is no registry at {self.location} (nothing was ever registered)")
        return client(self._settings)

    @contextlib.contextmanager
    def _reaching(self, what: str) -> Iterator[None]:
        try:
            yield
        except ModelSourceError:
            raise
        except Exception as exc:  # MLflow, SQLAlchemy, HTTP and socket errors all mean the same here
            raise RegistryUnavailable(
                f"{what}: the registry {self.location} cannot be reached ({_brief(exc)})"
            ) from exc

    def alias_version(self, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        with self._reaching(f"cannot read models:/{name}@{alias}"):
            mlflow_client = self._client()
            try:
                model = mlflow_client.get_registered_model(name)
            except MlflowException as exc:
                if _not_found(exc):
                    return None
                raise
        # The registered model's alias map: a missing alias is no error code to interpret.
        version = (model.aliases or {}).get(alias)
        return None if version is None else str(version)

    def describe(self, name: str, version: str, alias: str) -> VersionRef:
        from mlflow.exceptions import MlflowException

        uri = f"models:/{name}/{version}"
        with self._reaching(f"cannot read {uri}"):
            mlflow_client = self._client()
            try:
                mv = mlflow_client.get_model_version(name, version)
            except MlflowException as exc:
                if _not_found(exc):
                    raise ModelRejected(f"{uri} does not exist") from None
                raise
            artifacts = str(mlflow_client.get_model_version_download_uri(name, version)).rstrip("/")
        tags = dict(mv.tags or {})
        registration = tags.get(STATUS_TAG) or "not made by careassist"
        if mv.status != "READY" or registration != COMPLETE:
            raise ModelRejected(f"{uri} may not serve: its status is {mv.status} and its registration {registration}")
        sha256, weights = _weights_of(uri, self._read_mlmodel(uri, artifacts))
        return VersionRef(
            name=name,
            version=str(version),
            alias=alias,
            run_id=mv.run_id or None,
            dataset_version=tags.get("dataset_version") or None,
            sha256=sha256,
            weights_uri=f"{artifacts}/{weights}",
        )

    def _read_mlmodel(self, uri: str, artifacts: str) -> dict[str, Any]:
        import tempfile

        import yaml

        with tempfile.TemporaryDirectory(prefix="careassist-mlmodel-") as tmp:
            text = self._download(f"{artifacts}/MLmodel", Path(tmp), f"cannot read {uri}/MLmodel").read_text(
                encoding="utf-8"
            )
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ModelRejected(f"{uri}/MLmodel ({artifacts}/MLmodel) is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ModelRejected(f"{uri}/MLmodel ({artifacts}/MLmodel) is not a mapping")
        return data

    def download_weights(self, ref: VersionRef, folder: Path) -> Path:
        return self._download(ref.weights_uri, folder, f"cannot download the weights of {ref.uri}")

    def _download(self, artifact_uri: str, folder: Path, what: str) -> Path:
        import mlflow.artifacts

        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=artifact_uri, dst_path=str(folder), tracking_uri=self._settings.mlflow_tracking_uri
                )
            )
        except Exception as exc:  # artifact stores raise their own types (boto, requests, OSError)
            raise ModelLoadError(f"{what} from {artifact_uri}: {_brief(exc)}") from exc
        if not local.is_file():
            raise ModelLoadError(f"{what}: {artifact_uri} is not a file")
        if folder.resolve() not in local.resolve().parents:
            # A local artifact store may hand back its own file: never keep a reference to it.
            local = Path(shutil.copy2(local, folder / local.name))
        return local


def _weights_of(uri: str, mlmodel: dict[str, Any]) -> tuple[str, str]:
    """The sha256 of a logged assistant's weights and their path inside the model, from MLmodel."""
    pyfunc = _mapping(_mapping(mlmodel.get("flavors")).get("python_function"))
    digests = {
        str(d)
        for d in (_mapping(pyfunc.get("config")).get("sha256"), _mapping(mlmodel.get("metadata")).get("model_sha256"))
        if d
    }
    if not digests:
        raise ModelRejected(f"{uri}/MLmodel names no sha256 of its weights (metadata.model_sha256)")
    if len(digests) > 1:
        raise ModelRejected(f"{uri}/MLmodel names two different sha256 for its weights: {', '.join(sorted(digests))}")
    (sha256,) = digests
    if not _SHA256_HEX.fullmatch(sha256):
        raise ModelRejected(f"{uri}/MLmodel: {sha256!r} is not a sha256 hex digest")
    path = _mapping(_mapping(pyfunc.get("artifacts")).get("model_file")).get("path") or f"artifacts/{MODEL_FILE}"
    weights = PurePosixPath(str(path))
    if weights.is_absolute() or ".." in weights.parts:
        raise ModelRejected(f"{uri}/MLmodel: the weights path {path!r} leaves the model's folder")
    return sha256, str(weights)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def _brief(exc: BaseException) -> str:
    message = str(getattr(exc, "message", "") or exc) or type(exc).__name__
    return message if len(message) <= _MAX_ERROR_CHARS else message[:_MAX_ERROR_CHARS] + "..."


def redact_uri(uri: str) -> str:
    """``uri`` without the password of its user info (a DSN may carry one)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# -- the local copies --------------------------------------------------------------------------
def local_models_dir(settings: Settings) -> Path:
    """Where the service keeps verified copies of the weights it served."""
    if not _SAFE_NAME.fullmatch(settings.model_name):
        raise ModelSourceError(f"model name {settings.model_name!r} cannot name a folder (letters, digits, . _ -)")
    return settings.root / "serving" / "models" / settings.model_name


@dataclass(frozen=True)
class LocalCopy:
    """A verified copy of one version's weights and its record."""

    name: str
    version: str
    alias: str
    run_id: str | None
    dataset_version: str | None
    sha256: str
    source_uri: str
    model_uri: str
    #: When the copy was saved or last confirmed as the alias's version: the newest serves first.
    saved_at: str
    path: Path

    def record(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields["file"] = self.path.name
        del fields["path"]
        return fields

    @classmethod
    def from_record(cls, path: Path) -> LocalCopy:
        """The copy a record file describes; ``LocalCopyError`` naming the file when malformed."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            copy = cls(
                name=str(data["name"]),
                version=str(data["version"]),
                alias=str(data["alias"]),
                run_id=data.get("run_id") or None,
                dataset_version=data.get("dataset_version") or None,
                sha256=str(data["sha256"]),
                source_uri=str(data["source_uri"]),
                model_uri=str(data["model_uri"]),
                saved_at=str(data["saved_at"]),
                path=path.parent / PurePosixPath(str(data.get("file", MODEL_FILE))).name,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LocalCopyError(f"{path}: not a readable local copy record ({type(exc).__name__}: {exc})") from None
        if not _SHA256_HEX.fullmatch(copy.sha256):
            raise LocalCopyError(f"{path}: sha256 {copy.sha256!r} is not a sha256 hex digest")
        return copy


class LocalModelStore:
    """Verified copies of the weights the service served, one folder per version, the newest
    ``keep`` kept. Writes are atomic and serialised across processes (gunicorn workers share it)."""

    def __init__(self, folder: Path, *, keep: int = KEEP_LOCAL_COPIES) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.folder = folder
        self.keep = keep

    @classmethod
    def for_settings(cls, settings: Settings) -> LocalModelStore:
        return cls(local_models_dir(settings))

    @contextlib.contextmanager
    def _locked(self, *, shared: bool = False) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _scan(self) -> tuple[list[LocalCopy], list[str]]:
        """The copies with a readable record, newest first, and what is wrong with the others."""
        if not self.folder.is_dir():
            return [], []
        copies, problems = [], []
        for record in sorted(self.folder.glob(f"v*/{RECORD_FILE}")):
            try:
                copies.append(LocalCopy.from_record(record))
            except LocalCopyError as exc:
                problems.append(str(exc))
        copies.sort(key=lambda c: (c.saved_at, _version_key(c.version)), reverse=True)
        return copies, problems

    def copies(self) -> list[LocalCopy]:
        """The copies with a readable record, newest first (not yet verified)."""
        return self._scan()[0]

    def find(self, version: str) -> LocalCopy | None:
        return next((c for c in self.copies() if c.version == version), None)

    def load(self, copy: LocalCopy) -> AssistantModel:
        """The model of a copy, verified against its recorded sha256."""
        from careassist.persistence import ModelFileError, load_model

        with self._locked(shared=True):
            try:
                return load_model(copy.path, expected_sha256=copy.sha256)
            except ModelFileError as exc:
                raise LocalCopyError(f"local copy of {copy.source_uri} refused: {exc}") from None

    def load_newest(self, version: str | None = None) -> tuple[LocalCopy, AssistantModel]:
        """The newest copy (of ``version``, when given) that verifies; ``LocalCopyError`` listing
        every copy refused."""
        copies, problems = self._scan()
        wanted = [c for c in copies if version is None or c.version == version]
        for copy in wanted:
            try:
                return copy, self.load(copy)
            except LocalCopyError as exc:
                problems.append(str(exc))
        which = "" if version is None else f" of version {version}"
        if not wanted:
            raise LocalCopyError(f"no local copy{which} in {self.folder}")
        raise LocalCopyError(f"no verified local copy{which} in {self.folder}: {'; '.join(problems)}")

    @contextlib.contextmanager
    def incoming(self) -> Iterator[Path]:
        """A fresh folder for a download, on the store's file system (so that ``save`` is a rename)."""
        folder = self.folder / f".incoming-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def save(self, ref: VersionRef, weights: Path, *, model_uri: str) -> LocalCopy:
        """Move verified weights in and write their record (atomically), then keep the newest copies."""
        with self._locked():
            target = self.folder / f"v{ref.version}"
            target.mkdir(parents=True, exist_ok=True)
            os.replace(weights, target / MODEL_FILE)
            copy = LocalCopy(
                name=ref.name,
                version=ref.version,
                alias=ref.alias,
                run_id=ref.run_id,
                dataset_version=ref.dataset_version,
                sha256=ref.sha256,
                source_uri=ref.uri,
                model_uri=model_uri,
                saved_at=_now().isoformat(timespec="microseconds"),
                path=target / MODEL_FILE,
            )
            _write_json(target / RECORD_FILE, copy.record())
            self._prune()
        return copy

    def touch(self, copy: LocalCopy) -> LocalCopy:
        """Record that a kept copy serves again (it becomes the newest)."""
        with self._locked():
            touched = dataclasses.replace(copy, saved_at=_now().isoformat(timespec="microseconds"))
            _write_json(copy.path.parent / RECORD_FILE, touched.record())
            self._prune()
        return touched

    def _prune(self) -> None:
        copies, _ = self._scan()
        for old in copies[self.keep :]:
            shutil.rmtree(old.path.parent, ignore_errors=True)
            log.info("removed the local copy of %s (keeping the newest %d)", old.source_uri, self.keep)
        # Downloads left behind by a process that died mid-way.
        for stale in self.folder.glob(".incoming-*"):
            with contextlib.suppress(OSError):
                if time.time() - stale.stat().st_mtime > 3600:
                    shutil.rmtree(stale, ignore_errors=True)


def _version_key(version: str) -> int:
    return int(version) if version.isdigit() else -1


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _now() -> datetime:
    return datetime.now(UTC)


# -- the source --------------------------------------------------------------------------------
class ModelSource:
    """The service's model: the alias's version, followed as it moves; thread-safe.

    ``current`` is read without a lock (one reference); checks run one at a time.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: ModelRegistry | None = None,
        store: LocalModelStore | None = None,
        alias: str = PRODUCTION,
        start_timeout: float | None = None,
    ) -> None:
        from careassist.settings import get_settings

        self.settings = settings or get_settings()
        self.name = self.settings.model_name
        self.alias = alias
        self.store = store or LocalModelStore.for_settings(self.settings)
        self._registry: ModelRegistry | None = registry if registry is not None else MlflowRegistry(self.settings)
        self._start_timeout = self.settings.model_start_timeout_seconds if start_timeout is None else start_timeout
        self._current: LoadedModel | None = None
        self._check_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._registry_state: tuple[str, str] = (DEGRADED, NOT_CHECKED)
        self._production: str | None = None
        self._rejected: tuple[str, str] | None = None
        self._counters = dict.fromkeys(("checks", "loads", "load_failures", "swaps", "downloads"), 0)
        self._last_check_at: datetime | None = None
        #: Called with each newly installed model (not with a refresh of the same one), in the
        #: installing thread; a failing callback is logged and never undoes the install.
        self.on_install: list[Callable[[LoadedModel], None]] = []

    @classmethod
    def from_model(
        cls,
        model: AssistantModel,
        *,
        version: int | str = INJECTED,
        settings: Settings | None = None,
        alias: str = PRODUCTION,
        run_id: str | None = None,
        dataset_version: str | None = None,
    ) -> ModelSource:
        """A source serving one in-memory model, with no registry (tests; ``create_app(model=...)``).
        Warmed here: ``ModelRejected`` when its warm-up answer fails."""
        source = cls(settings, alias=alias)
        source._registry = None
        assistant = warm_up(model, f"the injected model (version {version})")
        source._install(
            LoadedModel(
                name=source.name,
                version=str(version),
                alias=alias,
                run_id=run_id,
                dataset_version=dataset_version,
                sha256=None,
                loaded_at=_now(),
                assistant=assistant,
                origin="injected",
            )
        )
        source._registry_state = (OK, "not used: the model was given in memory")
        return source

    # -- reading ---------------------------------------------------------------------------------
    @property
    def current(self) -> LoadedModel | None:
        """The serving model (None until one is loaded and warm). Read it once per request."""
        return self._current

    @property
    def ready(self) -> bool:
        """A model is loaded and its warm-up answer succeeded (a ``LoadedModel`` exists only then)."""
        return self._current is not None

    @property
    def model_uri(self) -> str:
        return self.settings.model_uri if self.alias == PRODUCTION else f"models:/{self.name}@{self.alias}"

    def registry_status(self) -> str:
        """``ok`` or ``degraded`` (the reason is in ``status()``)."""
        return self._registry_state[0]

    def status(self) -> SourceStatus:
        with self._state_lock:
            state, reason = self._registry_state
            return SourceStatus(
                ready=self._current is not None,
                registry=state,
                reason=reason,
                model=self._current,
                production_version=self._production,
                last_check_at=self._last_check_at,
                **self._counters,
            )

    # -- running ---------------------------------------------------------------------------------
    def start(self, *, watch: bool = True) -> LoadedModel | None:
        """Load the alias's version, or the newest verified local copy when the registry cannot be
        reached within ``start_timeout``; then watch the alias every ``model_poll_seconds``.

        Never raises: without any model the source is simply not ready, and ``status()`` says why.
        """
        if self._registry is None:
            return self._current
        outcome: list[CheckOutcome] = []
        attempt = threading.Thread(
            target=lambda: outcome.append(self.check_now()), name=f"model-source-start-{self.name}", daemon=True
        )
        attempt.start()
        attempt.join(self._start_timeout)
        if not outcome:
            # The attempt goes on in the background and swaps in its version if it ever succeeds.
            self._degrade_if_unchecked(
                f"{self.model_uri} was not loaded within {self._start_timeout:g} s (the registry"
                f" {self._registry.location} is slow or away)"
            )
        if not outcome or outcome[0] == "registry_unavailable":
            self._serve_local_copy()
        if watch:
            self._start_watcher()
        return self._current

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching the alias (the current model keeps serving)."""
        self._stop.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_watcher(self) -> None:
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name=f"model-source-{self.name}", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.model_poll_seconds):
            if self.check_now() == "registry_unavailable" and self._current is None:
                # Another worker may have saved a copy meanwhile.
                self._serve_local_copy()

    def check_now(self) -> CheckOutcome:
        """Read where the alias points and follow it (fetch, verify, warm, swap). Never raises;
        checks run one at a time (the watcher, an admin trigger, tests)."""
        if self._registry is None:
            return "static"
        with self._check_lock:
            try:
                return self._check(self._registry)
            except Exception as exc:  # a defect must neither kill the watcher nor reach a request
                log.exception("checking %s failed", self.model_uri)
                self._load_failed(f"checking {self.model_uri} failed: {type(exc).__name__}: {_brief(exc)}")
                return "load_failed"

    def _check(self, registry: ModelRegistry) -> CheckOutcome:
        with self._state_lock:
            self._counters["checks"] += 1
            self._last_check_at = _now()
        current = self._current
        try:
            version = registry.alias_version(self.name, self.alias)
        except RegistryUnavailable as exc:
            self._degrade(f"{exc}{self._serving(current)}")
            return "registry_unavailable"
        with self._state_lock:
            self._production = version
        if version is None:
            self._degrade(f"{self.model_uri} points at no version{self._serving(current)}")
            return "no_production_version"
        if current is not None and current.version == version and current.origin == "registry":
            self._ok()
            return "unchanged"
        if self._rejected is not None and self._rejected[0] == version:
            self._degrade(self._rejected[1])
            return "rejected"
        self._rejected = None
        try:
            ref = registry.describe(self.name, version, self.alias)
            if current is not None and current.version == version and current.sha256 == ref.sha256:
                # Served from the local copy while the registry was away: the registry confirms it.
                self._install(dataclasses.replace(current, origin="registry", run_id=ref.run_id), count=False)
                self._ok()
                return "confirmed"
            loaded = self._load(registry, ref)
        except RegistryUnavailable as exc:
            self._degrade(f"{exc}{self._serving(current)}")
            return "registry_unavailable"
        except ModelRejected as exc:
            reason = f"{exc}{self._serving(current)}"
            self._rejected = (version, reason)
            self._load_failed(reason)
            return "load_failed"
        except ModelLoadError as exc:
            self._load_failed(f"{exc}{self._serving(current)}")
            if current is None:
                # The artifact store is away but the alias is known: its own verified copy may serve.
                self._serve_local_copy(version)
            return "load_failed"
        swapped = self._install(loaded)
        self._ok()
        return "swapped" if swapped else "loaded"

    def _load(self, registry: ModelRegistry, ref: VersionRef) -> LoadedModel:
        """The version verified and warm: from its local copy when one matches, else downloaded."""
        from careassist.persistence import ModelFileError, load_model

        kept = self.store.find(ref.version)
        if kept is not None and kept.sha256 == ref.sha256:
            try:
                model = self.store.load(kept)
            except LocalCopyError as exc:
                log.warning("%s; downloading it again", exc)
            else:
                assistant = warm_up(model, ref.uri)
                self._keep(lambda: self.store.touch(kept))
                return self._loaded(ref, assistant)
        with self.store.incoming() as folder:
            weights = registry.download_weights(ref, folder)
            with self._state_lock:
                self._counters["downloads"] += 1
            try:
                model = load_model(weights, expected_sha256=ref.sha256)
            except ModelFileError as exc:
                raise ModelRejected(f"{ref.uri}: the weights at {ref.weights_uri} are refused: {exc}") from None
            assistant = warm_up(model, ref.uri)
            # Kept only once verified and warm: a restart never serves a file that failed either.
            self._keep(lambda: self.store.save(ref, weights, model_uri=self.model_uri))
        return self._loaded(ref, assistant)

    def _keep(self, write: Callable[[], object]) -> None:
        try:
            write()
        except OSError as exc:  # the model is fine; only a restart without the registry loses it
            log.error("cannot keep a local copy in %s: %s", self.store.folder, exc)

    def _loaded(self, ref: VersionRef, assistant: Assistant) -> LoadedModel:
        return LoadedModel(
            name=ref.name,
            version=ref.version,
            alias=ref.alias,
            run_id=ref.run_id,
            dataset_version=ref.dataset_version,
            sha256=ref.sha256,
            loaded_at=_now(),
            assistant=assistant,
            origin="registry",
            source_uri=ref.uri,
        )

    def _serve_local_copy(self, version: str | None = None) -> None:
        """Serve the newest verified local copy (of ``version``, when the registry named it) if
        nothing serves yet."""
        if self._current is not None:
            return
        registry_reason = self._registry_state[1]
        had_copies = any(version is None or c.version == version for c in self.store.copies())
        try:
            copy, model = self.store.load_newest(version)
            assistant = warm_up(model, f"the local copy {copy.path}")
        except (LocalCopyError, ModelRejected) as exc:
            if had_copies:
                self._load_failed(f"{registry_reason}; {exc}")
            else:
                self._degrade(f"{registry_reason}; {exc}")
            return
        loaded = LoadedModel(
            name=copy.name,
            version=copy.version,
            alias=copy.alias,
            run_id=copy.run_id,
            dataset_version=copy.dataset_version,
            sha256=copy.sha256,
            loaded_at=_now(),
            assistant=assistant,
            origin="local_copy",
            source_uri=copy.source_uri,
        )
        with self._state_lock:
            if self._current is not None:  # the registry answered meanwhile: it wins
                return
            self._current = loaded
            self._counters["loads"] += 1
        self._degrade(f"{registry_reason}; serving the local copy of version {copy.version} ({copy.path})")
        log.warning("serving the local copy of %s version %s from %s", self.name, copy.version, copy.path)

    def _install(self, loaded: LoadedModel, *, count: bool = True) -> bool:
        """Make ``loaded`` the serving model in one assignment; True when it replaced another."""
        with self._state_lock:
            previous, self._current = self._current, loaded
            if count:
                self._counters["loads"] += 1
                self._counters["swaps"] += int(previous is not None)
        if count:
            was = f"version {previous.version}" if previous else "nothing"
            log.info("%s: now serving version %s (%s before)", self.model_uri, loaded.version, was)
            for callback in self.on_install:
                try:
                    callback(loaded)
                except Exception:  # the new model serves whatever a callback does
                    log.exception("a callback on installing version %s failed", loaded.version)
        return previous is not None

    @staticmethod
    def _serving(current: LoadedModel | None) -> str:
        return f"; still serving version {current.version}" if current else "; no model is serving"

    def _degrade_if_unchecked(self, reason: str) -> None:
        with self._state_lock:
            if self._registry_state[1] != NOT_CHECKED:
                return
        self._degrade(reason)

    def _set_registry(self, state: str, reason: str) -> bool:
        with self._state_lock:
            changed = self._registry_state != (state, reason)
            self._registry_state = (state, reason)
        return changed

    def _degrade(self, reason: str) -> None:
        if self._set_registry(DEGRADED, reason):
            log.warning("registry degraded: %s", reason)

    def _load_failed(self, reason: str) -> None:
        with self._state_lock:
            self._counters["load_failures"] += 1
        # Logged once per distinct reason: a failure that repeats at every poll is counted, not re-logged.
        log.log(logging.ERROR if self._set_registry(DEGRADED, reason) else logging.DEBUG, "%s", reason)

    def _ok(self) -> None:
        if self._set_registry(OK, ""):
            log.info("registry ok: %s", self.model_uri)
