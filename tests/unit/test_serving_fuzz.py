"""Schema-driven fuzzing of the service from its own /openapi.json: no input ever yields a 5xx
other than the documented 503, and every response matches the document.

Schemathesis generates requests for every operation, with a valid key (the request reaches the
handlers) and with none; a second property sends raw bytes, odd content types and deep JSON to
POST /v1/assist. Together well over 1,000 requests.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth

from careassist.access import digest_key
from careassist.model import AssistantModel
from careassist.settings import Settings
from serving.app import create_app

pytestmark = [pytest.mark.unit, pytest.mark.slow]

KEY = "fuzz-key"
PER_OPERATION = 600
RAW_EXAMPLES = 400
FUZZ = settings(
    max_examples=PER_OPERATION, deadline=None, database=None, derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def small_model() -> AssistantModel:
    from careassist.corpus import load_seed_corpus
    from careassist.training import train_assistant

    return train_assistant(load_seed_corpus().groupby("label").head(60), candidates=["tfidf_mnb"]).model


class Sessions:
    def get(self, session_id: str) -> dict[str, Any]:
        return {}

    def push_later(self, session_id: str, category: str, crisis: bool) -> None:
        pass

    def status(self) -> str:
        return "ok"


@pytest.fixture
def app(make_settings, small_model: AssistantModel) -> Flask:  # type: ignore[no-untyped-def]
    service_settings: Settings = make_settings(api_key_hashes=digest_key(KEY), rate_limit_per_minute=100_000)
    return create_app(service_settings, small_model, sessions=Sessions())


def fuzz(operation: Any, mode: GenerationMode, statuses: Counter[int]) -> None:
    """Run generated cases of one operation, half of them with a valid key."""

    @FUZZ
    @given(case=operation.as_strategy(mode), authorised=st.booleans())
    def run(case: Any, authorised: bool) -> None:
        if authorised:
            # A valid key in place of whatever credentials were generated.
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "x-api-key")}
            case.headers["Authorization"] = f"Bearer {KEY}"
        response = case.call()
        statuses[response.status_code] += 1
        assert response.status_code < 500 or response.status_code == 503, (case.as_curl_command(), response.text)
        if mode is GenerationMode.POSITIVE:
            case.validate_response(response, excluded_checks=[ignored_auth] if authorised else None)

    run()


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(app: Flask) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):
        # Negative data needs something to break: only operations with a request body have it.
        if mode is GenerationMode.POSITIVE or operation.method.upper() == "POST":
            fuzz(operation, mode, statuses)
    # Operations without inputs are exhausted after a few cases; POST /v1/assist takes the rest.
    assert statuses[200] > 200 and statuses[401] > 200 and statuses[400] > 50, statuses
    assert sum(statuses.values()) >= 1000, statuses
    print(f"schemathesis: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")


def _nested(depth: int) -> bytes:
    return b'{"message": ' + b"[" * depth + b"1" + b"]" * depth + b"}"


bodies = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=50),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=30).map(lambda v: __import__("json").dumps({"message": v}).encode()),
    st.integers(min_value=1, max_value=5000).map(_nested),
    st.text(min_size=1, max_size=5000).map(lambda t: __import__("json").dumps({"message": t, "session_id": t[:200]}).encode()),
)
content_types = st.sampled_from(["application/json", "application/json; charset=latin-1", "text/plain", "", "APPLICATION/JSON",
                                 "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"])


def test_raw_bodies_and_content_types_never_make_a_server_error(app: Flask) -> None:
    client = app.test_client()
    statuses: Counter[int] = Counter()

    @settings(max_examples=RAW_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(body=bodies, content_type=content_types)
    def run(body: bytes, content_type: str) -> None:
        response = client.post("/v1/assist", data=body, content_type=content_type,
                               headers={"Authorization": f"Bearer {KEY}"})
        statuses[response.status_code] += 1
        assert response.status_code in (200, 400, 413, 415), (body[:200], content_type, response.get_data()[:300])
        assert response.is_json

    run()
    assert sum(statuses.values()) == RAW_EXAMPLES and statuses[400] > 0 and statuses[200] > 0, statuses
    print(f"raw bodies: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
