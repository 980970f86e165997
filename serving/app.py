"""The assistant's HTTP service: a Flask application factory (``../shared/spec/api.md``).

``create_app(settings=None, model=None)`` builds everything from the settings at call time, never at
import. The request path is: size and key checks, JSON parsing, the crisis rule layer on the raw
text, the session's context, the answer cache (never for a crisis), the model, the audit record for
a crisis, the session's activity pushed back in the background. No message text is logged, counted
or stored; every failure is a documented 4xx JSON error, never a 500.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from serving.openapi import MAX_MESSAGE_CHARS, MAX_SESSION_ID_CHARS, openapi_document

if TYPE_CHECKING:
    from careassist.metrics import ServiceMetrics
    from careassist.model import AssistantModel
    from careassist.settings import Settings

log = logging.getLogger("careassist.serving")

#: JSON nesting deeper than this is refused before parsing (a request body is one flat object).
MAX_JSON_DEPTH = 32
#: Endpoints that need an API key; health, readiness, metrics and the document do not.
PROTECTED = ("/v1/",)

api = Blueprint("api", __name__)


class ApiError(Exception):
    """A documented error of the API (status, code, message)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


@dataclass
class Service:
    """What a request needs, built once per app."""

    settings: Settings
    source: Any
    cache: Any
    keys: Any
    limiter: Any
    sessions: Any
    audit: Any
    metrics: ServiceMetrics
    crisis_only: Any
    traffic: Any
    children: dict[tuple[str, bool, int], tuple[Any, Any]] = field(default_factory=dict)
    cache_results: dict[str, Any] = field(default_factory=dict)

    def cache_result(self, result: str) -> Any:
        """The cache-lookup counter of one result (looked up once, then kept)."""
        found = self.cache_results.get(result)
        if found is None:
            found = self.cache_results[result] = self.metrics.cache.labels(result=result)
        return found

    def request_metrics(self, endpoint: str, cached: bool, status: int) -> tuple[Any, Any]:
        """The latency histogram and request counter of one label set (looked up once, then kept)."""
        key = (endpoint, cached, status)
        found = self.children.get(key)
        if found is None:
            found = (
                self.metrics.latency.labels(endpoint=endpoint, cached=str(cached).lower()),
                self.metrics.requests.labels(endpoint=endpoint, status=str(status)),
            )
            self.children[key] = found
        return found


