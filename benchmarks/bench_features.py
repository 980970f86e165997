"""make bench-features: one-session online reads (p50/p99 over 10,000 calls) and materialization time.

SQLite (embedded profile, Feast SDK read) and Redis (production profile: Feast SDK read and the
direct HMGET path of SessionFeatureClient), on the sessions of the 525,000-conversation set.
Production needs the machine's PostgreSQL and Redis; S3 is moto's server on loopback. Redis keys
are written to db 15 under the bench's own session-id prefix and deleted afterwards.
Target (feature store issue): Redis p99 under 1 ms in process.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROWS = 525_000
CALLS = 10_000
POSTGRES_URL = os.environ.get("CAREASSIST_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("CAREASSIST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def snapshot(rows: int, prefix: str):  # type: ignore[no-untyped-def]
    from careassist.generator import generate_conversations

    frame = generate_conversations(rows)
    frame["conversation_id"] = frame["source_id"]
    frame["session_id"] = prefix + frame["session_id"]
    frame["dataset_version"] = "bench"
    frame["event_timestamp"] = frame["event_timestamp"].dt.tz_convert("UTC")
    return frame


def latencies(read, session_ids: list[str], calls: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    picks = rng.choice(len(session_ids), size=calls)
    for sid in session_ids[:200]:
        read(sid)  # warm connections and caches
    timings = np.empty(calls)
    for i, pick in enumerate(picks):
        started = time.perf_counter()
        read(session_ids[pick])
        timings[i] = time.perf_counter() - started
    p50, p99 = np.percentile(timings, [50, 99]) * 1e3
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3)}


def run_profile(settings, frame, calls: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from careassist import features

    features.apply_definitions(settings)
    features.write_offline_sources(settings, frame)
    start = frame["event_timestamp"].min().to_pydatetime()
    end = frame["event_timestamp"].max().to_pydatetime() + np.timedelta64(1, "s").item()
    done = features.materialize_interval(settings, start, end)
    session_ids = sorted(frame["session_id"].unique())
    result: dict[str, object] = {"sessions": len(session_ids), "materialize_s": round(done.seconds, 1)}
    sdk = features.SessionFeatureClient(settings, fast_path=False)
    result["sdk"] = latencies(sdk.get, session_ids, calls)
    if settings.is_production:
        fast = features.SessionFeatureClient(settings, fast_path=True)
        result["direct"] = latencies(fast.get, session_ids, calls)
        assert fast.get(session_ids[0]) == sdk.get(session_ids[0]), "the two read paths disagree"
        result["degraded"] = sdk.degraded + fast.degraded
    else:
        result["degraded"] = sdk.degraded
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--calls", type=int, default=CALLS)
    args = parser.parse_args()

    import boto3
    import psycopg2
    import redis
    from moto.server import ThreadedMotoServer

    from careassist.settings import load_settings

    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    frame = snapshot(args.rows, prefix)
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as root:
        embedded = load_settings(data_root=Path(root) / "embedded")
        results["sqlite"] = run_profile(embedded, frame, args.calls)

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        database = f"bench_feast_{uuid.uuid4().hex[:8]}"
        admin = psycopg2.connect(f"{POSTGRES_URL}/postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{database}"')
        try:
            production = load_settings(
                profile="production",
                data_root=Path(root) / "production",
                database_url=POSTGRES_URL,
                redis_url=REDIS_URL,
                s3_endpoint_url=f"http://{host}:{port}",
                s3_bucket="bench",
                feast_database=database,
            )
            boto3.client("s3", endpoint_url=production.s3_endpoint_url, region_name="us-east-1").create_bucket(
                Bucket="bench"
            )
            results["redis"] = run_profile(production, frame, args.calls)
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.close()
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"*{prefix}*".encode(), count=5000):
                client.delete(key)
            server.stop()

    print(f"{args.rows} conversations, {results['sqlite']['sessions']} sessions, {args.calls} one-session reads")
    print(f"{'':28}{'SQLite':>12}{'Redis':>12}")
    print(f"{'materialize (s)':28}{results['sqlite']['materialize_s']:>12}{results['redis']['materialize_s']:>12}")
    for path, label in (("sdk", "Feast SDK read"), ("direct", "direct HMGET read")):
        for stat in ("p50_ms", "p99_ms"):
            sqlite = results["sqlite"].get(path, {}).get(stat, "-")  # type: ignore[union-attr]
            redis_value = results["redis"].get(path, {}).get(stat, "-")  # type: ignore[union-attr]
            print(f"{label + ' ' + stat:28}{sqlite!s:>12}{redis_value!s:>12}")
    print(f"{'degraded reads':28}{results['sqlite']['degraded']!s:>12}{results['redis']['degraded']!s:>12}")


if __name__ == "__main__":
    main()
