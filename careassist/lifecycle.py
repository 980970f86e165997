"""Moving the ``staging`` and ``production`` aliases, with a history that survives every move.

MLflow keeps only where an alias points now. Every move is therefore recorded as a
registered-model tag ``alias_history.<6-digit seq>`` whose value is JSON: seq, alias, action
(promote, rollback or stage), from_version, to_version, who, when (UTC ISO), why, metrics, and
``outcome``.

A move is recorded first as ``pending``, then the alias moves, then the entry becomes ``done``
(or ``failed``, with the error). A process that dies in between leaves a ``pending`` entry: it
counts as a move only if the alias really points at its version (checked when history is read,
and settled for good before the next move). So the history never claims a move that did not
happen. Moves are assumed to come from one writer at a time (the pipeline's promotion task or an
operator); two simultaneous moves could pick the same sequence number.

Production is a stack: ``promote`` pushes, ``rollback`` pops, so two rollbacks in a row go back
two versions.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from careassist.registry import (
    RegisteredVersion,
    RegistryError,
    VersionNotFound,
    client,
    get_version,
    mlflow_errors,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from careassist.settings import Settings

log = logging.getLogger(__name__)

STAGING = "staging"
PRODUCTION = "production"
ALIASES = (STAGING, PRODUCTION)
HISTORY_PREFIX = "alias_history."
ACTIONS = ("promote", "rollback", "stage")
PENDING, DONE, FAILED = "pending", "done", "failed"
ROLLED_BACK_TAGS = ("rolled_back", "rolled_back_when", "rolled_back_why", "rolled_back_by")
ACTOR_ENV = "CAREASSIST_ACTOR"


class LifecycleError(RuntimeError):
    """An alias could not be moved; the message names the version and why."""


class PromotionRefused(LifecycleError):
    """The version may not serve: its gates did not pass or its registration is incomplete."""


class RollbackImpossible(LifecycleError):
    """There is no earlier production version to go back to."""


@dataclass(frozen=True)
class AliasMove:
    """One recorded move of an alias."""

    seq: int
    alias: str
    action: str
    from_version: int | None
    to_version: int
    who: str
    when: str
    why: str
    metrics: dict[str, Any] = field(default_factory=dict)
    outcome: str = DONE
    error: str = ""

    @property
    def tag(self) -> str:
        return f"{HISTORY_PREFIX}{self.seq:06d}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AliasMove:
        data = json.loads(text)
        return cls(
            seq=int(data["seq"]),
            alias=str(data["alias"]),
            action=str(data["action"]),
            from_version=None if data.get("from_version") is None else int(data["from_version"]),
            to_version=int(data["to_version"]),
            who=str(data.get("who", "")),
            when=str(data.get("when", "")),
            why=str(data.get("why", "")),
            metrics=dict(data.get("metrics") or {}),
            outcome=str(data.get("outcome", DONE)),
            error=str(data.get("error", "")),
        )


def default_actor() -> str:
    """Who moves an alias when the caller does not say: ``CAREASSIST_ACTOR``, else the OS user."""
    actor = os.environ.get(ACTOR_ENV, "").strip()
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


# -- reading -----------------------------------------------------------------------------------
def current(settings: Settings, alias: str) -> int | None:
    """The version number ``alias`` points at, or None."""
    _check_alias(alias)
    with mlflow_errors(f"cannot read alias {alias!r} of {settings.model_name}"):
        # The registered model's alias map: a missing alias is no error code to interpret.
        return _recorded(client(settings), settings.model_name)[1].get(alias)


def _recorded(mlflow_client: MlflowClient, name: str) -> tuple[list[AliasMove], dict[str, int]]:
    """Every history entry as stored (oldest first) and the aliases as they are now."""
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow_client.get_registered_model(name)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            return [], {}
        raise RegistryError(f"cannot read the history of {name}: {exc.message}") from exc
    entries = []
    for key, value in (model.tags or {}).items():
        if key.startswith(HISTORY_PREFIX):
            try:
                entries.append(AliasMove.from_json(value))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s: tag %s is not a history entry (%s); ignored", name, key, exc)
    aliases = {alias: int(version) for alias, version in (model.aliases or {}).items()}
    return sorted(entries, key=lambda e: e.seq), aliases


def _resolved(entries: list[AliasMove], aliases: dict[str, int]) -> list[AliasMove]:
    """Entries with each alias's last ``pending`` entry settled by where the alias points now."""
    last = {e.alias: e.seq for e in entries}
    resolved = []
    for entry in entries:
        if entry.outcome == PENDING and last[entry.alias] == entry.seq and aliases.get(entry.alias) == entry.to_version:
            entry = replace(entry, outcome=DONE)
        resolved.append(entry)
    return resolved


