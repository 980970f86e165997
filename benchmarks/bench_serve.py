"""make bench-serve: the HTTP service under load from wrk, side by side with its floor and with MLflow's server.

On a fresh data root (embedded profile) a production model is trained and promoted, then one server at
a time runs while wrk, a separate process, loads it with 100 connections on 2 threads (a warm-up run,
then a measured run):

a. the floor: ``benchmarks/floor_app.py``, a bare Flask endpoint returning a constant;
b. ``POST /v1/assist`` with a cache-hit workload (the same few messages repeated);
c. ``POST /v1/assist`` with a unique message per request (a letter sequence appended: the cache key is
   the normalised text, which keeps letters, so no request is ever a hit);
d. ``mlflow models serve`` of the same registered model (``models:/healthcare-assistant@production``),
   classification only, with the same unique messages: the tool a user would otherwise pick.

(a) to (c) run under the same gunicorn settings (``serving/gunicorn_conf.py``, started as
``healthcare-ai serve`` starts it); (d) with as many workers. Each workload runs twice: saturated
(no think time: throughput, and latency that is mostly queueing) and paced (each of the 100
connections waits 50 to 150 ms between requests: 100 busy concurrent users, about 1,000 requests/s
offered). The answer cache's hit rate is measured on a replayed query stream (Zipf draws over the
seed corpus), in process through ``LRUAnswerCache`` and live through the running service, first with
the embedded profile's own cache (an LRU per worker in front of one shared file, emptied first) and
then with the workers sharing Redis. wrk and the servers share this machine's cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
CONNECTIONS = 100
WRK_THREADS = 2
WARMUP_S = 5
DURATION_S = 15
PACE_MS = (50, 150)  # think time of each paced connection, uniform: mean 100 ms
HIT_MESSAGES = 16
UNIQUE_MESSAGES = 512
REPLAY_QUERIES = 50_000
ZIPF_EXPONENT = 1.0
ZIPF_SENSITIVITY = (0.8, 1.2)
SEED = 7
START_TIMEOUT_S = 120.0

# Targets (serving issue).
MISS_VS_FLOOR = 0.6
HIT_VS_FLOOR = 0.8
MISS_VS_MLFLOW = 3.0
HIT_RATE = 0.80
P99_HIT_MS = 10.0
P99_MISS_MS = 50.0

ASSIST_BODY = ('{"message":', '"}')
MLFLOW_BODY = ('{"dataframe_split":{"columns":["text"],"data":[[', '"]]}}')

# One template for every workload, so the load generator does the same work per request for each:
# a body built per request from a table of JSON-encoded messages (each without its closing quote).
LUA = string.Template(
    r"""-- written by benchmarks/bench_serve.py
local messages = {
$messages
}
local before, after = [==[$before]==], [==[$after]==]
local path, unique, salt, auth = "$path", $unique, "$salt", [==[$auth]==]
local replay_file, marker_dir = [==[$replay_file]==], [==[$marker_dir]==]

local threads, next_id = {}, 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local function letters(n)
  local s = ""
  repeat
    s = string.char(97 + n % 26) .. s
    n = math.floor(n / 26)
  until n == 0
  return s
end

local headers, counter, tag = nil, 0, ""
hits, answered, failures = 0, 0, 0
local queue = nil

