"""Starting the service: a development key on the embedded profile, never a service without keys."""

from __future__ import annotations

import stat

import pytest

from careassist import serve
from careassist.access import digest_key
from careassist.settings import Settings, load_settings

pytestmark = pytest.mark.unit


def test_the_embedded_profile_gets_a_private_development_key_once(settings: Settings) -> None:
    environment = serve.service_environment(settings)
    key_file = settings.root / "serving" / serve.DEV_KEY_FILE
    key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with_file = load_settings(data_root=settings.root, api_keys_file=environment["CAREASSIST_API_KEYS_FILE"])
    assert with_file.api_key_digests == {digest_key(key)}
    assert key not in (settings.root / "serving" / serve.DEV_DIGESTS_FILE).read_text()
    serve.service_environment(settings)
    assert key_file.read_text().strip() == key  # the same key on the next start


def test_the_environment_carries_the_settings_and_a_fresh_metrics_folder(make_settings) -> None:  # type: ignore[no-untyped-def]
    configured = make_settings(api_key_hashes=digest_key("k"), api_port=8123)
    stale = configured.root / "serving" / "prometheus" / "counter_1.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    environment = serve.service_environment(configured)
    assert environment["CAREASSIST_API_PORT"] == "8123"
    assert environment["CAREASSIST_API_KEYS_FILE"] == ""  # a configured key: no development key
    assert not stale.exists() and environment["PROMETHEUS_MULTIPROC_DIR"].endswith("prometheus")
    assert serve.gunicorn_command()[-1] == "serving.wsgi:app"


def test_production_without_keys_refuses_to_start(make_settings) -> None:  # type: ignore[no-untyped-def]
    production = make_settings(profile="production", database_url="postgresql://postgres@127.0.0.1:5432",
                               redis_url="redis://127.0.0.1:6379/15")
    with pytest.raises(serve.ServeError, match="CAREASSIST_API_KEY_HASHES"):
        serve.service_environment(production)