def history(settings: Settings, alias: str | None = None, *, attempts: bool = False) -> list[AliasMove]:
    """The recorded alias moves, oldest first; with ``attempts`` also failed and unconfirmed ones."""
    if alias is not None:
        _check_alias(alias)
    with mlflow_errors(f"cannot read the history of {settings.model_name}"):
        entries, aliases = _recorded(client(settings), settings.model_name)
    return [
        e
        for e in _resolved(entries, aliases)
        if (alias is None or e.alias == alias) and (attempts or e.outcome == DONE)
    ]


def production_stack(settings: Settings) -> list[int]:
    """The production versions in the order they took over, still standing (the last serves)."""
    stack: list[int] = []
    for move in history(settings, PRODUCTION):
        if move.action == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(move.to_version)
    return stack


# -- moving ------------------------------------------------------------------------------------
def _check_alias(alias: str) -> str:
    if alias not in ALIASES:
        raise LifecycleError(f"alias {alias!r} is not one of {', '.join(ALIASES)}")
    return alias


def _check_actor(who: str, why: str) -> None:
    if not who.strip():
        raise LifecycleError("an alias move needs who is moving it (who=...)")
    if not why.strip():
        raise LifecycleError("an alias move needs a reason (why=...)")


def _write(mlflow_client: MlflowClient, name: str, entry: AliasMove) -> None:
    mlflow_client.set_registered_model_tag(name, entry.tag, entry.to_json())


def _move(
    settings: Settings,
    *,
    alias: str,
    action: str,
    to_version: int,
    who: str,
    why: str,
    metrics: dict[str, Any],
) -> AliasMove:
    """Record, move the alias, confirm; a failed move is recorded as failed and raised."""
    from mlflow.exceptions import MlflowException

    name = settings.model_name
    mlflow_client = client(settings)
    with mlflow_errors(f"cannot record a move of {name}@{alias}"):
        entries, aliases = _recorded(mlflow_client, name)
        for before, after in zip(entries, _resolved(entries, aliases), strict=True):
            if before.outcome == PENDING:
                # Single writer: nobody else is mid-move, so an unconfirmed entry is settled now.
                settled = after if after.outcome == DONE else replace(after, outcome=FAILED, error="never confirmed")
                _write(mlflow_client, name, settled)
        entry = AliasMove(
            seq=max((e.seq for e in entries), default=0) + 1,
            alias=alias,
            action=action,
            from_version=aliases.get(alias),
            to_version=to_version,
            who=who,
            when=datetime.now(UTC).isoformat(timespec="seconds"),
            why=why,
            metrics=metrics,
            outcome=PENDING,
        )
        _write(mlflow_client, name, entry)
    try:
        mlflow_client.set_registered_model_alias(name, alias, str(to_version))
    except Exception as exc:
        message = exc.message if isinstance(exc, MlflowException) else str(exc)
        try:
            _write(mlflow_client, name, replace(entry, outcome=FAILED, error=message[:2000]))
        except Exception:  # the entry stays pending, which counts as no move
            log.exception("could not record the failure of history entry %s", entry.tag)
        raise LifecycleError(f"could not point {name}@{alias} at version {to_version}: {message}") from exc
    done = replace(entry, outcome=DONE)
    try:
        _write(mlflow_client, name, done)
    except Exception:  # the alias points there, so the pending entry reads as done
        log.exception("alias moved but history entry %s could not be confirmed", entry.tag)
    log.info("%s@%s: %s -> %s (%s by %s)", name, alias, entry.from_version, to_version, action, who)
    return done