function init(args)
  headers = {["Content-Type"] = "application/json"}
  if auth ~= "" then headers["Authorization"] = auth end
  tag = salt .. string.char(97 + tid)  -- fixed widths: salt 3 letters, thread 1 letter, then the counter
  math.randomseed(7919 * tid)
  if replay_file ~= "" then
    queue = {}
    local i = 0
    for line in io.lines(replay_file) do
      if i % $threads == tid - 1 then queue[#queue + 1] = line end
      i = i + 1
    end
  end
end

function request()
  counter = counter + 1
  local text
  if queue then
    if counter > #queue then return wrk.format("GET", "/healthz", headers, nil) end
    text = queue[counter]
  else
    text = messages[(counter + 37 * tid) % #messages + 1]
    if unique then text = text .. " x" .. tag .. letters(counter) end
  end
  return wrk.format("POST", path, headers, before .. text .. after)
end
$delay
$response
function done(summary, latency, requests)
  local h, a, f = 0, 0, 0
  for _, t in ipairs(threads) do
    h, a, f = h + (t:get("hits") or 0), a + (t:get("answered") or 0), f + (t:get("failures") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,'
    .. '"mean_us":%.1f,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
    .. '"hits":%d,"answered":%d,"failures":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, h, a, f))
end
"""
)

LUA_DELAY = """function delay()
  return math.random($low, $high)
end
"""

# Only the replay reads bodies (wrk skips parsing them when no response() is defined).
# A thread is done when every message of its queue has an answer, or, should a connection have lost one
# (a socket error: wrk reconnects and moves on), once its connections have answered many health checks
# after the queue ran out (each connection has one request in flight, so its earlier ones are over).
LUA_RESPONSE = """local idle, finished = 0, false
local function finish()
  if finished then return end
  finished = true
  io.open(marker_dir .. "/done-" .. tid, "w"):close()
  wrk.thread:stop()
end
function response(status, headers, body)
  if string.find(body, '"status":"alive"', 1, true) then
    idle = idle + 1
    if idle >= $idle_limit then finish() end
    return
  end
  answered = answered + 1
  if status ~= 200 then
    failures = failures + 1
  elseif string.find(body, '"cached":true', 1, true) then
    hits = hits + 1
  end
  if answered == #queue then finish() end
end
"""


# -- the data root and its model --------------------------------------------------------------
def platform_environment(root: Path) -> dict[str, str]:
    """The caller's environment without its CAREASSIST_* variables, on ``root`` with the embedded profile."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CAREASSIST_")}
    return environment | {"CAREASSIST_PROFILE": "embedded", "CAREASSIST_DATA_ROOT": str(root)}


def child_setup(root: str) -> None:
    """In a child process: the training pipeline's steps on the seed corpus, to a production model."""
    from careassist import pipeline
    from careassist.settings import load_settings

    settings = load_settings(profile="embedded", data_root=Path(root))
    who = "bench-serve"
    staged = pipeline.ingest_step(settings)
    validated = pipeline.validate_step(settings, staged["dataset_version"])
    training = pipeline.training_set_step(settings, validated["dataset_version"], datetime.now(UTC))
    trained = pipeline.train_step(settings, training, validated, airflow_run=who)
    pipeline.evaluate_step(settings, trained["run_id"])
    gated = pipeline.gate_step(settings, trained["run_id"])
    registered = pipeline.register_step(settings, gated["run_id"])
    promoted = pipeline.promote_step(settings, registered["version"], who=who, why="bench-serve set-up")
    print("SETUP " + json.dumps(promoted | {"rows": staged["rows"]}))


def prepare_platform(root: Path, log: Path) -> dict[str, Any]:
    """``healthcare-ai init`` and the pipeline's steps on a fresh data root; the promoted version."""
    environment = platform_environment(root)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for command in ([str(BIN / "healthcare-ai"), "init"], [sys.executable, __file__, "--child-setup", str(root)]):
        with log.open("ab") as out:
            done = subprocess.run(command, cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[-2:])} exited with {done.returncode}; end of {log}:\n{tail(log)}")
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("SETUP ")]
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("SETUP "))
    if not result["promoted"]:
        raise SystemExit(f"the trained model was not promoted: {result['reasons']}")
    return result | {"setup_s": time.perf_counter() - started}


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


