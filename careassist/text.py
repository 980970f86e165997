"""Message text as the assistant reads it: no markup, whitespace collapsed (training and serving)."""

from __future__ import annotations

import re

_SCRIPTS = re.compile(r"<(script|style)\b[^>]{0,200}>.{0,20000}?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]{0,200}>")


def strip_markup(text: str) -> str:
    """Text without HTML tags or script/style blocks, whitespace collapsed."""
    if "<" in text:
        text = _TAGS.sub(" ", _SCRIPTS.sub(" ", text))
    return " ".join(text.split())
