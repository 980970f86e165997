"""The MLflow model registry: logging the assistant as a pyfunc, registering versions with lineage.

Every version is registered under ``settings.model_name`` and is addressed by aliases only
(``staging``, ``production``; see ``careassist.lifecycle``), never by stages.

A version carries ``registration_status``: it is created ``pending`` (in the same call that
creates it), becomes ``complete`` only after every lineage tag is set, and ``failed`` when a step
fails. ``careassist.lifecycle`` gives an alias only to a ``complete`` version, so a version left
half-registered (even by a process killed mid-way, which cannot mark it ``failed``) can never
serve.

The assistant is logged as MLflow "models from code": a three-line script that builds
``AssistantPyfunc``, the whole ``careassist`` package as ``code_paths`` and the weights as a skops
file whose sha256 travels in ``model_config``; nothing is cloudpickled.

MLflow is imported inside functions: importing ``mlflow.pyfunc`` takes seconds. For the same
reason ``AssistantPyfunc`` (a ``PythonModel`` subclass) is built on first access through the
module's ``__getattr__`` (PEP 562); ``from careassist.registry import AssistantPyfunc`` works.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from careassist.model import AssistantModel
    from careassist.settings import Settings

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_FILE = "assistant.skops"
#: The distributions a logged assistant model needs besides MLflow (which MLflow pins itself).
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "numpy", "pandas", "scipy", "pyyaml")
#: MLflow column types of ``AssistantModel.predict``'s output, in ``PREDICTION_COLUMNS`` order.
PREDICTION_TYPES = {
    "label": "string",
    "crisis": "boolean",
    "category": "string",
    "confidence": "double",
    "out_of_scope": "boolean",
    "out_of_scope_score": "double",
    "low_confidence": "boolean",
    "crisis_score": "double",
    "crisis_flag": "boolean",
}
PYFUNC_SCRIPT = (
    '"""The logged assistant model (MLflow models from code): weights come from the skops artifact."""\n'
    "from mlflow.models import set_model\n\n"
    "from careassist.registry import AssistantPyfunc\n\n"
    "set_model(AssistantPyfunc())\n"
)
INPUT_EXAMPLE = ("My father keeps forgetting whether he took his blood pressure pill. How can I help him?",)

STATUS_TAG = "registration_status"
ERROR_TAG = "registration_error"
KEY_TAG = "pipeline_key"
PENDING, COMPLETE, FAILED = "pending", "complete", "failed"
RESERVED_TAGS = (STATUS_TAG, ERROR_TAG, KEY_TAG)
METRIC_PREFIX = "metric."
REGISTRATION_TIMEOUT_S = 300

_KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:@/+=-]{1,250}")
_COMMIT_PATTERN = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


class RegistryError(RuntimeError):
    """The registry could not do what was asked; the message names the model, version or URI."""


class VersionNotFound(ValueError):
    """A version number is malformed or names no version of the model."""


class ModelInputError(ValueError):
    """The pyfunc was given input it cannot read (it needs a ``text`` column)."""


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of the registered model, as the platform reads it."""

    name: str
    version: int
    status: str
    source: str
    run_id: str | None
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    created: datetime | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def registration_status(self) -> str:
        # A version without the tag was not made by ``register`` (e.g. the MLflow UI): not complete.
        return self.tags.get(STATUS_TAG, "")

    @property
    def complete(self) -> bool:
        return self.status == "READY" and self.registration_status == COMPLETE

    @property
    def gate_status(self) -> str:
        return self.tags.get("gate_status", "")

    @property
    def gate_reasons(self) -> list[str]:
        raw = self.tags.get("gate_reasons", "")
        if not raw:
            return []
        try:
            reasons = json.loads(raw)
        except json.JSONDecodeError:
            return [raw]
        return [str(r) for r in reasons] if isinstance(reasons, list) else [str(reasons)]

    @property
    def metrics(self) -> dict[str, float | str]:
        """The version's ``metric.*`` tags, as numbers where they are numbers."""
        metrics: dict[str, float | str] = {}
        for key, value in sorted(self.tags.items()):
            if key.startswith(METRIC_PREFIX):
                try:
                    metrics[key.removeprefix(METRIC_PREFIX)] = float(value)
                except ValueError:
                    metrics[key.removeprefix(METRIC_PREFIX)] = value
        return metrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "status": self.status,
            "registration_status": self.registration_status,
            "aliases": list(self.aliases),
            "source": self.source,
            "run_id": self.run_id,
            "created": self.created.isoformat() if self.created else None,
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
        }


