"""Versioned feature services: one per model version's feature set, plus the session context.

Names come from ``careassist.features`` (defined once); a new model version adds a ``_v2``
service here instead of changing a published one.
"""

from __future__ import annotations

from conversation import conversation_messages
from feast import FeatureService
from request_features import message_text_features
from session import session_activity

from careassist.features import LABELS_SERVICE, MODEL_SERVICE, SESSION_SERVICE

session_context_v1 = FeatureService(
    name=SESSION_SERVICE,
    features=[session_activity],
    description="What the assistant reads about a session on every request.",
)

assistant_features_v1 = FeatureService(
    name=MODEL_SERVICE,
    features=[session_activity, message_text_features],
    description="Inputs of model version 1: session context and request-time text features.",
)

training_labels_v1 = FeatureService(
    name=LABELS_SERVICE,
    features=[conversation_messages],
    description="Text, label, source and dataset version of each training message.",
)
