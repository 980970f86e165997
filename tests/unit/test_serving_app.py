"""The HTTP service (serving/app.py) against ../shared/spec/api.md, with a small model in process."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from careassist.access import digest_key
from careassist.model import AssistantModel
from careassist.model_source import ModelSource
from careassist.settings import Settings
from serving.app import MAX_JSON_DEPTH, create_app
from serving.openapi import openapi_document

pytestmark = pytest.mark.unit

KEY, OLD_KEY = "test-key-current", "test-key-being-rotated-out"
ASK = "How can I help my mother get in and out of the bath safely?"
CRISIS = "I want to kill myself tonight"


@pytest.fixture(scope="module")
def small_model() -> AssistantModel:
    from careassist.corpus import load_seed_corpus
    from careassist.training import train_assistant

    return train_assistant(load_seed_corpus().groupby("label").head(80), candidates=["tfidf_mnb"]).model


class NoSessions:
    def get(self, session_id: str) -> dict[str, Any]:
        return {"crisis_flags_7d": 1} if session_id == "had-crisis" else {}

    def push_later(self, session_id: str, category: str, crisis: bool) -> None:
        self.pushed = [*getattr(self, "pushed", []), (session_id, category, crisis)]

    def status(self) -> str:
        return "ok"


def build(settings: Settings, model: AssistantModel | None, **parts: Any) -> Flask:
    parts.setdefault("sessions", NoSessions())
    if model is None:
        parts.setdefault("source", EmptySource())
    return create_app(settings, model, **parts)


class EmptySource:
    """A model source with nothing to serve (the registry has no production version yet)."""

    current = None
    ready = False

    def registry_status(self) -> str:
        return "degraded"

    def start(self) -> None:
        pass


@pytest.fixture
def service_settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(api_key_hashes=f"{digest_key(KEY)},{digest_key(OLD_KEY)}", rate_limit_per_minute=1000)


@pytest.fixture
def app(service_settings: Settings, small_model: AssistantModel) -> Flask:
    return build(service_settings, small_model)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def ask(client: FlaskClient, body: Any, key: str | None = KEY, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kwargs.pop("headers", {}))
    if "data" not in kwargs:
        kwargs["json"] = body
    return client.post("/v1/assist", headers=headers, **kwargs)


# -- answers ---------------------------------------------------------------------------------
def test_an_answer_has_the_documented_shape_and_a_repeat_comes_from_the_cache(client: FlaskClient) -> None:
    first = ask(client, {"message": ASK, "unknown": "ignored"})
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert set(body) == {"request_id", "category", "confidence", "crisis", "out_of_scope", "response", "model", "cached"}
    assert body["cached"] is False and body["crisis"] is False
    assert len(body["response"]["steps"]) >= 3 and body["response"]["steps"][0].startswith("1. ")
    assert body["response"]["disclaimer"] and body["response"]["provider_guidance"]
    assert body["model"] == {"name": "healthcare-assistant", "version": "injected", "alias": "production"}
    again = ask(client, {"message": f"  {ASK.upper()}  "}).get_json()
    assert again["cached"] is True and again["request_id"] != body["request_id"]
    assert {k: v for k, v in again.items() if k not in ("request_id", "cached")} == {
        k: v for k, v in body.items() if k not in ("request_id", "cached")
    }


def test_a_crisis_is_answered_fresh_every_time_and_audited(client: FlaskClient, service_settings: Settings) -> None:
    for _ in range(2):
        body = ask(client, {"message": CRISIS, "session_id": "sess-42"}).get_json()
        assert body["crisis"] is True and body["category"] == "crisis" and body["cached"] is False
        assert any("988" in r["contact"] for r in body["response"]["resources"])
    lines = [json.loads(line) for f in (service_settings.root / "audit").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(lines) == 2
    assert all("sess-42" not in json.dumps(line) and "kill" not in json.dumps(line) for line in lines)
    assert lines[0]["model_version"] == "injected"


def test_an_earlier_crisis_in_the_session_escalates_and_is_cached_apart(client: FlaskClient) -> None:
    plain = ask(client, {"message": ASK}).get_json()
    escalated = ask(client, {"message": ASK, "session_id": "had-crisis"}).get_json()
    assert escalated["cached"] is False
    assert escalated["response"] != plain["response"]


def test_a_new_model_version_never_gets_an_old_versions_cached_answer(
    service_settings: Settings, small_model: AssistantModel
) -> None:
    first = ModelSource.from_model(small_model, version="1", settings=service_settings)
    second = ModelSource.from_model(small_model, version="2", settings=service_settings)

    class Switch:
        def __init__(self) -> None:
            self.source = first

        current = property(lambda self: self.source.current)
        ready = property(lambda self: self.source.ready)

        def registry_status(self) -> str:
            return "ok"

        def start(self) -> None:
            first.start(watch=False)
            second.start(watch=False)

    switch = Switch()
    client = build(service_settings, small_model, source=switch).test_client()
    assert ask(client, {"message": ASK}).get_json()["model"]["version"] == "1"
    assert ask(client, {"message": ASK}).get_json()["cached"] is True
    switch.source = second
    body = ask(client, {"message": ASK}).get_json()
    assert body["model"]["version"] == "2" and body["cached"] is False


def test_without_a_model_only_a_crisis_is_answered(service_settings: Settings) -> None:
    client = build(service_settings, None).test_client()
    response = ask(client, {"message": ASK})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "model_unavailable"
    crisis = ask(client, {"message": CRISIS})
    assert crisis.status_code == 200
    assert crisis.get_json()["crisis"] is True and crisis.get_json()["model"] is None
    assert client.get("/readyz").status_code == 503
    assert client.get("/v1/model", headers={"X-API-Key": KEY}).status_code == 503


# -- keys and limits -------------------------------------------------------------------------
def test_api_keys_bearer_or_header_and_both_keys_of_a_rotation(client: FlaskClient) -> None:
    assert ask(client, {"message": ASK}, key=None).status_code == 401
    assert ask(client, {"message": ASK}, key="wrong").get_json()["error"]["code"] == "unauthorized"
    assert ask(client, {"message": ASK}, key=OLD_KEY).status_code == 200
    assert ask(client, {"message": ASK}, key=None, headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/v1/model").status_code == 401


def test_the_rate_limit_answers_429_with_retry_after(make_settings, small_model: AssistantModel) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(api_key_hashes=digest_key(KEY), rate_limit_per_minute=3)
    client = build(settings, small_model).test_client()
    codes = [ask(client, {"message": ASK}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = ask(client, {"message": ASK})
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid_json"),
        (b"\xff\xfe\x00bad", "application/json", 400, "invalid_json"),
        (b"[1, 2]", "application/json", 400, "invalid_request"),
        (b'"just a string"', "application/json", 400, "invalid_request"),
        (b"{}", "application/json", 400, "invalid_request"),
        (b'{"message": ""}', "application/json", 400, "invalid_request"),
        (b'{"message": "   \\n\\t "}', "application/json", 400, "invalid_request"),
        (b'{"message": 42}', "application/json", 400, "invalid_request"),
        (b'{"message": null}', "application/json", 400, "invalid_request"),
        (b'{"message": ["a"]}', "application/json", 400, "invalid_request"),
        (b'{"message": "hi", "session_id": 7}', "application/json", 400, "invalid_request"),
        (json.dumps({"message": "hi", "session_id": "s" * 129}).encode(), "application/json", 400, "invalid_request"),
        (json.dumps({"message": "a" * 4001}).encode(), "application/json", 400, "invalid_request"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "application/json", 400, "invalid_json"),
        (b"message=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"message": "hi"}', "", 415, "unsupported_media_type"),
        (b'{"message": "hi"}', "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_bad_requests_get_the_documented_error(client: FlaskClient, data: bytes, content_type: str, status: int, code: str) -> None:
    response = ask(client, None, data=data, content_type=content_type)
    assert response.status_code == status, response.get_data()
    assert response.get_json()["error"]["code"] == code


def test_a_body_over_the_limit_is_413_and_odd_messages_still_get_answers(client: FlaskClient, app: Flask) -> None:
    huge = json.dumps({"message": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)}).encode()
    response = ask(client, None, data=huge, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"
    for message in ("🙂🙂🙂", "<script>alert(1)</script>", "¿Dónde está el baño?", "a\x00b\x07c", "4000" * 1000):
        body = ask(client, {"message": message}).get_json()
        assert body["response"]["disclaimer"], message


def test_unknown_paths_and_methods_are_json_errors(client: FlaskClient) -> None:
    assert client.get("/nope").get_json()["error"]["code"] == "not_found"
    wrong = client.get("/v1/assist", headers={"Authorization": f"Bearer {KEY}"})
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"


# -- other endpoints -------------------------------------------------------------------------
def test_model_health_readiness_metrics_and_the_document(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    info = client.get("/v1/model", headers={"X-API-Key": KEY}).get_json()
    assert info["name"] == "healthcare-assistant" and info["version"] == "injected" and info["loaded_at"]
    assert client.get("/healthz").get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["ready"] is True
    assert set(ready.get_json()["dependencies"]) == {"registry", "cache", "feature_store"}
    secret = "zanzibarquartz"
    ask(client, {"message": f"my {secret} aunt fell down the stairs"})
    ask(client, {"message": CRISIS})
    metrics = client.get("/metrics").get_data(as_text=True)
    for family in ("careassist_request_seconds_bucket", "careassist_answers_total", "careassist_crisis_detections_total",
                   "careassist_cache_total", "careassist_model_info", "careassist_dependency_up"):
        assert family in metrics, family
    # In multiprocess mode (gunicorn; or once Feast's import has switched prometheus_client to it)
    # each worker's series carries its pid.
    assert re.search(r'careassist_model_info\{alias="production",name="healthcare-assistant",(pid="\d+",)?'
                     r'version="injected"\} 1\.0', metrics), metrics
    assert secret not in metrics and secret not in caplog.text
    loaded_at = datetime.fromisoformat(info["loaded_at"]).timestamp()
    found = re.search(r"^careassist_model_loaded_timestamp_seconds(?:\{[^}]*\})? (\S+)$", metrics, re.MULTILINE)
    assert found and abs(float(found.group(1)) - loaded_at) < 1.0, metrics  # when the served model was loaded
    assert client.get("/openapi.json").get_json()["openapi"].startswith("3.")


def test_every_route_is_in_the_openapi_document(app: Flask) -> None:
    documented = {(path, method.upper()) for path, item in openapi_document()["paths"].items() for method in item}
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, serving.app; print(any(m in sys.modules for m in ('mlflow', 'feast', 'airflow', 'sklearn')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"


def test_request_ids_are_distinct_version_4_uuids_and_a_forked_worker_draws_a_new_base(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uuid

    from serving.app import RequestIds

    ids = RequestIds()
    first = [ids() for _ in range(20_000)]
    assert len(set(first)) == len(first)
    assert all(uuid.UUID(value).version == 4 and uuid.UUID(value).variant == uuid.RFC_4122 for value in first[:200])
    monkeypatch.setattr("serving.app.os.getpid", lambda: -12345)  # as in a worker forked after the first call
    after_fork = [ids() for _ in range(1_000)]
    assert not set(after_fork) & set(first)
