"""make bench-data: generate the 525,000-conversation set, then ingest and validate it.

Ingestion + validation run in a child process so its peak memory is measured alone.
Targets (foundation issue): under 60 s and under 2 GB on the 2-core, 24 GiB machine.
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


def child(raw: str, root: str) -> None:
    from careassist import ingest, validation
    from careassist.settings import load_settings

    settings = load_settings(data_root=Path(root))
    started = time.perf_counter()
    batch = ingest.ingest(settings, raw_uri=raw)
    staged = time.perf_counter()
    report = validation.validate_staged(batch, settings)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "rows_in": batch.manifest["rows_in"],
                "rows": batch.rows,
                "duplicates_removed": batch.manifest["duplicates_removed"],
                "pii_redactions": sum(batch.manifest["pii_redactions"].values()),
                "ingest_s": round(staged - started, 1),
                "validate_s": round(done - staged, 1),
                "valid": report.success,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--child", nargs=2, metavar=("RAW", "ROOT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from careassist.generator import generate_conversations
    from careassist.ingest import to_parquet_bytes

    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        raw = Path(tmp, "raw")
        raw.mkdir()
        started = time.perf_counter()
        frame = generate_conversations(args.rows)
        generated = time.perf_counter() - started
        (raw / "conversations.parquet").write_bytes(to_parquet_bytes(frame))
        del frame
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(raw), str(Path(tmp, "root"))],
            check=True, capture_output=True, text=True, env=os.environ.copy(),
        )
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        facts = json.loads(out.stdout.strip().splitlines()[-1])

    print(f"bench-data: {args.rows:,} generated conversations (seed 7)")
    print(f"  generate                  {generated:6.1f} s   (target < 60 s)")
    print(f"  ingest (read, normalise, redact, dedupe, stage)  {facts['ingest_s']:6.1f} s")
    print(f"  validate (GX suite, publish)                      {facts['validate_s']:6.1f} s")
    print(f"  ingest + validate wall    {wall:6.1f} s   (target < 60 s; ratio {wall / 60:.2f} of budget)")
    print(f"  peak memory               {peak_mb:6.0f} MB  (target < 2048 MB; ratio {peak_mb / 2048:.2f} of budget)")
    print(f"  rows in {facts['rows_in']:,} -> snapshot {facts['rows']:,}; duplicates removed {facts['duplicates_removed']};"
          f" PII redactions {facts['pii_redactions']:,}; valid: {facts['valid']}")


if __name__ == "__main__":
    main()
