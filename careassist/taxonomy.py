"""The assistant's labels and the kinds of messages the corpus and the evaluation distinguish.

The label names are part of the public API (``../shared/spec/taxonomy.md``); they live here once.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "adl_mobility",
    "adl_self_care",
    "medication_management",
    "mental_health",
    "crisis",
    "caregiver_support",
    "senior_care",
    "fall_prevention",
    "disabilities",
    "chronic_conditions",
    "nutrition_wellness",
)

#: Not a class of the classifier: a decision made from low confidence; data files mark such rows.
OUT_OF_SCOPE = "out_of_scope"

#: Every label a row of data may carry.
DATA_LABELS: tuple[str, ...] = (*CATEGORIES, OUT_OF_SCOPE)

#: Kinds of crisis message of ``crisis-policy.md``; the corpus has at least 40 of each.
CRISIS_KINDS: tuple[str, ...] = (
    "ideation_explicit",
    "ideation_passive",
    "plan_or_means",
    "self_harm",
    "third_person",
    "overdose",
    "harm_to_others",
    "medical_emergency",
)

#: Hard non-crisis messages: they look like a crisis but are not one.
HARD_NEGATIVE_KINDS: tuple[str, ...] = ("idiom", "informational", "history", "sadness")

#: The kind of an ordinary in-scope message, and of an out-of-scope one.
GENERAL_KIND = "general"
OUT_OF_SCOPE_KIND = "out_of_scope"

KINDS: tuple[str, ...] = (*CRISIS_KINDS, *HARD_NEGATIVE_KINDS, GENERAL_KIND, OUT_OF_SCOPE_KIND)
