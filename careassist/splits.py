"""Deterministic train / validation / test splits by message content.

A message's split is a hash of its normalised text, so the same message is always in the same split
whatever batch it arrives in, and near-duplicates that normalise alike never straddle two splits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

SPLITS = ("train", "validation", "test")
VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15


def split_of(key: str, *, validation: float = VALIDATION_SHARE, test: float = TEST_SHARE) -> str:
    """The split of one normalised text key (see ``careassist.ingest.text_key``)."""
    bucket = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") / 2**64
    if bucket < test:
        return "test"
    if bucket < test + validation:
        return "validation"
    return "train"


def assign_splits(keys: Iterable[str], **shares: float) -> list[str]:
    """The split of each key, in order."""
    return [split_of(key, **shares) for key in keys]