def _service() -> Service:
    service: Service = current_app.extensions["careassist"]
    return service


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        data: str | bytes = msgspec.json.encode(body)  # compact UTF-8 JSON, as json.dumps below, faster
    except (TypeError, ValueError, UnicodeEncodeError):  # e.g. a lone surrogate: the stdlib escapes it
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(
        data,
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": {"code": code, "message": message}}, status, headers)


class RequestIds:
    """Version-4 UUID strings without a system call per request: a random base drawn once per
    process (again after a fork) plus a counter. Unique, not secret: a request id is a label."""

    def __init__(self) -> None:
        self._pid = -1
        self._base = 0
        self._count = itertools.count()

    def __call__(self) -> str:
        if self._pid != os.getpid():
            self._pid, self._base, self._count = os.getpid(), int.from_bytes(os.urandom(16), "big"), itertools.count()
        value = (self._base + next(self._count)) & _UUID_MASK
        value = (value & ~(0xF << 76) | (0x4 << 76)) & ~(0x3 << 62) | (0x2 << 62)  # version 4, RFC 4122 variant
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_UUID_MASK = (1 << 128) - 1
_request_ids = RequestIds()


# -- request checks ----------------------------------------------------------------------------
def _json_depth_ok(raw: bytes) -> bool:
    """Nesting depth of a JSON text at most ``MAX_JSON_DEPTH`` (brackets inside strings ignored)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return True  # too few openings to nest deeper, wherever they are
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_assist_request(raw: bytes, content_type: str | None) -> tuple[str, str | None]:
    """The message and session id of a request body, or the ApiError that describes what is wrong."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid UTF-8 (byte {exc.start})") from None
    if not _json_depth_ok(raw):
        raise ApiError(400, "invalid_json", f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        # What msgspec refuses the standard library may still read (NaN, an escaped lone surrogate,
        # 1e400); either way its verdict and its error message are the documented ones.
        try:
            body = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object with a 'message' field")
    message = body.get("message")
    if message is None:
        raise ApiError(400, "invalid_request", "'message' is missing")
    if not isinstance(message, str):
        raise ApiError(400, "invalid_request", f"'message' must be a string, not {type(message).__name__}")
    message = message.strip()
    if not message:
        raise ApiError(400, "invalid_request", "'message' is empty")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ApiError(400, "invalid_request", f"'message' is longer than {MAX_MESSAGE_CHARS} characters")
    session_id = body.get("session_id")
    if session_id is not None:
        if not isinstance(session_id, str):
            raise ApiError(400, "invalid_request", f"'session_id' must be a string, not {type(session_id).__name__}")
        if not session_id or len(session_id) > MAX_SESSION_ID_CHARS:
            raise ApiError(400, "invalid_request", f"'session_id' must be 1 to {MAX_SESSION_ID_CHARS} characters")
    return message, session_id


@api.before_app_request
def _start() -> Response | None:
    # g and request are context-local proxies: each is resolved once here, not per attribute.
    state, current = g._get_current_object(), request._get_current_object()  # type: ignore[attr-defined]
    state.started = time.perf_counter()
    state.cached = False
    state.request_id = _request_ids()
    if not current.path.startswith(PROTECTED):
        return None
    service = _service()
    key = service.keys.credential(current.headers)
    key_id = service.keys.verify(key) if key else None
    if key_id is None:
        return _error(401, "unauthorized", "a valid API key is needed (Authorization: Bearer <key> or X-API-Key)")
    state.key_id = key_id
    allowed, retry_after = service.limiter.check(key_id)
    if not allowed:
        seconds = max(1, int(retry_after + 0.999))
        return _error(429, "rate_limited", f"too many requests; retry after {seconds} s", {"Retry-After": str(seconds)})
    return None


@api.after_app_request
def _finish(response: Response) -> Response:
    state, current = g._get_current_object(), request._get_current_object()  # type: ignore[attr-defined]
    service = _service()
    rule = current.url_rule
    endpoint = rule.rule if rule is not None else "unmatched"
    elapsed = time.perf_counter() - state.get("started", time.perf_counter())
    latency, requests = service.request_metrics(endpoint, bool(state.get("cached")), response.status_code)
    latency.observe(elapsed)
    requests.inc()
    response.headers["X-Request-ID"] = state.get("request_id", "")
    return response


# -- endpoints ---------------------------------------------------------------------------------
def _model_ref(loaded: Any) -> dict[str, str] | None:
    if loaded is None:
        return None
    return {"name": loaded.name, "version": str(loaded.version), "alias": loaded.alias}


@api.post("/v1/assist")
def assist() -> Response:
    from careassist.assistant import SessionContext
    from careassist.crisis_rules import detect_rules

    state, current = g._get_current_object(), request._get_current_object()  # type: ignore[attr-defined]
    service = _service()
    message, session_id = parse_assist_request(current.get_data(cache=False), current.content_type)
    loaded = service.source.current  # one model for the whole request, whatever swaps meanwhile
    rule_hit = detect_rules(message) is not None
    context = SessionContext(**_session_features(service, session_id)) if session_id else SessionContext()

    key = None
    if loaded is not None and not rule_hit:
        key = service.cache.key(message, str(loaded.version), (context.prior_crisis,))
        hit = service.cache.get(key)
        service.cache_result("hit" if hit is not None else "miss").inc()
        if hit is not None and not hit.get("crisis"):
            state.cached = True
            body = hit | {"request_id": state.request_id, "cached": True}
            _after_answer(service, session_id, body, message, loaded)
            return _json(body)
    else:
        service.cache_result("bypass").inc()

    assistant = loaded.assistant if loaded is not None else service.crisis_only
    answer = assistant.answer(message, context)
    if loaded is None and not answer.crisis:
        raise ApiError(503, "model_unavailable", "no model is loaded yet; crisis messages are still answered")
    body = {
        "request_id": state.request_id,
        "category": answer.category,
        "confidence": answer.confidence,
        "crisis": answer.crisis,
        "out_of_scope": answer.out_of_scope,
        "response": answer.response.to_dict(),
        "model": _model_ref(loaded),
        "cached": False,
    }
    metrics = service.metrics
    metrics.answers.labels(category=answer.category, reason=answer.reason).inc()
    if answer.quality_fallback:
        metrics.quality_fallbacks.inc()
    if answer.crisis:
        metrics.crisis.labels(layer=answer.crisis_layer or "unknown").inc()
        service.audit.record_crisis(
            session_id=session_id,
            model_version=None if loaded is None else str(loaded.version),
            layer=answer.crisis_layer,
            kind=answer.crisis_kind,
            request_id=state.request_id,
        )
    elif key is not None:
        service.cache.set(key, {k: v for k, v in body.items() if k not in ("request_id", "cached")})
    _after_answer(service, session_id, body, message, loaded)
    return _json(body)


def _session_features(service: Service, session_id: str) -> dict[str, Any]:
    features = service.sessions.get(session_id)
    return {
        "crisis_flags_7d": int(features.get("crisis_flags_7d") or 0),
        "messages_24h": int(features.get("messages_24h") or 0),
        "last_category": features.get("last_category") or None,
        "distinct_categories": int(features.get("distinct_categories") or 0),
    }


def _after_answer(service: Service, session_id: str | None, body: dict[str, Any], message: str, loaded: Any) -> None:
    if session_id:
        service.sessions.push_later(session_id, body["category"], body["crisis"])
    # Anonymous counts for drift detection (label, bins, token counts; never the text).
    service.traffic.record(
        category=body["category"], crisis=body["crisis"], out_of_scope=body["out_of_scope"],
        confidence=body["confidence"], message=message, model=None if loaded is None else loaded.assistant.model,
    )


@api.get("/v1/model")
def model_info() -> Response:
    loaded = _service().source.current
    if loaded is None:
        raise ApiError(503, "model_unavailable", "no model is loaded yet")
    return _json(
        {
            "name": loaded.name,
            "version": str(loaded.version),
            "alias": loaded.alias,
            "run_id": loaded.run_id or "",
            "dataset_version": loaded.dataset_version or "",
            "loaded_at": loaded.loaded_at.isoformat(),
        }
    )


@api.get("/healthz")
def healthz() -> Response:
    return _json({"status": "alive"})


@api.get("/readyz")
def readyz() -> Response:
    service = _service()
    dependencies = {
        "registry": service.source.registry_status(),
        "cache": service.cache.status(),
        "feature_store": service.sessions.status(),
    }
    for name, state in dependencies.items():
        service.metrics.set_dependency(name, state == "ok")
    ready = bool(service.source.ready)
    body = {"ready": ready, "model": _model_ref(service.source.current), "dependencies": dependencies}
    return _json(body, 200 if ready else 503)


@api.get("/metrics")
def metrics() -> Response:
    from careassist.metrics import CONTENT_TYPE

    service = _service()
    loaded = service.source.current
    if loaded is not None:
        service.metrics.set_model(loaded.name, str(loaded.version), loaded.alias, loaded.loaded_at.timestamp())
    return Response(service.metrics.render(), mimetype=None, content_type=CONTENT_TYPE)


@api.get("/openapi.json")
def openapi() -> Response:
    return _json(openapi_document())


# -- errors ------------------------------------------------------------------------------------
_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    431: "request_header_fields_too_large",
}


