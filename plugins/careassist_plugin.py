"""CareAssist's Airflow plugin: registrations only (the URLs and the listener live in the package).

* Links in the Airflow UI to the registered model on the MLflow UI (Browse) and to the assistant's
  OpenAPI document (Docs), from the profile's settings (``careassist.links``).
* The pipeline audit listener (``careassist.pipeline_audit``): DAG runs and task instances to
  ``<data root>/audit/pipeline-YYYY-MM-DD.jsonl``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from careassist import links, pipeline_audit


class CareAssistPlugin(AirflowPlugin):
    name = "careassist"
    external_views: ClassVar[list[Any]] = links.airflow_external_views()
    listeners: ClassVar[list[ModuleType | object]] = [pipeline_audit]
