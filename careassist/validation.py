"""Validation of a staged snapshot with a Great Expectations 1.x suite defined as code.

A batch that passes is published (it becomes the current dataset); a batch that fails is moved to
``quarantine/`` with its report, the run stops with a message listing every failed expectation with
examples, and the last good snapshot stays current.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from careassist import ingest, privacy
from careassist.storage import Location
from careassist.taxonomy import CATEGORIES, DATA_LABELS, KINDS

if TYPE_CHECKING:
    import pandas as pd

    from careassist.settings import Settings

log = logging.getLogger(__name__)

SUITE_NAME = "conversation_snapshot"
EXAMPLES_PER_FAILURE = 5


class ValidationFailed(RuntimeError):
    """A batch failed its expectations; the message lists each failure with examples."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ValidationReport:
    """What a validation run found, saved as JSON beside the snapshot."""

    dataset_version: str
    success: bool
    evaluated_at: str
    statistics: dict[str, Any]
    failures: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": SUITE_NAME,
            "dataset_version": self.dataset_version,
            "success": self.success,
            "evaluated_at": self.evaluated_at,
            "statistics": self.statistics,
            "failures": self.failures,
            "results": self.results,
        }

    def summary(self) -> str:
        lines = [f"dataset {self.dataset_version} failed {len(self.failures)} expectation(s):"]
        for failure in self.failures:
            lines.append(f"  - {failure['expectation']} {failure['target']}: {failure['problem']}")
            for example in failure["examples"]:
                lines.append(f"      e.g. {example}")
        return "\n".join(lines)


def _row_expectations(settings: Settings) -> list[Any]:
    import great_expectations.expectations as gxe

    required = ("conversation_id", "text", "label", "kind", "source", "source_id", "event_timestamp")
    return [
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=list(ingest.SNAPSHOT_COLUMNS)),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToBeOfType(column="text", type_="str"),
        gxe.ExpectColumnValuesToBeOfType(column="source_row", type_="int64"),
        gxe.ExpectColumnValuesToBeOfType(column="event_timestamp", type_="Timestamp"),
        *(gxe.ExpectColumnValuesToNotBeNull(column=column) for column in required),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(DATA_LABELS)),
        gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=list(KINDS)),
        gxe.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1, max_value=settings.max_text_chars),
        gxe.ExpectColumnValuesToNotMatchRegexList(column="text", regex_list=list(privacy.PII_DETECTORS.values())),
        gxe.ExpectColumnValuesToBeUnique(column="conversation_id"),
        gxe.ExpectColumnProportionOfUniqueValuesToBeBetween(column="text", min_value=1 - settings.max_duplicate_rate),
        gxe.ExpectColumnDistinctValuesToContainSet(column="label", value_set=["crisis"]),
    ]


def _count_expectations(settings: Settings) -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=settings.min_rows_per_category),
    ]


def _run_suite(frame: pd.DataFrame, expectations: list[Any], name: str) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(name).add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
    )
    suite = gx.ExpectationSuite(name=f"{SUITE_NAME}.{name}")
    for expectation in expectations:
        suite.add_expectation(expectation)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(
        suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES_PER_FAILURE}
    )


def _describe(result: Any, frame: pd.DataFrame, where: str) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "regex_list", "value_set", "column_list")}
    outcome = result.result or {}
    target = f"column {kwargs['column']!r}" if "column" in kwargs else "table"
    examples: list[str] = []
    indexes = outcome.get("partial_unexpected_index_list") or []
    if where == "rows":
        indexes = sorted(indexes, key=lambda i: (frame.at[i, "source_file"], frame.at[i, "source_row"]))
    for index in indexes:
        row = frame.loc[index]
        column = kwargs.get("column", "")
        value = str(row[column])[:80] if column else ""
        examples.append(
            f"{row['source_file']} row {row['source_row']} field {column!r}: {value!r}"
            if where == "rows"
            else f"label {row['label']!r}: {row['rows']} rows"
        )
    if not examples and outcome.get("partial_unexpected_list"):
        examples = [repr(v)[:80] for v in outcome["partial_unexpected_list"]]
    if "unexpected_count" in outcome:
        problem = f"{outcome['unexpected_count']} of {outcome.get('element_count')} values unexpected"
    elif outcome.get("observed_value") is not None:
        problem = f"observed {outcome['observed_value']!r}"
    else:
        wanted = {k: v for k, v in config.kwargs.items() if k == "value_set" and len(v) <= 5}
        problem = f"not met {wanted or kwargs}"
    return {
        "expectation": config.type,
        "target": target,
        "kwargs": kwargs,
        "problem": problem,
        "examples": examples,
    }


def _label_counts(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    counts = frame["label"].value_counts()
    return pd.DataFrame({"label": list(CATEGORIES), "rows": [int(counts.get(c, 0)) for c in CATEGORIES]})


def validate_frame(frame: pd.DataFrame, settings: Settings, version: str) -> ValidationReport:
    """Run the suite on a snapshot table (and its per-category counts) and build the report."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    counts = _label_counts(frame)
    outcomes = [("rows", frame, _run_suite(frame, _row_expectations(settings), "rows"))]
    outcomes.append(("counts", counts, _run_suite(counts, _count_expectations(settings), "label_counts")))
    results, failures = [], []
    for where, data, outcome in outcomes:
        for result in outcome.results:
            described = _describe(result, data, where)
            results.append({"expectation": described["expectation"], "target": described["target"], "success": result.success})
            if not result.success:
                failures.append(described)
    statistics = {
        "evaluated_expectations": len(results),
        "successful_expectations": sum(r["success"] for r in results),
        "rows": len(frame),
        "rows_per_category": dict(zip(counts["label"], counts["rows"], strict=True)),
    }
    return ValidationReport(
        dataset_version=version,
        success=not failures,
        evaluated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        statistics=statistics,
        failures=failures,
        results=results,
    )


def validate_staged(batch: ingest.StagedBatch, settings: Settings) -> ValidationReport:
    """Validate a staged batch, then publish it or quarantine it; raise when it failed."""
    location = Location(batch.uri, settings)
    report = validate_frame(ingest.read_snapshot_frame(location), settings, batch.version)
    body = json.dumps(report.to_dict(), indent=2, sort_keys=True, default=str).encode()
    root = ingest.datasets(settings)
    published = root.child("snapshots", batch.version)
    if location.uri == published.uri:  # already published: validation is a re-check only
        return report
    location.write_bytes(ingest.REPORT_FILE, body)
    if not report.success:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = root.child("quarantine", f"{batch.version}-{stamp}")
        location.move_to(target)
        log.error("quarantined dataset %s at %s", batch.version, target.uri)
        raise ValidationFailed(f"{report.summary()}\nthe batch was moved to {target.uri} with its report", report.to_dict())
    publish(location, published, batch.version, settings)
    return report


def publish(staged: Location, published: Location, version: str, settings: Settings) -> None:
    """Move a validated batch to ``snapshots/`` and make it the current dataset (pointer last)."""
    if not published.exists(ingest.MANIFEST_FILE):
        published.delete()
        staged.move_to(published, last=ingest.MANIFEST_FILE)
    else:
        staged.delete()
    pointer = {
        "dataset_version": version,
        "uri": published.uri,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    ingest.datasets(settings).write_bytes(ingest.CURRENT_FILE, json.dumps(pointer, indent=2).encode())
    log.info("dataset %s is now current", version)
