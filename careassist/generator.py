"""A deterministic generator of conversations at scale, built from the seed corpus.

Each generated user turn is a seed message with an opening, a closing and a surface variation
(casing, punctuation, a typo), so rows are distinct while keeping the seed's label. The same
``rows`` and ``seed`` always give the same table; sessions group 1-6 turns minutes apart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

GENERATOR_SOURCE = "generator"
PROVENANCE = "careassist generator over the team-authored seed corpus"
DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
DEFAULT_SPAN = timedelta(days=90)

OPENINGS = (
    "", "hi,", "hello.", "good morning.", "quick question:", "sorry to bother you,", "can you help?",
    "i need some advice.", "question for you:", "my daughter said to ask here.", "hey there,",
    "hoping you can help.", "not sure where to ask this.", "ok so", "please,", "good evening.",
    "first time using this.", "asking for my family.", "i have a question.", "hi again,",
    "thanks for being here.", "so,", "one more thing:", "something has been on my mind.",
    "my nurse suggested this app.", "well,", "help please:", "i was told to write here.",
    "morning,", "excuse my typing.", "long story short,", "this might be silly but",
    "i am writing from my tablet.", "my son set this up for me.", "hello again.", "dear helper,",
    "urgent-ish question:", "here goes.", "just wondering,", "greetings.",
)
CLOSINGS = (
    "", "thanks.", "thank you so much.", "any advice appreciated.", "please help.",
    "what do you suggest?", "i am not sure who else to ask.", "thanks in advance.",
    "appreciate it.", "any ideas?", "what should i do?", "bless you.", "kind regards.",
    "sorry for the long message.", "hope that makes sense.", "thank you kindly.", "cheers.",
    "grateful for any tips.", "what would you do?", "is that normal?", "many thanks.",
    "i would love some guidance.", "tia.", "let me know.", "thanks for reading.",
    "any help is welcome.", "i appreciate your time.", "looking forward to your answer.",
    "does that make sense?", "please advise.", "thank u", "help!", "ty.", "thanks again.",
    "that is all.", "over to you.", "much obliged.", "god bless.", "be honest with me.",
    "i will wait for your reply.",
)
#: A few turns carry personal details, as real messages do, so ingestion's redaction is exercised.
CONTACT_TEMPLATES = (
    "you can call me at 555-{a:03d}-{b:04d}.",
    "my email is carer{a}.{b}@example.org.",
    "his medicare number is 1EG4-TE5-MK{a:02d}.",
    "we live at {a} Willow Lane.",
    "her date of birth is 0{c}/1{c}/19{b:02d}.",
)
CONTACT_SHARE = 0.02

#: Surface forms that keep the message's identity (its normalised key) ...
SURFACES = ("as_written", "lowercase", "no_final_punctuation")
#: ... and variations that make a new distinct message.
VARIATIONS = ("as_written", "typo")


def _typo(text: str, rng: np.random.Generator) -> str:
    letters = [i for i in range(len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if not letters:
        return text
    i = letters[int(rng.integers(len(letters)))]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _vary(text: str, variation: str, surface: str, rng: np.random.Generator) -> str:
    if variation == "typo":
        text = _typo(text, rng)
    if surface == "lowercase":
        return text.lower()
    if surface == "no_final_punctuation":
        return text.rstrip(".!?")
    return text


def generate_conversations(
    rows: int,
    *,
    seed: int = 7,
    corpus: pd.DataFrame | None = None,
    end: datetime = DEFAULT_END,
    span: timedelta = DEFAULT_SPAN,
) -> pd.DataFrame:
    """Generate ``rows`` distinct user turns with session id, label and event timestamp."""
    import pandas as pd

    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if corpus is None:
        from careassist.corpus import load_seed_corpus

        corpus = load_seed_corpus()
    corpus = corpus.reset_index(drop=True)
    combos = len(corpus) * len(OPENINGS) * len(CLOSINGS) * len(VARIATIONS)
    if rows > combos:
        raise ValueError(f"{rows} rows asked for, but the corpus yields only {combos} distinct combinations")
    rng = np.random.default_rng(seed)
    picks = rng.choice(combos, size=rows, replace=False)
    picks, variation = np.divmod(picks, len(VARIATIONS))
    picks, closing = np.divmod(picks, len(CLOSINGS))
    message, opening = np.divmod(picks, len(OPENINGS))

    surface = rng.integers(len(SURFACES), size=rows)
    contact = np.where(rng.random(rows) < CONTACT_SHARE, rng.integers(len(CONTACT_TEMPLATES), size=rows), -1)
    seed_texts = corpus["text"].to_numpy()
    texts = []
    rows_iter = zip(message.tolist(), opening.tolist(), closing.tolist(), variation.tolist(), surface.tolist(), contact.tolist(), strict=True)
    for m, o, c, v, s, k in rows_iter:
        details = CONTACT_TEMPLATES[k].format(a=10 + m % 990, b=(m * 7 + c) % 100, c=1 + o % 9) if k >= 0 else ""
        parts = (OPENINGS[o], seed_texts[m], details, CLOSINGS[c])
        texts.append(_vary(" ".join(p for p in parts if p), VARIATIONS[v], SURFACES[s], rng))

    # Sessions of 1-6 turns, started uniformly over the span, turns 1-15 minutes apart.
    lengths = rng.integers(1, 7, size=rows)
    lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), rows)) + 1]
    lengths[-1] -= int(lengths.sum()) - rows
    session_of_row = np.repeat(np.arange(len(lengths)), lengths)
    starts = rng.integers(0, int(span.total_seconds()), size=len(lengths))
    gaps = rng.integers(60, 900, size=rows)
    first_of_session = np.r_[0, np.cumsum(lengths)[:-1]]
    gaps[first_of_session] = 0
    cumulative = np.cumsum(gaps)
    offset_in_session = cumulative - np.repeat(cumulative[first_of_session], lengths)
    seconds = np.repeat(starts, lengths) + offset_in_session
    session_ids = np.char.add("s-", np.char.zfill(session_of_row.astype(str), 8))

    return pd.DataFrame(
        {
            "session_id": session_ids,
            "text": texts,
            "label": corpus["label"].to_numpy()[message],
            "kind": corpus["kind"].to_numpy()[message],
            "register": corpus["register"].to_numpy()[message],
            "source": GENERATOR_SOURCE,
            "source_id": np.char.add(f"gen-{seed}-", np.arange(rows).astype(str)),
            "provenance": PROVENANCE,
            "event_timestamp": pd.Timestamp(end - span) + pd.to_timedelta(seconds, unit="s"),
        }
    )
