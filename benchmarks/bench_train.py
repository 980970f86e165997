"""Training time, peak memory and seed test quality: the seed corpus beside the 525,000-conversation set.

Run: ``.venv/bin/python benchmarks/bench_train.py`` (about four minutes; ``--no-leak-free`` skips the
third column).

Each large frame is built as the pipeline builds it: a raw location holding the seed corpus export
and the generated conversations (``healthcare-ai init`` + ``generate``), turned into a snapshot by
ingestion (normalise, redact PII, dedupe). Every ``train_assistant`` runs in its own child process,
so its wall time and peak RSS are its own; each model is then evaluated on the seed corpus's test
split, as ``healthcare-ai evaluate --split test`` does.

The generated set varies the seed messages, so variants of nearly every seed test message sit in
its training split and its seed test figure measures recall of near-duplicates. The third column
trains on a set generated from the seed's training split only: its seed test figure is leak-free.
Targets (pipeline issue): the 525k training under 60 s on the 2-core machine; the seed model's
quality unchanged (test macro-F1 0.9115, crisis recall 1.0).

Before the training budget (every training row fitted, scikit-learn's own transform), measured once
on this machine: 525k set 567 s, peak RSS 7.3 GB, seed test macro-F1 0.9989; the leak-free set
545 s, 7.2 GB, 0.9157 (a 1.3 GB model file). The seed model is unchanged (identical predictions).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = 525_000
SEED = 7
TARGET_SECONDS = 60.0


def child(frame_path: str, model_path: str) -> None:
    """Train on one frame; print wall time, memory and what training chose as one JSON line."""
    import pandas as pd

    from careassist.persistence import save_model
    from careassist.training import train_assistant

    frame = pd.read_parquet(frame_path)
    with open("/proc/self/statm") as statm:
        rss_before = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    started = time.perf_counter()
    result = train_assistant(frame)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    save_model(result.model, Path(model_path))
    used = result.split_sizes["train"] - sum(s["rows"] - s["used"] for s in result.sampled_sources.values())
    print(
        json.dumps(
            {
                "wall_s": wall,
                "peak_rss_mb": peak,
                "rss_before_mb": rss_before,
                "rows": len(frame),
                "train_rows": result.split_sizes["train"],
                "train_rows_used": used,
                "chosen": result.chosen,
                "validation_macro_f1": result.candidates[result.chosen]["validation_macro_f1"],
            }
        )
    )


def snapshot(folder: Path, corpus, rows: int, seed: int):  # type: ignore[no-untyped-def]
    """Raw location with the seed export and generated conversations, ingested into a snapshot."""
    from careassist.corpus import export_seed_corpus
    from careassist.generator import generate_conversations
    from careassist.ingest import build_snapshot, read_raw_location, to_parquet_bytes
    from careassist.settings import load_settings
    from careassist.storage import Location

    raw = Location(str(folder / "raw"), load_settings(data_root=folder))
    export_seed_corpus(raw)
    generated = generate_conversations(rows, seed=seed, corpus=corpus)
    raw.write_bytes(f"generated_{rows}_seed{seed}.parquet", to_parquet_bytes(generated))
    frame, facts = build_snapshot(read_raw_location(raw))
    return frame, facts


def train_in_child(frame, folder: Path, name: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    frame_path, model_path = folder / f"{name}.parquet", folder / f"{name}.skops"
    frame.to_parquet(frame_path)
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(frame_path), str(model_path)],
        check=True, capture_output=True, text=True, env=os.environ.copy(),
    )
    facts: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    facts["model"] = str(model_path)
    return facts


def seed_test_quality(model_path: str, test) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from careassist.assistant import Assistant
    from careassist.evaluation import evaluate_assistant
    from careassist.persistence import load_model

    report = evaluate_assistant(Assistant(load_model(Path(model_path))), test)
    return {"macro_f1": report["overall"]["macro_f1"], "crisis_recall": report["crisis"]["recall"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--leak-free", action=argparse.BooleanOptionalAction, default=True,
                        help="also train on a set generated from the seed's training split only")
    parser.add_argument("--child", nargs=2, metavar=("FRAME", "MODEL"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from careassist.corpus import load_seed_corpus
    from careassist.training import with_splits

    corpus = load_seed_corpus()
    split = with_splits(corpus)["split"]
    test = corpus[split == "test"].reset_index(drop=True)
    columns: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        root = Path(tmp)
        columns["seed corpus"] = train_in_child(corpus, root, "seed")
        sources = {f"{args.rows // 1000}k set": corpus}
        if args.leak_free:
            sources[f"{args.rows // 1000}k from seed train"] = corpus[split == "train"]
        for index, (name, source) in enumerate(sources.items()):
            started = time.perf_counter()
            frame, facts = snapshot(root / f"frame{index}", source, args.rows, SEED)
            prepared = time.perf_counter() - started
            columns[name] = train_in_child(frame, root, f"frame{index}")
            columns[name]["rows_in"] = facts["rows_in"]
            columns[name]["prepare_s"] = prepared
            del frame
        for facts in columns.values():
            facts.update(seed_test_quality(str(facts["model"]), test))

    names = list(columns)

    def row(label: str, value, note: str = "") -> None:  # type: ignore[no-untyped-def]
        cells = "".join(f"{value(columns[n]):>24}" for n in names)
        print(f"  {label:34}{cells}   {note}".rstrip())

    print(f"bench-train: train_assistant on {os.cpu_count()} CPUs; generated sets: {args.rows:,} rows, seed {SEED}")
    print(f"  {'':34}" + "".join(f"{n:>24}" for n in names))
    row("raw rows -> frame rows", lambda c: f"{c.get('rows_in', c['rows']):,} -> {c['rows']:,}")
    row("training rows used / in split", lambda c: f"{c['train_rows_used']:,} / {c['train_rows']:,}")
    row("train wall s", lambda c: f"{c['wall_s']:.1f}", f"target < {TARGET_SECONDS:.0f} s for the 525k set")
    row("peak RSS MB (frame loaded before)", lambda c: f"{c['peak_rss_mb']:,.0f} ({c['rss_before_mb']:,.0f})")
    row("chosen candidate", lambda c: str(c["chosen"]))
    row("its validation macro-F1", lambda c: f"{c['validation_macro_f1']:.4f}")
    row(f"seed test macro-F1 ({len(test):,} rows)", lambda c: f"{c['macro_f1']:.4f}", "seed model today: 0.9115")
    row("seed test crisis recall", lambda c: f"{c['crisis_recall']:.4f}", "must stay 1.0")
    if len(names) > 1:
        print("  frame build (generate + ingest) s: " + ", ".join(f"{n} {columns[n]['prepare_s']:.0f}" for n in names[1:]))
        big = columns[names[1]]
        print(f"  525k training: {float(big['wall_s']) / TARGET_SECONDS:.2f} of the {TARGET_SECONDS:.0f} s budget")


if __name__ == "__main__":
    main()