def _servable(version: RegisteredVersion) -> list[str]:
    """Why a version may not get an alias at all (empty when it may)."""
    if version.status != "READY":
        return [f"its model version status is {version.status}"]
    if not version.complete:
        status = version.registration_status or "unknown (not registered by careassist)"
        return [f"its registration is {status}"]
    return []


def set_staging(
    settings: Settings, version: int | str, *, who: str, why: str, metrics: dict[str, Any] | None = None
) -> AliasMove | None:
    """Point ``staging`` at a completely registered version (None if it is already there)."""
    _check_actor(who, why)
    target = get_version(settings, version)
    problems = _servable(target)
    if problems:
        raise LifecycleError(f"version {target.version} of {target.name} cannot be staged: {'; '.join(problems)}")
    if current(settings, STAGING) == target.version:
        return None
    return _move(
        settings,
        alias=STAGING,
        action="stage",
        to_version=target.version,
        who=who,
        why=why,
        metrics=dict(metrics) if metrics is not None else target.metrics,
    )


def promote(settings: Settings, version: int | str, *, who: str, why: str) -> AliasMove | None:
    """Point ``production`` at a version whose gates passed (None if it already serves)."""
    _check_actor(who, why)
    target = get_version(settings, version)
    problems = _servable(target)
    if not problems and target.gate_status != "passed":
        problems = [f"gate_status is {target.gate_status or 'not set'}"] + target.gate_reasons
    if problems:
        raise PromotionRefused(f"version {target.version} of {target.name} cannot be promoted: {'; '.join(problems)}")
    if current(settings, PRODUCTION) == target.version:
        log.info("%s version %s is already in production", target.name, target.version)
        return None
    move = _move(
        settings,
        alias=PRODUCTION,
        action="promote",
        to_version=target.version,
        who=who,
        why=why,
        metrics=target.metrics,
    )
    marks = [key for key in ROLLED_BACK_TAGS if key in target.tags]
    if marks:
        # Promoted again on purpose: the mark would contradict the alias (the history keeps the record).
        _tag_version(settings, target.version, dict.fromkeys(marks), "clear the rolled-back mark of")
    return move


def rollback(settings: Settings, *, who: str, why: str) -> AliasMove:
    """Point ``production`` back at the version that served before the current one took over."""
    _check_actor(who, why)
    name = settings.model_name
    serving = current(settings, PRODUCTION)
    if serving is None:
        raise RollbackImpossible(f"{name} has no production version to roll back")
    stack = production_stack(settings)
    if not stack or stack[-1] != serving:
        recorded = stack[-1] if stack else "none"
        raise RollbackImpossible(
            f"{name}@production is version {serving} but its recorded history says {recorded}: the alias was"
            " moved outside careassist; promote the wanted version instead"
        )
    if len(stack) < 2:
        raise RollbackImpossible(
            f"version {serving} is the first production version of {name}: nothing to roll back to"
        )
    previous = stack[-2]
    try:
        target = get_version(settings, previous)
    except VersionNotFound:
        raise RollbackImpossible(f"the previous production version {previous} of {name} no longer exists") from None
    move = _move(
        settings,
        alias=PRODUCTION,
        action="rollback",
        to_version=target.version,
        who=who,
        why=why,
        metrics=target.metrics,
    )
    _tag_version(
        settings,
        serving,
        {"rolled_back": "true", "rolled_back_when": move.when, "rolled_back_why": why, "rolled_back_by": who},
        "mark as rolled back",
    )
    return move


def _tag_version(settings: Settings, version: int, tags: dict[str, str | None], what: str) -> None:
    """Set (or, for None, delete) version tags after a move; a failure is logged, not raised, so
    that nobody retries a move that already happened."""
    mlflow_client = client(settings)
    try:
        for key, value in tags.items():
            if value is None:
                mlflow_client.delete_model_version_tag(settings.model_name, str(version), key)
            else:
                mlflow_client.set_model_version_tag(settings.model_name, str(version), key, value)
    except Exception:
        log.exception("could not %s %s version %s", what, settings.model_name, version)
