"""Adapters that turn the four public datasets of ``../shared/data`` into labelled rows.

Each reader returns a frame with the columns of ``COLUMNS``: the text, a label of the taxonomy (or
out of scope), a kind, the source, the dataset's own id and a citation. Rows that cannot be mapped
with confidence are dropped, and the number dropped for each reason is kept in
``frame.attrs["dropped"]`` (keys ``"<source>/<reason>"``). The maps below are reviewed decisions:
``describe_mapping()`` lists them for ``docs/data-sources.md``, which a test keeps in sync.

The datasets are not part of the project (see their NOTICE.md): they are read in place, never copied.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from careassist.taxonomy import (
    DATA_LABELS,
    GENERAL_KIND,
    OUT_OF_SCOPE,
    OUT_OF_SCOPE_KIND,
)

logger = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("text", "label", "kind", "source", "source_id", "provenance")

#: The files of the shared data folder, by the name the readers use.
DATASET_FILES: dict[str, str] = {
    "medquad": "medquad_consumer_questions.csv",
    "counselchat": "counselchat_questions.csv",
    "medicationqa": "medicationqa_questions.csv",
    "reddit": "reddit_mental_health_dev.csv",
    "reddit_labels": "reddit_mental_health_dev_crisis_labels.csv",
}

PROVENANCE: dict[str, str] = {
    "medquad": "MedQuAD (Ben Abacha & Demner-Fushman 2019), CC BY 4.0",
    "counselchat": "CounselChat (nbertagnolli/counsel-chat), MIT; text from counselchat.com",
    "medicationqa": "MedicationQA (Ben Abacha et al., MedInfo 2019), NIH/NLM research data",
    "reddit": "Reddit Mental Health Dataset (Low et al. 2020), PDDL-1.0",
}

DROPPED = "dropped"
"""What ``describe_mapping()`` shows for a source value whose rows are dropped."""

# Crisis labels come only from human review. Free text that nobody reviewed is dropped when it uses
# crisis language: labelling it crisis would be a guess, labelling it anything else would teach the
# model to miss a crisis. This is a wide screen for data curation, not the crisis detector.
UNREVIEWED_CRISIS_LANGUAGE = re.compile(
    r"\b(?:suicid\w*|kill(?:ing)? (?:my|him|her|them)sel(?:f|ves)|self[- ]?harm\w*|"
    r"(?:want(?:ed|ing)?|wish(?:ed)?|wanna) (?:to )?die|end (?:my life|it all|myself)|"
    r"cut(?:ting)? myself|hang myself|overdos\w*|unalive\w*|kms|better off (?:dead|without me)|"
    r"(?:to|would) kill (?:you|me)|don['’]?t want to (?:live|be alive|wake up))\b",
    re.IGNORECASE,
)

# --- MedQuAD ---------------------------------------------------------------------------------------

MEDQUAD_COLLECTION_LABELS: dict[str, str] = {
    "11_MPlusDrugs_QA": "medication_management",
}

MEDQUAD_SENIORHEALTH = "7_SeniorHealth_QA"

#: NIHSeniorHealth topics, one by one; a topic not listed (shingles, dry mouth, taste...) is dropped.
MEDQUAD_SENIORHEALTH_FOCUS: dict[str, str] = {
    "Alzheimer's Disease": "senior_care",
    "Alzheimer's Caregiving": "caregiver_support",
    "Age-related Macular Degeneration": "senior_care",
    "Cataract": "senior_care",
    "Glaucoma": "senior_care",
    "Low Vision": "senior_care",
    "Hearing Loss": "senior_care",
    # Continuing care means nursing homes and assisted living, which the taxonomy puts here.
    "Medicare and Continuing Care": "senior_care",
    "Balance Problems": "fall_prevention",
    "Urinary Incontinence": "adl_self_care",
    "Anxiety Disorders": "mental_health",
    "Depression": "mental_health",
    # Substance use is treated as mental health in every source (CounselChat, Reddit) alike.
    "Alcohol Use and Older Adults": "mental_health",
    "Prescription and Illicit Drug Abuse": "mental_health",
    "Diabetes": "chronic_conditions",
    "Diabetic Retinopathy": "chronic_conditions",
    "High Blood Pressure": "chronic_conditions",
    "High Blood Cholesterol": "chronic_conditions",
    "Heart Attack": "chronic_conditions",
    "Heart Failure": "chronic_conditions",
    "Stroke": "chronic_conditions",
    "Peripheral Arterial Disease (P.A.D.)": "chronic_conditions",
    "COPD": "chronic_conditions",
    "Kidney Disease": "chronic_conditions",
    "Osteoporosis": "chronic_conditions",
    "Osteoarthritis": "chronic_conditions",
    "Rheumatoid Arthritis": "chronic_conditions",
    "Gout": "chronic_conditions",
    "Paget's Disease of Bone": "chronic_conditions",
    "Psoriasis": "chronic_conditions",
    "Parkinson's Disease": "chronic_conditions",
    "Breast Cancer": "chronic_conditions",
    "Prostate Cancer": "chronic_conditions",
    "Lung Cancer": "chronic_conditions",
    "Colorectal Cancer": "chronic_conditions",
    "Skin Cancer": "chronic_conditions",
    "Leukemia": "chronic_conditions",
    "Surviving Cancer": "chronic_conditions",
}

#: Exact topics of the other collections, checked before the keywords; None drops the topic.
MEDQUAD_FOCUS_LABELS: dict[str, str | None] = {
    "Falls": "fall_prevention",
    "Balance Problems": "fall_prevention",
    "Dizziness and Vertigo": "fall_prevention",
    "Walking Problems": "adl_mobility",
    "Pressure Sores": "adl_self_care",
    "Assistive Devices": "disabilities",
    "Mobility Aids": "disabilities",
    "Disabilities": "disabilities",
    "Hearing Aids": "disabilities",
    "Cochlear Implants": "disabilities",
    "Artificial Limbs": "disabilities",
    "Limb Loss": "disabilities",
    "Vision Impairment and Blindness": "disabilities",
    "Memory": "senior_care",
    "Mild Cognitive Impairment": "senior_care",
    "Delirium": "senior_care",
    "Lewy Body Disease": "senior_care",
    "Seniors' Health": "senior_care",
    "Iron": "nutrition_wellness",
    # A breathing disorder of people with obesity: the "obesity" keyword would call it diet advice.
    "Obesity Hypoventilation Syndrome": None,
}

#: Words of the topic, case-insensitive; a plural also matches, and "stem*" matches any word that
#: starts with the stem. The first rule wins, so medicines come before the conditions they treat
#: and conditions before general nutrition.
MEDQUAD_FOCUS_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "medication_management",
        ("medicines", "medication", "drug safety", "drug reaction", "pain reliever", "antibiotics",
         "antidepressant", "blood thinner", "statin"),
    ),
    ("caregiver_support", ("caregiv*",)),
    (
        "senior_care",
        ("alzheimer", "dementia", "macular degeneration", "cataract", "glaucoma", "nursing home",
         "assisted living", "hospice", "end of life", "advance directive", "palliative"),
    ),
    ("adl_self_care", ("incontinence",)),
    (
        "chronic_conditions",
        ("diabet*", "prediabetes", "a1c", "blood sugar", "hyperglycemia", "hypoglycemia",
         "insulin resistance", "high blood pressure", "hypertension", "cholesterol", "triglyceride",
         "heart disease", "heart failure", "heart attack", "coronary", "atrial fibrillation",
         "arrhythmia", "angina", "cardiomyopathy", "atherosclerosis", "peripheral arter*",
         "heart valve", "copd", "emphysema", "chronic bronchitis", "asthma", "arthritis", "gout",
         "osteoporosis", "fibromyalgia", "lupus", "kidney disease", "kidney failure", "chronic kidney",
         "dialysis", "nephropathy", "cancer", "leukemia", "lymphoma", "melanoma", "myeloma",
         "chronic pain", "back pain", "parkinson", "multiple sclerosis", "stroke"),
    ),
    (
        "mental_health",
        ("anxiety", "depress*", "stress", "bereavement", "grief", "panic", "phobia", "bipolar",
         "mental", "mood disorder", "obsessive", "personality disorder", "schizophrenia", "psychotic",
         "seasonal affective", "eating disorder", "alcoholism", "drug abuse", "substance abuse",
         "gambling", "dual diagnosis", "suicide", "self-harm"),
    ),
    (
        "nutrition_wellness",
        ("nutrition*", "diet*", "vitamin", "mineral", "calcium", "potassium", "sodium", "carbohydrate",
         "folic acid", "antioxidant", "caffeine", "weight control", "body weight", "obesity",
         "overweight", "exercise", "physical activity", "fitness", "insomnia", "sleep disorder",
         "sleep deprivation", "dehydration", "malnutrition", "healthy living", "food labeling"),
    ),
)

# What to do in an overdose, what suicide is: questions that look like a crisis and are not one.
MEDQUAD_INFORMATIONAL_QTYPES: frozenset[str] = frozenset({"emergency or overdose"})
MEDQUAD_INFORMATIONAL_FOCUS: frozenset[str] = frozenset({"Suicide", "Self-harm"})

# --- CounselChat -----------------------------------------------------------------------------------

#: Topic tags in priority order: a post takes the label of its first listed tag; None drops it.
COUNSELCHAT_TOPICS: tuple[tuple[str, str | None], ...] = (
    # No one reviewed CounselChat against the crisis policy: posts that may describe self-harm or
    # abuse happening now are dropped rather than labelled either way.
    ("Self-harm", None),
    ("Domestic Violence", None),
    # Both posts under this tag are by a daughter or son about their own strain as a carer.
    ("Alzheimer's", "caregiver_support"),
    ("Family Conflict", "mental_health"),
    ("Sleep Improvement", "nutrition_wellness"),
    # An eating disorder is a mental illness: diet advice (nutrition_wellness) could feed it.
    ("Eating Disorders", "mental_health"),
    ("Grief and Loss", "mental_health"),
    ("Trauma", "mental_health"),
    ("Depression", "mental_health"),
    ("Anxiety", "mental_health"),
    ("Stress", "mental_health"),
    ("Substance Abuse", "mental_health"),
    ("Addiction", "mental_health"),
    ("Anger Management", "mental_health"),
    ("Self-esteem", "mental_health"),
    ("Behavioral Change", "mental_health"),
    ("Diagnosis", "mental_health"),
    ("Counseling Fundamentals", "mental_health"),
    ("Relationships", "mental_health"),
    ("Marriage", "mental_health"),
    ("Relationship Dissolution", "mental_health"),
    ("Social Relationships", "mental_health"),
    ("LGBTQ", "mental_health"),
)
# Tags left out on purpose, because their posts spread over several categories or none: Intimacy,
# Human Sexuality, Parenting, Children & Adolescents, Legal & Regulatory, Professional Ethics,
# Workplace Relationships, Career Counseling, Spirituality, Military Issues.

#: Family conflict is the carer's own strain (caregiver_support) when the post is about caring.
COUNSELCHAT_CAREGIVING = re.compile(
    r"\b(?:caregiv\w*|care ?taker|elderly|dementia|alzheimer\w*|nursing home|assisted living|"
    r"(?:car(?:e|ing) for|tak(?:e|ing) care of|look(?:ing)? after) (?:my|our|his|her) "
    r"(?:elderly |aging |ailing |sick )?(?:mom|mother|dad|father|parents?|grand\w+|in-laws?|"
    r"mother-in-law|father-in-law))",
    re.IGNORECASE,
)

# --- MedicationQA ----------------------------------------------------------------------------------

MEDICATIONQA_LABEL = "medication_management"

#: Question types whose rows are dropped, with the reason.
MEDICATIONQA_DROPPED_TYPES: dict[str, str] = {
    "not_drug_question": "not about a medicine",
    # A question about an overdose may describe one in progress, and nobody reviewed it.
    "Overdose": "may be an overdose in progress",
}

# --- Reddit ----------------------------------------------------------------------------------------

#: Reviewed label -> kind. crisis_* rows are labelled crisis; the others take the subreddit's label.
REDDIT_REVIEW_KINDS: dict[str, str | None] = {
    # crisis_self does not say which kind (ideation, self-harm, a plan): explicit ideation is the
    # commonest and the closest.
    "crisis_self": "ideation_explicit",
    "crisis_other": "third_person",
    "not_crisis_history": "history",
    "not_crisis_informational": "informational",
    "not_crisis_idiom": "idiom",
    "not_crisis_other": GENERAL_KIND,
    "unclear": None,
}
REDDIT_CRISIS_REVIEWS: frozenset[str] = frozenset({"crisis_self", "crisis_other"})

#: Subreddits whose posts are used only with a reviewed label: never guess crisis from the forum.
REDDIT_REVIEW_REQUIRED: frozenset[str] = frozenset({"suicidewatch"})

#: Subreddit (lower case) -> label; None drops the subreddit.
REDDIT_SUBREDDIT_LABELS: dict[str, str | None] = {
    "mentalhealth": "mental_health",
    "depression": "mental_health",
    "anxiety": "mental_health",
    "socialanxiety": "mental_health",
    # Fear about one's health, not a medical question: the posts ask for reassurance.
    "healthanxiety": "mental_health",
    "lonely": "mental_health",
    "foreveralone": "mental_health",
    "bpd": "mental_health",
    "bipolarreddit": "mental_health",
    "schizophrenia": "mental_health",
    "ptsd": "mental_health",
    "addiction": "mental_health",
    "alcoholism": "mental_health",
    "adhd": "mental_health",
    # Posts are about social life, diagnosis and coping, not equipment or services (disabilities).
    "autism": "mental_health",
    # An eating disorder is a mental illness: diet advice (nutrition_wellness) could feed it.
    "edanonymous": "mental_health",
    # Meditation as a way to handle stress and emotions, the ground of mental_health.
    "mindfulness": "mental_health",
    # Reached only by reviewed non-crisis posts (supporters, history), see REDDIT_REVIEW_REQUIRED.
    "suicidewatch": "mental_health",
    # Half custody and money, half grief: neither out of scope nor mental health with confidence.
    "divorce": None,
    "legaladvice": OUT_OF_SCOPE,
    "personalfinance": OUT_OF_SCOPE,
    "ukpersonalfinance": OUT_OF_SCOPE,
    "unitedkingdom": OUT_OF_SCOPE,
    "ukpolitics": OUT_OF_SCOPE,
    "conspiracy": OUT_OF_SCOPE,
    "teaching": OUT_OF_SCOPE,
    "guns": OUT_OF_SCOPE,
}


class SourceError(ValueError):
    """A public dataset is absent or malformed; the message names the file (and column) at fault."""


def dataset_files(folder: Path) -> dict[str, Path]:
    """The path of each dataset file in ``folder``, checking that the folder and every file exist."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"public datasets folder not found: {folder}")
    files = {name: folder / filename for name, filename in DATASET_FILES.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise SourceError(f"public dataset file(s) missing: {', '.join(missing)}")
    return files


def read_medquad(path: Path) -> pd.DataFrame:
    """MedQuAD consumer questions, labelled by collection, then by topic (focus)."""
    source = "medquad"
    raw = _read_csv(path, ("qid", "collection", "focus", "qtype", "question"))
    text = _normalise(raw["question"])
    collection, focus = raw["collection"].str.strip(), raw["focus"].str.strip()
    qtype = raw["qtype"].str.strip()

    label = collection.map(MEDQUAD_COLLECTION_LABELS)
    senior = collection.eq(MEDQUAD_SENIORHEALTH)
    label = label.mask(senior, focus.map(MEDQUAD_SENIORHEALTH_FOCUS))
    other = label.isna() & ~senior & ~collection.isin(MEDQUAD_COLLECTION_LABELS)
    label = label.mask(other, focus.map(MEDQUAD_FOCUS_LABELS))
    open_rows = other & ~focus.isin(MEDQUAD_FOCUS_LABELS)
    for category, keywords in MEDQUAD_FOCUS_KEYWORDS:
        hit = open_rows & label.isna() & focus.str.contains(_keyword_pattern(keywords))
        label = label.mask(hit, category)

    informational = qtype.isin(MEDQUAD_INFORMATIONAL_QTYPES) | focus.isin(MEDQUAD_INFORMATIONAL_FOCUS)
    frame = pd.DataFrame(
        {
            "text": text,
            "label": label,
            "kind": GENERAL_KIND,
            "source_id": collection + "/" + raw["qid"].str.strip(),  # qids repeat across collections
        }
    )
    frame["kind"] = frame["kind"].mask(informational, "informational")
    return _finish(frame, source, {"empty_text": text.eq(""), "unmapped_topic": label.isna()})


def read_counselchat(path: Path) -> pd.DataFrame:
    """CounselChat questions, labelled by their first topic tag in ``COUNSELCHAT_TOPICS`` order."""
    source = "counselchat"
    raw = _read_csv(path, ("questionID", "topics", "questionTitle", "questionText"))
    title, body = _normalise(raw["questionTitle"]), _normalise(raw["questionText"])
    separator = pd.Series(". ", index=raw.index).mask(title.str.contains(r"[.?!:]$"), " ")
    text = (title + separator + body).mask(body.eq(""), title).mask(title.eq(""), body)

    rank = {tag.casefold(): index for index, (tag, _) in enumerate(COUNSELCHAT_TOPICS)}
    tags = raw["topics"].str.split(",").explode().str.strip().str.casefold()
    best = tags.map(rank).groupby(level=0).min().reindex(raw.index)
    chosen = best.map(lambda index: COUNSELCHAT_TOPICS[int(index)][0], na_action="ignore")
    label = chosen.map(dict(COUNSELCHAT_TOPICS))
    caring = chosen.eq("Family Conflict") & text.str.contains(COUNSELCHAT_CAREGIVING)
    label = label.mask(caring, "caregiver_support")

    frame = pd.DataFrame(
        {"text": text, "label": label, "kind": GENERAL_KIND, "source_id": raw["questionID"].str.strip()}
    )
    return _finish(
        frame,
        source,
        {
            "empty_text": text.eq(""),
            "unmapped_topic": best.isna(),
            "dropped_topic": best.notna() & label.isna(),
            "unreviewed_crisis_language": text.str.contains(UNREVIEWED_CRISIS_LANGUAGE),
        },
    )


def read_medicationqa(path: Path) -> pd.DataFrame:
    """MedicationQA consumer questions about medicines, all medication_management."""
    source = "medicationqa"
    raw = _read_csv(path, ("question", "question_type"))
    text = _normalise(raw["question"])
    source_id = text.map(lambda value: hashlib.sha256(value.encode("utf-8")).hexdigest()[:16])
    frame = pd.DataFrame(
        {"text": text, "label": MEDICATIONQA_LABEL, "kind": GENERAL_KIND, "source_id": source_id}
    )
    return _finish(
        frame,
        source,
        {
            "empty_text": text.eq(""),
            "dropped_question_type": raw["question_type"].str.strip().isin(MEDICATIONQA_DROPPED_TYPES),
            "unreviewed_crisis_language": text.str.contains(UNREVIEWED_CRISIS_LANGUAGE),
        },
    )


def read_reddit(posts_path: Path, labels_path: Path) -> pd.DataFrame:
    """Reddit posts: crisis from the reviewed labels file (which wins), the rest by subreddit."""
    source = "reddit"
    raw = _read_csv(posts_path, ("id", "subreddit", "post"))
    reviews = _read_reviews(labels_path)
    post_id = raw["id"].str.strip()
    text = _normalise(raw["post"])
    subreddit = raw["subreddit"].str.strip().str.lower()

    orphans = reviews.index.difference(post_id)
    if len(orphans):
        logger.warning("%s: %d reviewed id(s) match no post in %s", labels_path, len(orphans), posts_path)
    review = post_id.map(reviews)
    reviewed = review.notna()
    crisis = review.isin(REDDIT_CRISIS_REVIEWS)
    label = subreddit.map(REDDIT_SUBREDDIT_LABELS).mask(crisis, "crisis")
    kind = review.map(REDDIT_REVIEW_KINDS).fillna(GENERAL_KIND)
    kind = kind.mask(label.eq(OUT_OF_SCOPE) & kind.eq(GENERAL_KIND), OUT_OF_SCOPE_KIND)

    frame = pd.DataFrame({"text": text, "label": label, "kind": kind, "source_id": post_id})
    return _finish(
        frame,
        source,
        {
            "empty_text": text.eq(""),
            "review_unclear": reviewed & review.map(REDDIT_REVIEW_KINDS).isna(),
            "unreviewed_in_review_only_subreddit": ~reviewed & subreddit.isin(REDDIT_REVIEW_REQUIRED),
            "unmapped_subreddit": label.isna(),
            "unreviewed_crisis_language": ~reviewed & text.str.contains(UNREVIEWED_CRISIS_LANGUAGE),
        },
    )


def read_public_sources(folder: Path | None = None) -> pd.DataFrame:
    """All four datasets as one frame; ``folder`` defaults to the ``shared_data_dir`` setting."""
    if folder is None:
        from careassist.settings import get_settings

        folder = get_settings().shared_data_dir
    files = dataset_files(Path(folder))
    frames = [
        read_medquad(files["medquad"]),
        read_counselchat(files["counselchat"]),
        read_medicationqa(files["medicationqa"]),
        read_reddit(files["reddit"], files["reddit_labels"]),
    ]
    dropped = {key: count for frame in frames for key, count in frame.attrs["dropped"].items()}
    combined = pd.concat(frames, ignore_index=True)
    combined.attrs = {"dropped": dropped}
    return combined


def describe_mapping() -> list[tuple[str, str, str]]:
    """Every mapping rule as (source, source value, label), highest priority first in each source."""
    other = "other collections focus"
    rows = [("medquad", f"collection {name}", label) for name, label in MEDQUAD_COLLECTION_LABELS.items()]
    rows += [
        ("medquad", f"{MEDQUAD_SENIORHEALTH} focus '{focus}'", label)
        for focus, label in MEDQUAD_SENIORHEALTH_FOCUS.items()
    ]
    rows.append(("medquad", f"{MEDQUAD_SENIORHEALTH} any other focus", DROPPED))
    rows += [
        ("medquad", f"{other} '{focus}'", label or DROPPED) for focus, label in MEDQUAD_FOCUS_LABELS.items()
    ]
    rows += [
        ("medquad", f"{other} has the word(s): {', '.join(keywords)}", label)
        for label, keywords in MEDQUAD_FOCUS_KEYWORDS
    ]
    rows.append(("medquad", f"{other}: any other", DROPPED))

    rows.append(("counselchat", "text with crisis language, any topic (nobody reviewed it)", DROPPED))
    for tag, label in COUNSELCHAT_TOPICS:
        if tag == "Family Conflict":
            caring = "topic 'Family Conflict', text about caring for a parent or older relative"
            rows.append(("counselchat", caring, "caregiver_support"))
        rows.append(("counselchat", f"topic '{tag}'", label or DROPPED))
    rows.append(("counselchat", "any other topic", DROPPED))

    rows.append(("medicationqa", "question with crisis language (nobody reviewed it)", DROPPED))
    rows += [("medicationqa", f"question_type '{name}'", DROPPED) for name in MEDICATIONQA_DROPPED_TYPES]
    rows.append(("medicationqa", "any other question", MEDICATIONQA_LABEL))

    for review, kind in REDDIT_REVIEW_KINDS.items():
        if kind is None:
            rows.append(("reddit", f"reviewed label {review}", DROPPED))
        else:
            label = "crisis" if review in REDDIT_CRISIS_REVIEWS else "the subreddit's label"
            rows.append(("reddit", f"reviewed label {review} (kind {kind})", label))
    rows.append(("reddit", "unreviewed post with crisis language", DROPPED))
    rows += [
        ("reddit", f"subreddit {name}, unreviewed post", DROPPED) for name in sorted(REDDIT_REVIEW_REQUIRED)
    ]
    rows += [
        ("reddit", f"subreddit {name}", label or DROPPED) for name, label in REDDIT_SUBREDDIT_LABELS.items()
    ]
    rows.append(("reddit", "any other subreddit", DROPPED))
    return rows


def format_mapping_table() -> str:
    """The mapping of ``describe_mapping()`` as the Markdown table of ``docs/data-sources.md``."""
    lines = ["| source | source value | label |", "|---|---|---|"]
    lines += [f"| {source} | {value} | {label} |" for source, value, label in describe_mapping()]
    return "\n".join(lines)


def _read_csv(path: Path, columns: Iterable[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise SourceError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, OSError) as exc:
        raise SourceError(f"{path}: cannot be read as CSV: {exc}") from None
    frame.columns = frame.columns.str.strip()
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise SourceError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; found {', '.join(frame.columns)}"
        )
    if frame.empty:
        raise SourceError(f"{path}: file has a header but no rows")
    return frame


def _read_reviews(path: Path) -> pd.Series:
    """The reviewed crisis labels by post id, refusing unknown labels and conflicting reviews."""
    raw = _read_csv(path, ("id", "label"))
    ids, labels = raw["id"].str.strip(), raw["label"].str.strip()
    unknown = sorted(set(labels) - set(REDDIT_REVIEW_KINDS))
    if unknown:
        raise SourceError(f"{path}: column 'label' has unknown value(s) {', '.join(map(repr, unknown))}")
    repeated = sorted(set(ids[ids.duplicated()]))
    if repeated:
        raise SourceError(f"{path}: column 'id' repeats post(s) {', '.join(repeated[:5])}")
    return pd.Series(labels.to_numpy(), index=ids.to_numpy())


def _normalise(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.replace(r"\s+", " ", regex=True).str.strip()


def _keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str]:
    """Whole words (or their plural), and any word starting with a ``stem*``."""
    parts = [
        re.escape(word[:-1]) + r"\w*" if word.endswith("*") else re.escape(word) + r"(?:s|es)?\b"
        for word in keywords
    ]
    return re.compile(r"\b(?:" + "|".join(parts) + ")", re.IGNORECASE)


def _finish(frame: pd.DataFrame, source: str, drops: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Drop rows for the first reason that applies, count them, and add the source columns."""
    keep = pd.Series(True, index=frame.index)
    dropped: dict[str, int] = {}
    for reason, mask in drops.items():
        hit = keep & mask.fillna(False).astype(bool)
        if hit.any():
            dropped[f"{source}/{reason}"] = int(hit.sum())
        keep &= ~hit
    result = frame.loc[keep].assign(source=source, provenance=PROVENANCE[source])
    result = result[list(COLUMNS)].reset_index(drop=True)
    invalid = sorted(set(result["label"]) - set(DATA_LABELS))
    if invalid:  # a typo in the maps above; never ship it as a label
        raise ValueError(f"{source}: mapping produced unknown label(s) {invalid}")
    result.attrs = {"dropped": dropped}
    if dropped:
        logger.info("%s: kept %d rows, dropped %s", source, len(result), dropped)
    return result
