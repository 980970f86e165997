"""The operators' command line: ``healthcare-ai <command>``.

Heavy libraries are imported inside the commands that need them, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from careassist.settings import Settings, SettingsError, get_settings

Command = Callable[[argparse.Namespace, Settings], int]


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    """Show the effective settings and the locations derived from them."""
    shown = settings.model_dump(mode="json")
    for secret in ("database_url", "redis_url"):
        if shown.get(secret) and "@" in shown[secret]:
            scheme, rest = shown[secret].split("://", 1)
            shown[secret] = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    shown["derived"] = {
        "raw_location": settings.raw_location,
        "datasets_location": settings.datasets_location,
        "artifacts_location": settings.artifacts_location,
        "offline_store_location": settings.offline_store_location,
        "model_uri": settings.model_uri,
    }
    _print_json(shown)
    return 0


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create the data root (and in production the bucket and databases); seed the raw location."""
    from careassist import bootstrap

    _print_json(bootstrap.initialise(settings, seed_raw=not args.no_seed))
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Check that the profile's services (PostgreSQL, Redis, S3) can be reached."""
    from careassist import bootstrap

    status = bootstrap.check_services(settings)
    _print_json(status)
    return 0 if all(not value.startswith("unreachable") for value in status.values()) else 1


def cmd_corpus_stats(args: argparse.Namespace, settings: Settings) -> int:
    """Print the seed corpus's counts per label and kind."""
    from careassist.corpus import load_seed_corpus

    corpus = load_seed_corpus()
    print(corpus.groupby(["label", "kind"]).size().to_string())
    print(f"total {len(corpus)}")
    return 0


def cmd_corpus_check(args: argparse.Namespace, settings: Settings) -> int:
    """Check new seed-corpus files before they join the corpus; exit 1 with the problems."""
    from careassist.corpus import check_files

    problems = check_files([Path(p) for p in args.files])
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in {len(args.files)} file(s)")
    return 1 if problems else 0


def cmd_corpus_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the seed corpus as a raw CSV file into the raw location."""
    from careassist.corpus import export_seed_corpus
    from careassist.storage import Location

    print(export_seed_corpus(Location(args.to or settings.raw_location, settings)))
    return 0


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    """Generate conversations at scale from the seed corpus and write them as parquet."""
    from careassist.generator import generate_conversations
    from careassist.ingest import to_parquet_bytes
    from careassist.storage import Location

    frame = generate_conversations(args.rows, seed=args.seed)
    location = Location(args.out or settings.raw_location, settings)
    print(location.write_bytes(f"generated_{args.rows}_seed{args.seed}.parquet", to_parquet_bytes(frame)))
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest the raw location into a snapshot, validate it, and publish or quarantine it."""
    from careassist import ingest, validation

    batch = ingest.ingest(settings, raw_uri=args.raw, include_public=args.with_public or None)
    report = validation.validate_staged(batch, settings)
    _print_json(
        {
            "dataset_version": batch.version,
            "rows": batch.rows,
            "rows_per_label": batch.manifest["rows_per_label"],
            "validation": report.statistics | {"success": report.success},
            "current": ingest.current_version(settings),
        }
    )
    return 0


def cmd_datasets(args: argparse.Namespace, settings: Settings) -> int:
    """Show the current dataset version and its manifest."""
    from careassist import ingest

    location = ingest.snapshot_location(settings, args.version)
    _print_json(json.loads(location.read_bytes(ingest.MANIFEST_FILE)))
    return 0