# -- servers ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One server process group: started in its own session, so stopping it stops all its workers."""

    name: str
    command: list[str]
    environment: dict[str, str]
    log: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, cwd=REPO, env=self.environment, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        ready = 0
        while ready < 5:  # several answers in a row, so both workers are likely up
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode}; end of {self.log}:\n{tail(self.log)}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} not ready after {START_TIMEOUT_S:.0f} s; end of {self.log}:\n{tail(self.log)}")
            status, _ = http("GET", self.base + ready_path)
            ready = ready + 1 if status == 200 else 0
            time.sleep(0.2 if status == 200 else 0.5)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # workers that outlived their master
            os.killpg(self.process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(server: Server, ready_path: str) -> Iterator[Server]:
    try:
        server.start(ready_path)
        yield server
    finally:
        server.stop()


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Status and decoded JSON body (0 and None when the server is not reachable)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"} | (headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def service_counters(server: Server) -> dict[str, float]:
    """The service's cache lookups by result, from /metrics (all workers merged)."""
    request = urllib.request.Request(server.base + "/metrics")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    counters: dict[str, float] = {}
    for match in re.finditer(r'^careassist_cache_total\{result="(\w+)"\} ([0-9.e+]+)$', text, re.MULTILINE):
        counters[match.group(1)] = float(match.group(2))
    return counters


# -- load -------------------------------------------------------------------------------------
@dataclass
class Load:
    """One wrk run's figures."""

    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int
    hits: int = 0
    answered: int = 0
    failures: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Workload:
    """What wrk sends: a body shape, messages, and whether each request is made unique."""

    path: str
    body: tuple[str, str]
    messages: list[str]
    unique: bool
    auth: str = ""


class Wrk:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runs = 0
        binary = shutil.which("wrk")
        if binary is None:
            raise SystemExit(
                "wrk is not installed: on Debian or Ubuntu `sudo apt-get install -y wrk`, on macOS `brew install wrk`"
                " (https://github.com/wg/wrk)"
            )
        self.binary = binary
        version = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
        self.version = (version.stdout + version.stderr).split("Copyright")[0].strip()

    def script(self, workload: Workload, *, paced: bool = False, replay: Path | None = None, marker: Path | None = None) -> Path:
        self.runs += 1
        salt = "".join(chr(97 + (self.runs // 26**i) % 26) for i in range(3))  # a fresh suffix space per run
        text = LUA.substitute(
            messages=",\n".join(f"[==[{encoded(m)}]==]" for m in workload.messages),
            before=workload.body[0],
            after=workload.body[1],
            path=workload.path,
            unique="true" if workload.unique else "false",
            salt=salt,
            auth=workload.auth,
            replay_file=str(replay or ""),
            marker_dir=str(marker or ""),
            threads=WRK_THREADS,
            delay=string.Template(LUA_DELAY).substitute(low=PACE_MS[0], high=PACE_MS[1]) if paced else "",
            response=string.Template(LUA_RESPONSE).substitute(idle_limit=20 * CONNECTIONS // WRK_THREADS) if replay else "",
        )
        path = self.folder / f"run{self.runs:02d}.lua"
        path.write_text(text, encoding="ascii")
        return path

    def run(self, label: str, url: str, workload: Workload, seconds: int, *, paced: bool = False) -> Load:
        script = self.script(workload, paced=paced)
        command = [
            self.binary, f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency",
            "-s", str(script), url + workload.path,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 60)
        return parse_wrk(label, done)

    def replay(self, url: str, workload: Workload, stream: list[str], limit_s: int = 600) -> Load:
        """Send ``stream`` once, in order within each wrk thread; stop when every answer came back."""
        marker = self.folder / f"replay-{self.runs + 1}"
        marker.mkdir()
        stream_file = self.folder / "replay-stream.txt"
        stream_file.write_text("\n".join(encoded(m) for m in stream) + "\n", encoding="ascii")
        script = self.script(workload, replay=stream_file, marker=marker)
        command = [
            self.binary, f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{limit_s}s", "--timeout", "10s", "--latency",
            "-s", str(script), url + workload.path,
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while process.poll() is None and len(list(marker.glob("done-*"))) < WRK_THREADS:
                time.sleep(0.1)
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # wrk sleeps its whole duration; SIGINT ends it now
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return parse_wrk("replay", subprocess.CompletedProcess(command, process.returncode, stdout, stderr))


def encoded(message: str) -> str:
    """A message as a JSON string without its closing quote (ASCII only), ready for a suffix."""
    return json.dumps(message, ensure_ascii=True)[:-1]


def parse_wrk(label: str, done: subprocess.CompletedProcess[str]) -> Load:
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk ({label}) exited with {done.returncode} without figures:\n{done.stdout}\n{done.stderr}")
    figures = json.loads(line.removeprefix("BENCH "))
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Load(
        label=label,
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1e3,
        p99_ms=figures["p99_us"] / 1e3,
        p999_ms=figures["p999_us"] / 1e3,
        errors=errors,
        hits=figures["hits"],
        answered=figures["answered"],
        failures=figures["failures"],
    )


def measure(wrk: Wrk, label: str, server: Server, workload: Workload, args: argparse.Namespace) -> tuple[Load, Load]:
    """Warm-up, then the saturated run and the paced run of one workload."""
    wrk.run(label + " warm-up", server.base, workload, args.warmup)
    saturated = wrk.run(label, server.base, workload, args.duration)
    paced = wrk.run(label + " paced", server.base, workload, args.duration, paced=True)
    for load in (saturated, paced):
        print(f"  {load.label:34} {load.rps:9,.0f} req/s  p50 {load.p50_ms:7.2f} ms  p99 {load.p99_ms:7.2f} ms"
              f"  errors {load.errors}")
    return saturated, paced


# -- messages ---------------------------------------------------------------------------------
def workload_messages() -> tuple[list[str], list[str]]:
    """Seed-corpus messages the crisis rules pass over: a few for the cache-hit workload, more for unique."""
    import random

    from careassist.cache import normalise_message
    from careassist.corpus import load_seed_corpus
    from careassist.crisis_rules import detect_rules

    corpus = load_seed_corpus()
    seen: set[str] = set()
    candidates = []
    for text, label in zip(corpus["text"], corpus["label"], strict=True):
        key = normalise_message(text)
        if label == "crisis" or key in seen or "]==]" in text or detect_rules(text) is not None:
            continue
        seen.add(key)
        candidates.append(text)
    rng = random.Random(SEED)
    rng.shuffle(candidates)
    return candidates[: HIT_MESSAGES * 2], candidates[HIT_MESSAGES * 2 : HIT_MESSAGES * 2 + UNIQUE_MESSAGES]


def cacheable(server: Server, messages: list[str], auth: str) -> list[str]:
    """The messages the service answers with 200 and no crisis (so the cache keeps them)."""
    kept = []
    for message in messages:
        status, body = http("POST", server.base + "/v1/assist", {"message": message}, {"Authorization": auth})
        if status == 200 and body.get("crisis") is False:
            kept.append(message)
    return kept[:HIT_MESSAGES]


# -- the answer cache's hit rate --------------------------------------------------------------
@dataclass
class Replay:
    exponent: float
    queries: int
    distinct: int
    corpus: int
    hit_rate: float
    per_worker_hit_rate: float
    bypassed: int
    #: The hit rate of a cache that never forgets: every first sighting of a key misses and every
    #: crisis bypasses, so no cache of any size or sharing can do better on this stream.
    ceiling: float = 0.0


def zipf_stream(messages: list[str], exponent: float, queries: int, seed: int = SEED) -> list[str]:
    """``queries`` draws over ``messages``, the message of rank k drawn with probability ~ 1 / k**exponent."""
    import numpy as np

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(messages))  # which message gets which rank
    weights = 1.0 / np.arange(1, len(messages) + 1) ** exponent
    ranks = rng.choice(len(messages), size=queries, p=weights / weights.sum())
    return [messages[order[r]] for r in ranks]


def replay_cache(settings: Any, stream: list[str], exponent: float, crisis_of: Any, corpus_size: int) -> Replay:
    """The stream through one LRU (the service's size and TTL), and through two (one per worker)."""
    import random

    from careassist.cache import LRUAnswerCache, normalise_message, replay_hit_rate

    def fresh() -> LRUAnswerCache:
        return LRUAnswerCache(settings.cache_max_entries, settings.cache_ttl_seconds)

    def answer(message: str) -> dict[str, Any]:
        return {"crisis": crisis_of(message), "category": "replay"}

    one = replay_hit_rate(fresh(), stream, answer=answer)
    rng = random.Random(SEED)
    shards: list[list[str]] = [[], []]
    for message in stream:
        shards[rng.randrange(2)].append(message)
    split = [replay_hit_rate(fresh(), shard, answer=answer) for shard in shards]
    keys = [normalise_message(m) for m in stream]
    seen: set[str] = set()
    repeats = 0
    for message, key in zip(stream, keys, strict=True):
        if not crisis_of(message):
            repeats += key in seen
            seen.add(key)
    return Replay(
        exponent=exponent,
        queries=one.queries,
        distinct=len(set(keys)),
        corpus=corpus_size,
        hit_rate=one.hit_rate,
        per_worker_hit_rate=sum(r.hits for r in split) / one.queries,
        bypassed=one.bypassed,
        ceiling=repeats / one.queries,
    )


def replay_in_process(settings: Any) -> tuple[list[Replay], list[str]]:
    """Hit rates for the headline exponent and its neighbours; the headline stream for the live replay."""
    from careassist.assistant import Assistant
    from careassist.cache import normalise_message
    from careassist.corpus import load_seed_corpus
    from careassist.pipeline import load_assistant

    assistant = Assistant(load_assistant(settings, settings.model_uri))
    memo: dict[str, bool] = {}

    def crisis_of(message: str) -> bool:
        key = normalise_message(message)
        if key not in memo:
            memo[key] = bool(assistant.answer(message).crisis)
        return memo[key]

    texts = list(dict.fromkeys(load_seed_corpus()["text"]))
    results, headline = [], []
    for exponent in (ZIPF_EXPONENT, *ZIPF_SENSITIVITY):
        stream = zipf_stream(texts, exponent, REPLAY_QUERIES)
        results.append(replay_cache(settings, stream, exponent, crisis_of, len(texts)))
        if exponent == ZIPF_EXPONENT:
            headline = stream
    return results, headline


# -- report -----------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_report(loads: dict[str, tuple[Load, Load]], replays: list[Replay], live: Load | None,
                 live_counters: dict[str, float], shared: Load | None = None, shared_note: str = "") -> None:
    names = {
        "a": "a  floor: bare Flask, constant",
        "b": "b  /v1/assist, cache hits",
        "c": "c  /v1/assist, unique (misses)",
        "d": "d  mlflow models serve, unique",
    }
    for title, index in (("saturated: 100 connections, no think time", 0),
                         (f"paced: 100 connections, {PACE_MS[0]}-{PACE_MS[1]} ms think time each", 1)):
        print(title)
        print(f"  {'workload':34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'requests':>10}{'errors':>8}")
        for key, name in names.items():
            if key in loads:
                load = loads[key][index]
                print(f"  {name:34}{load.rps:9,.0f}{load.p50_ms:9.2f}{load.p99_ms:9.2f}{load.p999_ms:10.2f}"
                      f"{load.requests:10,}{load.errors:8}")

    print("answer cache: replayed query streams (Zipf draws over the distinct seed-corpus messages)")
    print(f"  {'exponent':>8}{'queries':>9}{'distinct':>10}{'share':>7}{'crisis bypass':>15}"
          f"{'hit rate 1 LRU':>16}{'2 LRUs (per worker)':>21}{'no cache beats':>16}")
    for r in replays:
        print(f"  {r.exponent:8.1f}{r.queries:9,}{r.distinct:10,}{r.distinct / r.queries:7.1%}{r.bypassed:15,}"
              f"{r.hit_rate:16.1%}{r.per_worker_hit_rate:21.1%}{r.ceiling:16.1%}")
    print(f"  (corpus {replays[0].corpus:,} distinct messages; LRU of the service's size and TTL; crisis per the"
          " real model, never cached; 'no cache beats': a cache that never forgets, the stream's own ceiling)")
    if live is not None:
        rate = live.hits / live.answered if live.answered else 0.0
        print(f"  live, exponent {ZIPF_EXPONENT}: {live.answered:,} answers through the service (2 workers, the embedded"
              " default: an LRU each in front of one shared file),"
              f" {live.hits:,} cached -> {rate:.1%}; {live.failures} failures; {live.rps:,.0f} req/s;"
              f" /metrics: {', '.join(f'{k} {v:,.0f}' for k, v in sorted(live_counters.items()))}")
    if shared is not None:
        rate = shared.hits / shared.answered if shared.answered else 0.0
        print(f"  live, exponent {ZIPF_EXPONENT}, one Redis cache shared by the 2 workers (CAREASSIST_CACHE_BACKEND=redis):"
              f" {shared.answered:,} answers, {shared.hits:,} cached -> {rate:.1%}; {shared.failures} failures;"
              f" {shared.rps:,.0f} req/s")
    elif shared_note:
        print(f"  live with a shared Redis cache: {shared_note}")

    print("targets")
    a, b, c = (loads[k][0] for k in "abc")
    paced_b, paced_c = loads["b"][1], loads["c"][1]
    headline = replays[0]
    checks: list[tuple[str, str, str, bool]] = [
        ("(c) throughput vs floor (a)", f"{c.rps / a.rps:.2f}x", f">= {MISS_VS_FLOOR}x", c.rps / a.rps >= MISS_VS_FLOOR),
        ("(b) throughput vs floor (a)", f"{b.rps / a.rps:.2f}x", f">= {HIT_VS_FLOOR}x", b.rps / a.rps >= HIT_VS_FLOOR),
    ]
    if "d" in loads:
        d = loads["d"][0]
        checks.append(("(c) throughput vs mlflow serve (d)", f"{c.rps / d.rps:.2f}x", f">= {MISS_VS_MLFLOW}x",
                       c.rps / d.rps >= MISS_VS_MLFLOW))
    checks.append((f"cache hit rate, Zipf s={headline.exponent}, 1 LRU", f"{headline.hit_rate:.1%}", f"> {HIT_RATE:.0%}",
                   headline.hit_rate > HIT_RATE))
    if live is not None and live.answered:
        rate = live.hits / live.answered
        checks.append(("cache hit rate, live, LRUs + shared file", f"{rate:.1%}", f"> {HIT_RATE:.0%}", rate > HIT_RATE))
    if shared is not None and shared.answered:
        rate = shared.hits / shared.answered
        checks.append(("cache hit rate, live, shared Redis cache", f"{rate:.1%}", f"> {HIT_RATE:.0%}", rate > HIT_RATE))
    checks += [
        ("p99 cached (b), paced 100 users", f"{paced_b.p99_ms:.2f} ms", f"< {P99_HIT_MS:.0f} ms", paced_b.p99_ms < P99_HIT_MS),
        ("p99 new (c), paced 100 users", f"{paced_c.p99_ms:.2f} ms", f"< {P99_MISS_MS:.0f} ms", paced_c.p99_ms < P99_MISS_MS),
        ("p99 cached (b), saturated", f"{b.p99_ms:.2f} ms", f"< {P99_HIT_MS:.0f} ms", b.p99_ms < P99_HIT_MS),
        ("p99 new (c), saturated", f"{c.p99_ms:.2f} ms", f"< {P99_MISS_MS:.0f} ms", c.p99_ms < P99_MISS_MS),
    ]
    for label, measured, target, ok in checks:
        print(f"  {label:46}{measured:>11}{target:>10}  {verdict(ok)}")
    print(f"  saturated latency is queueing: 100 connections / {a.rps:,.0f} req/s of the floor itself ="
          f" {CONNECTIONS / a.rps * 1e3:.1f} ms mean (Little's law), before any work")


def replay_shared_cache(wrk: Wrk, environment: dict[str, str], settings: Any, tmp: Path, stream: list[str],
                        unique_messages: list[str], auth: str) -> tuple[Load | None, str]:
    """The live replay again, the service's workers sharing one Redis cache (``CAREASSIST_CACHE_BACKEND=redis``,
    as the production profile does): Redis at ``BENCH_REDIS_URL`` (default database 14 on loopback), whose
    answer keys are deleted first. Skipped, with the reason, when that Redis does not answer."""
    import redis

    from careassist.cache import DEFAULT_PREFIX
    from careassist.serve import gunicorn_command

    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
        client.ping()
        stale = list(client.scan_iter(match=f"{DEFAULT_PREFIX}:*", count=1000))
        for start in range(0, len(stale), 1000):
            client.delete(*stale[start : start + 1000])
    except redis.RedisError as exc:
        return None, f"skipped, no Redis at {url} ({type(exc).__name__})"
    shared_env = environment | {"CAREASSIST_CACHE_BACKEND": "redis", "CAREASSIST_REDIS_URL": url}
    server = Server("service, shared Redis cache", gunicorn_command(), shared_env, tmp / "service-redis.log",
                    settings.api_port)
    with running(server, "/readyz"):
        load = wrk.replay(server.base, Workload("/v1/assist", ASSIST_BODY, unique_messages[:1], False, auth), stream)
    return load, ""


# -- main -------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("gunicorn", "flask", "mlflow", "uvicorn", "fastapi")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=DURATION_S, help="seconds of each measured run")
    parser.add_argument("--warmup", type=int, default=WARMUP_S, help="seconds of each warm-up run")
    parser.add_argument("--data-root", type=Path, help="reuse a data root that has a production model (no set-up)")
    parser.add_argument("--skip-mlflow", action="store_true", help="leave out (d), mlflow models serve")
    parser.add_argument("--child-setup", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_setup:
        child_setup(args.child_setup)
        return

    for name in [n for n in os.environ if n.startswith("CAREASSIST_")]:
        del os.environ[name]  # the bench's settings come from its own data root only
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # finally blocks stop the servers
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows when redirected
    wrk_folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        run(args, wrk_folder)
    finally:
        shutil.rmtree(wrk_folder, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    from careassist.access import create_key
    from careassist.serve import gunicorn_command, service_environment
    from careassist.settings import load_settings

    wrk = Wrk(tmp)
    info = versions()
    print(f"bench-serve: {os.cpu_count()} CPUs shared by wrk and the server under test; {wrk.version};"
          f" {WRK_THREADS} threads, {CONNECTIONS} connections; warm-up {args.warmup} s, then {args.duration} s"
          f" saturated and {args.duration} s paced per workload")

    root = args.data_root or tmp / "platform"
    if args.data_root is None:
        print(f"set-up: healthcare-ai init and the training pipeline's steps on a fresh data root ({root})")
        setup = prepare_platform(root, tmp / "setup.log")
        print(f"  model version {setup['version']} promoted to production on {setup['rows']:,} rows"
              f" in {setup['setup_s']:.0f} s")
    key, digest = create_key()
    auth = f"Bearer {key}"
    settings = load_settings(
        profile="embedded", data_root=root, api_key_hashes=digest, rate_limit_per_minute=100_000_000,
        api_port=free_port(),
    )
    environment = service_environment(settings)
    hit_candidates, unique_messages = workload_messages()
    loads: dict[str, tuple[Load, Load]] = {}

    conf = "serving/gunicorn_conf.py"
    import runpy

    gunicorn_settings = runpy.run_path(str(REPO / conf))  # what the servers will read (GUNICORN_* included)
    workers, threads = str(gunicorn_settings["workers"]), str(gunicorn_settings["threads"])
    print(f"(a)-(c): gunicorn {info['gunicorn']} -c {conf} ({workers} gthread workers x {threads} threads),"
          f" Flask {info['flask']}")
    floor = Server("floor", gunicorn_command()[:-1] + ["benchmarks.floor_app:app"], environment, tmp / "floor.log",
                   settings.api_port)
    with running(floor, "/healthz"):
        loads["a"] = measure(wrk, "a floor", floor, Workload("/v1/assist", ASSIST_BODY, unique_messages, True), args)

    live: Load | None = None
    counters: dict[str, float] = {}
    from careassist.cache import shared_file

    answers = shared_file(settings)
    for stale in answers.parent.glob(answers.name + "*"):
        stale.unlink()  # the shared answer file (and its WAL) of an earlier run: the replay starts empty
    service = Server("service", gunicorn_command(), environment, tmp / "service.log", settings.api_port)
    print("replaying the cache-hit-rate stream in process (LRUAnswerCache, the real model's crisis flags)")
    replays, stream = replay_in_process(settings)
    with running(service, "/readyz"):
        status, body = http("GET", service.base + "/v1/model", headers={"Authorization": auth})
        print(f"  service serves {body.get('name')} version {body.get('version')} (@{body.get('alias')})"
              if status == 200 else f"  /v1/model answered {status}: {body}")
        before = service_counters(service)
        live = wrk.replay(service.base, Workload("/v1/assist", ASSIST_BODY, unique_messages[:1], False, auth), stream)
        after = service_counters(service)
        counters = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
        hits = cacheable(service, hit_candidates, auth)
        loads["b"] = measure(wrk, "b /v1/assist hits", service, Workload("/v1/assist", ASSIST_BODY, hits, False, auth), args)
        middle = service_counters(service)
        loads["c"] = measure(wrk, "c /v1/assist unique", service,
                             Workload("/v1/assist", ASSIST_BODY, unique_messages, True, auth), args)
        end = service_counters(service)
        for name, first, last in (("b", after, middle), ("c", middle, end)):
            delta = {k: last.get(k, 0.0) - first.get(k, 0.0) for k in last}
            total = sum(delta.values()) or 1.0
            print(f"  cache lookups during ({name}): hit {delta.get('hit', 0):,.0f} ({delta.get('hit', 0) / total:.1%}),"
                  f" miss {delta.get('miss', 0):,.0f}, bypass {delta.get('bypass', 0):,.0f}")

    shared, shared_note = replay_shared_cache(wrk, environment, settings, tmp, stream, unique_messages, auth)

    if not args.skip_mlflow:
        port = free_port()
        mlflow_env = environment | {
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "PATH": os.pathsep.join([str(BIN), environment.get("PATH", "")]),
        }
        command = [str(BIN / "mlflow"), "models", "serve", "-m", settings.model_uri, "--env-manager", "local",
                   "-h", "127.0.0.1", "-p", str(port), "-w", workers]
        print(f"(d): mlflow {info['mlflow']} models serve -m {settings.model_uri} --env-manager local -w {workers}:"
              f" uvicorn {info['uvicorn']} with {workers} worker processes, FastAPI {info['fastapi']} scoring server,"
              " pyfunc predict (classification only)")
        mlflow_server = Server("mlflow models serve", command, mlflow_env, tmp / "mlflow.log", port)
        with running(mlflow_server, "/ping"):
            status, body = http("POST", mlflow_server.base + "/invocations",
                                {"dataframe_split": {"columns": ["text"], "data": [[unique_messages[0]]]}})
            if status != 200:
                raise SystemExit(f"mlflow models serve answered {status}: {body}")
            print(f"  /invocations answers: {json.dumps(body)[:160]}")
            loads["d"] = measure(wrk, "d mlflow unique", mlflow_server,
                                 Workload("/invocations", MLFLOW_BODY, unique_messages, True), args)

    print_report(loads, replays, live, counters, shared, shared_note)


if __name__ == "__main__":
    main()