# -- connection --------------------------------------------------------------------------------
_configured: tuple[str, str] | None = None


def configure(settings: Settings) -> None:
    """Point MLflow's tracking and registry at the settings' store (and S3 endpoint); idempotent."""
    global _configured
    import mlflow

    target = (settings.mlflow_tracking_uri, settings.s3_endpoint_url)
    if _configured == target and mlflow.get_tracking_uri() == target[0]:
        return
    if target[0].startswith("sqlite:///"):
        Path(target[0].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if settings.s3_endpoint_url:
        os.environ["MLFLOW_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    mlflow.set_tracking_uri(target[0])
    mlflow.set_registry_uri(target[0])
    _configured = target


def client(settings: Settings) -> MlflowClient:
    """An MLflow client on the settings' tracking and registry store."""
    from mlflow import MlflowClient

    configure(settings)
    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


@contextlib.contextmanager
def mlflow_errors(what: str) -> Iterator[None]:
    """Turn MLflow's exceptions into ``RegistryError`` saying what was being done."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise RegistryError(f"{what}: {exc.message}") from exc


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def ensure_experiment(settings: Settings, name: str) -> str:
    """The id of experiment ``name``, created with its artifacts under the settings' location
    (``<artifacts_location>/<name>``) or restored if it was deleted."""
    from careassist.storage import join

    if not name.strip() or "/" in name:
        raise RegistryError(f"experiment name {name!r} must be non-empty and hold no '/'")
    mlflow_client = client(settings)
    location = join(settings.artifacts_location, name)
    with mlflow_errors(f"cannot create experiment {name!r} in {settings.mlflow_tracking_uri}"):
        experiment = mlflow_client.get_experiment_by_name(name)
        if experiment is None:
            return str(mlflow_client.create_experiment(name, artifact_location=location))
        if experiment.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(experiment.experiment_id)
            log.info("restored deleted experiment %s (%s)", name, experiment.experiment_id)
    if experiment.artifact_location.rstrip("/") != location.rstrip("/"):
        log.warning("experiment %s keeps its artifacts at %s, not %s", name, experiment.artifact_location, location)
    return str(experiment.experiment_id)


# -- the assistant as a pyfunc -----------------------------------------------------------------
def _input_frame(model_input: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    from careassist.classifier import TEXT_COLUMN

    if isinstance(model_input, pd.DataFrame):
        if TEXT_COLUMN not in model_input.columns:
            raise ModelInputError(f"input needs a {TEXT_COLUMN!r} column; got {list(model_input.columns)}")
        values = model_input[TEXT_COLUMN].tolist()
        if not any(isinstance(v, list | tuple | np.ndarray) for v in values):
            return model_input
        # pyfunc's schema enforcement turns {"text": [a, b]} into one row holding the list.
        return _input_frame([t for v in values for t in (v if isinstance(v, list | tuple | np.ndarray) else [v])])
    if isinstance(model_input, dict):
        if TEXT_COLUMN not in model_input:
            raise ModelInputError(f"input needs a {TEXT_COLUMN!r} key; got {sorted(model_input)}")
        value = model_input[TEXT_COLUMN]
        texts = [value] if isinstance(value, str) else list(value)
    elif isinstance(model_input, str):
        texts = [model_input]
    elif isinstance(model_input, list | tuple | pd.Series):
        texts = list(model_input)
    else:
        raise ModelInputError(
            f"input must be a DataFrame with a {TEXT_COLUMN!r} column, a list of texts or a dict with"
            f" {TEXT_COLUMN!r}; got {type(model_input).__name__}"
        )
    if not all(isinstance(t, str) for t in texts):
        raise ModelInputError(f"every {TEXT_COLUMN!r} value must be a string")
    return pd.DataFrame({TEXT_COLUMN: texts})


@functools.cache
def _pyfunc_class() -> type:
    import pandas as pd
    from mlflow.pyfunc import PythonModel

    def _predict(self: Any, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        if self.model is None:
            raise RegistryError("AssistantPyfunc.predict before load_context: no model is loaded")
        return self.model.predict(_input_frame(model_input))

    # MLflow reads the input annotation as a schema when it can; a DataFrame hint tells it to rely
    # on the logged signature instead (real objects: string annotations would not resolve here).
    _predict.__annotations__ = {"model_input": pd.DataFrame, "params": dict[str, Any] | None, "return": pd.DataFrame}

    class AssistantPyfunc(PythonModel):
        """The assistant model as an MLflow pyfunc; ``.model`` is the ``AssistantModel`` itself
        (a server uses its ``predict_one`` fast path).

        The weights travel as a skops file whose sha256 (from ``model_config``) is checked on
        load; a pickle of this object never holds them.
        """

        predict = _predict

        def __init__(self, model: AssistantModel | None = None) -> None:
            self.model = model

        def __getstate__(self) -> dict[str, Any]:
            return {}

        def __setstate__(self, state: dict[str, Any]) -> None:
            self.model = None

        def load_context(self, context: Any) -> None:
            from careassist.persistence import ModelFileError, load_model

            path = Path(context.artifacts["model_file"])
            expected = (context.model_config or {}).get("sha256")
            if not expected:
                raise ModelFileError(f"{path}: the logged model names no sha256 in its model_config")
            self.model = load_model(path, expected_sha256=expected)

    AssistantPyfunc.__module__ = __name__
    AssistantPyfunc.__qualname__ = "AssistantPyfunc"
    return AssistantPyfunc


def __getattr__(name: str) -> Any:
    if name == "AssistantPyfunc":
        return _pyfunc_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def model_requirements() -> list[str]:
    """Pinned requirements of a logged assistant model: the versions installed here."""
    return [f"{dist}=={importlib.metadata.version(dist)}" for dist in MODEL_REQUIREMENTS]


def model_signature() -> Any:
    """Input: a ``text`` string column; output: the prediction columns with their types."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from careassist.classifier import TEXT_COLUMN
    from careassist.model import PREDICTION_COLUMNS

    outputs = Schema([ColSpec(PREDICTION_TYPES[column], column) for column in PREDICTION_COLUMNS])
    return ModelSignature(inputs=Schema([ColSpec("string", TEXT_COLUMN)]), outputs=outputs)


def log_assistant_model(model: AssistantModel, *, name: str = "model") -> str:
    """Log the assistant as a pyfunc in the active run (skops file + the package's code); returns
    the logged model's URI."""
    import mlflow
    import pandas as pd

    from careassist.classifier import TEXT_COLUMN
    from careassist.persistence import save_model

    if mlflow.active_run() is None:
        raise RegistryError("log_assistant_model needs an active MLflow run (use mlflow.start_run())")
    with tempfile.TemporaryDirectory(prefix="careassist-model-") as tmp:
        path = Path(tmp) / MODEL_FILE
        digest = save_model(model, path)
        # "Models from code": MLflow keeps this script instead of a cloudpickle of the class.
        script = Path(tmp) / "assistant_pyfunc.py"
        script.write_text(PYFUNC_SCRIPT, encoding="utf-8")
        with mlflow_errors(f"cannot log the assistant model {name!r}"):
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(script),
                artifacts={"model_file": str(path)},
                model_config={"sha256": digest},
                signature=model_signature(),
                input_example=pd.DataFrame({TEXT_COLUMN: list(INPUT_EXAMPLE)}),
                pip_requirements=model_requirements(),
                # The whole package folder (minus __pycache__): the model loads where careassist is
                # not installed, with its data files (content/, corpus/, gatesets/) alongside.
                code_paths=[str(PACKAGE_DIR)],
                metadata={"model_sha256": digest},
            )
    return str(info.model_uri)


# -- versions ----------------------------------------------------------------------------------
def parse_version(value: int | str, model_name: str = "") -> int:
    """A version number from user input (``3`` or ``"3"``)."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        where = f" of {model_name}" if model_name else ""
        raise VersionNotFound(f"{value!r} is not a version number{where}: expected a positive integer")
    return int(text)


def _version_of(mv: Any) -> RegisteredVersion:
    created = datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC) if mv.creation_timestamp else None
    return RegisteredVersion(
        name=mv.name,
        version=int(mv.version),
        status=str(mv.status),
        source=str(mv.source),
        run_id=mv.run_id or None,
        aliases=tuple(sorted(mv.aliases or ())),
        tags=dict(mv.tags or {}),
        description=mv.description or "",
        created=created,
    )


def get_version(settings: Settings, version: int | str) -> RegisteredVersion:
    """One version of ``settings.model_name`` with its tags and aliases."""
    from mlflow.exceptions import MlflowException

    number = parse_version(version, settings.model_name)
    mlflow_client = client(settings)
    try:
        mv = mlflow_client.get_model_version(settings.model_name, str(number))
    except MlflowException as exc:
        if _not_found(exc):
            raise VersionNotFound(f"{settings.model_name} has no version {number}") from None
        raise RegistryError(f"cannot read version {number} of {settings.model_name}: {exc.message}") from exc
    return _version_of(mv)


def list_versions(settings: Settings) -> list[RegisteredVersion]:
    """Every version of ``settings.model_name``, newest first (empty when none is registered)."""
    mlflow_client = client(settings)
    versions: list[RegisteredVersion] = []
    token: str | None = None
    with mlflow_errors(f"cannot list the versions of {settings.model_name}"):
        while True:
            page = mlflow_client.search_model_versions(
                f"name = '{_quoted(settings.model_name)}'", max_results=1000, page_token=token
            )
            versions += [_version_of(mv) for mv in page]
            token = page.token
            if not token:
                break
    # search results do not always carry aliases; the registered model does.
    aliases = _aliases(mlflow_client, settings.model_name)
    versions = [replace(v, aliases=tuple(sorted(aliases.get(v.version, v.aliases)))) for v in versions]
    return sorted(versions, key=lambda v: v.version, reverse=True)


def _aliases(mlflow_client: MlflowClient, name: str) -> dict[int, list[str]]:
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow_client.get_registered_model(name)
    except MlflowException as exc:
        if _not_found(exc):
            return {}
        raise
    by_version: dict[int, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        by_version.setdefault(int(version), []).append(alias)
    return by_version


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _check_key(key: str) -> str:
    if not _KEY_PATTERN.fullmatch(key):
        raise RegistryError(f"pipeline key {key!r} must be 1-250 characters of letters, digits and _ . : @ / + = -")
    return key


def find_version(settings: Settings, key: str) -> RegisteredVersion | None:
    """The completely registered version whose ``pipeline_key`` tag is ``key``, if any."""
    mlflow_client = client(settings)
    query = f"name = '{_quoted(settings.model_name)}' and tags.{KEY_TAG} = '{_check_key(key)}'"
    with mlflow_errors(f"cannot search {settings.model_name} for pipeline key {key!r}"):
        found = [_version_of(mv) for mv in mlflow_client.search_model_versions(query)]
    complete = sorted((v for v in found if v.complete), key=lambda v: v.version)
    return complete[0] if complete else None


def _check_tags(tags: dict[str, str]) -> dict[str, str]:
    reserved = sorted(set(tags) & set(RESERVED_TAGS))
    if reserved:
        raise RegistryError(f"tag(s) {', '.join(reserved)} are set by register itself; pass key= instead")
    bad = sorted(k for k, v in tags.items() if not isinstance(k, str) or not k or not isinstance(v, str))
    if bad:
        raise RegistryError(f"tag(s) {', '.join(map(repr, bad))}: names and values must be non-empty strings")
    return tags


def _check_pyfunc(model_uri: str) -> None:
    from mlflow.models import get_model_info
    from mlflow.pyfunc import FLAVOR_NAME

    with mlflow_errors(f"cannot read the logged model {model_uri}"):
        flavors = get_model_info(model_uri).flavors
    if FLAVOR_NAME not in flavors:
        raise RegistryError(
            f"{model_uri} has no python_function flavour (only {', '.join(flavors)}): not pyfunc-compatible"
        )


def register(
    model_uri: str,
    settings: Settings,
    *,
    tags: dict[str, str],
    description: str = "",
    key: str | None = None,
) -> RegisteredVersion:
    """Register a pyfunc-compatible logged model under ``settings.model_name`` with lineage tags.

    With ``key``, idempotent: a version already registered with ``pipeline_key == key`` is
    returned instead of a new one. A failure after the version exists marks it
    ``registration_status=failed`` (it was ``pending`` from creation on) and propagates: such a
    version can never get an alias.
    """
    import mlflow

    _check_tags(tags)
    configure(settings)
    if key is not None:
        existing = find_version(settings, key)
        if existing is not None:
            log.info("pipeline key %s is already %s", key, existing.uri)
            return existing
    _check_pyfunc(model_uri)
    mlflow_client = client(settings)
    initial = {STATUS_TAG: PENDING} | ({KEY_TAG: key} if key is not None else {})
    with mlflow_errors(f"cannot register {model_uri} as {settings.model_name}"):
        mv = mlflow.register_model(
            model_uri, settings.model_name, await_registration_for=REGISTRATION_TIMEOUT_S, tags=initial
        )
    number = str(mv.version)
    try:
        mv = mlflow_client.get_model_version(settings.model_name, number)
        if mv.status != "READY":
            raise RegistryError(
                f"{settings.model_name} version {number} is {mv.status} after {REGISTRATION_TIMEOUT_S} s,"
                f" not READY: {mv.status_message or 'no message'}"
            )
        if description:
            mlflow_client.update_model_version(settings.model_name, number, description=description)
        for name, value in tags.items():
            mlflow_client.set_model_version_tag(settings.model_name, number, name, value)
        mlflow_client.set_model_version_tag(settings.model_name, number, STATUS_TAG, COMPLETE)
    except BaseException as exc:
        _mark_failed(mlflow_client, settings.model_name, number, exc)
        if isinstance(exc, Exception) and not isinstance(exc, RegistryError):
            raise RegistryError(
                f"registering {model_uri} as {settings.model_name} version {number} failed ({exc}); the"
                f" version is left {STATUS_TAG}={FAILED} and can never get an alias"
            ) from exc
        raise
    return get_version(settings, number)


def _mark_failed(mlflow_client: MlflowClient, name: str, number: str, exc: BaseException) -> None:
    # Best effort: if even this fails the version stays ``pending``, which no alias accepts either.
    try:
        mlflow_client.set_model_version_tag(name, number, STATUS_TAG, FAILED)
        mlflow_client.set_model_version_tag(name, number, ERROR_TAG, f"{type(exc).__name__}: {exc}"[:5000])
    except Exception:  # the original error is the one to report
        log.exception("could not mark %s version %s as failed", name, number)


def load_pyfunc(settings: Settings, uri: str) -> Any:
    """Load a model URI (``models:/name@alias``, ``models:/name/3``, ``runs:/...``) as a pyfunc."""
    import mlflow.pyfunc

    configure(settings)
    with mlflow_errors(f"cannot load {uri}"):
        return mlflow.pyfunc.load_model(uri)


def git_commit() -> str:
    """The code's commit: ``CAREASSIST_GIT_COMMIT``, else the package checkout's HEAD, else ``unknown``."""
    from_env = os.environ.get("CAREASSIST_GIT_COMMIT", "").strip()
    if from_env:
        return from_env
    try:
        # ls-files proves the package is tracked by this checkout (an installed copy inside some
        # other repository's tree must not report that repository's commit).
        subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "ls-files", "--error-unmatch", "__init__.py"],
            capture_output=True,
            check=True,
            timeout=5,
        )
        head = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head if _COMMIT_PATTERN.fullmatch(head) else "unknown"