def _api_error(exc: ApiError) -> Response:
    return _error(exc.status, exc.code, exc.message, exc.headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 400
    code = _HTTP_CODES.get(status, "invalid_request")
    if status == 413:
        message = f"the body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"
    else:
        message = exc.description or exc.name
    return _error(status if status in _HTTP_CODES else 400, code, message)


def _unexpected(exc: Exception) -> Response:
    # Never a 500 with a traceback: log the type only (no message text can leak), answer 503.
    log.exception("unexpected %s while serving %s", type(exc).__name__, request.path)
    return _error(503, "model_unavailable", "the service could not answer; try again")


# -- the factory -------------------------------------------------------------------------------
def create_app(settings: Settings | None = None, model: AssistantModel | None = None, **parts: Any) -> Flask:
    """The service for ``settings`` (default: the environment's). ``model`` serves a given model
    instead of the registry's (tests); ``parts`` replace a built part (source, cache, keys,
    limiter, sessions, audit, traffic) by name."""
    from careassist.assistant import Assistant
    from careassist.metrics import create_metrics
    from careassist.settings import get_settings

    settings = settings or get_settings()
    app = Flask("careassist-serving")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    service = Service(
        settings=settings,
        source=parts.get("source") or _model_source(settings, model),
        cache=parts.get("cache") or _cache(settings),
        keys=parts.get("keys") or _keys(settings),
        limiter=parts.get("limiter") or _limiter(settings),
        sessions=parts.get("sessions") or _sessions(settings),
        audit=parts.get("audit") or _audit(settings),
        metrics=parts.get("metrics") or create_metrics(),
        crisis_only=Assistant(None),
        traffic=parts.get("traffic") or _traffic(settings),
    )
    app.extensions["careassist"] = service
    app.register_blueprint(api)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    if parts.get("start", True):
        service.source.start()
    return app


def _model_source(settings: Settings, model: AssistantModel | None) -> Any:
    from careassist.model_source import ModelSource

    if model is not None:
        return ModelSource.from_model(model, settings=settings)
    return ModelSource(settings)


def _cache(settings: Settings) -> Any:
    from careassist.cache import make_cache

    return make_cache(settings)


def _keys(settings: Settings) -> Any:
    from careassist.access import ApiKeys

    return ApiKeys.from_settings(settings)


def _limiter(settings: Settings) -> Any:
    from careassist.access import make_rate_limiter

    return make_rate_limiter(settings)


def _sessions(settings: Settings) -> Any:
    from careassist.sessions import SessionContextService

    return SessionContextService(settings)


def _audit(settings: Settings) -> Any:
    from careassist.audit import AuditLog

    return AuditLog(settings)


def _traffic(settings: Settings) -> Any:
    from careassist.traffic import TrafficRecorder

    return TrafficRecorder(settings)
