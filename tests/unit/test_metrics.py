"""The service's model gauges: which version serves and since when (the staleness alert reads both)."""

from __future__ import annotations

import re

import pytest

from careassist import metrics as metrics_module
from careassist.metrics import create_metrics

pytestmark = pytest.mark.unit


def _loaded_at(text: str) -> float:
    found = re.search(r"^careassist_model_loaded_timestamp_seconds(?:\{[^}]*\})? (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def test_the_loaded_timestamp_follows_the_version_not_the_scrape(monkeypatch: pytest.MonkeyPatch) -> None:
    service = create_metrics()
    clock = iter([1_000.0, 2_000.0, 3_000.0, 4_000.0])
    monkeypatch.setattr(metrics_module.time, "time", lambda: next(clock))

    service.set_model("healthcare-assistant", "3", "production")
    service.set_model("healthcare-assistant", "3", "production")  # a later scrape, same version
    assert _loaded_at(service.render().decode()) == 1_000.0

    service.set_model("healthcare-assistant", "4", "production")  # a promotion swapped version 4 in
    text = service.render().decode()
    assert _loaded_at(text) == 2_000.0
    assert 'version="4"} 1.0' in text and 'version="3"} 0.0' in text

    service.set_model("healthcare-assistant", "3", "production")  # rolled back: loaded again, now
    assert _loaded_at(service.render().decode()) == 3_000.0


def test_an_explicit_load_time_wins() -> None:
    service = create_metrics()
    service.set_model("healthcare-assistant", "7", "production", loaded_at=1_700_000_000.0)
    service.set_model("healthcare-assistant", "7", "production")
    assert _loaded_at(service.render().decode()) == 1_700_000_000.0
