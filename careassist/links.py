"""Where a browser finds the platform's other pages, derived from the settings: the registered model
on the MLflow UI and the assistant's API document; the Airflow plugin shows them as links.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careassist.settings import Settings

log = logging.getLogger(__name__)

#: Bind-everything addresses say where a server listens, not where a browser can reach it.
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})
LOOPBACK = "127.0.0.1"


def _browser_host(host: str) -> str:
    host = LOOPBACK if host in _WILDCARDS else host
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def mlflow_ui_url(settings: Settings) -> str:
    """The MLflow tracking server's UI: ``mlflow_uri`` when set, else the profile's server (``make mlflow``)."""
    if settings.mlflow_uri:
        return settings.mlflow_uri.rstrip("/")
    return f"http://{_browser_host(settings.api_host)}:{settings.mlflow_port}"


def mlflow_model_url(settings: Settings) -> str:
    """The registered model's page (its versions and aliases) on the MLflow UI."""
    return f"{mlflow_ui_url(settings)}/#/models/{settings.model_name}"


def api_url(settings: Settings) -> str:
    """The assistant's HTTP service (``healthcare-ai serve``)."""
    return f"http://{_browser_host(settings.api_host)}:{settings.api_port}"


def api_docs_url(settings: Settings) -> str:
    """The service's OpenAPI document."""
    return f"{api_url(settings)}/openapi.json"


def airflow_external_views(settings: Settings | None = None) -> list[dict[str, str]]:
    """The Airflow UI's external links (Airflow 3.1+ ``external_views``; no ``url_route``: a new tab).

    With ``settings`` None the process's settings are used; invalid settings give no links (and a
    logged error) rather than a plugin that fails to load.
    """
    if settings is None:
        from careassist.settings import SettingsError, get_settings

        try:
            settings = get_settings()
        except SettingsError as exc:
            log.error("no CareAssist links in the Airflow UI: %s", exc)
            return []
    return [
        {
            "name": f"MLflow model {settings.model_name}",
            "href": mlflow_model_url(settings),
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Assistant API (OpenAPI)",
            "href": api_docs_url(settings),
            "destination": "nav",
            "category": "docs",
        },
    ]
