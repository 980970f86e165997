"""Saving and loading the assistant model with skops: no pickle, an explicit list of trusted types.

A file that holds any type outside the list is refused, so a tampered or foreign file cannot run
code on load.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from careassist.model import AssistantModel

#: Types beyond scikit-learn's own that an assistant model file may hold.
TRUSTED_TYPES = (
    "careassist.model.AssistantModel",
    "careassist.model.Thresholds",
    "careassist.classifier.TemperatureScaled",
)


class ModelFileError(ValueError):
    """A model file is missing, unreadable or holds untrusted types; the message names the file."""


def save_model(model: AssistantModel, path: Path) -> str:
    """Write the model to ``path`` (atomically) and return the file's sha256."""
    sio = _skops_io()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with _quiet_skops():
        sio.dump(model, tmp)
    tmp.replace(path)
    return file_sha256(path)


def _skops_io() -> Any:
    # Importing skops.io looks every scipy ufunc up in every loaded module: quiet, as below.
    with _quiet_skops():
        import skops.io

    return skops.io


@contextmanager
def _quiet_skops() -> Iterator[None]:
    """skops looks objects up in every loaded module; under Airflow each lookup of a deprecated
    module attribute warns (over a thousand lines), none of them about the model."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"skops\.io\._utils")
        yield


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(path: Path, expected_sha256: str | None = None) -> AssistantModel:
    """Load a model file, refusing unknown types and (when given) a checksum mismatch."""
    from careassist.model import AssistantModel

    sio = _skops_io()

    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    if expected_sha256 is not None and file_sha256(path) != expected_sha256:
        raise ModelFileError(f"{path}: checksum mismatch; the file is not the one that was registered")
    try:
        with _quiet_skops():
            untrusted = [t for t in sio.get_untrusted_types(file=path) if not _sklearn_or_numpy(t)]
    except Exception as exc:  # noqa: BLE001 - skops raises several types for a corrupt file
        raise ModelFileError(f"{path}: not a readable model file ({exc})") from None
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise ModelFileError(f"{path}: refuses to load untrusted types {', '.join(unknown)}")
    with _quiet_skops():
        model = sio.load(path, trusted=untrusted)
    if not isinstance(model, AssistantModel):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not an AssistantModel")
    return model


def _sklearn_or_numpy(type_name: str) -> bool:
    return type_name.startswith(("sklearn.", "numpy.", "scipy.sparse.", "builtins.", "collections."))
