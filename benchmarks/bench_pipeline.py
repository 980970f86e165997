"""make bench-pipeline: wall time of the training DAG on the default corpus and of its train task at scale.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py`` (a few minutes; ``--skip-large`` runs only the
DAG, ``--rows`` sizes the generated set). Everything happens under fresh temporary data roots with
the embedded profile; the developer's own data root is never touched.

a. The DAG as ``make pipeline`` runs it: ``healthcare-ai init``, ``airflow db migrate``, then one
   ``airflow dags test training_pipeline`` on the seed corpus. Each task's duration (and the DAG
   run's) is read from the Airflow metadata database afterwards; the command's wall time includes
   process start and DAG parsing.
b. The train task on the 525,000-conversation set: a second data root whose raw location holds the
   seed export and the generated conversations, taken through the ingest, validate and
   training_set steps (each timed), then ``careassist.pipeline.train_step`` timed in a child
   process, so its wall time and peak RSS are its own. The MLflow store (SQLite) is created before,
   as it exists on a running platform.
c. The targets (pipeline issue): the train task on the 525k set under 60 s; the whole DAG on the
   default corpus under 3 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROWS = 525_000
SEED = 7
TRAIN_TARGET_S = 60.0
DAG_TARGET_S = 180.0
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent


def platform_environment(root: Path) -> dict[str, str]:
    """The caller's environment without its CAREASSIST_* variables, on ``root`` with the embedded profile."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CAREASSIST_")}
    return environment | {"CAREASSIST_PROFILE": "embedded", "CAREASSIST_DATA_ROOT": str(root)}


def timed_command(command: list[str], environment: dict[str, str], log: Path) -> float:
    """Run ``command`` with its output in ``log``; its wall time, process start included."""
    started = time.perf_counter()
    with log.open("ab") as out:
        done = subprocess.run(command, cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"{' '.join(command[-3:])} exited with {done.returncode}; end of {log.name}:\n{tail}")
    return wall


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def read_dag_run(database: Path, dag_id: str) -> dict[str, Any]:
    """The DAG's latest run and its task instances, as the Airflow metadata database recorded them."""
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        run = connection.execute(
            "SELECT run_id, state, start_date, end_date FROM dag_run WHERE dag_id = ? ORDER BY start_date DESC LIMIT 1",
            (dag_id,),
        ).fetchone()
        if run is None:
            raise SystemExit(f"{database}: no run of {dag_id} recorded")
        tasks = connection.execute(
            "SELECT task_id, state, try_number, start_date, end_date, duration FROM task_instance"
            " WHERE dag_id = ? AND run_id = ? ORDER BY start_date",
            (dag_id, run["run_id"]),
        ).fetchall()
    return {
        "state": run["state"],
        "duration_s": seconds_between(run["start_date"], run["end_date"]),
        "tasks": [dict(task) for task in tasks],
    }


def bench_dag(root: Path) -> dict[str, Any]:
    """Part a: init, db migrate and one ``dags test training_pipeline`` on a fresh data root."""
    environment = platform_environment(root)
    airflow = [sys.executable, "-m", "careassist.orchestration"]
    log = root / "bench-commands.log"
    root.mkdir(parents=True, exist_ok=True)
    facts: dict[str, Any] = {
        "init_s": timed_command([str(BIN / "healthcare-ai"), "init"], environment, log),
        "migrate_s": timed_command([*airflow, "db", "migrate"], environment, log),
        "command_s": timed_command([*airflow, "dags", "test", "training_pipeline"], environment, log),
    }
    return facts | read_dag_run(root / "airflow" / "airflow.db", "training_pipeline")


def child_train(root: str, references: str) -> None:
    """In a child process: time ``train_step`` on prepared references; print one JSON line."""
    from careassist import pipeline, registry
    from careassist.settings import load_settings

    settings = load_settings(profile="embedded", data_root=Path(root))
    steps = json.loads(Path(references).read_text())
    started = time.perf_counter()
    trained = pipeline.train_step(settings, steps["training"], steps["validation"], airflow_run="bench-pipeline")
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    run = registry.client(settings).get_run(trained["run_id"])
    print(
        json.dumps(
            {
                "wall_s": wall,
                "peak_rss_mb": peak,
                "reused": trained["reused"],
                "train_assistant_s": run.data.metrics.get("train_seconds"),
                "candidate": run.data.tags.get("candidate"),
                "rows": {k.removeprefix("rows_"): v for k, v in run.data.params.items() if k.startswith("rows_")},
            }
        )
    )


