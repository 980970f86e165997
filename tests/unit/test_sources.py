"""The dataset adapters on small CSV files written by the tests in the formats of the public datasets."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from careassist import sources
from careassist.settings import get_settings
from careassist.sources import (
    COLUMNS,
    DATASET_FILES,
    SourceError,
    dataset_files,
    describe_mapping,
    format_mapping_table,
    read_counselchat,
    read_medicationqa,
    read_medquad,
    read_public_sources,
    read_reddit,
)
from careassist.taxonomy import DATA_LABELS, KINDS

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-sources.md"

MEDQUAD_ROWS = [
    ("qid", "collection", "focus", "qtype", "question"),
    ("1-1", "11_MPlusDrugs_QA", "Examplamine", "usage", "How do I take Examplamine ?"),
    ("1-2", "11_MPlusDrugs_QA", "Examplamine", "emergency or overdose", "Too much Examplamine, what now ?"),
    ("1-1", "7_SeniorHealth_QA", "Balance Problems", "information", "Why do older people lose balance ?"),
    ("2-1", "7_SeniorHealth_QA", "Shingles", "information", "Can shingles come back ?"),
    ("3-1", "4_MPlus_Health_Topics_QA", "Falls", "information", "Tell me about falls"),
    ("4-1", "4_MPlus_Health_Topics_QA", "Suicide", "information", "How common is suicide ?"),
    ("5-1", "5_NIDDK_QA", "Your Guide to Diabetes", "treatment", "How is   diabetes\n treated ?"),
    ("6-1", "8_NHLBI_QA_XML", "Obesity Hypoventilation Syndrome", "information", "What is OHS ?"),
    ("7-1", "6_NINDS_QA", "Aicardi-Goutieres Syndrome Disorder", "outlook", "What is the outlook ?"),
    ("8-1", "9_CDC_QA", "Parasites - Hookworm", "information", "How do people get hookworm ?"),
    ("9-1", "4_MPlus_Health_Topics_QA", "Caregivers", "information", "   "),
]

COUNSELCHAT_ROWS = [
    ("questionID", "topics", "questionTitle", "questionText"),
    ("c1", "Depression,Self-harm", "Sad all the time", "I feel low most days."),
    ("c2", "Anxiety,Sleep Improvement", "Lying awake", "I cannot fall asleep before 3am."),
    ("c3", "Family Conflict", "Arguing with my brother", "We fight about our father; I am his caregiver."),
    ("c4", "Family Conflict", "Arguing with my brother", "We fight about politics at every dinner."),
    ("c5", "Intimacy", "A private question", "Something about my love life."),
    ("c6", "Depression", "Nothing helps", "Some nights I want to die and I do not know who to tell."),
    ("c7", "Grief and Loss", "Is this normal?", ""),
    ("c8", "Relationship Dissolution ,Trauma", "", "After the breakup I keep reliving it."),
    ("c9", "", "No tags here", "A question without topics."),
]

MEDICATIONQA_ROWS = [
    ("question", "focus_drug", "question_type"),
    ("can i take examplamine   with food", "examplamine", "Usage"),
    ("what is a good pill organizer", "n/a", "not_drug_question"),
    ("my dog got into the examplamine bottle", "examplamine", "Overdose"),
    ("how much examplamine would it take to kill me", "examplamine", "Dose"),
]

REDDIT_POSTS = [
    ("id", "subreddit", "date", "post"),
    ("p1", "personalfinance", "2020/01/01", "Budget question but honestly I do not want to be here anymore."),
    ("p2", "depression", "2020/01/01", "My friend told me tonight he has pills saved up."),
    ("p3", "depression", "2020/01/01", "My aunt died by suicide years ago; how do I talk about it?"),
    ("p4", "conspiracy", "2020/01/01", "Are suicide statistics being hidden?"),
    ("p5", "legaladvice", "2020/01/01", "Long post that mentions a hard time."),
    ("p6", "suicidewatch", "2020/01/01", "Not sure how to read this one."),
    ("p7", "suicidewatch", "2020/01/01", "Nobody reviewed this post."),
    ("p8", "divorce", "2020/01/01", "How are pensions split?"),
    ("p9", "depression", "2020/01/01", "Everything feels grey lately."),
    ("p10", "knitting", "2020/01/01", "Which yarn for socks?"),
    ("p11", "anxiety", "2020/01/01", "I keep thinking I want to die when the panic starts."),
    ("p12", "Guns", "2020/01/01", "Best cleaning kit?"),
    ("p13", "SuicideWatch", "2020/01/01", "I am supporting a friend, what should I say?"),
]

REDDIT_LABELS = [
    ("id", "label", "evidence"),
    ("p1", "crisis_self", "do not want to be here anymore"),
    ("p2", "crisis_other", "pills saved up"),
    ("p3", "not_crisis_history", "died by suicide years ago"),
    ("p4", "not_crisis_informational", "suicide statistics"),
    ("p5", "not_crisis_other", "a hard time"),
    ("p6", "unclear", ""),
    ("p13", "not_crisis_other", "supporting a friend"),
]


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def by_id(frame: pd.DataFrame) -> dict[str, dict[str, str]]:
    return frame.set_index("source_id").to_dict("index")


@pytest.fixture
def shared_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "shared"
    folder.mkdir()
    write_csv(folder / DATASET_FILES["medquad"], MEDQUAD_ROWS)
    write_csv(folder / DATASET_FILES["counselchat"], COUNSELCHAT_ROWS)
    write_csv(folder / DATASET_FILES["medicationqa"], MEDICATIONQA_ROWS)
    write_csv(folder / DATASET_FILES["reddit"], REDDIT_POSTS)
    write_csv(folder / DATASET_FILES["reddit_labels"], REDDIT_LABELS)
    return folder


def assert_valid(frame: pd.DataFrame, source: str) -> None:
    assert tuple(frame.columns) == COLUMNS
    assert set(frame["label"]) <= set(DATA_LABELS)
    assert set(frame["kind"]) <= set(KINDS)
    assert (frame["source"] == source).all()
    assert frame["provenance"].str.len().gt(0).all()
    assert frame["source_id"].is_unique
    assert frame["text"].str.len().gt(0).all()


# --- MedQuAD -----------------------------------------------------------------------------------------


def test_medquad_maps_collections_and_topics(shared_folder: Path) -> None:
    frame = read_medquad(shared_folder / DATASET_FILES["medquad"])
    assert_valid(frame, "medquad")
    rows = by_id(frame)
    assert rows["11_MPlusDrugs_QA/1-1"]["label"] == "medication_management"
    assert rows["7_SeniorHealth_QA/1-1"]["label"] == "fall_prevention"
    assert rows["4_MPlus_Health_Topics_QA/3-1"]["label"] == "fall_prevention"
    assert rows["5_NIDDK_QA/5-1"]["label"] == "chronic_conditions"
    assert rows["5_NIDDK_QA/5-1"]["text"] == "How is diabetes treated ?"
    assert "Ben Abacha" in rows["5_NIDDK_QA/5-1"]["provenance"]


def test_medquad_marks_overdose_and_suicide_questions_informational(shared_folder: Path) -> None:
    rows = by_id(read_medquad(shared_folder / DATASET_FILES["medquad"]))
    assert rows["11_MPlusDrugs_QA/1-2"]["kind"] == "informational"
    suicide = rows["4_MPlus_Health_Topics_QA/4-1"]
    assert (suicide["label"], suicide["kind"]) == ("mental_health", "informational")
    assert rows["11_MPlusDrugs_QA/1-1"]["kind"] == "general"


def test_medquad_drops_unmapped_topics_and_counts_them(shared_folder: Path) -> None:
    frame = read_medquad(shared_folder / DATASET_FILES["medquad"])
    kept = set(frame["source_id"])
    for dropped in (
        "7_SeniorHealth_QA/2-1",  # a SeniorHealth topic not in the list
        "8_NHLBI_QA_XML/6-1",  # an explicit drop that a keyword would have caught
        "6_NINDS_QA/7-1",  # "gout" is a whole word, not the start of "Goutieres"
        "9_CDC_QA/8-1",  # no rule
        "4_MPlus_Health_Topics_QA/9-1",  # blank question
    ):
        assert dropped not in kept
    assert frame.attrs["dropped"] == {"medquad/empty_text": 1, "medquad/unmapped_topic": 4}


# --- CounselChat -------------------------------------------------------------------------------------


def test_counselchat_labels_by_first_tag_in_priority_order(shared_folder: Path) -> None:
    frame = read_counselchat(shared_folder / DATASET_FILES["counselchat"])
    assert_valid(frame, "counselchat")
    rows = by_id(frame)
    assert rows["c2"]["label"] == "nutrition_wellness"
    assert rows["c3"]["label"] == "caregiver_support"
    assert rows["c4"]["label"] == "mental_health"
    assert rows["c8"]["label"] == "mental_health"  # tag with a stray space still matches


def test_counselchat_joins_title_and_text(shared_folder: Path) -> None:
    rows = by_id(read_counselchat(shared_folder / DATASET_FILES["counselchat"]))
    assert rows["c2"]["text"] == "Lying awake. I cannot fall asleep before 3am."
    assert rows["c7"]["text"] == "Is this normal?"
    assert rows["c8"]["text"] == "After the breakup I keep reliving it."


def test_counselchat_drops_self_harm_unmapped_and_unreviewed_crisis_posts(shared_folder: Path) -> None:
    frame = read_counselchat(shared_folder / DATASET_FILES["counselchat"])
    assert {"c1", "c5", "c6", "c9"}.isdisjoint(frame["source_id"])
    assert frame.attrs["dropped"] == {
        "counselchat/unmapped_topic": 2,
        "counselchat/dropped_topic": 1,
        "counselchat/unreviewed_crisis_language": 1,
    }


# --- MedicationQA ------------------------------------------------------------------------------------


def test_medicationqa_is_medication_management_with_stable_ids(shared_folder: Path) -> None:
    path = shared_folder / DATASET_FILES["medicationqa"]
    frame = read_medicationqa(path)
    assert_valid(frame, "medicationqa")
    assert frame["text"].tolist() == ["can i take examplamine with food"]
    assert frame["label"].tolist() == ["medication_management"]
    assert read_medicationqa(path)["source_id"].tolist() == frame["source_id"].tolist()
    assert frame.attrs["dropped"] == {
        "medicationqa/dropped_question_type": 2,
        "medicationqa/unreviewed_crisis_language": 1,
    }


def test_medicationqa_id_depends_on_the_question(tmp_path: Path) -> None:
    header = ("question", "question_type")
    first = write_csv(tmp_path / "a.csv", [header, ("what is examplamine", "Information")])
    second = write_csv(tmp_path / "b.csv", [header, ("what is otherazole", "Information")])
    assert read_medicationqa(first)["source_id"][0] != read_medicationqa(second)["source_id"][0]


# --- Reddit ------------------------------------------------------------------------------------------


@pytest.fixture
def reddit(shared_folder: Path) -> pd.DataFrame:
    posts, labels = DATASET_FILES["reddit"], DATASET_FILES["reddit_labels"]
    return read_reddit(shared_folder / posts, shared_folder / labels)


def test_reddit_reviewed_crisis_label_wins_over_subreddit(reddit: pd.DataFrame) -> None:
    assert_valid(reddit, "reddit")
    rows = by_id(reddit)
    assert (rows["p1"]["label"], rows["p1"]["kind"]) == ("crisis", "ideation_explicit")
    assert (rows["p2"]["label"], rows["p2"]["kind"]) == ("crisis", "third_person")


def test_reddit_reviewed_non_crisis_takes_the_subreddit_label(reddit: pd.DataFrame) -> None:
    rows = by_id(reddit)
    assert (rows["p3"]["label"], rows["p3"]["kind"]) == ("mental_health", "history")
    assert (rows["p4"]["label"], rows["p4"]["kind"]) == ("out_of_scope", "informational")
    assert (rows["p5"]["label"], rows["p5"]["kind"]) == ("out_of_scope", "out_of_scope")
    assert (rows["p13"]["label"], rows["p13"]["kind"]) == ("mental_health", "general")
    assert (rows["p9"]["label"], rows["p9"]["kind"]) == ("mental_health", "general")
    assert (rows["p12"]["label"], rows["p12"]["kind"]) == ("out_of_scope", "out_of_scope")


def test_reddit_never_guesses_crisis(reddit: pd.DataFrame) -> None:
    assert set(reddit.loc[reddit["label"] == "crisis", "source_id"]) == {"p1", "p2"}
    assert {"p6", "p7", "p11"}.isdisjoint(reddit["source_id"])
    assert reddit.attrs["dropped"] == {
        "reddit/review_unclear": 1,
        "reddit/unreviewed_in_review_only_subreddit": 1,
        "reddit/unmapped_subreddit": 2,
        "reddit/unreviewed_crisis_language": 1,
    }


def test_reddit_rejects_unknown_review_label(shared_folder: Path) -> None:
    labels = write_csv(shared_folder / "labels.csv", [("id", "label"), ("p1", "crisis_maybe")])
    with pytest.raises(SourceError, match=r"labels\.csv.*'label'.*crisis_maybe"):
        read_reddit(shared_folder / DATASET_FILES["reddit"], labels)


def test_reddit_rejects_conflicting_reviews(shared_folder: Path) -> None:
    rows = [("id", "label"), ("p1", "crisis_self"), ("p1", "not_crisis_other")]
    labels = write_csv(shared_folder / "labels.csv", rows)
    with pytest.raises(SourceError, match=r"labels\.csv.*'id'.*p1"):
        read_reddit(shared_folder / DATASET_FILES["reddit"], labels)


# --- All sources and errors --------------------------------------------------------------------------


def test_read_public_sources_concatenates_the_four_sources(shared_folder: Path) -> None:
    frame = read_public_sources(shared_folder)
    assert tuple(frame.columns) == COLUMNS
    assert set(frame["source"]) == {"medquad", "counselchat", "medicationqa", "reddit"}
    assert not frame.duplicated(["source", "source_id"]).any()
    assert frame.attrs["dropped"]["reddit/review_unclear"] == 1


def test_read_public_sources_defaults_to_the_settings_folder(
    shared_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREASSIST_SHARED_DATA_DIR", str(shared_folder))
    get_settings.cache_clear()
    try:
        assert len(read_public_sources()) == len(read_public_sources(shared_folder))
    finally:
        get_settings.cache_clear()


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"folder not found: .*nowhere"):
        read_public_sources(tmp_path / "nowhere")


def test_missing_file_is_named(shared_folder: Path) -> None:
    (shared_folder / DATASET_FILES["counselchat"]).unlink()
    with pytest.raises(SourceError, match=DATASET_FILES["counselchat"]):
        dataset_files(shared_folder)
    with pytest.raises(SourceError, match=rf"{DATASET_FILES['counselchat']}: file not found"):
        read_counselchat(shared_folder / DATASET_FILES["counselchat"])


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "medquad.csv", [row[:4] for row in MEDQUAD_ROWS])
    with pytest.raises(SourceError, match=r"medquad\.csv: missing column\(s\) 'question'"):
        read_medquad(path)


def test_wrong_encoding_names_file(tmp_path: Path) -> None:
    path = tmp_path / "medicationqa.csv"
    path.write_bytes("question,question_type\ncaf\u00e9 and examplamine,Usage\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"medicationqa\.csv: not UTF-8"):
        read_medicationqa(path)


@pytest.mark.parametrize("content", ["", "question,question_type\n"], ids=["no bytes", "header only"])
def test_empty_file_names_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "medicationqa.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=r"medicationqa\.csv: file (is empty|has a header but no rows)"):
        read_medicationqa(path)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "medicationqa.csv"
    path.write_text("question,question_type\nwhat is examplamine,Information\n", encoding="utf-8-sig")
    assert len(read_medicationqa(path)) == 1


# --- The documented mapping --------------------------------------------------------------------------


def test_every_mapping_label_is_a_taxonomy_label() -> None:
    allowed = {*DATA_LABELS, sources.DROPPED, "the subreddit's label"}
    assert {label for _, _, label in describe_mapping()} <= allowed


def documented_rows() -> list[tuple[str, ...]]:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index("<!-- mapping-table:start -->"), text.index("<!-- mapping-table:end -->")
    lines = [line.strip() for line in text[start:end].splitlines() if line.strip().startswith("|")]
    return [tuple(cell.strip() for cell in line.strip("|").split("|")) for line in lines[2:]]


def test_doc_mapping_table_matches_the_code() -> None:
    documented = documented_rows()
    described = describe_mapping()
    assert [row for row in documented if row not in described] == [], "doc rows not in describe_mapping()"
    assert [row for row in described if row not in documented] == [], (
        "describe_mapping() rows missing from docs/data-sources.md: regenerate the table with "
        "careassist.sources.format_mapping_table()"
    )
    assert format_mapping_table().splitlines()[2:] == [f"| {' | '.join(row)} |" for row in documented]
