"""The project's own seed corpus: messages the team wrote, shipped with the package.

It is the default training data, so the platform works without any public dataset.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from careassist.storage import Location

SEED_COLUMNS = ("text", "label", "kind", "register", "provenance")
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
