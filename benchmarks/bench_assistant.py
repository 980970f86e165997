"""make bench-assistant: one message through the whole assistant, in process, with the real model.

Prints p50/p99 of crisis check + classify + response build + quality validation per message, and
side by side the same classification done the naive way (the pipelines' predict_proba on a
one-row DataFrame), which copies each head's weight matrix on every call. Target: p99 < 2 ms.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

MESSAGES = 5000


def percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.array(samples) * 1e3
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def main() -> None:
    from careassist.assistant import Assistant
    from careassist.classifier import texts_frame
    from careassist.corpus import load_seed_corpus
    from careassist.generator import generate_conversations
    from careassist.training import train_assistant

    corpus = load_seed_corpus()
    started = time.perf_counter()
    result = train_assistant(corpus)
    trained = time.perf_counter() - started
    model = result.model
    assistant = Assistant(model)
    texts = generate_conversations(MESSAGES, seed=99, corpus=corpus)["text"].tolist()
    for text in texts[:200]:  # warm caches and the compiled path
        assistant.answer(text)

    whole: list[float] = []
    for text in texts:
        t0 = time.perf_counter()
        assistant.answer(text)
        whole.append(time.perf_counter() - t0)
    fast: list[float] = []
    for text in texts:
        t0 = time.perf_counter()
        model.predict_one(text)
        fast.append(time.perf_counter() - t0)
    naive: list[float] = []
    for text in texts[:1000]:
        frame = texts_frame([text])
        t0 = time.perf_counter()
        model.category.predict_proba(frame)
        model.out_of_scope.predict_proba(frame)
        model.crisis.predict_proba(frame)
        naive.append(time.perf_counter() - t0)

    from careassist.crisis_rules import detect_rules

    big = " ".join(texts)[:100_000]
    huge: list[float] = []
    for _ in range(20):
        t0 = time.perf_counter()
        detect_rules(big)
        huge.append(time.perf_counter() - t0)
    (w50, w99), (f50, f99), (n50, n99) = percentiles(whole), percentiles(fast), percentiles(naive)
    print(f"bench-assistant: model {result.chosen}, {model.feature_count:,} features, trained in {trained:.1f} s on {len(corpus):,} messages")
    print(f"  {'path':52} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"  {'whole answer (crisis + classify + build + validate)':52} {w50:8.3f} {w99:8.3f}   target p99 < 2 ms")
    print(f"  {'compiled model, three heads':52} {f50:8.3f} {f99:8.3f}")
    print(f"  {'naive predict_proba, three heads (1,000 calls)':52} {n50:8.3f} {n99:8.3f}")
    print(f"  {'crisis rules on 100 KB of varied text (20 runs)':52} {percentiles(huge)[0]:8.3f} {percentiles(huge)[1]:8.3f}   budget 50 ms")
    print(f"  ratio naive / compiled: p50 {n50 / f50:.1f}x, p99 {n99 / f99:.1f}x;  mean whole answer {statistics.mean(whole) * 1e3:.3f} ms over {len(whole):,} messages")


if __name__ == "__main__":
    main()
