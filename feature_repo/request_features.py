"""Request-time text features: an on-demand view with a Python transformation of the message."""

from __future__ import annotations

from typing import Any

from feast import Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Bool, Float64, Int64, String

message_request = RequestSource(
    name="message_request",
    schema=[Field(name="text", dtype=String)],
    description="The message being answered, sent with the request (never stored).",
)


@on_demand_feature_view(
    sources=[message_request],
    schema=[
        Field(name="text_chars", dtype=Int64),
        Field(name="word_count", dtype=Int64),
        Field(name="has_digits", dtype=Bool),
        Field(name="question_marks", dtype=Int64),
        Field(name="upper_ratio", dtype=Float64),
    ],
    mode="python",
    description="Shape of the message: length, words, digits, questions, shouting.",
)
def message_text_features(inputs: dict[str, Any]) -> dict[str, Any]:
    """Compute the text features of a batch of messages (lists in, lists out)."""
    texts = [text or "" for text in inputs["text"]]
    letters = [sum(ch.isalpha() for ch in text) for text in texts]
    return {
        "text_chars": [len(text) for text in texts],
        "word_count": [len(text.split()) for text in texts],
        "has_digits": [any(ch.isdigit() for ch in text) for text in texts],
        "question_marks": [text.count("?") for text in texts],
        "upper_ratio": [
            sum(ch.isupper() for ch in text) / n if n else 0.0 for text, n in zip(texts, letters, strict=True)
        ],
    }
