"""The project's own seed corpus: messages the team wrote, shipped with the package.

It is the default training data, so the platform works without any public dataset.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from careassist.storage import Location

SEED_COLUMNS = ("text", "label", "kind", "register", "provenance")
#: Who is writing and how, one per message (``healthcare-ai corpus check`` holds new files to it).
REGISTERS = (
    "family_member", "older_adult", "lowercase", "typo", "caregiver", "disabled_person", "short", "long", "formal",
)  # fmt: skip
PROVENANCE_MARK = "careassist-team authored"
#: Two messages of one label sharing this share of their words (Jaccard) are near-duplicates.
NEAR_DUPLICATE_JACCARD = 0.7
SEED_SOURCE = "seed"
EXPORT_NAME = "seed_corpus.csv"


def seed_files() -> list[str]:
    """Names of the seed corpus files in the package."""
    folder = resources.files(__package__).joinpath("seed")
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".csv"))


def load_seed_corpus() -> pd.DataFrame:
    """All seed messages with the raw columns ingestion reads (``source`` = ``seed``)."""
    import pandas as pd

    folder = resources.files(__package__).joinpath("seed")
    frames = []
    for name in seed_files():
        with folder.joinpath(name).open("r", encoding="utf-8") as handle:
            frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
        missing = [c for c in SEED_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"seed corpus file {name}: missing column(s) {', '.join(missing)}")
        frame = frame[list(SEED_COLUMNS)]
        frame["source"] = SEED_SOURCE
        frame["source_id"] = [f"{name.removesuffix('.csv')}:{row}" for row in range(2, len(frame) + 2)]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def export_seed_corpus(location: Location) -> str:
    """Write the seed corpus as one raw CSV file into a raw-data location; returns its URI."""
    return location.write_bytes(EXPORT_NAME, load_seed_corpus().to_csv(index=False).encode("utf-8"))


def check_files(paths: list[Path]) -> list[str]:
    """Problems of new or changed seed-corpus files, each naming its file and line: the columns,
    label, kind, register and provenance of every row, and no message repeated (after
    normalisation) or nearly repeated (``NEAR_DUPLICATE_JACCARD`` of its words, same label) within
    the files or against the rest of the seed corpus. An empty list means the files may join it."""
    import re
    from collections import defaultdict

    import pandas as pd

    from careassist.ingest import normalise_text, text_key
    from careassist.taxonomy import (
        CRISIS_KINDS,
        DATA_LABELS,
        GENERAL_KIND,
        HARD_NEGATIVE_KINDS,
        OUT_OF_SCOPE,
        OUT_OF_SCOPE_KIND,
    )

    problems: list[str] = []
    frames = []
    for path in paths:
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be read as UTF-8 CSV ({type(exc).__name__}: {exc})")
            continue
        if tuple(frame.columns) != SEED_COLUMNS:
            problems.append(f"{path}: columns {', '.join(frame.columns)}; expected exactly {', '.join(SEED_COLUMNS)}")
            continue
        frames.append(frame.assign(where=[f"{path}:{line}" for line in range(2, len(frame) + 2)]))
    if not frames:
        return problems
    new = pd.concat(frames, ignore_index=True)
    allowed_kinds = {OUT_OF_SCOPE: {OUT_OF_SCOPE_KIND}, "crisis": set(CRISIS_KINDS)}
    ordinary = {GENERAL_KIND, *HARD_NEGATIVE_KINDS}
    for row in new.itertuples(index=False):
        if row.label not in DATA_LABELS:
            problems.append(f"{row.where}: label {row.label!r} is none of {', '.join(DATA_LABELS)}")
        elif row.kind not in allowed_kinds.get(row.label, ordinary):
            kinds = sorted(allowed_kinds.get(row.label, ordinary))
            problems.append(f"{row.where}: kind {row.kind!r} does not go with label {row.label} (use {', '.join(kinds)})")
        if row.register not in REGISTERS:
            problems.append(f"{row.where}: register {row.register!r} is none of {', '.join(REGISTERS)}")
        if PROVENANCE_MARK not in row.provenance:
            problems.append(f"{row.where}: provenance must say {PROVENANCE_MARK!r}")
        if not row.text.strip():
            problems.append(f"{row.where}: empty text")
    names = {Path(p).name for p in paths}
    seed = load_seed_corpus()
    rest = seed[~seed["source_id"].str.rsplit(":", n=1).str[0].add(".csv").isin(names)]
    new_keys = text_key(normalise_text(new["text"]))
    old_keys = set(text_key(normalise_text(rest["text"])))
    repeated = new_keys.duplicated(keep="first")
    known = new_keys.isin(old_keys) & ~repeated
    for i in new.index[repeated]:
        problems.append(f"{new.at[i, 'where']}: repeats an earlier message of these files")
    for i in new.index[known]:
        problems.append(f"{new.at[i, 'where']}: already in the seed corpus")

    def words(text: str) -> frozenset[str]:
        return frozenset(re.findall(r"[a-z']+", text.lower()))

    others: defaultdict[str, list[frozenset[str]]] = defaultdict(list)
    for text, label in zip(rest["text"], rest["label"], strict=True):
        others[label].append(words(text))
    exact = (repeated | known).to_numpy()
    for position, row in enumerate(new.itertuples(index=False)):
        mine = words(row.text)
        seen = others[row.label]
        if not exact[position] and len(mine) >= 5 and any(
            len(other) >= 5 and len(mine & other) / len(mine | other) >= NEAR_DUPLICATE_JACCARD for other in seen
        ):
            problems.append(f"{row.where}: nearly repeats another {row.label} message (rephrase it)")
        seen.append(mine)
    return problems
