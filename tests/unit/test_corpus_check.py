"""``healthcare-ai corpus check``: new corpus files are held to the corpus's rules before they join it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from careassist.cli import main
from careassist.corpus import SEED_COLUMNS, check_files, load_seed_corpus

pytestmark = pytest.mark.unit

MARK = "careassist-team authored, original wording, 2026-11"


def write(path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...] = SEED_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_good_file_has_no_problem(tmp_path: Path) -> None:
    good = write(tmp_path / "new.csv", [
        ("My uncle's new hearing aids whistle whenever he puts his glasses on, which brand avoids that", "disabilities",
         "general", "family_member", MARK),
        ("what time does the tip open on bank holidays", "out_of_scope", "out_of_scope", "short", MARK),
    ])  # fmt: skip
    assert check_files([good]) == []


def test_each_problem_names_its_file_line_and_what_is_wrong(tmp_path: Path) -> None:
    existing = load_seed_corpus()["text"].iloc[0]
    path = write(tmp_path / "bad.csv", [
        ("where can I buy a reacher", "gadgets", "general", "short", MARK),
        ("i feel low most days since the move", "mental_health", "overdose", "lowercase", MARK),
        ("how tall should a bath board be", "disabilities", "general", "shouting", MARK),
        ("is a rollator better than a walker", "disabilities", "general", "short", "copied from a forum"),
        ("  ", "adl_mobility", "general", "short", MARK),
        (existing.upper(), "adl_mobility", "general", "family_member", MARK),
        ("which bath seat fits a narrow tub", "disabilities", "general", "short", MARK),
        ("Which bath seat fits a narrow tub?", "disabilities", "general", "short", MARK),
        ("my dad keeps sliding down in his armchair and we cannot lift him back", "adl_mobility", "general",
         "family_member", MARK),
        ("my dad keeps sliding down in his armchair and we cannot lift him", "adl_mobility", "general",
         "family_member", MARK),
    ])  # fmt: skip
    problems = check_files([path])
    expected = [
        f"{path}:2: label 'gadgets' is none of",
        f"{path}:3: kind 'overdose' does not go with label mental_health",
        f"{path}:4: register 'shouting' is none of",
        f"{path}:5: provenance must say 'careassist-team authored'",
        f"{path}:6: empty text",
        f"{path}:7: already in the seed corpus",
        f"{path}:9: repeats an earlier message of these files",
        f"{path}:11: nearly repeats another adl_mobility message",
    ]
    for start in expected:
        assert sum(p.startswith(start) for p in problems) == 1, (start, problems)
    assert len(problems) == len(expected), problems


def test_wrong_columns_or_unreadable_files_are_named(tmp_path: Path) -> None:
    columns = write(tmp_path / "columns.csv", [("hello", "adl_mobility")], header=("text", "label"))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    problems = check_files([columns, binary])
    assert problems[0] == f"{columns}: columns text, label; expected exactly text, label, kind, register, provenance"
    assert problems[1].startswith(f"{binary}: cannot be read as UTF-8 CSV")


def test_the_seed_files_themselves_pass(tmp_path: Path) -> None:
    seed = Path(__file__).resolve().parents[2] / "careassist" / "corpus" / "seed"
    newest = sorted(seed.glob("more6_*.csv"))
    assert newest and check_files(newest) == []


def test_the_command_exits_1_and_prints_the_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "bad.csv", [("where can I buy a reacher", "gadgets", "general", "short", MARK)])
    assert main(["corpus", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "label 'gadgets'" in out and out.rstrip().endswith("1 problem(s) in 1 file(s)")