def bench_large(root: Path, rows: int) -> dict[str, Any]:
    """Part b: generate, ingest, validate and build the training set, then time train_step in a child."""
    from careassist import pipeline, registry
    from careassist.corpus import export_seed_corpus, load_seed_corpus
    from careassist.generator import generate_conversations
    from careassist.ingest import to_parquet_bytes
    from careassist.settings import load_settings
    from careassist.storage import Location

    settings = load_settings(profile="embedded", data_root=root)
    facts: dict[str, Any] = {}

    started = time.perf_counter()
    raw = Location(settings.raw_location, settings)
    export_seed_corpus(raw)
    generated = generate_conversations(rows, seed=SEED, corpus=load_seed_corpus())
    raw.write_bytes(f"generated_{rows}_seed{SEED}.parquet", to_parquet_bytes(generated))
    del generated
    facts["generate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    staged = pipeline.ingest_step(settings)
    facts["ingest_s"], facts["snapshot_rows"] = time.perf_counter() - started, staged["rows"]
    started = time.perf_counter()
    validated = pipeline.validate_step(settings, staged["dataset_version"])
    facts["validate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    training = pipeline.training_set_step(settings, staged["dataset_version"], datetime.now(UTC))
    facts["training_set_s"], facts["training_set_rows"] = time.perf_counter() - started, training["rows"]
    started = time.perf_counter()
    registry.ensure_experiment(settings, pipeline.EXPERIMENT)
    facts["mlflow_store_s"] = time.perf_counter() - started

    references = root / "bench-references.json"
    references.write_text(json.dumps({"training": training, "validation": validated}))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child-train", str(root), str(references)],
        env=platform_environment(root),
        capture_output=True,
        text=True,
        check=False,
    )
    facts["child_process_s"] = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"train_step child exited with {done.returncode}:\n{done.stderr[-4000:]}")
    train: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if train["reused"]:
        raise SystemExit("train_step reused an earlier run: the data root was not fresh")
    return facts | {"train": train}


def print_dag(dag: dict[str, Any]) -> None:
    print("a. training_pipeline on the default corpus (airflow dags test, fresh data root, embedded)")
    print(f"  healthcare-ai init                        {dag['init_s']:7.1f} s")
    print(f"  airflow db migrate                        {dag['migrate_s']:7.1f} s")
    print(f"  {'task':16}{'state':10}{'try':>4}{'duration s':>12}{'end - start s':>15}")
    for task in dag["tasks"]:
        duration = "-" if task["duration"] is None else f"{task['duration']:.2f}"
        span = seconds_between(task["start_date"], task["end_date"])
        print(
            f"  {task['task_id']:16}{task['state'] or '-':10}{task['try_number']:>4}{duration:>12}"
            f"{'-' if span is None else f'{span:.2f}':>15}"
        )
    total = sum(task["duration"] or 0.0 for task in dag["tasks"])
    print(f"  sum of task durations                     {total:7.1f} s")
    print(f"  DAG run (end - start)                     {dag['duration_s'] or float('nan'):7.1f} s   {dag['state']}")
    print(f"  dags test command, process start included {dag['command_s']:7.1f} s")


def print_large(large: dict[str, Any], rows: int) -> None:
    train = large["train"]
    print(f"b. train task on the {rows:,}-conversation set (second fresh data root)")
    print(f"  generate + write raw parquet              {large['generate_s']:7.1f} s")
    print(
        f"  ingest_step                               {large['ingest_s']:7.1f} s   {large['snapshot_rows']:,} snapshot rows"
    )
    print(f"  validate_step                             {large['validate_s']:7.1f} s")
    print(
        f"  training_set_step                         {large['training_set_s']:7.1f} s   "
        f"{large['training_set_rows']:,} training-set rows"
    )
    print(f"  mlflow store set-up (not timed as train)  {large['mlflow_store_s']:7.1f} s")
    print(
        f"  train_step                                {train['wall_s']:7.1f} s   peak RSS {train['peak_rss_mb']:,.0f} MB"
    )
    print(
        f"    of which train_assistant                {train['train_assistant_s']:7.1f} s   chosen {train['candidate']}, "
        f"rows {', '.join(f'{k} {int(v):,}' for k, v in sorted(train['rows'].items()))}"
    )
    print(f"  train child process, start included       {large['child_process_s']:7.1f} s")


def print_targets(dag: dict[str, Any], large: dict[str, Any] | None, rows: int) -> None:
    print("c. targets")
    print(f"  {'':44}{'measured s':>11}{'target s':>10}{'ratio':>7}")
    checks = [
        ("whole DAG, default corpus (DAG run)", dag["duration_s"], DAG_TARGET_S),
        ("whole DAG, default corpus (command)", dag["command_s"], DAG_TARGET_S),
    ]
    if large is not None:
        checks.insert(0, (f"train task, {rows // 1000}k set (train_step)", large["train"]["wall_s"], TRAIN_TARGET_S))
    for label, measured, target in checks:
        verdict = "PASS" if measured < target else "FAIL"
        print(f"  {label:44}{measured:11.1f}{target:10.0f}{measured / target:7.2f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS, help="size of the generated set for part b")
    parser.add_argument("--skip-large", action="store_true", help="run only part a (the DAG on the default corpus)")
    parser.add_argument("--child-train", nargs=2, metavar=("ROOT", "REFERENCES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_train:
        child_train(*args.child_train)
        return

    for name in [n for n in os.environ if n.startswith("CAREASSIST_")]:
        del os.environ[name]  # the bench's settings come from its own data roots only
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows when redirected
    print(f"bench-pipeline: {os.cpu_count()} CPUs, embedded profile")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        dag = bench_dag(Path(tmp) / "dag")
        print_dag(dag)
        large = None
        if not args.skip_large:
            large = bench_large(Path(tmp) / "large", args.rows)
            print_large(large, args.rows)
    print_targets(dag, large, args.rows)


if __name__ == "__main__":
    main()