def _training_frame(args: argparse.Namespace, settings: Settings) -> Any:
    from careassist import ingest

    if args.data:
        from careassist.evaluation import read_labelled_file

        return read_labelled_file(Path(args.data))
    return ingest.read_snapshot_frame(ingest.snapshot_location(settings, args.dataset))


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """Train the candidates on a dataset, pick by validation macro-F1, save the model file."""
    from careassist.persistence import save_model
    from careassist.training import train_assistant

    result = train_assistant(_training_frame(args, settings))
    out = Path(args.out) if args.out else settings.models_dir / "assistant.skops"
    digest = save_model(result.model, out)
    _print_json({"model": str(out), "sha256": digest, "chosen": result.chosen, "candidates": result.candidates,
                 "rows": result.split_sizes, "thresholds": result.model.describe()["thresholds"],
                 "features": result.model.feature_count})
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate a model file on a labelled file (or a split of a dataset) and write the report."""
    from careassist.assistant import Assistant
    from careassist.evaluation import evaluate_assistant, summarise
    from careassist.persistence import load_model
    from careassist.training import with_splits

    frame = _training_frame(args, settings)
    if args.split != "all":
        frame = with_splits(frame)
        frame = frame[frame["split"] == args.split]
    model = load_model(Path(args.model) if args.model else settings.models_dir / "assistant.skops")
    out = Path(args.out) if args.out else settings.root / "reports" / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    report = evaluate_assistant(Assistant(model), frame, out)
    print(summarise(report))
    print(f"report written to {out}")
    return 0


#: Metrics ``model list`` shows, each the first of its names a version carries (``metric.*`` tags).
_KEY_METRICS = {
    "macro_f1": ("test_macro_f1", "gate_macro_f1", "macro_f1"),
    "crisis_recall": ("gate_crisis_recall", "test_crisis_recall", "crisis_recall"),
    "p99_ms": ("gate_latency_p99_ms", "latency_p99_ms"),
}


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h).upper() for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def _key_metrics(metrics: dict[str, Any]) -> str:
    shown = []
    for label, names in _KEY_METRICS.items():
        name = next((n for n in names if isinstance(metrics.get(n), float)), None)
        if name is not None:
            shown.append(f"{label}={metrics[name]:.4g}")
    return " ".join(shown)


def cmd_model_list(args: argparse.Namespace, settings: Settings) -> int:
    """List the registered versions with their aliases, gate status and key metrics."""
    from careassist import registry

    versions = registry.list_versions(settings)
    if args.json:
        _print_json([v.to_dict() | {"metrics": v.metrics} for v in versions])
        return 0
    if not versions:
        print(f"no versions of {settings.model_name} are registered")
        return 0
    _print_table(
        ("version", "aliases", "gate", "registration", "created", "dataset", "metrics"),
        [
            (
                v.version,
                ",".join(v.aliases) + (" (rolled back)" if v.tags.get("rolled_back") == "true" else ""),
                v.gate_status or "-",
                v.registration_status or "-",
                v.created.strftime("%Y-%m-%d %H:%M") if v.created else "",
                v.tags.get("dataset_version", ""),
                _key_metrics(v.metrics),
            )
            for v in versions
        ],
    )
    return 0


def cmd_model_show(args: argparse.Namespace, settings: Settings) -> int:
    """Show one version: its aliases, lineage tags, gate decision and metrics."""
    from careassist import registry

    version = registry.get_version(settings, args.version)
    _print_json(version.to_dict() | {"metrics": version.metrics, "gate_reasons": version.gate_reasons})
    return 0


def cmd_model_promote(args: argparse.Namespace, settings: Settings) -> int:
    """Give a version whose gates passed the production alias (recorded in the history)."""
    from careassist import lifecycle

    move = lifecycle.promote(settings, args.version, who=args.who or lifecycle.default_actor(), why=args.why)
    if move is None:
        _print_json({"version": args.version, "promoted": False, "message": "already in production"})
    else:
        _print_json(move.to_dict())
    return 0


def cmd_model_rollback(args: argparse.Namespace, settings: Settings) -> int:
    """Put the previous production version back in production (recorded in the history)."""
    from careassist import lifecycle

    move = lifecycle.rollback(settings, who=args.who or lifecycle.default_actor(), why=args.why)
    _print_json(move.to_dict())
    return 0


def cmd_model_history(args: argparse.Namespace, settings: Settings) -> int:
    """Show the recorded alias moves, oldest first."""
    from careassist import lifecycle

    moves = lifecycle.history(settings, args.alias, attempts=args.all)
    if args.json:
        _print_json([move.to_dict() for move in moves])
        return 0
    if not moves:
        print(f"no alias moves of {settings.model_name} are recorded")
        return 0
    _print_table(
        ("seq", "when", "alias", "action", "from", "to", "who", "outcome", "why"),
        [(m.seq, m.when, m.alias, m.action, m.from_version or "-", m.to_version, m.who, m.outcome, m.why) for m in moves],
    )
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the assistant's HTTP API under gunicorn (the production model, from the registry)."""
    from careassist import serve

    try:
        return serve.run(settings, args.gunicorn_args)
    except serve.ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_api_key(args: argparse.Namespace, settings: Settings) -> int:
    """Create an API key: prints the key once and the digest to configure (never the key itself)."""
    from careassist.access import print_new_key

    print_new_key()
    return 0


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Start the platform in the background: MLflow UI, the training pipeline once, Airflow, the API."""
    from careassist import stack
    from careassist.mlflow_server import MlflowServerError

    try:
        stack.up(settings, pipeline=not args.no_pipeline)
    except (stack.StackError, MlflowServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    """Stop everything `up` started on this data root."""
    from careassist import stack

    stack.down(settings)
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Each component of the platform: process, memory and health."""
    from careassist import stack

    rows = stack.status(settings)
    _print_table(("component", "pid", "rss MB", "health"),
                 [(r["component"], r["pid"] or "-", r["rss_mb"] if r["rss_mb"] is not None else "-", r["health"]) for r in rows])
    total = sum(r["rss_mb"] or 0 for r in rows)
    print(f"total resident memory: {total:,} MB")
    return 0


def cmd_smoke(args: argparse.Namespace, settings: Settings) -> int:
    """Prove the running platform works through its public APIs (Airflow, MLflow, the assistant)."""
    from careassist import stack

    return stack.main_exit(stack.smoke(settings, api_key=os.environ.get("CAREASSIST_SMOKE_API_KEY")))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="healthcare-ai", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    def add(name: str, fn: Command) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=(fn.__doc__ or "").splitlines()[0])
        sub.set_defaults(fn=fn)
        return sub

    add("settings", cmd_settings)
    add("check", cmd_check)
    add("init", cmd_init).add_argument("--no-seed", action="store_true", help="do not export the seed corpus")
    corpus = commands.add_parser("corpus", help="the project's seed corpus").add_subparsers(dest="action", required=True)
    corpus.add_parser("stats", help=cmd_corpus_stats.__doc__).set_defaults(fn=cmd_corpus_stats)
    check = corpus.add_parser("check", help=cmd_corpus_check.__doc__)
    check.add_argument("files", nargs="+", help="CSV files with the seed corpus's columns")
    check.set_defaults(fn=cmd_corpus_check)
    export = corpus.add_parser("export", help=cmd_corpus_export.__doc__)
    export.set_defaults(fn=cmd_corpus_export)
    export.add_argument("--to", help="folder or s3:// URI (default: the raw location)")
    generate = add("generate", cmd_generate)
    generate.add_argument("--rows", type=int, default=525_000)
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", help="folder or s3:// URI (default: the raw location)")
    ingest = add("ingest", cmd_ingest)
    ingest.add_argument("--raw", help="folder or s3:// URI to read (default: the raw location)")
    ingest.add_argument("--with-public", action="store_true", help="also ingest the public datasets")
    add("serve", cmd_serve).add_argument("gunicorn_args", nargs="*", help="extra gunicorn arguments (after --)")
    add("api-key", cmd_api_key)
    add("up", cmd_up).add_argument("--no-pipeline", action="store_true", help="start the services only")
    add("down", cmd_down)
    add("status", cmd_status)
    add("smoke", cmd_smoke).description = "The API key comes from the access file, or CAREASSIST_SMOKE_API_KEY."
    add("datasets", cmd_datasets).add_argument("--version", help="a dataset version (default: current)")
    train = add("train", cmd_train)
    evaluate = add("evaluate", cmd_evaluate)
    for sub in (train, evaluate):
        sub.add_argument("--data", help="a labelled CSV/JSONL/parquet file (default: the current dataset)")
        sub.add_argument("--dataset", help="a dataset version (default: current)")
    train.add_argument("--out", help="model file to write (default: <data root>/models/assistant.skops)")
    evaluate.add_argument("--model", help="model file (default: <data root>/models/assistant.skops)")
    evaluate.add_argument("--split", choices=("train", "validation", "test", "all"), default="test")
    evaluate.add_argument("--out", help="report folder (default: <data root>/reports/evaluation)")
    from careassist.lifecycle import ALIASES  # light: the registry imports MLflow only when used

    model = commands.add_parser("model", help="registered model versions and their aliases").add_subparsers(
        dest="action", required=True
    )

    def add_model(name: str, fn: Command) -> argparse.ArgumentParser:
        sub = model.add_parser(name, help=(fn.__doc__ or "").splitlines()[0])
        sub.set_defaults(fn=fn)
        return sub

    add_model("list", cmd_model_list).add_argument("--json", action="store_true", help="print JSON")
    add_model("show", cmd_model_show).add_argument("version", help="a version number")
    promote = add_model("promote", cmd_model_promote)
    promote.add_argument("version", help="a version number")
    rollback = add_model("rollback", cmd_model_rollback)
    for sub in (promote, rollback):
        sub.add_argument("--why", required=True, help="the reason, kept in the alias history")
        sub.add_argument("--who", help="who decides (default: $CAREASSIST_ACTOR, else the OS user)")
    model_history = add_model("history", cmd_model_history)
    model_history.add_argument("--alias", choices=ALIASES, help="only this alias (default: all)")
    model_history.add_argument("--all", action="store_true", help="also failed and unconfirmed attempts")
    model_history.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.fn(args, get_settings()))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as exc:
        # The package's own error types carry messages written for operators; anything else is a bug
        # and keeps its traceback.
        if not type(exc).__module__.startswith("careassist."):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
